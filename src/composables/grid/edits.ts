/**
 * Guarded edits: what is typed, pasted or filled in the grid becomes named mutations, unless access
 * rules refuse it (a protected cell keeps showing what the doc has, and the page is told why). The
 * grid never changes its own shape: rows and columns come and go only as mutations, and the doc's
 * change comes back through docToGrid.
 */
import type Handsontable from '../handsontable'
import type { Doc } from 'yjs'
import { cellKey, sheetParts } from '../../core/workbook/schema'
import * as m from '../../core/workbook/mutations'
import { inputFromText } from '../../core/workbook/input'
import { SYNC, type GridContext } from './context'
import type { Refusal } from '../../core/access/refusal'

export type GridEdits = ReturnType<typeof createEdits>

export function createEdits(ctx: GridContext) {
  const { wb, rows, sheetId, actions } = ctx

  /** Why I may not edit the cell at this visible position (access rules), or null. */
  function refusalAt(r: number, c: number): Refusal | null {
    const a = actions?.access
    const rowId = rows.rowIds[r], colId = rows.colIds[c]
    if (!a || !rowId || !colId) return null
    return a.cellRefusal(sheetId.value, rowId, colId)
  }

  function commitTexts(changes: { r: number; c: number; text: string }[]): void {
    const writes: m.CellWrite[] = []
    let refusal: Refusal | null = null
    for (const { r, c, text } of changes) {
      const rowId = rows.rowIds[r], colId = rows.colIds[c]
      if (!rowId || !colId) continue
      const no = refusalAt(r, c)
      if (no) {
        // the grid keeps showing what the doc has
        refusal = no
        rows.refreshCell(r, c)
        continue
      }
      writes.push({ rowId, colId, value: inputFromText(text, rows.refs(), rows.colMeta(c)) })
    }
    if (writes.length) wb.mutate((doc, origin) => m.editCells(doc, sheetId.value, writes, origin))
    if (refusal) { actions?.refused?.(refusal); ctx.scheduleRender() }
  }

  /**
   * Runs a change of the sheet's structure or settings, unless access rules refuse it: the sheet is
   * locked or protected, a column in `cols` (changed or deleted) is protected, or a row in `rows`
   * (deleted) holds a protected value.
   */
  function structural(fn: (doc: Doc, origin: object) => void, scope: { cols?: [number, number]; rows?: [number, number] } = {}): void {
    const a = actions?.access
    const { rowIds, colIds } = rows
    let no = a?.sheetRefusal(sheetId.value) ?? null
    if (a && !no && scope.cols) {
      for (let c = scope.cols[0]; c <= scope.cols[1] && !no; c++) if (colIds[c]) no = a.columnRefusal(sheetId.value, colIds[c]!)
    }
    if (a && !no && scope.rows) {
      const sh = rows.sheet()
      const cells = sh ? sheetParts(sh).cells : null
      for (let r = scope.rows[0]; r <= scope.rows[1] && !no; r++) {
        for (let c = 0; c < colIds.length && !no; c++) {
          if (rowIds[r] && cells?.has(cellKey(rowIds[r]!, colIds[c]!))) no = refusalAt(r, c)
        }
      }
    }
    if (no) { actions?.refused?.(no); return }
    try { wb.mutate(fn) } catch (e) { ctx.onError(e) }
  }

  /** The grid's edit hooks: its own changes become mutations; it never changes its shape by itself. */
  const settings: Handsontable.GridSettings = {
    afterChange: (changes, source) => {
      if (!changes || source === 'loadData' || source === SYNC || source === 'updateData') return
      const list: { r: number; c: number; text: string }[] = []
      for (const [r, prop, prev, next] of changes) {
        // Enter on an unchanged cell must not re-read its value (a number would turn into text)
        if (prev === next) continue
        const c = typeof prop === 'number' ? prop : Number(prop)
        list.push({ r, c, text: next === null || next === undefined ? '' : String(next) })
      }
      commitTexts(list)
    },
    beforeCreateRow: (_i, _n, source) => source === SYNC,
    beforeCreateCol: (_i, _n, source) => source === SYNC,
    beforeRemoveRow: (_i, _n, _p, source) => source === SYNC,
    beforeRemoveCol: (_i, _n, _p, source) => source === SYNC,
    afterColumnResize: (size: number, c: number) => {
      const colId = rows.colIds[c]
      if (colId) structural((doc, origin) => m.setColumnMeta(doc, sheetId.value, colId, { width: Math.round(size) }, origin), { cols: [c, c] })
    },
  }

  return { refusalAt, commitTexts, structural, settings }
}
