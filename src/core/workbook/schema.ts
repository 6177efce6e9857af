/**
 * The shared document of one workbook. No Vue imports: the server uses this too.
 *
 * Y.Doc layout
 *   meta        Y.Map    title, schemaVersion, templateId, createdAt
 *   sheetOrder  Y.Array<string>           sheet ids in tab order
 *   sheets      Y.Map<Y.Map>              sheetId → sheet map:
 *     name        string
 *     rows        Y.Array<string>        every row id ever created, in order (never shrinks)
 *     rowsGone    Y.Map<Tombstone>       deleted rows, with their surviving neighbours at deletion time
 *     cols        Y.Array<string>        likewise for columns
 *     colsGone    Y.Map<Tombstone>
 *     colMeta     Y.Map<ColumnMeta>      colId → plain JSON metadata
 *     cells       Y.Map<CellInput>       "rowId:colId" → input (never a computed value)
 *     frozenRows, frozenCols  number
 *     totalsRow   string                 id of the table's totals row, if any (rows above it are data)
 *     key         string                 what the sheet is, when a template made it ("appraisal", "rules", …)
 *
 * Deleted rows and columns stay in the order as tombstones. That keeps the position of a deleted id
 * known, so a formula range whose end row was deleted still resolves to the rows around it (as Excel
 * shrinks the range), and undoing a delete brings the very same ids back.
 */
import * as Y from 'yjs'

export const SCHEMA_VERSION = 1

export type ColumnType = 'text' | 'number' | 'percent' | 'currency' | 'date' | 'select' | 'person'
export const COLUMN_TYPES: readonly ColumnType[] = ['text', 'number', 'percent', 'currency', 'date', 'select', 'person']

export interface ColumnMeta {
  /**
   * What the column is, independent of language, when a template made it ("start", "end", "owner",
   * "score", …): views such as the timeline and the appraisal summary find their columns by it.
   */
  key?: string
  title?: string
  type?: ColumnType
  width?: number
  /** number of decimals for number/percent/currency; default 2 for percent/currency, auto for number */
  decimals?: number
  /** dropdown options for select columns */
  options?: string[]
  /** help text shown on the header */
  help?: string
  /** currency symbol, default ¥ */
  currency?: string
  /**
   * A calculated column: the formula every data row gets (new rows too), in stored form with the row
   * id `@` standing for "this row" (see table.ts).
   */
  formula?: string
  /** conditional colours, first match wins */
  rules?: ColorRule[]
  /** allowed values; cells outside are flagged, never rejected (a co-editor's value is not lost) */
  validation?: Validation
  /** a colour scale or data bar over the column's numbers (data rows); conditional colours go over it */
  scale?: ColumnScale
}

/** A hex colour #rrggbb: the only form a colour of the doc may take on its way into a style. */
export const isHexColor = (v: unknown): v is string => typeof v === 'string' && /^#[0-9a-fA-F]{6}$/.test(v)

/**
 * A colour scale (the lowest number gets `min`, the highest `max`, the middle `mid` if given, the rest
 * blended) or a data bar (a bar of `color` as long as the number is from the lowest to the highest).
 */
export type ColumnScale =
  | { kind: 'scale'; min: string; mid?: string; max: string }
  | { kind: 'bar'; color: string }

export type RuleStyle = 'good' | 'warn' | 'bad' | 'info' | 'strong'
export const RULE_STYLES: readonly RuleStyle[] = ['good', 'warn', 'bad', 'info', 'strong']
/** How each rule style looks (the grid's render.css draws the same): fill, font colour, bold. */
export const RULE_LOOKS: Record<RuleStyle, { bg?: string; fc?: string; b?: true }> = {
  good: { bg: '#e6f4ea', fc: '#1e6b34' },
  warn: { bg: '#fff4e0', fc: '#8a5300' },
  bad: { bg: '#fdecea', fc: '#b3261e' },
  info: { bg: '#e8f0fe', fc: '#1a4fa0' },
  strong: { b: true },
}
export type RuleOp = '<' | '<=' | '>' | '>=' | '=' | '<>' | 'between' | 'empty' | 'notEmpty'
export const RULE_OPS: readonly RuleOp[] = ['<', '<=', '>', '>=', '=', '<>', 'between', 'empty', 'notEmpty']

