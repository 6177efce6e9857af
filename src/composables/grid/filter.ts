/**
 * My filter of the sheet shown: it hides data rows in my grid only (never in a colleague's, never in
 * the doc), applied when I set it, as Excel applies a filter (a row I then edit out of the condition
 * stays until I apply again). Rows out of sight are left out of a copy. Filter views saved in the doc
 * are applied from here too.
 */
import { ref } from 'vue'
import { formatValue } from '../../core/format'
import { readStyle, stylesOf } from '../../core/workbook/styles'
import { filteredOut, sheetFilterSchema, type FilterCell, type FilterCondition, type SheetFilter } from '../../core/workbook/filter'
import { sheetParts, sheetsOf, type ColumnMeta } from '../../core/workbook/schema'
import { dataRows } from '../../core/workbook/sort'
import type { GridContext } from './context'

export type GridFilter = ReturnType<typeof createFilter>

/** My filters of a workbook as this browser kept them, each checked (the storage is anyone's to edit). */
function restore(key: string | undefined): [string, SheetFilter][] {
  if (!key) return []
  try {
    const saved = JSON.parse(localStorage.getItem(key) ?? '{}') as unknown
    if (!saved || typeof saved !== 'object') return []
    return Object.entries(saved as Record<string, unknown>).flatMap(([sid, f]) => {
      const r = sheetFilterSchema.safeParse(f)
      return r.success && /^[\w-]{1,64}$/.test(sid) ? [[sid, r.data] as [string, SheetFilter]] : []
    })
  } catch { return [] }
}

export function createFilter(ctx: GridContext) {
  const { wb, rows, sheetId } = ctx
  /** per sheet: my conditions (kept in this browser, so a reload keeps them, as Excel keeps a file's filter) */
  const bySheet = new Map<string, SheetFilter>(restore(ctx.actions?.filterStorageKey))
  function persist(): void {
    const key = ctx.actions?.filterStorageKey
    if (!key) return
    const all = Object.fromEntries([...bySheet].filter(([, f]) => Object.keys(f).length > 0))
    try {
      if (Object.keys(all).length) localStorage.setItem(key, JSON.stringify(all))
      else localStorage.removeItem(key)
    } catch { /* private mode, or full: the filter lasts as long as the page */ }
  }
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
    persist()
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
    /** whether I keep a filter of the sheet shown (one kept from before a reload is applied on mount) */
    has(): boolean { return Object.keys(bySheet.get(sheetId.value) ?? {}).length > 0 },
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
