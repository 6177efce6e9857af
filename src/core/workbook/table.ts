/**
 * Table behaviour of a sheet, as in Excel tables: calculated columns that every data row gets (rows
 * inserted or typed below the table too), a totals row whose ranges grow when rows are inserted right
 * above it, conditional colours, and validation flags. No Vue imports: the server uses this too.
 *
 * A calculated column keeps its formula in the column's metadata in stored form, with the row id `@`
 * meaning "this row" (`=⟦@,c7⟧/⟦@,c6⟧`) and `@-1`, `@+2` the rows above and below it. Relative
 * references on the sheet follow the row; the rest (absolute references, other sheets) is stored by id
 * like any formula.
 */
import type * as Y from 'yjs'
import { CLOSE, OPEN } from '../formulas/references'
import {
  cellKey, isFormula, sheetParts, sheetsOf, visibleIds,
  type CellInput, type ColorRule, type ColumnMeta, type FormulaInput, type RuleStyle, type SheetMap,
} from './schema'
import type { CellValue } from '../formulas/engine'

export const THIS_ROW = '@'

/** Rewrites the row part of every point in stored references; `fn` gets (rowId, tokenSheet) and returns the new id. */
function mapTokenRows(stored: string, fn: (row: string, abs: boolean, sheet: string | undefined, side: 'start' | 'end' | 'cell', other: string | undefined) => string): string {
  if (stored.indexOf(OPEN) < 0) return stored
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
    const sheet = bang >= 0 ? token.slice(0, bang) : undefined
    const body = bang >= 0 ? token.slice(bang + 1) : token
    const points = body.split(':')
    const rowOf = (p: string) => { const r = p.slice(0, p.indexOf(',')); return r.startsWith('$') ? r.slice(1) : r }
    const mapped = points.map((p, k) => {
      const comma = p.indexOf(',')
      const abs = p.startsWith('$')
      const row = p.slice(abs ? 1 : 0, comma)
      if (!row) return p
      const side = points.length === 1 ? 'cell' : k === 0 ? 'start' : 'end'
      const other = points.length === 1 ? undefined : rowOf(points[1 - k]!)
      return (abs ? '$' : '') + fn(row, abs, sheet, side, other) + p.slice(comma)
    })
    out += (sheet !== undefined ? sheet + '!' : '') + mapped.join(':') + CLOSE
    i = close + 1
  }
  return out
}

/**
 * Stored formula written for `anchorRowId` → column formula: relative references on the same sheet
 * become offsets from "this row" (`@`, `@-1`, `@+1`), given the sheet's visible row order.
 */
export function toColumnFormula(stored: string, anchorRowId: string, order: readonly string[] = [anchorRowId]): string {
  const at = order.indexOf(anchorRowId)
  return mapTokenRows(stored, (row, abs, sheet) => {
    if (abs || sheet !== undefined) return row
    if (row === anchorRowId) return THIS_ROW
    const p = order.indexOf(row)
    if (p < 0 || at < 0) return row
    return `${THIS_ROW}${p > at ? '+' : '-'}${Math.abs(p - at)}`
  })
}

/**
 * The formula a calculated column puts in one row. `order` (visible row ids) resolves `@-1`-style
 * offsets; an offset that falls outside the sheet gives #REF!, as Excel does when a formula is filled
 * past the edge.
 */
export function columnFormulaFor(formula: string, rowId: string, order?: readonly string[]): FormulaInput {
  let broken = false
  let at = -2
  const v = mapTokenRows(formula, row => {
    if (row === THIS_ROW) return rowId
    if (!row.startsWith(THIS_ROW)) return row
    if (at === -2) at = order ? order.indexOf(rowId) : -1
    const target = at < 0 ? undefined : order![at + Number(row.slice(1))]
    if (target === undefined) { broken = true; return row }
    return target
  })
  return { t: 'f', v: broken ? '=#REF!' : v }
}

/** The totals row id, when it is set and not deleted. */
export function totalsRowOf(sheet: SheetMap): string | undefined {
  const id = sheet.get('totalsRow')
  if (typeof id !== 'string') return undefined
  const { rows, rowsGone } = sheetParts(sheet)
  if (rowsGone.has(id) || !rows.toArray().includes(id)) return undefined
  return id
}

