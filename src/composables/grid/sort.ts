/**
 * Sorting from the grid: by the active cell's column, the selected rows when more than one is selected,
 * otherwise the sheet's data rows (below frozen header rows, above the totals row). The change is
 * tried as the server would check it first, so a sort that would move protected rows or what a
 * protected formula reads is refused here with the reason, not by a closed connection.
 */
import { sortRows, type SortResult } from '../../core/workbook/sort'
import type { GridContext } from './context'

export type GridSort = ReturnType<typeof createSort>

export function createSort(ctx: GridContext) {
  const { wb, rows, sheetId, actions } = ctx

  function sort(desc: boolean): SortResult | null {
    const hot = ctx.hot
    const range = hot?.getSelectedRangeLast()
    if (!hot || !range) return null
    const from = range.getTopStartCorner(), to = range.getBottomEndCorner()
    const c = Math.max(0, range.highlight.col ?? from.col ?? 0)
    const colId = rows.colIds[c]
    if (!colId) return null
    const r1 = Math.max(0, from.row ?? 0), r2 = Math.min(rows.rowIds.length - 1, to.row ?? 0)
    const block = r2 > r1 ? { fromRow: rows.rowIds[r1]!, toRow: rows.rowIds[r2]! } : {}
    const engine = rows.engine()
    const sid = sheetId.value
    const valueOf = (rowId: string, col: string) => engine.getValueById(sid, rowId, col)
    const keys = [{ colId, desc }]
    const a = actions?.access
    // a sheet without protections refuses a sort only as a whole (locked, read-only): no need to try it
    const guarded = !!a?.view.value.protections.some(p => p.sheet === sid)
    const no = a?.sheetRefusal(sid) ?? (guarded ? a?.changeRefusal(copy => sortRows(copy, sid, keys, valueOf, block)) : null) ?? null
    if (no) { actions?.refused?.(no); return null }
    try {
      return wb.mutate((doc, origin) => sortRows(doc, sid, keys, valueOf, block, origin))
    } catch (e) { ctx.onError(e); return null }
  }

  return { sort }
}
