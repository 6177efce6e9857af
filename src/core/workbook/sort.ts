/**
 * Sorting rows, as a named mutation: the data rows of a sheet (between its frozen header rows and its
 * totals row) or a block of rows, by one or more columns, in one transaction (one undo step).
 *
 * What moves: the rows themselves, by id, so everything of a row (its cells, formats, protections,
 * comments) goes with it, and an edit made at the same moment by a colleague lands on the row its
 * author meant, wherever the sort put it.
 *
 * What formulas do, as Excel's do after a sort:
 * - a relative reference to the formula's own row moves with the row (=B5*C5 in row 5 reads its own
 *   row wherever the row goes, as does the end B5 of =SUM($B$1:B5));
 * - any other reference to a row of the sorted block keeps its position (=B5 elsewhere still reads B5,
 *   which now holds another row's value; $B$5 in row 5 too), and so do range ends (SUM(B1:B10) still
 *   sums B1:B10): the totals row gives the same total before and after. Chart row ranges keep their
 *   positions too. (Excel shifts a relative reference from a sorted row to another row, =B4 in row 5,
 *   as if the formula were copied; here it keeps its position, like every reference but the own row's.)
 *
 * The order: numbers (dates are numbers) < text (Chinese in pinyin order, as Intl.Collator('zh-CN')
 * sorts it, case ignored) < TRUE/FALSE < errors; empty cells always last, ascending or descending.
 * Equal rows keep their order (the sort is stable).
 */
import type * as Y from 'yjs'
import { chartsOf, type ChartSpec } from '../charts/charts'
import { OPEN, CLOSE } from '../formulas/references'
import type { CellValue } from '../formulas/engine'
import { isFormula, sheetIds, sheetParts, sheetsOf, visibleIds, type ColumnMeta, type SheetMap } from './schema'
import { totalsRowOf } from './table'
import { WorkbookError } from './mutations'

export interface SortKey { colId: string; desc?: boolean }

export interface SortBlock {
  /** first and last row of the block (visible ids); both absent: the sheet's data rows */
  fromRow?: string
  toRow?: string
}

export interface SortResult {
  /** rows that changed place */
  moved: number
  /** rows sorted (the block) */
  rows: number
  /** formulas whose references were rewritten to keep their positions */
  formulas: number
}

const collator = new Intl.Collator('zh-CN', { sensitivity: 'accent', numeric: true })

/** Kind of a value in Excel's sort order; empty is handled apart (always last). */
function rank(v: CellValue): number {
  if (typeof v === 'number') return 0
  if (typeof v === 'string') return 1
  if (typeof v === 'boolean') return 2
  return 3
}

const isEmpty = (v: CellValue): boolean => v === null || v === undefined || v === ''

/** Compares two values for an ascending (or, with `desc`, descending) sort; empty values go last either way. */
export function compareValues(a: CellValue, b: CellValue, desc = false): number {
  const ea = isEmpty(a), eb = isEmpty(b)
  if (ea || eb) return ea === eb ? 0 : ea ? 1 : -1
  const ra = rank(a), rb = rank(b)
  let c: number
  if (ra !== rb) c = ra - rb
  else if (ra === 0) c = (a as number) - (b as number)
  else if (ra === 1) c = collator.compare(a as string, b as string)
  else if (ra === 2) c = Number(a) - Number(b)
  else c = 0
  return desc ? -c : c
}

/** The rows a sort of the sheet's data takes: below the frozen rows, above the totals row, up to the last row holding anything. */
export function dataRows(sheet: SheetMap): string[] {
  const p = sheetParts(sheet)
  const rows = visibleIds(p.rows, p.rowsGone)
  const frozen = Math.max(0, Math.min(rows.length, Number(sheet.get('frozenRows')) || 0))
  const totals = totalsRowOf(sheet)
  const ti = totals ? rows.indexOf(totals) : -1
  const block = rows.slice(frozen, ti >= frozen ? ti : rows.length)
  // trailing rows without a single cell stay where they are (a sort of 10 items among 100 rows moves 10);
  // when the last row of the block has a cell, none are (found without going through every cell)
  const last = block[block.length - 1]
  if (last === undefined || p.cols.toArray().some(colId => p.cells.has(`${last}:${colId}`))) return block
  const filled = new Set<string>()
  p.cells.forEach((_v, key) => filled.add(key.slice(0, key.indexOf(':'))))
  let end = block.length
  while (end > 0 && !filled.has(block[end - 1]!)) end--
  return block.slice(0, end)
}

