/**
 * Named mutations: every change to a workbook goes through one of these, in one transaction, with an
 * origin. Positions are visible positions (what the user sees); storage uses ids only.
 */
import * as Y from 'yjs'
import {
  SCHEMA_VERSION, cellKey, metaOf, sheetOrderOf, sheetsOf, sheetParts, sheetIds, sheetName, visibleIds,
  type CellInput, type ColumnMeta, type SheetMap, type Tombstone,
} from './schema'
import { newColId, newRowId, newSheetId } from './ids'
import { isTimeZone } from './zone'
import { afterInsertRows, autofillEditedRows, columnFormulaFor, emptyRowsAmong, formulaColumns, toColumnFormula, totalsRowOf } from './table'

export type Origin = unknown

export class WorkbookError extends Error {
  constructor(public code: 'unknown-sheet' | 'bad-position' | 'duplicate-sheet-name' | 'bad-name' | 'last-sheet' | 'bad-chart' | 'too-many-charts' | 'unknown-chart', message: string) {
    super(message)
    this.name = 'WorkbookError'
  }
}

function requireSheet(doc: Y.Doc, sheetId: string): SheetMap {
  const s = sheetsOf(doc).get(sheetId)
  if (!s) throw new WorkbookError('unknown-sheet', `unknown sheet ${sheetId}`)
  return s
}

export interface NewSheet {
  id?: string
  name: string
  /** what the sheet is, when a template made it */
  key?: string
  rows?: number
  cols?: number
  rowIds?: string[]
  colIds?: string[]
  columns?: ColumnMeta[]
  frozenRows?: number
  frozenCols?: number
}

export function normaliseSheetName(name: string): string {
  return name.replace(/[\u0000-\u001f]/g, '').trim().slice(0, 100)
}

/** Sheet names: not empty, no characters Excel forbids, unique ignoring case. */
export function validateSheetName(doc: Y.Doc, name: string, exceptId?: string): string {
  const n = normaliseSheetName(name)
  if (!n || /[\\/?*[\]:]/.test(n) || n.startsWith("'") || n.endsWith("'")) {
    throw new WorkbookError('bad-name', `invalid sheet name: ${JSON.stringify(name)}`)
  }
  for (const id of sheetIds(doc)) {
    if (id !== exceptId && sheetName(doc, id).toLowerCase() === n.toLowerCase()) {
      throw new WorkbookError('duplicate-sheet-name', `a sheet named ${n} already exists`)
    }
  }
  return n
}

/** The languages a workbook can be made in (its template's texts, the messages sent about it). */
export const WORKBOOK_LANGS = ['zh-CN', 'en'] as const
export type WorkbookLang = typeof WORKBOOK_LANGS[number]
export const isWorkbookLang = (v: unknown): v is WorkbookLang => v === 'zh-CN' || v === 'en'

/** The language the workbook was made in; zh-CN for one made before workbooks had one. */
export const workbookLang = (doc: Y.Doc): WorkbookLang => {
  const v = metaOf(doc).get('lang')
  return isWorkbookLang(v) ? v : 'zh-CN'
}

export function initWorkbook(doc: Y.Doc, args: { title: string; templateId?: string; timeZone?: string; lang?: WorkbookLang }, origin: Origin = null): void {
  doc.transact(() => {
    const meta = metaOf(doc)
    meta.set('title', args.title)
    if (args.timeZone && isTimeZone(args.timeZone)) meta.set('timeZone', args.timeZone)
    if (args.lang && isWorkbookLang(args.lang)) meta.set('lang', args.lang)
    meta.set('schemaVersion', SCHEMA_VERSION)
    meta.set('templateId', args.templateId ?? 'blank')
    meta.set('createdAt', Date.now())
  }, origin)
}

/** The workbook's time zone (TODAY and NOW everywhere); an unknown zone is refused here and by the server. */
export function setTimeZone(doc: Y.Doc, zone: string, origin: Origin = null): void {
  if (!isTimeZone(zone)) throw new Error(`not a time zone: ${zone}`)
  doc.transact(() => metaOf(doc).set('timeZone', zone), origin)
}

export function setTitle(doc: Y.Doc, title: string, origin: Origin = null): void {
  doc.transact(() => metaOf(doc).set('title', title), origin)
}

export function addSheet(doc: Y.Doc, spec: NewSheet, origin: Origin = null, atIndex?: number): string {
  const id = spec.id ?? newSheetId()
  doc.transact(() => {
    const name = validateSheetName(doc, spec.name)
    const sheet: SheetMap = new Y.Map()
    const rowIds = spec.rowIds ?? Array.from({ length: spec.rows ?? 100 }, newRowId)
    const colIds = spec.colIds ?? Array.from({ length: spec.cols ?? Math.max(26, spec.columns?.length ?? 0) }, newColId)
    const rows = new Y.Array<string>(); rows.push(rowIds)
    const cols = new Y.Array<string>(); cols.push(colIds)
    const colMeta = new Y.Map<ColumnMeta>()
    spec.columns?.forEach((m, i) => { if (colIds[i]) colMeta.set(colIds[i]!, { ...m }) })
    sheet.set('name', name)
    sheet.set('rows', rows)
    sheet.set('rowsGone', new Y.Map<Tombstone>())
    sheet.set('cols', cols)
    sheet.set('colsGone', new Y.Map<Tombstone>())
    sheet.set('colMeta', colMeta)
    sheet.set('cells', new Y.Map<CellInput>())
    sheet.set('frozenRows', spec.frozenRows ?? 0)
    sheet.set('frozenCols', spec.frozenCols ?? 0)
    if (spec.key) sheet.set('key', spec.key)
    sheetsOf(doc).set(id, sheet)
    const order = sheetOrderOf(doc)
    const at = atIndex === undefined ? order.length : Math.max(0, Math.min(order.length, atIndex))
    order.insert(at, [id])
  }, origin)
  return id
}

