/** Reading and editing KPI workbooks and roll-ups in tests (issue 21). */
import type * as Y from 'yjs'
import { setCell, insertRows } from '../../src/core/workbook/mutations'
import { sheetIds, sheetKey, sheetParts, sheetsOf, visibleIds, cellKey, type ColumnMeta } from '../../src/core/workbook/schema'
import { readPlan, readSources } from '../../src/core/rollup/plan'

/** The sheet with template key `key` and its column of template key `col`. */
export function kpiSheet(doc: Y.Doc, key = 'kpi'): string {
  const id = sheetIds(doc).find(s => sheetKey(doc, s) === key)
  if (!id) throw new Error(`no sheet ${key}`)
  return id
}

export function colByKey(doc: Y.Doc, sheetId: string, key: string): string {
  const p = sheetParts(sheetsOf(doc).get(sheetId)!)
  const id = visibleIds(p.cols, p.colsGone).find(c => (p.colMeta.get(c) as ColumnMeta | undefined)?.key === key)
  if (!id) throw new Error(`no column ${key}`)
  return id
}

/** The visible row whose `col` holds `value`. */
export function rowWhere(doc: Y.Doc, sheetId: string, col: string, value: unknown): string | undefined {
  const p = sheetParts(sheetsOf(doc).get(sheetId)!)
  return visibleIds(p.rows, p.rowsGone).find(r => p.cells.get(cellKey(r, col)) === value)
}

export function cellAt(doc: Y.Doc, sheetId: string, rowId: string, col: string): unknown {
  return sheetParts(sheetsOf(doc).get(sheetId)!).cells.get(cellKey(rowId, col))
}

/** Sets the `colKey` value of the KPI row whose metric is `metric`. */
export function setKpi(doc: Y.Doc, metric: string, colKey: string, value: number | string): void {
  const s = kpiSheet(doc)
  const row = rowWhere(doc, s, colByKey(doc, s, 'metric'), metric)
  if (!row) throw new Error(`no row ${metric}`)
  setCell(doc, s, row, colByKey(doc, s, colKey), value)
}

/** Inserts a KPI row at the top with a metric and an actual. */
export function insertKpiAbove(doc: Y.Doc, metric: string, actual: number): void {
  const s = kpiSheet(doc)
  const [row] = insertRows(doc, s, 0, 1)
  setCell(doc, s, row!, colByKey(doc, s, 'metric'), metric)
  setCell(doc, s, row!, colByKey(doc, s, 'actual'), actual)
}

/** In a roll-up doc: the `colKey` value of the row whose metric is `metric` (undefined: no such row). */
export function rollupValue(doc: Y.Doc, metric: string, colKey: string): unknown {
  const plan = readPlan(doc)
  if (!plan || !sheetsOf(doc).get(plan.sheet)) return undefined
  const row = rowWhere(doc, plan.sheet, colByKey(doc, plan.sheet, 'metric'), metric)
  return row === undefined ? undefined : cellAt(doc, plan.sheet, row, colByKey(doc, plan.sheet, colKey))
}

export const sourceStatus = (doc: Y.Doc, workbookId: string) => readSources(doc).find(s => s.workbookId === workbookId)?.status

export function rollupRowCount(doc: Y.Doc): number {
  const plan = readPlan(doc)
  if (!plan) return 0
  const p = sheetParts(sheetsOf(doc).get(plan.sheet)!)
  return visibleIds(p.rows, p.rowsGone).length
}