/** Colours a cell when the computed value of this column (or of `colId` in the same row) matches. */
export interface ColorRule {
  op: RuleOp
  value?: number | string
  /** upper bound for 'between' */
  value2?: number
  /** test another column of the same row */
  colId?: string
  /** which rows the rule applies to; default 'data' (not the totals row) */
  rows?: 'data' | 'totals' | 'all'
  style: RuleStyle
}

export interface Validation { min?: number; max?: number; integer?: boolean }

/** A formula in stored (position-independent) form; `v` starts with '='. */
export interface FormulaInput { t: 'f'; v: string }
/** A calendar date, ISO yyyy-mm-dd. */
export interface DateInput { t: 'd'; v: string }
export type CellInput = number | string | boolean | FormulaInput | DateInput

/** Neighbours that survived when a row/column was deleted; used to resolve range ends. */
export interface Tombstone { prev: string | null; next: string | null }

export type SheetMap = Y.Map<unknown>

export const cellKey = (rowId: string, colId: string): string => `${rowId}:${colId}`
export function splitCellKey(key: string): [string, string] {
  const i = key.indexOf(':')
  return [key.slice(0, i), key.slice(i + 1)]
}

export const isFormula = (v: unknown): v is FormulaInput =>
  typeof v === 'object' && v !== null && (v as FormulaInput).t === 'f' && typeof (v as FormulaInput).v === 'string'
export const isDate = (v: unknown): v is DateInput =>
  typeof v === 'object' && v !== null && (v as DateInput).t === 'd' && typeof (v as DateInput).v === 'string'

export function metaOf(doc: Y.Doc): Y.Map<unknown> { return doc.getMap('meta') }
export function sheetOrderOf(doc: Y.Doc): Y.Array<string> { return doc.getArray<string>('sheetOrder') }
export function sheetsOf(doc: Y.Doc): Y.Map<SheetMap> { return doc.getMap<SheetMap>('sheets') }

export function sheetParts(sheet: SheetMap) {
  return {
    rows: sheet.get('rows') as Y.Array<string>,
    rowsGone: sheet.get('rowsGone') as Y.Map<Tombstone>,
    cols: sheet.get('cols') as Y.Array<string>,
    colsGone: sheet.get('colsGone') as Y.Map<Tombstone>,
    colMeta: sheet.get('colMeta') as Y.Map<ColumnMeta>,
    cells: sheet.get('cells') as Y.Map<CellInput>,
  }
}

export function getTitle(doc: Y.Doc): string {
  const t = metaOf(doc).get('title')
  return typeof t === 'string' ? t : ''
}

/** Visible sheet ids in tab order (ids whose sheet map exists; duplicates from concurrent moves dropped). */
export function sheetIds(doc: Y.Doc): string[] {
  const sheets = sheetsOf(doc)
  const seen = new Set<string>()
  const out: string[] = []
  for (const id of sheetOrderOf(doc).toArray()) {
    if (!seen.has(id) && sheets.has(id)) { seen.add(id); out.push(id) }
  }
  return out
}

/** The template's key of a sheet ("progress", "appraisal", …), or ''. */
export function sheetKey(doc: Y.Doc, sheetId: string): string {
  const k = sheetsOf(doc).get(sheetId)?.get('key')
  return typeof k === 'string' ? k : ''
}

export function sheetName(doc: Y.Doc, sheetId: string): string {
  const s = sheetsOf(doc).get(sheetId)
  const n = s?.get('name')
  return typeof n === 'string' ? n : ''
}

/** Ids in order, tombstones excluded. */
export function visibleIds(order: Y.Array<string>, gone: Y.Map<Tombstone>): string[] {
  const out: string[] = []
  const seen = new Set<string>()
  for (const id of order.toArray()) {
    if (!gone.has(id) && !seen.has(id)) { seen.add(id); out.push(id) }
  }
  return out
}

export function visibleRowIds(sheet: SheetMap): string[] {
  const p = sheetParts(sheet)
  return visibleIds(p.rows, p.rowsGone)
}
export function visibleColIds(sheet: SheetMap): string[] {
  const p = sheetParts(sheet)
  return visibleIds(p.cols, p.colsGone)
}
