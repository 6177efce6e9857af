/**
 * What the workbook's types must look like for every replica's engine to read them: the checks of a
 * change refuse anything else (nested types, NaN, a sheet without its parts), whoever sends it.
 */
import * as Y from 'yjs'
import { isFormula } from '../workbook/schema'

/** A row or column id. */
export const ID_TEXT = /^[\w-]{1,64}$/

/** The roots a workbook has. */
export const KNOWN_ROOTS: ReadonlySet<string> = new Set(['meta', 'sheetOrder', 'sheets', 'access', 'charts', 'styles', 'hidden', 'filterViews', 'merges', 'comments'])

/** The parts of a sheet, made with it and never replaced. */
export const SHEET_PARTS: ReadonlySet<string> = new Set(['rows', 'cols', 'rowsGone', 'colsGone', 'colMeta', 'cells'])

/** The same cell input (formulas by their text). */
export function sameInput(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (isFormula(a) && isFormula(b)) return a.v === b.v
  return JSON.stringify(a) === JSON.stringify(b)
}

/** A value the app stores in a cell: a finite number, text, a boolean, a formula or a date. */
export function isCellInput(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v)
  if (typeof v === 'string') return v.length <= 100_000
  if (typeof v === 'boolean') return true
  if (!v || typeof v !== 'object' || Array.isArray(v) || v instanceof Y.AbstractType) return false
  const o = v as Record<string, unknown>
  const keys = Object.keys(o)
  if (keys.length !== 2 || typeof o.v !== 'string') return false
  return (o.t === 'f' && o.v.startsWith('=') && o.v.length <= 100_000) || (o.t === 'd' && /^\d{4}-\d{2}-\d{2}$/.test(o.v))
}

/** A sheet map with the parts the app reads (a sheet without them would break every replica's engine). */
export function isSheetShape(s: unknown): boolean {
  if (!(s instanceof Y.Map)) return false
  const arr = (k: string) => s.get(k) instanceof Y.Array
  const map = (k: string) => s.get(k) instanceof Y.Map
  if (typeof s.get('name') !== 'string' || !arr('rows') || !arr('cols') || !map('rowsGone') || !map('colsGone') || !map('colMeta') || !map('cells')) return false
  const ids = (k: string) => (s.get(k) as Y.Array<unknown>).toArray().every(x => typeof x === 'string' && ID_TEXT.test(x))
  if (!ids('rows') || !ids('cols')) return false
  let cellsOk = true
  ;(s.get('cells') as Y.Map<unknown>).forEach(v => { if (cellsOk && !isCellInput(v)) cellsOk = false })
  return cellsOk
}

/**
 * Gives a doc its root types with their classes. Call it on a doc before applying updates that
 * checkChange will look at: a root first seen in an update is a plain type until someone asks for it
 * by class, and asking replaces the instance (so the types a transaction lists would not be the doc's).
 */
export function defineRoots(doc: Y.Doc): void {
  doc.getMap('meta'); doc.getArray('sheetOrder'); doc.getMap('sheets'); doc.getMap('access'); doc.getMap('charts'); doc.getMap('styles'); doc.getMap('hidden'); doc.getMap('filterViews'); doc.getMap('merges'); doc.getMap('comments')
}
