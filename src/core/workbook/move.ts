/**
 * Moving cells, as Excel's cut and paste does: the block's inputs and formats go to the new place and
 * leave the old one; the moved formulas keep pointing at what they pointed at (no relative shift); and
 * every reference in the workbook to a moved cell, or to a range wholly inside the moved block, now
 * points at its new place. A reference to a range only partly moved stays as it was (Excel's rule too).
 *
 * References are stored by row and column ids (../formulas/references.ts), so "pointing at the new
 * place" is a rewrite of the ids in the stored formulas; nothing else about a formula changes.
 */
import type * as Y from 'yjs'
import { CLOSE, OPEN } from '../formulas/references'
import { cellKey, isFormula, sheetParts, sheetsOf, type CellInput, type FormulaInput } from './schema'
import { STYLE_PROPS, styleKey, stylesOf } from './styles'

export interface Block { sheetId: string; rowIds: readonly string[]; colIds: readonly string[] }

/**
 * Where a cell of the moved block goes; null for a cell the block lands on (its content is gone:
 * references to it become #REF!, as in Excel); undefined for any other cell.
 */
type Mover = (sheetId: string, rowId: string, colId: string) => { sheetId: string; rowId: string; colId: string } | null | undefined

function moverOf(from: Block, to: Block): Mover {
  const rows = new Map(from.rowIds.map((id, i) => [id, to.rowIds[i]!]))
  const cols = new Map(from.colIds.map((id, j) => [id, to.colIds[j]!]))
  const toRows = new Set(to.rowIds), toCols = new Set(to.colIds)
  return (sheetId, rowId, colId) => {
    if (sheetId === from.sheetId) {
      const r = rows.get(rowId), c = cols.get(colId)
      if (r !== undefined && c !== undefined) return { sheetId: to.sheetId, rowId: r, colId: c }
    }
    return sheetId === to.sheetId && toRows.has(rowId) && toCols.has(colId) ? null : undefined
  }
}

/**
 * One stored reference (between ⟦ and ⟧) as it reads after the move, for a formula that was on `home`
 * and is on `at` now (another sheet when it moved there itself: its references to its old sheet then
 * name that sheet).
 */
function movedToken(token: string, home: string, at: string, move: Mover): string | null {
  const bang = token.indexOf('!')
  const sheetId = bang >= 0 ? token.slice(0, bang) : home
  const body = bang >= 0 ? token.slice(bang + 1) : token
  const stays = () => (bang < 0 && at !== home ? `${home}!${token}` : token)
  const parsed = body.split(':').map(p => {
    const comma = p.indexOf(',')
    const row = p.slice(0, comma), col = p.slice(comma + 1)
    return { rowAbs: row.startsWith('$'), colAbs: col.startsWith('$'), row: row.replace(/^\$/, ''), col: col.replace(/^\$/, '') }
  })
  // whole rows or columns are not cells: they stay
  if (parsed.some(p => !p.row || !p.col)) return stays()
  const targets = parsed.map(p => move(sheetId, p.row, p.col))
  // a cell written over: gone
  if (targets.length === 1 && targets[0] === null) return null
  // a cell, or a range whose both corners (so all of it, the block being a rectangle) moved
  if (targets.some(t => !t)) return stays()
  const dest = targets[0]!.sheetId
  const prefix = dest === at ? '' : `${dest}!`
  const moved = targets as { sheetId: string; rowId: string; colId: string }[]
  return prefix + parsed.map((p, i) => `${p.rowAbs ? '$' : ''}${moved[i]!.rowId},${p.colAbs ? '$' : ''}${moved[i]!.colId}`).join(':')
}

/**
 * A stored formula of sheet `home` (moved to sheet `at`) with its references to moved cells pointing at
 * their new place (the same string when nothing changes).
 */
export function movedFormula(stored: string, home: string, move: Mover, at = home): string {
  if (stored.indexOf(OPEN) < 0) return stored
  let out = ''
  let i = 0
  while (i < stored.length) {
    const ch = stored[i]!
    if (ch === '"') {
      // string literals are never scanned
      let j = i + 1
      while (j < stored.length && !(stored[j] === '"' && stored[j + 1] !== '"')) j += stored[j] === '"' ? 2 : 1
      out += stored.slice(i, j + 1)
      i = j + 1
      continue
    }
    if (ch === OPEN) {
      const j = stored.indexOf(CLOSE, i)
      if (j < 0) { out += stored.slice(i); break }
      const token = movedToken(stored.slice(i + 1, j), home, at, move)
      out += token === null ? '#REF!' : OPEN + token + CLOSE
      i = j + 1
      continue
    }
    out += ch
    i++
  }
  return out
}