/**
 * Sorts the block's rows by `keys` (the first decides, the next break ties), reading each cell's value
 * with `valueOf` (the formula engine's computed value). Returns what it did; nothing changes when the
 * order is already right.
 */
export function sortRows(
  doc: Y.Doc, sheetId: string, keys: readonly SortKey[], valueOf: (rowId: string, colId: string) => CellValue,
  block: SortBlock = {}, origin: unknown = null,
): SortResult {
  const sheet = sheetsOf(doc).get(sheetId)
  if (!sheet) throw new WorkbookError('unknown-sheet', `unknown sheet ${sheetId}`)
  const p = sheetParts(sheet)
  const visible = visibleIds(p.rows, p.rowsGone)
  const cols = new Set(visibleIds(p.cols, p.colsGone))
  if (!keys.length || keys.some(k => !cols.has(k.colId))) throw new WorkbookError('bad-position', 'a sort names the columns of its sheet')
  let ids: string[]
  if (block.fromRow !== undefined || block.toRow !== undefined) {
    const a = visible.indexOf(block.fromRow ?? ''), b = visible.indexOf(block.toRow ?? '')
    if (a < 0 || b < 0) throw new WorkbookError('bad-position', 'the rows to sort are not in the sheet')
    ids = visible.slice(Math.min(a, b), Math.max(a, b) + 1)
  } else {
    ids = dataRows(sheet)
  }
  const result: SortResult = { moved: 0, rows: ids.length, formulas: 0 }
  if (ids.length < 2) return result
  const values = ids.map(rowId => keys.map(k => valueOf(rowId, k.colId)))
  const order = ids.map((_id, i) => i).sort((x, y) => {
    for (let k = 0; k < keys.length; k++) {
      const c = compareValues(values[x]![k]!, values[y]![k]!, keys[k]!.desc)
      if (c !== 0) return c
    }
    return x - y
  })
  const sorted = order.map(i => ids[i]!)
  // position i held ids[i] and now holds sorted[i]: a reference by position to ids[i] goes to sorted[i]
  const atPosition = new Map<string, string>()
  ids.forEach((id, i) => { if (sorted[i] !== id) { atPosition.set(id, sorted[i]!); result.moved++ } })
  if (result.moved === 0) return result

  doc.transact(() => {
    // the span of the order the block occupies (first occurrences: the ones that count), replaced by
    // the sorted ids, with what else was in it (deleted rows, repeated ids) kept after them
    const arr = p.rows.toArray()
    const inBlock = new Set(ids)
    const firstAt = new Map<string, number>()
    arr.forEach((id, i) => { if (inBlock.has(id) && !firstAt.has(id)) firstAt.set(id, i) })
    const positions = [...firstAt.values()]
    const i0 = Math.min(...positions), i1 = Math.max(...positions)
    const rest = arr.slice(i0, i1 + 1).filter((id, k) => !(inBlock.has(id) && firstAt.get(id) === i0 + k))
    p.rows.delete(i0, i1 - i0 + 1)
    p.rows.insert(i0, [...sorted, ...rest])
    result.formulas = keepPositions(doc, sheetId, atPosition)
  }, origin)
  return result
}

/**
 * Rewrites every formula of the workbook that reads rows of `sheetId` by position: a reference to a row
 * that moved (other than the formula's own row) goes to the row now at that position. Returns how many
 * formulas changed.
 */
