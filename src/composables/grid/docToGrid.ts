/**
 * Doc and engine changes into the grid, local or remote, without disturbing the cell being edited:
 * engine change events update only the cells they touch; a structural change moves the grid's rows and
 * columns (tagged SYNC, so they never come back as mutations) and reopens an open editor at its own
 * (rowId, colId), with its text and caret (handsontable #4305, #5270). Column types, widths, frozen
 * panes, the totals row and cell formats are read from the doc's own transactions.
 */
import type { Transaction } from 'yjs'
import { sheetParts, splitCellKey } from '../../core/workbook/schema'
import { decodeFormula, encodeFormula } from '../../core/formulas/references'
import { diffOrder, type EngineChange } from '../../core/formulas/engine'
import { totalsRowOf } from '../../core/workbook/table'
import { stylesOf } from '../../core/workbook/styles'
import { hiddenOf } from '../../core/workbook/hidden'
import { mergesOf } from '../../core/workbook/merges'
import { SYNC, type GridContext, type GridEditor } from './context'

/** Of grid `settings`, those that differ from the grid's `current` ones; null when none does. */
export function changedSettings<T extends object>(current: Record<string, unknown>, settings: T): Partial<T> | null {
  const out: Partial<T> = {}
  let any = false
  for (const [k, v] of Object.entries(settings) as [keyof T & string, T[keyof T & string]][]) {
    if (JSON.stringify(current[k]) === JSON.stringify(v)) continue
    out[k] = v
    any = true
  }
  return any ? out : null
}