/** What a move writes: per sheet, cell key → the new input (undefined: cleared); and the formats. */
export interface MovePlan {
  cells: Map<string, Map<string, CellInput | undefined>>
  styles: Map<string, unknown>
}

/**
 * What moving `from` to `to` (same size; the sheets may differ; the blocks may overlap) writes: the
 * block's inputs and formats at their new place, its old place cleared, and the workbook's formulas
 * whose references follow the moved cells. The cells it names are the ones a person must be allowed
 * to edit for the move (the grid asks the access rules about each before moving).
 */
export function planMove(doc: Y.Doc, from: Block, to: Block): MovePlan {
  if (from.rowIds.length !== to.rowIds.length || from.colIds.length !== to.colIds.length) throw new Error('a move keeps the block\'s size')
  const sheets = sheetsOf(doc)
  const src = sheets.get(from.sheetId), dst = sheets.get(to.sheetId)
  if (!src || !dst) throw new Error('no such sheet')
  const move = moverOf(from, to)
  const styles = stylesOf(doc)
  const plan: MovePlan = { cells: new Map(), styles: new Map() }
  const write = (sheetId: string, key: string, input: CellInput | undefined) => {
    let m = plan.cells.get(sheetId)
    if (!m) plan.cells.set(sheetId, (m = new Map()))
    m.set(key, input)
  }
  // the old place cleared
  const srcCells = sheetParts(src).cells
  for (const rowId of from.rowIds) for (const colId of from.colIds) {
    if (srcCells.has(cellKey(rowId, colId))) write(from.sheetId, cellKey(rowId, colId), undefined)
    for (const p of STYLE_PROPS) { const k = styleKey(from.sheetId, rowId, colId, p); if (styles.has(k)) plan.styles.set(k, undefined) }
  }
  // every formula of the workbook: references to the moved cells follow them
  sheets.forEach((sheet, sheetId) => {
    sheetParts(sheet).cells.forEach((input, key) => {
      if (!isFormula(input) || plan.cells.get(sheetId)?.has(key)) return
      const next = movedFormula(input.v, sheetId, move)
      if (next !== input.v) write(sheetId, key, { t: 'f', v: next } satisfies FormulaInput)
    })
  })
  // the block at its new place (written last: it wins where the blocks overlap)
  const dstCells = sheetParts(dst).cells
  from.rowIds.forEach((rowId, i) => from.colIds.forEach((colId, j) => {
    const key = cellKey(to.rowIds[i]!, to.colIds[j]!)
    const input = srcCells.get(cellKey(rowId, colId)) as CellInput | undefined
    if (input === undefined) { if (dstCells.has(key) || plan.cells.get(to.sheetId)?.has(key)) write(to.sheetId, key, undefined) }
    else write(to.sheetId, key, isFormula(input) ? { t: 'f', v: movedFormula(input.v, from.sheetId, move, to.sheetId) } : input)
    for (const p of STYLE_PROPS) {
      const v = styles.get(styleKey(from.sheetId, rowId, colId, p))
      const k = styleKey(to.sheetId, to.rowIds[i]!, to.colIds[j]!, p)
      if (v !== undefined) plan.styles.set(k, v)
      else if (styles.has(k) || plan.styles.has(k)) plan.styles.set(k, undefined)
    }
  }))
  return plan
}

/** The cells a move writes, by sheet id and row/column id. */
export function movedCells(plan: MovePlan): { sheetId: string; rowId: string; colId: string }[] {
  const out: { sheetId: string; rowId: string; colId: string }[] = []
  for (const [sheetId, cells] of plan.cells) for (const key of cells.keys()) {
    const i = key.indexOf(':')
    out.push({ sheetId, rowId: key.slice(0, i), colId: key.slice(i + 1) })
  }
  return out
}

/** Moves `from` to `to` in one transaction (see planMove). */
export function moveCells(doc: Y.Doc, from: Block, to: Block, origin: unknown = null): void {
  applyMove(doc, planMove(doc, from, to), origin)
}

export function applyMove(doc: Y.Doc, plan: MovePlan, origin: unknown = null): void {
  const sheets = sheetsOf(doc), styles = stylesOf(doc)
  doc.transact(() => {
    for (const [sheetId, writes] of plan.cells) {
      const cells = sheetParts(sheets.get(sheetId)!).cells
      for (const [key, input] of writes) {
        if (input === undefined) { if (cells.has(key)) cells.delete(key) }
        else cells.set(key, input)
      }
    }
    for (const [k, v] of plan.styles) {
      if (v === undefined) { if (styles.has(k)) styles.delete(k) }
      else styles.set(k, v)
    }
  }, origin)
}
