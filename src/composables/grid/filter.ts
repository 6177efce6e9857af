/**
 * My filter of the sheet shown: it hides data rows in my grid only (never in a colleague's, never in
 * the doc), applied when I set it, as Excel applies a filter (a row I then edit out of the condition
 * stays until I apply again). Rows out of sight are left out of a copy. Filter views saved in the doc
 * are applied from here too.
 */
import { ref } from 'vue'
import { formatValue } from '../../core/format'
import { readStyle, stylesOf } from '../../core/workbook/styles'
import { filteredOut, type FilterCell, type FilterCondition, type SheetFilter } from '../../core/workbook/filter'
import { sheetParts, sheetsOf, type ColumnMeta } from '../../core/workbook/schema'
import { dataRows } from '../../core/workbook/sort'
import type { GridContext } from './context'

export type GridFilter = ReturnType<typeof createFilter>

export function createFilter(ctx: GridContext) {
  const { wb, rows, sheetId } = ctx
  /** per sheet: my conditions */
  const bySheet = new Map<string, SheetFilter>()
  /** the conditions of the sheet shown, and how many data rows they hide of how many */
  const current = ref<SheetFilter>({})
  const counts = ref<{ hidden: number; rows: number }>({ hidden: 0, rows: 0 })

  function cellOf(rowId: string, colId: string): FilterCell {
    const sid = sheetId.value
    const meta = sheetParts(sheetsOf(wb.doc).get(sid)!).colMeta.get(colId) as ColumnMeta | undefined
    const value = rows.engine().getValueById(sid, rowId, colId)
    return { shown: formatValue(value, meta), value, bg: readStyle(stylesOf(wb.doc), sid, rowId, colId).bg }
  }

  /** Applies the sheet's conditions now (also after switching sheets). */
  function apply(): void {
    const sid = sheetId.value
    const f = bySheet.get(sid) ?? {}
    current.value = f
    const sheet = sheetsOf(wb.doc).get(sid)
    rows.filteredOut = sheet && Object.keys(f).length ? filteredOut(wb.doc, sid, f, cellOf) : new Set()
    rows.filteredCols = new Set(Object.keys(f))
    counts.value = { hidden: rows.filteredOut.size, rows: sheet ? dataRows(sheet).length : 0 }
    ctx.hot?.updateSettings(rows.layoutSettings())
    ctx.scheduleRender()
  }

  function setAll(f: SheetFilter): void {
    bySheet.set(sheetId.value, { ...f })
    apply()
  }

  return {
    current,
    counts,
    /** sets (or with null takes off) my condition on a column, and applies */
    set(colId: string, cond: FilterCondition | null): void {
      const f = { ...(bySheet.get(sheetId.value) ?? {}) }
      if (cond) f[colId] = cond
      else delete f[colId]
      setAll(f)
    },
    setAll,
    /** the rows my filter hides on the sheet shown */
    hiddenRows(): ReadonlySet<string> { return rows.filteredOut },
    /** my filter of every sheet I set one on, by sheet id (the .xlsx export writes them as Excel's filter) */
    all(): Record<string, SheetFilter> {
      return Object.fromEntries([...bySheet].filter(([, f]) => Object.keys(f).length > 0))
    },
    clear(): void { setAll({}) },
    apply,
    /** what a column holds in the data rows, as shown, with how many rows show each (for the values list) */
    columnValues(colId: string): { shown: string; count: number }[] {
      const sheet = sheetsOf(wb.doc).get(sheetId.value)
      if (!sheet) return []
      const n = new Map<string, number>()
      for (const rowId of dataRows(sheet)) {
        const s = cellOf(rowId, colId).shown.trim() === '' ? '' : cellOf(rowId, colId).shown
        n.set(s, (n.get(s) ?? 0) + 1)
      }
      return [...n].map(([shown, count]) => ({ shown, count }))
    },
    /** the fills a column's data cells have (null: none) */
    columnFills(colId: string): (string | null)[] {
      const sheet = sheetsOf(wb.doc).get(sheetId.value)
      if (!sheet) return []
      return [...new Set(dataRows(sheet).map(r => cellOf(r, colId).bg ?? null))]
    },
  }
}
