/**
 * A source's contribution to a roll-up: the rows of its matching sheet, as the source shows them.
 * The sheet is found by the template's sheet key (a rename does not lose it), else by name; each column
 * of the roll-up sheet by the template's column key kept in column meta, else by its title. Inputs are
 * taken as they are (text, numbers, dates); a formula cell gives the value the formula engine computes
 * on the source (what its grid shows). Rows are found by id, so a row inserted above changes nothing
 * but that row.
 */
import type * as Y from 'yjs'
import { FormulaEngine, isErrorValue } from '../../src/core/formulas/engine'
import {
  getTitle, isFormula, sheetIds, sheetKey, sheetName, sheetParts, sheetsOf, visibleIds,
  type CellInput, type ColumnMeta, type SheetMap,
} from '../../src/core/workbook/schema'
import { totalsRowOf } from '../../src/core/workbook/table'

/** How a roll-up sheet's columns are known: its id, and the template key and title they carry. */
export interface OutColumn { colId: string; key?: string; title?: string }

export interface SourceRow { id: string; values: (CellInput | null)[] }
export type Contribution =
  | { ok: true; title: string; rows: SourceRow[] }
  | { ok: false; title: string; problem: 'no-sheet' }

/** c1, c2…: a saved template's placeholders for columns without a key; they mean nothing. */
const meaningfulKey = (k: string | undefined): k is string => !!k && !/^c\d+$/.test(k)

/** The source's sheet that is the template's sheet `key` (or named `name`), or undefined. */
export function findSheet(doc: Y.Doc, key: string, name: string): string | undefined {
  const ids = sheetIds(doc)
  if (key) { const byKey = ids.find(id => sheetKey(doc, id) === key); if (byKey) return byKey }
  const lower = name.trim().toLowerCase()
  return lower ? ids.find(id => sheetName(doc, id).trim().toLowerCase() === lower) : undefined
}

/** For each roll-up column, the source column it reads (or null). */
export function matchColumns(sheet: SheetMap, out: readonly OutColumn[]): (string | null)[] {
  const p = sheetParts(sheet)
  const cols = visibleIds(p.cols, p.colsGone)
  const byKey = new Map<string, string>(), byTitle = new Map<string, string>()
  for (const c of cols) {
    const m = p.colMeta.get(c) as ColumnMeta | undefined
    if (meaningfulKey(m?.key) && !byKey.has(m.key)) byKey.set(m.key, c)
    const t = m?.title?.trim().toLowerCase()
    if (t && !byTitle.has(t)) byTitle.set(t, c)
  }
  return out.map(o => (meaningfulKey(o.key) ? byKey.get(o.key) : undefined) ?? (o.title ? byTitle.get(o.title.trim().toLowerCase()) : undefined) ?? null)
}

/** A computed value as a cell input of the roll-up (errors as their code, e.g. #DIV/0!). */
function asInput(v: unknown): CellInput | null {
  if (v === null || v === undefined || v === '') return null
  if (typeof v === 'number') return Number.isFinite(v) ? v : null
  if (typeof v === 'string' || typeof v === 'boolean') return v
  if (isErrorValue(v as never)) { const e = String((v as { error: unknown }).error); return e.startsWith('#') ? e : `#${e}` }
  return null
}

/**
 * Reads the contribution of one source doc. `out` are the roll-up sheet's columns that come from the
 * sources (the source column of a stack is not among them).
 */
export function readContribution(doc: Y.Doc, sheet: { key: string; name: string }, out: readonly OutColumn[]): Contribution {
  const title = getTitle(doc)
  const sid = findSheet(doc, sheet.key, sheet.name)
  if (!sid) return { ok: false, title, problem: 'no-sheet' }
  const map = sheetsOf(doc).get(sid)!
  const p = sheetParts(map)
  const colOf = matchColumns(map, out)
  const totals = totalsRowOf(map)
  const rowIds = visibleIds(p.rows, p.rowsGone).filter(r => r !== totals)
  let engine: FormulaEngine | null = null
  try {
    const rows: SourceRow[] = []
    for (const rowId of rowIds) {
      let any = false
      const values = colOf.map(c => {
        if (c === null) return null
        const input = p.cells.get(`${rowId}:${c}`)
        if (input === undefined) return null
        let v: CellInput | null
        if (isFormula(input)) {
          // the engine only when the sheet has formulas, built once per read
          engine ??= new FormulaEngine(doc)
          v = asInput(engine.getValueById(sid, rowId, c))
        } else v = input
        if (v !== null) any = true
        return v
      })
      if (any) rows.push({ id: rowId, values })
    }
    return { ok: true, title, rows }
  } finally {
    ;(engine as FormulaEngine | null)?.destroy()
  }
}