export function renameSheet(doc: Y.Doc, sheetId: string, name: string, origin: Origin = null): void {
  doc.transact(() => {
    const sheet = requireSheet(doc, sheetId)
    sheet.set('name', validateSheetName(doc, name, sheetId))
  }, origin)
}

export function deleteSheet(doc: Y.Doc, sheetId: string, origin: Origin = null): void {
  doc.transact(() => {
    requireSheet(doc, sheetId)
    if (sheetIds(doc).length <= 1) throw new WorkbookError('last-sheet', 'a workbook keeps at least one sheet')
    const order = sheetOrderOf(doc)
    for (let i = order.length - 1; i >= 0; i--) if (order.get(i) === sheetId) order.delete(i, 1)
    sheetsOf(doc).delete(sheetId)
  }, origin)
}

/** Moves a sheet tab to a visible index. */
export function moveSheet(doc: Y.Doc, sheetId: string, toIndex: number, origin: Origin = null): void {
  doc.transact(() => {
    requireSheet(doc, sheetId)
    const order = sheetOrderOf(doc)
    for (let i = order.length - 1; i >= 0; i--) if (order.get(i) === sheetId) order.delete(i, 1)
    const visible = sheetIds(doc)
    const clamped = Math.max(0, Math.min(visible.length, toIndex))
    // insert before the sheet now at `clamped`, or at the end
    const anchor = visible[clamped]
    const arr = order.toArray()
    const at = anchor === undefined ? arr.length : arr.indexOf(anchor)
    order.insert(at, [sheetId])
  }, origin)
}

type Axis = 'rows' | 'cols'
function axisParts(sheet: SheetMap, axis: Axis) {
  const p = sheetParts(sheet)
  return axis === 'rows' ? { order: p.rows, gone: p.rowsGone } : { order: p.cols, gone: p.colsGone }
}

/**
 * Inserts `count` new ids so that the first one lands at visible index `at`. The new ids go right after
 * the previous visible id, before any tombstones that follow it: so a range whose deleted start row sat
 * there does not grow to include them (as in Excel, a row inserted above a range is outside it).
 */
function insertIds(sheet: SheetMap, axis: Axis, at: number, ids: string[]): void {
  const { order, gone } = axisParts(sheet, axis)
  const all = order.toArray()
  const visible = visibleIds(order, gone)
  if (at < 0 || at > visible.length) throw new WorkbookError('bad-position', `position ${at} out of range`)
  let fullAt: number
  if (at === 0) fullAt = 0
  else fullAt = all.indexOf(visible[at - 1]!) + 1
  order.insert(fullAt, ids)
}

function deleteIds(sheet: SheetMap, axis: Axis, at: number, count: number): string[] {
  const { order, gone } = axisParts(sheet, axis)
  const visible = visibleIds(order, gone)
  if (at < 0 || count < 1 || at + count > visible.length) throw new WorkbookError('bad-position', `range ${at}+${count} out of range`)
  const removed = visible.slice(at, at + count)
  const stone: Tombstone = { prev: visible[at - 1] ?? null, next: visible[at + count] ?? null }
  for (const id of removed) gone.set(id, stone)
  return removed
}

/** Inserts rows; inside a table they get its column formulas, and right above its totals row they join its ranges. */
export function insertRows(doc: Y.Doc, sheetId: string, at: number, count = 1, origin: Origin = null, ids?: string[]): string[] {
  const newIds = ids ?? Array.from({ length: count }, newRowId)
  doc.transact(() => {
    const sheet = requireSheet(doc, sheetId)
    const p = sheetParts(sheet)
    const before = visibleIds(p.rows, p.rowsGone)
    insertIds(sheet, 'rows', at, newIds)
    afterInsertRows(doc, sheetId, sheet, newIds, before, at)
  }, origin)
  return newIds
}

export function deleteRows(doc: Y.Doc, sheetId: string, at: number, count = 1, origin: Origin = null): string[] {
  let removed: string[] = []
  doc.transact(() => { removed = deleteIds(requireSheet(doc, sheetId), 'rows', at, count) }, origin)
  return removed
}

export function insertCols(doc: Y.Doc, sheetId: string, at: number, count = 1, origin: Origin = null, ids?: string[]): string[] {
  const newIds = ids ?? Array.from({ length: count }, newColId)
  doc.transact(() => insertIds(requireSheet(doc, sheetId), 'cols', at, newIds), origin)
  return newIds
}