/** Visible columns that have a column formula, as [colId, formula]. */
export function formulaColumns(sheet: SheetMap): [string, string][] {
  const { cols, colsGone, colMeta } = sheetParts(sheet)
  const out: [string, string][] = []
  for (const colId of visibleIds(cols, colsGone)) {
    const f = colMeta.get(colId)?.formula
    if (typeof f === 'string' && f.startsWith('=')) out.push([colId, f])
  }
  return out
}

function rowHasContent(cells: Y.Map<CellInput>, rowId: string, colIds: readonly string[]): boolean {
  for (const c of colIds) if (cells.has(cellKey(rowId, c))) return true
  return false
}

/** A row of the table: not the totals row, and holding a calculated cell. */
function isTableRow(sheet: SheetMap, rowId: string | undefined, fcols: [string, string][], totals: string | undefined): boolean {
  if (rowId === undefined || rowId === totals) return false
  const { cells } = sheetParts(sheet)
  return fcols.some(([c]) => cells.has(cellKey(rowId, c)))
}

/** Puts the column formulas into the given rows where their cells are empty. Call inside a transaction. */
export function fillColumnFormulas(sheet: SheetMap, rowIds: readonly string[], fcols = formulaColumns(sheet)): void {
  const { cells, rows, rowsGone } = sheetParts(sheet)
  let order: string[] | undefined
  for (const rowId of rowIds) {
    for (const [colId, f] of fcols) {
      const key = cellKey(rowId, colId)
      if (cells.has(key)) continue
      if (!order && (f.includes(`${THIS_ROW}-`) || f.includes(`${THIS_ROW}+`))) order = visibleIds(rows, rowsGone)
      cells.set(key, columnFormulaFor(f, rowId, order))
    }
  }
}

/**
 * After rows were inserted at visible index `at` (visibleBefore = the order before): new rows inside the
 * table get the column formulas, and rows inserted right above the totals row join its ranges.
 */
export function afterInsertRows(doc: Y.Doc, sheetId: string, sheet: SheetMap, newIds: string[], visibleBefore: readonly string[], at: number): void {
  if (!newIds.length) return
  const totals = totalsRowOf(sheet)
  const fcols = formulaColumns(sheet)
  if (fcols.length) {
    const neighbour = at > 0 ? visibleBefore[at - 1] : visibleBefore[0]
    if (isTableRow(sheet, neighbour, fcols, totals)) fillColumnFormulas(sheet, newIds, fcols)
  }
  if (totals && at > 0 && visibleBefore[at] === totals) {
    extendRangeEnds(doc, sheetId, visibleBefore[at - 1]!, newIds[newIds.length - 1]!)
  }
}

/**
 * Multi-row ranges on `sheetId` that end at `fromRow` (and start elsewhere) end at `toRow` instead, in
 * every formula of the workbook and every column formula: what a table does when rows are added at its
 * end. A relative end in `fromRow`'s own row ("up to this row", a running total) is left alone.
 */
export function extendRangeEnds(doc: Y.Doc, sheetId: string, fromRow: string, toRow: string): void {
  const extend = (stored: string, cellSheetId: string, cellRow: string | undefined) =>
    mapTokenRows(stored, (row, abs, tokenSheet, side, other) => {
      if ((tokenSheet ?? cellSheetId) !== sheetId) return row
      if (side !== 'end' || row !== fromRow || other === undefined || other === fromRow) return row
      if (!abs && tokenSheet === undefined && cellRow === fromRow) return row
      return toRow
    })
  sheetsOf(doc).forEach((sheet, cellSheetId) => {
    const { cells, colMeta } = sheetParts(sheet)
    const updates: [string, FormulaInput][] = []
    cells.forEach((input, key) => {
      if (!isFormula(input) || input.v.indexOf(fromRow) < 0) return
      const next = extend(input.v, cellSheetId, key.slice(0, key.indexOf(':')))
      if (next !== input.v) updates.push([key, { t: 'f', v: next }])
    })
    for (const [key, v] of updates) cells.set(key, v)
    colMeta.forEach((meta, colId) => {
      if (typeof meta?.formula !== 'string' || meta.formula.indexOf(fromRow) < 0) return
      const next = extend(meta.formula, cellSheetId, undefined)
      if (next !== meta.formula) colMeta.set(colId, { ...meta, formula: next })
    })
  })
}