function keepPositions(doc: Y.Doc, sheetId: string, atPosition: ReadonlyMap<string, string>): number {
  let changed = 0
  for (const sid of sheetIds(doc)) {
    const sheet = sheetsOf(doc).get(sid)!
    const p = sheetParts(sheet)
    const updates: [string, string][] = []
    p.cells.forEach((v, key) => {
      if (!isFormula(v)) return
      const next = remapFormula(v.v, sid, key.slice(0, key.indexOf(':')), sheetId, atPosition)
      if (next !== v.v) updates.push([key, next])
    })
    for (const [key, f] of updates) p.cells.set(key, { t: 'f', v: f })
    changed += updates.length
    // calculated columns' formulas (their `@` is the row's own: it follows the row)
    p.colMeta.forEach((meta, colId) => {
      const m = meta as ColumnMeta
      if (!m.formula) return
      const next = remapFormula(m.formula, sid, '@', sheetId, atPosition)
      if (next !== m.formula) { p.colMeta.set(colId, { ...m, formula: next }); changed++ }
    })
  }
  const charts = chartsOf(doc)
  for (const [id, spec] of [...charts.entries()] as [string, ChartSpec][]) {
    if (spec.sheet !== sheetId || !spec.from || !spec.to) continue
    const from = atPosition.get(spec.from) ?? spec.from, to = atPosition.get(spec.to) ?? spec.to
    if (from !== spec.from || to !== spec.to) charts.set(id, { ...spec, from, to })
  }
  return changed
}

/**
 * One stored formula (of sheet `ownSheet`, in row `ownRow`) with its references into `sheetId` kept at
 * their positions: ⟦[sheet!]row,col[:row,col]⟧ points whose row moved are given the row now there,
 * except relative points in the formula's own row.
 */
export function remapFormula(stored: string, ownSheet: string, ownRow: string, sheetId: string, atPosition: ReadonlyMap<string, string>): string {
  if (stored.indexOf(OPEN) < 0 || !remaps(stored, ownSheet, ownRow, sheetId, atPosition)) return stored
  let out = ''
  let i = 0
  while (i < stored.length) {
    const open = stored.indexOf(OPEN, i)
    if (open < 0) { out += stored.slice(i); break }
    const close = stored.indexOf(CLOSE, open)
    if (close < 0) { out += stored.slice(i); break }
    out += stored.slice(i, open + 1)
    const token = stored.slice(open + 1, close)
    const bang = token.indexOf('!')
    const target = bang >= 0 ? token.slice(0, bang) : ownSheet
    if (target !== sheetId) { out += token } else {
      const head = bang >= 0 ? token.slice(0, bang + 1) : ''
      const body = bang >= 0 ? token.slice(bang + 1) : token
      out += head + body.split(':').map(pt => {
        const comma = pt.indexOf(',')
        if (comma < 0) return pt
        const abs = pt.charCodeAt(0) === 36 ? '$' : ''
        const row = pt.slice(abs.length, comma)
        // a relative reference to the formula's own row moves with it, as a copied formula's would
        if (!row || (!abs && target === ownSheet && row === ownRow)) return pt
        const to = atPosition.get(row)
        return to ? abs + to + pt.slice(comma) : pt
      }).join(':')
    }
    out += CLOSE
    i = close + 1
  }
  return out
}

/**
 * Whether remapFormula changes the stored formula: a point of a reference into `sheetId` names a row
 * that moved, other than the formula's own (relative). The same reading as remapFormula's, without
 * building the text (most formulas of a sorted sheet read their own row only).
 */
function remaps(stored: string, ownSheet: string, ownRow: string, sheetId: string, atPosition: ReadonlyMap<string, string>): boolean {
  let open = stored.indexOf(OPEN)
  while (open >= 0) {
    const close = stored.indexOf(CLOSE, open)
    if (close < 0) return false
    const bang = stored.indexOf('!', open)
    const prefixed = bang >= 0 && bang < close
    const target = prefixed ? stored.slice(open + 1, bang) : ownSheet
    if (target === sheetId) {
      // each point of the token: "[$]row,[$]col"
      let at = prefixed ? bang + 1 : open + 1
      while (at < close) {
        let end = stored.indexOf(':', at)
        if (end < 0 || end > close) end = close
        const comma = stored.indexOf(',', at)
        if (comma >= 0 && comma < end) {
          const abs = stored.charCodeAt(at) === 36
          const rowAt = abs ? at + 1 : at
          const own = !abs && target === ownSheet && comma - rowAt === ownRow.length && stored.startsWith(ownRow, rowAt)
          if (comma > rowAt && !own && atPosition.has(stored.slice(rowAt, comma))) return true
        }
        at = end + 1
      }
    }
    open = stored.indexOf(OPEN, close)
  }
  return false
}
