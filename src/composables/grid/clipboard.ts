/**
 * Copy, cut and paste. The clipboard gets what people see (as Excel does); a paste back into a grid of
 * this page brings the formulas, shifted like Excel shifts relative references. A cut, as in Excel,
 * leaves the cells where they are (outlined, dashed) until they are pasted: the paste then moves them
 * (core/workbook/move.ts), with their formats, and every reference to them follows; the cells it would
 * write are asked of the access rules first. A paste that does not fit grows the sheet first, as a
 * mutation.
 */
import type Handsontable from '../handsontable'
import * as m from '../../core/workbook/mutations'
import { shiftA1Formula } from '../../core/formulas/references'
import { formatValue } from '../../core/format'
import { applyMove, movedCells, planMove, type Block } from '../../core/workbook/move'
import type { GridContext } from './context'
import type { GridEdits } from './edits'

/**
 * The last copy or cut from a grid of this page: its shown text (to recognise it when pasted), its
 * edit texts and where it came from; a cut also its block of ids (pasted once).
 */
interface ClipboardMemo { tsv: string; texts: string[][]; row: number; col: number; cut?: Block }
let clipboardMemo: ClipboardMemo | null = null

/** Whether the cell is in the block cut and not yet pasted (the grid outlines it). */
export function isCut(sheetId: string, rowId: string, colId: string): boolean {
  const cut = clipboardMemo?.cut
  return !!cut && cut.sheetId === sheetId && cut.rowIds.includes(rowId) && cut.colIds.includes(colId)
}

/** The cut is given up (Escape, as in Excel): the outline goes. */
export function cancelCut(): boolean {
  if (!clipboardMemo?.cut) return false
  clipboardMemo = { ...clipboardMemo, cut: undefined }
  return true
}

export function clipboardSettings(ctx: GridContext, edits: Pick<GridEdits, 'structural'>): Handsontable.GridSettings {
  const { rows, sheetId, wb, actions } = ctx
  const { structural } = edits

  /** What people see of the copied block, and the memo of it. */
  function remember(copied: unknown[][], c0: { startRow: number; startCol: number }, cut: boolean): void {
    const texts = copied.map((row, i) => row.map((_, j) => rows.data[c0.startRow + i]?.[c0.startCol + j] ?? ''))
    for (let i = 0; i < copied.length; i++) {
      for (let j = 0; j < copied[i]!.length; j++) {
        copied[i]![j] = formatValue(rows.engine().getValue(sheetId.value, c0.startRow + i, c0.startCol + j), rows.colMeta(c0.startCol + j))
      }
    }
    const width = Math.max(0, ...copied.map(r => r.length))
    const block: Block | undefined = cut ? {
      sheetId: sheetId.value,
      rowIds: rows.rowIds.slice(c0.startRow, c0.startRow + copied.length),
      colIds: rows.colIds.slice(c0.startCol, c0.startCol + width),
    } : undefined
    clipboardMemo = { tsv: copied.map(r => r.join('\t')).join('\n'), texts, row: c0.startRow, col: c0.startCol, cut: block }
    ctx.scheduleRender()
  }

  /** Pastes the cut block at (row, col) by moving it; false when the access rules refuse a cell of it. */
  function pasteCut(cut: Block, row: number, col: number): void {
    const to: Block = { sheetId: sheetId.value, rowIds: rows.rowIds.slice(row, row + cut.rowIds.length), colIds: rows.colIds.slice(col, col + cut.colIds.length) }
    if (to.rowIds.length !== cut.rowIds.length || to.colIds.length !== cut.colIds.length) return
    let plan
    try { plan = planMove(wb.doc, cut, to) } catch (e) { ctx.onError(e); return }
    const a = actions?.access
    for (const c of a ? movedCells(plan) : []) {
      const no = a!.cellRefusal(c.sheetId, c.rowId, c.colId)
      if (no) { actions?.refused?.(no); return }
    }
    clipboardMemo = null
    try { wb.mutate((doc, origin) => applyMove(doc, plan, origin)) } catch (e) { ctx.onError(e); return }
    const hot = ctx.hot
    if (hot) queueMicrotask(() => hot.selectCell(row, col, row + cut.rowIds.length - 1, col + cut.colIds.length - 1, false))
  }

  return {
    beforeCopy: (copied: unknown[][], coords: { startRow: number; startCol: number }[]) => {
      const c0 = coords[0]
      if (c0) remember(copied, c0, false)
    },
    beforeCut: (copied: unknown[][], coords: { startRow: number; startCol: number }[]) => {
      const c0 = coords[0]
      if (c0) remember(copied, c0, true)
    },
    // a cut leaves the cells as they are until the paste moves them
    beforeChange: (_changes: unknown, source: string) => (source === 'CopyPaste.cut' ? false : undefined),
    beforePaste: ((pasted: unknown[][], coords: { startRow: number; startCol: number }[]) => {
      const c0 = coords[0]
      if (!c0) return
      const memo = clipboardMemo
      const ours = !!memo && pasted.map(r => r.join('\t')).join('\n') === memo.tsv
      // grow the sheet first so the paste fits (as a mutation, not as a grid-only change)
      const needRows = c0.startRow + pasted.length - rows.rowIds.length
      const width = Math.max(0, ...pasted.map(r => r.length))
      const needCols = c0.startCol + width - rows.colIds.length
      if (needRows > 0) structural((d, o) => m.insertRows(d, sheetId.value, rows.rowIds.length, needRows, o))
      if (needCols > 0) structural((d, o) => m.insertCols(d, sheetId.value, rows.colIds.length, needCols, o))
      if (ours && memo!.cut) {
        pasteCut(memo!.cut, c0.startRow, c0.startCol)
        return false
      }
      if (ours) {
        const dr = c0.startRow - memo!.row, dc = c0.startCol - memo!.col
        for (let i = 0; i < pasted.length; i++) for (let j = 0; j < pasted[i]!.length; j++) {
          const t = memo!.texts[i]?.[j] ?? ''
          pasted[i]![j] = t.startsWith('=') ? shiftA1Formula(t, dr, dc) : t
        }
      }
    }) as never,
  }
}