/** Rows in `candidates` that were empty before an edit; call before the edit is applied. */
export function emptyRowsAmong(sheet: SheetMap, candidates: Iterable<string>): string[] {
  const { cells, cols, colsGone } = sheetParts(sheet)
  const colIds = visibleIds(cols, colsGone)
  const out: string[] = []
  for (const r of new Set(candidates)) if (!rowHasContent(cells, r, colIds)) out.push(r)
  return out
}

/**
 * After an edit: rows that were empty, now hold something, and sit right below a table row (or are the
 * first row) get the column formulas. Rows are taken top-down so a pasted block extends the table.
 */
export function autofillEditedRows(sheet: SheetMap, wasEmpty: readonly string[]): void {
  const fcols = formulaColumns(sheet)
  if (!fcols.length || !wasEmpty.length) return
  const { rows, rowsGone, cells, cols, colsGone } = sheetParts(sheet)
  const order = visibleIds(rows, rowsGone)
  const pos = new Map(order.map((id, i) => [id, i]))
  const colIds = visibleIds(cols, colsGone)
  const totals = totalsRowOf(sheet)
  const list = wasEmpty.filter(r => pos.has(r)).sort((a, b) => pos.get(a)! - pos.get(b)!)
  for (const rowId of list) {
    if (rowId === totals || !rowHasContent(cells, rowId, colIds)) continue
    const p = pos.get(rowId)!
    if (p === 0 || isTableRow(sheet, order[p - 1], fcols, totals)) fillColumnFormulas(sheet, [rowId], fcols)
  }
}

// ---- conditional colours and validation (pure; used by the renderer and exports) -------------------

const EPS = 1e-9

export function matchRule(rule: ColorRule, v: CellValue): boolean {
  const isEmpty = v === null || v === ''
  switch (rule.op) {
    case 'empty': return isEmpty
    case 'notEmpty': return !isEmpty
    case '=':
    case '<>': {
      let eq: boolean
      if (typeof v === 'number' && typeof rule.value === 'number') eq = Math.abs(v - rule.value) < EPS
      else eq = !isEmpty && typeof v !== 'object' && String(v) === String(rule.value)
      return rule.op === '=' ? eq : !isEmpty && !eq
    }
    default: {
      if (typeof v !== 'number' || typeof rule.value !== 'number') return false
      const a = rule.value
      switch (rule.op) {
        case '<': return v < a - EPS
        case '<=': return v <= a + EPS
        case '>': return v > a + EPS
        case '>=': return v >= a - EPS
        case 'between': return typeof rule.value2 === 'number' && v >= a - EPS && v <= rule.value2 + EPS
      }
    }
  }
  return false
}

/** The style of the first matching rule. `valueOf(colId)` gives the computed value of a column in the row. */
export function ruleStyle(meta: ColumnMeta | undefined, valueOf: (colId: string | undefined) => CellValue, isTotalsRow: boolean): RuleStyle | undefined {
  // metadata comes from any co-editor's client: tolerate junk rather than break rendering
  if (!Array.isArray(meta?.rules)) return undefined
  for (const rule of meta.rules) {
    if (typeof rule !== 'object' || rule === null) continue
    const scope = rule.rows ?? 'data'
    if (scope === 'data' && isTotalsRow) continue
    if (scope === 'totals' && !isTotalsRow) continue
    if (matchRule(rule, valueOf(rule.colId))) return rule.style
  }
  return undefined
}

export type ValidationProblem =
  | { code: 'not-in-options'; options: string[] }
  | { code: 'not-number' }
  | { code: 'not-integer' }
  | { code: 'below-min'; min: number }
  | { code: 'above-max'; max: number }

/** What is wrong with a computed value under the column's rules (dropdown options, number bounds). */
export function validationProblem(meta: ColumnMeta | undefined, v: CellValue): ValidationProblem | undefined {
  if (!meta || v === null || v === '' || typeof v === 'object') return undefined
  if (meta.type === 'select' && Array.isArray(meta.options) && meta.options.length && !meta.options.includes(String(v))) {
    return { code: 'not-in-options', options: meta.options }
  }
  const val = meta.validation
  if (typeof val !== 'object' || val === null) return undefined
  if (typeof v !== 'number') return val.min !== undefined || val.max !== undefined || val.integer ? { code: 'not-number' } : undefined
  if (val.integer && !Number.isInteger(v)) return { code: 'not-integer' }
  if (val.min !== undefined && v < val.min - EPS) return { code: 'below-min', min: val.min }
  if (val.max !== undefined && v > val.max + EPS) return { code: 'above-max', max: val.max }
  return undefined
}
