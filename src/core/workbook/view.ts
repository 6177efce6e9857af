/**
 * A workbook as its first screen needs it, without its Yjs history: for each sheet, the content
 * HyperFormula takes (exactly what the formula engine builds from the doc), its column settings,
 * frozen panes and totals row; and the doc's state vector, which says what version it shows.
 *
 * The server makes it (GET /api/workbooks/:id/view) from the doc it holds. The workbook page reads it
 * while the doc's whole state (several MB for a large workbook, about a second to read in a browser)
 * is on its way or waiting: it computes and shows the grid from it, read-only, reads the doc after that
 * is on screen, and the formula engine then takes over the computed instance instead of building its
 * own when the doc is at the view's version.
 */
import * as Y from 'yjs'
import { HyperFormula, type RawCellContent } from 'hyperformula'
import { WorkbookLayout } from './layout'
import { getTitle, sheetParts, sheetsOf, type ColumnMeta } from './schema'
import { totalsRowOf } from './table'
import { HF_CONFIG, sheetContent, toCellValue, type CellValue } from '../formulas/engine'
import { engineContext } from '../formulas/timezone'
import { DEFAULT_TIME_ZONE, isTimeZone, workbookTimeZone } from './zone'

export const VIEW_VERSION = 1

export interface SheetView {
  id: string
  name: string
  /** column ids by visible position (colour rules name the column they test by id) */
  colIds: string[]
  /** column settings by visible position (null: none) */
  cols: (ColumnMeta | null)[]
  frozenRows: number
  frozenCols: number
  /** visible index of the totals row, or -1 */
  totalsRow: number
  /** HyperFormula's input: rows × columns, formulas in A1 with sheet ids for sheet names */
  content: RawCellContent[][]
}

/** Which version of the doc a view is of: its state vector, and with its delete set (a deletion alone leaves the vector as it was). */
export interface ViewVersion {
  /** the doc's state vector (base64) */
  vector: string
  /** `Y.encodeSnapshot` of the doc (base64): the vector and the delete set */
  snapshot: string
}

export interface WorkbookView extends ViewVersion {
  v: typeof VIEW_VERSION
  title: string
  sheets: SheetView[]
  /** the first sheet's first screen as computed where the view was made (absent: compute it here) */
  first?: FirstScreen
  /** the workbook's time zone (TODAY and NOW); absent in views of older servers: Asia/Shanghai */
  timeZone?: string
}

/**
 * The computed values of the first sheet's top rows and of its totals row: what the page shows
 * before its own formula engine has computed the workbook (for 10,000 rows that build is most of a
 * second). The same content and HyperFormula configuration give the same values here and there,
 * except for volatile functions (NOW, TODAY, RAND), which the page's engine computes again.
 */
export interface FirstScreen {
  /** rows 0 … rows-1 are in `values` */
  rows: number
  /** by row, then column (all of the sheet's columns) */
  values: CellValue[][]
  /** the totals row's values, when it lies below those rows */
  totals?: CellValue[]
}

/** How many rows the first screen holds: more than a tall screen shows, with frozen rows. */
export const FIRST_SCREEN_ROWS = 120

/** The first screen of the view's first sheet, from the view computed (`computeView`). */
export function firstScreenOf(view: WorkbookView, hf: HyperFormula): FirstScreen | undefined {
  const sheet = view.sheets[0]
  const hfSheet = sheet === undefined ? undefined : hf.getSheetId(sheet.id)
  if (!sheet || hfSheet === undefined) return undefined
  const cols = sheet.cols.length
  const rowValues = (row: number) => Array.from({ length: cols }, (_v, col) => plainValue(toCellValue(hf.getCellValue({ sheet: hfSheet, row, col }))))
  const rows = Math.min(sheet.content.length, FIRST_SCREEN_ROWS)
  return {
    rows,
    values: Array.from({ length: rows }, (_v, r) => rowValues(r)),
    ...(sheet.totalsRow >= rows ? { totals: rowValues(sheet.totalsRow) } : {}),
  }
}

/** a value as JSON carries it (an error without its message: the page's engine gives that) */
function plainValue(v: CellValue): CellValue {
  return typeof v === 'object' && v !== null ? { error: v.error } : typeof v === 'number' && !Number.isFinite(v) ? { error: '#NUM!' } : v
}

/**
 * The first screen's value of a cell, or undefined when it has none (below its rows): the page then
 * shows the cell's input unless that is a formula, until its engine has computed the sheet.
 */
export function firstScreenValue(first: FirstScreen, sheet: SheetView, row: number, col: number): CellValue | undefined {
  if (row < first.rows) return first.values[row]?.[col] ?? null
  if (row === sheet.totalsRow && first.totals) return first.totals[col] ?? null
  const input = sheet.content[row]?.[col]
  if (input === undefined || input === null) return null
  if (typeof input === 'number' || typeof input === 'boolean') return input
  if (typeof input !== 'string' || input.startsWith('=')) return undefined
  // text goes to HyperFormula behind an apostrophe (so that it is never read as a number or a date)
  return input.startsWith("'") ? input.slice(1) : input
}

export function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

export function fromBase64(text: string): Uint8Array {
  const s = atob(text)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

export function viewOf(doc: Y.Doc): WorkbookView {
  const layout = new WorkbookLayout(doc)
  const sheets = sheetsOf(doc)
  return {
    v: VIEW_VERSION,
    vector: toBase64(Y.encodeStateVector(doc)),
    snapshot: toBase64(Y.encodeSnapshot(Y.snapshot(doc))),
    title: getTitle(doc),
    timeZone: workbookTimeZone(doc),
    sheets: layout.order.map(id => {
      const sheet = sheets.get(id)!
      const sl = layout.sheet(id)!
      const metas = sheetParts(sheet).colMeta
      const totals = totalsRowOf(sheet)
      return {
        id,
        name: sl.name,
        colIds: [...sl.cols.ids],
        cols: sl.cols.ids.map(c => (metas.get(c) as ColumnMeta | undefined) ?? null),
        frozenRows: Math.max(0, Number(sheet.get('frozenRows')) || 0),
        frozenCols: Math.max(0, Number(sheet.get('frozenCols')) || 0),
        totalsRow: totals ? sl.rows.indexOf(totals) : -1,
        content: sheetContent(sheet, sl, layout),
      }
    }),
  }
}

/** The view is of exactly this doc's version: the same changes and the same deletions. */
export function viewMatches(view: ViewVersion, doc: Y.Doc): boolean {
  if (view.vector !== toBase64(Y.encodeStateVector(doc))) return false
  try {
    return Y.equalSnapshots(Y.decodeSnapshot(fromBase64(view.snapshot)), Y.snapshot(doc))
  } catch {
    return false
  }
}

/** The view computed: what the formula engine would build from the doc of the view's version. */
export function computeView(view: WorkbookView): HyperFormula {
  const sheets: Record<string, RawCellContent[][]> = Object.create(null)
  for (const s of view.sheets) sheets[s.id] = s.content
  return HyperFormula.buildFromSheets(sheets, { ...HF_CONFIG, context: engineContext(isTimeZone(view.timeZone) ? view.timeZone : DEFAULT_TIME_ZONE) })
}