/** Follows the engine and the doc into the grid; returns the function that stops following. */
export function followDoc(ctx: GridContext): () => void {
  const { wb, rows, sheetId } = ctx

  /** Applies a structural change to the grid, keeping the selection and an open editor on their cell. */
  function applyStructure(): void {
    const hot = ctx.hot
    if (!hot) return
    const sl = rows.engine().layout.sheet(sheetId.value)
    if (!sl) return
    const editor = hot.getActiveEditor() as GridEditor | undefined
    const sel = hot.getSelectedLast()
    const keep = sel ? { rowId: rows.rowIds[sel[0]], colId: rows.colIds[sel[1]] } : null
    // a remote change must not pull the keyboard away from the title, formula bar or a tab being renamed
    const listening = hot.isListening()
    let editing: { value: string; start: number; end: number; full: boolean } | null = null
    if (editor?.isOpened()) {
      const ta = editor.TEXTAREA
      editing = { value: String(editor.getValue() ?? ''), start: ta?.selectionStart ?? 0, end: ta?.selectionEnd ?? 0, full: editor.isInFullEditMode() }
      editor.finishEditing(true) // close without writing: the text is kept and reopened below
    }
    // an open formula draft keeps meaning the same cells: read it against the old layout, write it for the new
    if (editing?.value.startsWith('=') && rows.prevLayout) {
      editing.value = decodeFormula(encodeFormula(editing.value, { layout: rows.prevLayout, sheetId: sheetId.value }), rows.refs())
    }
    const rowMoves = diffOrder(rows.rowIds, sl.rows.ids)
    const colMoves = diffOrder(rows.colIds, sl.cols.ids)
    // (rows that only changed places, as a sort moves them, alter nothing: no batch, which would draw)
    if (rowMoves.removes.length || rowMoves.inserts.length || colMoves.removes.length || colMoves.inserts.length) {
      hot.batch(() => {
        for (const [at, n] of rowMoves.removes) hot.alter('remove_row', at, n, SYNC)
        for (const [at, n] of colMoves.removes) hot.alter('remove_col', at, n, SYNC)
        for (const [at, n] of rowMoves.inserts) hot.alter('insert_row_above', at, n, SYNC)
        for (const [at, n] of colMoves.inserts) hot.alter('insert_col_start', at, n, SYNC)
      })
    }
    // formulas elsewhere now read differently (B5 → B6); the ids afresh, and every text again from the doc
    // (Handsontable keeps the same array, refilled in place)
    rows.build()
    // a sheet that had no rows had no columns to the grid either (it counts them off the first row, and
    // keeps that count in its index mappers): once rows arrive, the data is loaded afresh with its columns
    if (hot.countCols() !== rows.colIds.length && rows.rowIds.length > 0) hot.updateSettings({ data: rows.data })
    // only the settings that changed: each updateSettings draws the grid, and a mergeCells setting
    // (even the same) draws it once more, 0.4 s of a 10,000-row sort; the render scheduled below draws it
    const settings = changedSettings(hot.getSettings() as Record<string, unknown>, rows.layoutSettings())
    if (settings) hot.updateSettings(settings)
    if (keep?.rowId && keep.colId) {
      const r = rows.rowIds.indexOf(keep.rowId), c = rows.colIds.indexOf(keep.colId)
      if (r >= 0 && c >= 0) {
        hot.selectCell(r, c, r, c, false, listening)
        if (editing) {
          const ed = hot.getActiveEditor() as GridEditor
          // the same mode as before: quick edit (arrows commit) or full edit (arrows move the caret)
          if (editing.full) ed.enableFullEditMode()
          ed.beginEditing(editing.value)
          // quick-edit mode opens on an empty field (for input methods): put the text back
          ed.setValue(editing.value)
          ed.TEXTAREA?.setSelectionRange(editing.start, editing.end)
        }
      } else if (editing?.value) {
        // a colleague deleted the row or column being typed in: say so, and keep the text where it can be copied
        ctx.onError(new Error(ctx.labels().editLost(editing.value)))
      }
    }
  }

  function onEngineChange(c: EngineChange): void {
    try { applyEngineChange(c) } finally { rows.prevLayout = rows.engine().layout }
  }

  function applyEngineChange(c: EngineChange): void {
    if (!ctx.hot) return
    if (!rows.sheet()) return // the sheet was deleted; the page switches sheets
    if (c.structural.has(sheetId.value)) {
      applyStructure()
    } else if (c.sheetsChanged || c.structural.size > 0) {
      // another sheet changed shape or a sheet was renamed: formulas here may read differently;
      // the rows are read again as they are asked for
      rows.reread()
    }
    const keys = c.cells.get(sheetId.value)
    if (keys) {
      const sl = rows.engine().layout.sheet(sheetId.value)!
      for (const key of keys) {
        const [rowId, colId] = splitCellKey(key)
        const r = sl.rows.indexOf(rowId), col = sl.cols.indexOf(colId)
        // a row not read yet is read with the new text when it is asked for
        if (r < 0 || col < 0) continue
        rows.refreshCell(r, col)
      }
    }
    ctx.scheduleRender()
  }

  /** Column types, widths and frozen panes are not the engine's business: watch them here. */
  function onDocTransaction(txn: Transaction): void {
    const s = rows.sheet()
    const hot = ctx.hot
    if (!hot || !s) return
    // formats are drawn by the renderer: a redraw shows them (whoever made them)
    if (txn.changed.has(stylesOf(wb.doc) as never)) ctx.scheduleRender()
    // rows or columns hidden or shown (by anyone)
    if (txn.changed.has(hiddenOf(wb.doc) as never) || txn.changed.has(mergesOf(wb.doc) as never)) { hot.updateSettings(rows.layoutSettings()); ctx.scheduleRender() }
    const colMetaMap = sheetParts(s).colMeta
    const metaChanged = txn.changed.has(colMetaMap as never)
    const sheetKeys = txn.changed.get(s as never)
    const frozenChanged = !!sheetKeys && (sheetKeys.has('frozenRows') || sheetKeys.has('frozenCols'))
    if (sheetKeys?.has('totalsRow')) { rows.totalsId = totalsRowOf(s); ctx.scheduleRender() }
    if (!metaChanged && !frozenChanged) return
    if (metaChanged) {
      // text of inputs depends on the type (0.15 edits as 15% in a percent column)
      rows.reread()
    }
    hot.updateSettings(rows.layoutSettings())
    ctx.scheduleRender()
  }

  const offEngine = wb.engine.value!.onChange(onEngineChange)
  wb.doc.on('afterTransaction', onDocTransaction)
  return () => { offEngine(); wb.doc.off('afterTransaction', onDocTransaction) }
}