export function deleteCols(doc: Y.Doc, sheetId: string, at: number, count = 1, origin: Origin = null): string[] {
  let removed: string[] = []
  doc.transact(() => { removed = deleteIds(requireSheet(doc, sheetId), 'cols', at, count) }, origin)
  return removed
}

export interface CellWrite { rowId: string; colId: string; value: CellInput | null }

/** Sets (or clears, with null) cells of one sheet in one transaction. */
export function setCells(doc: Y.Doc, sheetId: string, writes: CellWrite[], origin: Origin = null): void {
  doc.transact(() => {
    const { cells } = sheetParts(requireSheet(doc, sheetId))
    for (const w of writes) {
      const key = cellKey(w.rowId, w.colId)
      if (w.value === null || w.value === '') { if (cells.has(key)) cells.delete(key) }
      else if (!sameInput(cells.get(key), w.value)) cells.set(key, w.value)
    }
  }, origin)
}

/**
 * A person's edit: like setCells, and a row that was empty and is now written, right below the table,
 * gets the column formulas (the table grows as in Excel).
 */
export function editCells(doc: Y.Doc, sheetId: string, writes: CellWrite[], origin: Origin = null): void {
  doc.transact(() => {
    const sheet = requireSheet(doc, sheetId)
    const wasEmpty = formulaColumns(sheet).length ? emptyRowsAmong(sheet, writes.filter(w => w.value !== null && w.value !== '').map(w => w.rowId)) : []
    setCells(doc, sheetId, writes, origin)
    autofillEditedRows(sheet, wasEmpty)
  }, origin)
}

/**
 * Makes a column calculated from the formula in one of its cells, as Excel's "overwrite all cells in
 * this column": every data row that holds anything (above the totals row) gets the formula for its own
 * row, and so do new rows. `null` stops calculating (cells keep their formulas).
 */
export function setColumnFormula(doc: Y.Doc, sheetId: string, colId: string, from: { rowId: string; stored: string } | null, origin: Origin = null): void {
  doc.transact(() => {
    const sheet = requireSheet(doc, sheetId)
    if (from === null) { setColumnMeta(doc, sheetId, colId, { formula: undefined }, origin); return }
    const p = sheetParts(sheet)
    const order = visibleIds(p.rows, p.rowsGone)
    const colIds = visibleIds(p.cols, p.colsGone)
    const totals = totalsRowOf(sheet)
    const formula = toColumnFormula(from.stored, from.rowId, order)
    setColumnMeta(doc, sheetId, colId, { formula }, origin)
    // the table around the cell: the unbroken run of non-empty rows, stopping at the totals row
    const filled = (r: string | undefined) => r !== undefined && r !== totals && colIds.some(c => p.cells.has(cellKey(r, c)))
    const at = order.indexOf(from.rowId)
    let top = at, bottom = at
    while (filled(order[top - 1])) top--
    while (filled(order[bottom + 1])) bottom++
    for (const rowId of order.slice(top, bottom + 1)) {
      const next = columnFormulaFor(formula, rowId, order)
      if (!sameInput(p.cells.get(cellKey(rowId, colId)), next)) p.cells.set(cellKey(rowId, colId), next)
    }
  }, origin)
}

/** Marks a row as the table's totals row (null clears). */
export function setTotalsRow(doc: Y.Doc, sheetId: string, rowId: string | null, origin: Origin = null): void {
  doc.transact(() => {
    const sheet = requireSheet(doc, sheetId)
    if (rowId === null) sheet.delete('totalsRow')
    else sheet.set('totalsRow', rowId)
  }, origin)
}

export function setCell(doc: Y.Doc, sheetId: string, rowId: string, colId: string, value: CellInput | null, origin: Origin = null): void {
  setCells(doc, sheetId, [{ rowId, colId, value }], origin)
}

function sameInput(a: CellInput | undefined, b: CellInput): boolean {
  if (a === b) return true
  if (typeof a === 'object' && typeof b === 'object' && a && b) return a.t === b.t && a.v === b.v
  return false
}

export function setColumnMeta(doc: Y.Doc, sheetId: string, colId: string, patch: Partial<ColumnMeta>, origin: Origin = null): void {
  doc.transact(() => {
    const { colMeta } = sheetParts(requireSheet(doc, sheetId))
    const next: ColumnMeta = { ...(colMeta.get(colId) ?? {}), ...patch }
    for (const k of Object.keys(next) as (keyof ColumnMeta)[]) if (next[k] === undefined) delete next[k]
    colMeta.set(colId, next)
  }, origin)
}

export function setFrozen(doc: Y.Doc, sheetId: string, frozen: { rows?: number; cols?: number }, origin: Origin = null): void {
  doc.transact(() => {
    const sheet = requireSheet(doc, sheetId)
    if (frozen.rows !== undefined) sheet.set('frozenRows', Math.max(0, Math.floor(frozen.rows)))
    if (frozen.cols !== undefined) sheet.set('frozenCols', Math.max(0, Math.floor(frozen.cols)))
  }, origin)
}
