/**
 * The one binding between Handsontable and the workbook. The grid holds the *edit text* of each cell
 * (formulas as A1) in a plain array it owns (rowTexts.ts); a custom renderer shows computed values from
 * the formula engine (render.ts). Local edits become named mutations (edits.ts, contextMenu.ts,
 * clipboard.ts); engine change events update only the cells they touch, and remote structural changes
 * keep the cell being edited open, at its own (rowId, colId), with its text (docToGrid.ts).
 * This file mounts the grid and gives the page its API: the selection, the formula bar's commit,
 * selecting by ids, adding rows.
 */
import { onScopeDispose, ref, watch, type Ref } from 'vue'
import Handsontable from '../handsontable'
import * as m from '../../core/workbook/mutations'
import { colToLetters, shiftA1Formula } from '../../core/formulas/references'
import { handsontableLicenseKey } from '../../core/licenses'
import type { OpenWorkbook } from '../useWorkbook'
import type { GridActions, GridContext, GridEditor, GridLabels, Selected } from './context'
import { createRowTexts } from './rowTexts'
import { createRender, GRID_CLASS } from './render'
import { createEdits } from './edits'
import { createFormat } from './format'
import { createSort } from './sort'
import { createFilter } from './filter'
import { fillTexts } from '../../core/workbook/fill'
import { contextMenu } from './contextMenu'
import { cancelCut, clipboardSettings } from './clipboard'
import { followDoc } from './docToGrid'
import { phoneLayout, touchEditing } from './phone'
import { realDoubleClicks } from './doubleClick'

export type { GridActions, GridLabels, Selected } from './context'

export function useGrid(container: Ref<HTMLElement | null>, wb: OpenWorkbook, sheetId: Ref<string>, labels: () => GridLabels, onError: (e: unknown) => void, actions?: GridActions) {
  const selected = ref<Selected | null>(null)
  const rows = createRowTexts(wb, sheetId)
  // on a phone the first column stays in view (phone.ts); turned sideways, the grid lays out again;
  // on a touch screen the editor a double-tap opens keeps its caret at the end
  const offPhone = phoneLayout(rows, () => container.value, () => ctx.hot?.updateSettings(rows.layoutSettings()))
  const offTouch = touchEditing(() => container.value, () => ctx.hot)
  // two single clicks on a cell (typing or a click outside between them) are no double-click: they
  // opened the editor on the cell's text, and what was typed next was added to it
  const doubleClicks = realDoubleClicks(() => ctx.hot)
  const ctx: GridContext = { wb, sheetId, labels, onError, actions, rows, hot: null, scheduleRender, refreshSelected }
  const render = createRender(ctx)
  const edits = createEdits(ctx)
  const format = createFormat(ctx, edits)
  const sorting = createSort(ctx)
  const filtering = createFilter(ctx)
  let renderQueued = false
  let unsubscribe: (() => void) | null = null

  function scheduleRender(): void {
    if (renderQueued) return
    renderQueued = true
    requestAnimationFrame(() => {
      renderQueued = false
      render.computeBoxes()
      ctx.hot?.render()
      refreshSelected()
    })
  }

  function refreshSelected(): void {
    format.refresh()
    const sel = ctx.hot?.getSelectedLast()
    if (!sel) { selected.value = null; return }
    const { rowIds, colIds } = rows
    const [r, c, r2, c2] = sel
    if (r < 0 || c < 0 || r >= rowIds.length || c >= colIds.length) { selected.value = null; return }
    const er = Math.min(Math.max(r2, 0), rowIds.length - 1), ec = Math.min(Math.max(c2, 0), colIds.length - 1)
    const next: Selected = {
      row: r, col: c, rowId: rowIds[r]!, colId: colIds[c]!, address: colToLetters(c) + (r + 1), text: rows.data[r]?.[c] ?? '',
      endRowId: rowIds[er]!, endColId: colIds[ec]!,
    }
    const prev = selected.value
    // the same selection again (a re-render): keep the object, so watchers do not fire for nothing
    if (prev && prev.rowId === next.rowId && prev.colId === next.colId && prev.endRowId === next.endRowId && prev.endColId === next.endColId
      && prev.row === next.row && prev.col === next.col && prev.text === next.text) return
    selected.value = next
  }

  /** Edits typed in the formula bar. */
  function commitSelected(text: string): void {
    const s = selected.value
    if (!s) return
    rows.data[s.row]![s.col] = text || null
    edits.commitTexts([{ r: s.row, c: s.col, text }])
    ctx.hot?.selectCell(s.row, s.col)
  }

  /**
   * Ctrl+Enter while typing into a selection of several cells: what is typed goes into every one of
   * them (a formula with its relative references moved for each cell, as a fill would), as one edit.
   */
  function fillSelection(hot: Handsontable): boolean {
    const editor = hot.getActiveEditor()
    const ranges = hot.getSelectedRange() ?? []
    const cells = ranges.reduce((n, r) => n + r.getCellsCount(), 0)
    if (!editor?.isOpened() || cells < 2) return false
    const text = String(editor.getValue() ?? '')
    const from = hot.getSelectedLast()!
    editor.finishEditing(true)
    const list: { r: number; c: number; text: string }[] = []
    for (const range of ranges) {
      const a = range.getTopStartCorner(), b = range.getBottomEndCorner()
      for (let r = Math.max(0, a.row ?? 0); r <= (b.row ?? -1) && r < rows.rowIds.length; r++) {
        for (let c = Math.max(0, a.col ?? 0); c <= (b.col ?? -1) && c < rows.colIds.length; c++) {
          list.push({ r, c, text: text.startsWith('=') ? shiftA1Formula(text, r - from[0], c - from[1]) : text })
        }
      }
    }
    edits.commitTexts(edits.shownRowsOnly(list))
    return true
  }

  /** Ctrl+D: the selection's first row down over the rest of it, formulas shifted (as the fill handle). */
  function fillDown(hot: Handsontable): void {
    const range = hot.getSelectedRangeLast()
    if (!range) return
    const a = range.getTopStartCorner(), b = range.getBottomEndCorner()
    const r1 = Math.max(0, a.row ?? 0), r2 = Math.min(rows.rowIds.length - 1, b.row ?? 0), c1 = Math.max(0, a.col ?? 0), c2 = Math.min(rows.colIds.length - 1, b.col ?? 0)
    if (r2 <= r1) return
    const source = [Array.from({ length: c2 - c1 + 1 }, (_v, i) => rows.data[r1]?.[c1 + i] ?? '')]
    const texts = fillTexts(source, 'down', r2 - r1)
    const list: { r: number; c: number; text: string }[] = []
    texts.forEach((line, i) => line.forEach((text, j) => list.push({ r: r1 + 1 + i, c: c1 + j, text: source[0]![j]!.startsWith('=') || !/\d/.test(source[0]![j]!) ? text : source[0]![j]! })))
    edits.commitTexts(edits.shownRowsOnly(list))
  }

  /** Ctrl+Z / Ctrl+Y go to the person's own undo; a space on a read-only cell does not scroll. */
  function beforeKeyDown(e: KeyboardEvent): void {
    const hot = ctx.hot
    const mod = e.ctrlKey || e.metaKey
    // on a read-only cell the cell itself keeps the focus: a space there would scroll the grid's
    // pane away from the selection (Excel's Space never scrolls)
    if (e.key === ' ' && !mod && !hot?.getActiveEditor()?.isOpened() && (e.target as HTMLElement | null)?.tagName === 'TD') { e.preventDefault(); return }
    if (mod && e.key === 'Enter' && hot && fillSelection(hot)) { e.preventDefault(); e.stopImmediatePropagation(); return }
    // Escape gives up a cut (its outline goes), as in Excel
    if (e.key === 'Escape' && !hot?.getActiveEditor()?.isOpened() && cancelCut()) { scheduleRender(); return }
    if (!mod || hot?.getActiveEditor()?.isOpened()) return
    if (format.onKey(e)) return
    if (e.key.toLowerCase() === 'd' && !e.shiftKey && !e.altKey && hot) { e.preventDefault(); e.stopImmediatePropagation(); fillDown(hot); return }
    const k = e.key.toLowerCase()
    if ((k === 'z' && !e.shiftKey) || k === 'y' || (k === 'z' && e.shiftKey)) {
      e.preventDefault()
      e.stopImmediatePropagation()
      if (k === 'z' && !e.shiftKey) void (actions?.undo ? actions.undo() : wb.undo())
      else void (actions?.redo ? actions.redo() : wb.redo())
    }
  }

  function mount(): void {
    if (!container.value || !wb.engine.value) return
    performance.mark('pw:grid-start')
    rows.build()
    const settings: Handsontable.GridSettings = {
      data: rows.data,
      licenseKey: handsontableLicenseKey(),
      themeName: 'ht-theme-main',
      rowHeaders: true,
      colHeaders: (c: number) => colToLetters(c),
      afterGetColHeader: render.afterGetColHeader,
      beforeRender: render.beforeRender,
      colWidths: (c: number) => rows.colMeta(c)?.width ?? (rows.colMeta(c)?.title ? 120 : 90),
      height: '100%',
      width: '100%',
      stretchH: 'none',
      autoWrapRow: true,
      autoWrapCol: true,
      manualColumnResize: true,
      outsideClickDeselects: false,
      undo: false,
      fillHandle: true,
      // typing through an IME (Chinese input) straight into a selected cell
      imeFastEdit: true,
      ...rows.layoutSettings(),
      contextMenu: contextMenu(ctx, edits, sorting),
      copyPaste: true,
      cells: (r: number, c: number) => {
        const st = render.columnSettings(c) as Handsontable.CellMeta
        // always set: Handsontable merges this into a cached meta, so a true would outlive the lock
        st.readOnly = !!edits.refusalAt(r, c)
        // text stays on one line unless the cell is formatted to wrap (as in Excel)
        st.wordWrap = format.wraps(r, c)
        return st
      },
      ...edits.settings,
      // (with the format painter picked up, the selection just made takes its format)
      afterSelectionEnd: () => { if (format.painter.value) format.paint(); refreshSelected() },
      // while dragging a range, colleagues see it grow
      afterSelection: () => refreshSelected(),
      beforeKeyDown,
      // a marked cell's thread shows while the pointer is on it
      afterOnCellMouseOver: (_e: MouseEvent, at: { row: number | null; col: number | null }, td: HTMLTableCellElement) => {
        const r = at.row ?? -1, c = at.col ?? -1
        const rowId = rows.rowIds[r], colId = rows.colIds[c]
        actions?.hoverCell?.(r >= 0 && c >= 0 && rowId && colId ? { rowId, colId, td } : null)
      },
      afterOnCellMouseOut: () => actions?.hoverCell?.(null),
      beforeBeginEditing: doubleClicks.beforeBeginEditing,
      ...clipboardSettings(ctx, edits),
    }
    // the grid drawn from the workbook view while the doc was read becomes this one: no second grid
    const drawn = actions?.takeDrawnGrid?.() ?? null
    if (drawn) {
      ctx.hot = drawn
      drawn.updateSettings({ ...settings, readOnly: false, renderer: 'text' })
      performance.mark('pw:grid-taken-over')
    } else {
      ctx.hot = new Handsontable(container.value, settings)
    }
    const hot = ctx.hot
    container.value.classList.add(GRID_CLASS)
    container.value.dataset.live = '1'
    // With imeFastEdit, Handsontable select()s its textarea 1 ms after a selection change or render. When
    // someone types fast after Enter ("=A1*A2"), that select() can land after the first characters and
    // the next ones replace them. Once an editor is open (typing began), there is nothing to select.
    const focus = (hot as unknown as { getFocusManager?: () => { setRefocusElementGetter?: (f: () => HTMLElement | null) => void } }).getFocusManager?.()
    focus?.setRefocusElementGetter?.(() => {
      const ed = ctx.hot?.getActiveEditor() as GridEditor | undefined
      return ed && !ed.isOpened() ? ed.TEXTAREA ?? null : null
    })
    unsubscribe = followDoc(ctx)
    // my filter of this sheet, kept from before a reload
    if (filtering.has()) filtering.apply()
    if (rows.rowIds.length && rows.colIds.length) hot.selectCell(0, 0)
    refreshSelected()
  }

  function switchSheet(): void {
    const hot = ctx.hot
    if (!hot) return
    rows.build()
    render.computeBoxes()
    hot.updateSettings({ data: rows.data, ...rows.layoutSettings(), contextMenu: contextMenu(ctx, edits, sorting) })
    // my filter of that sheet, if I set one
    filtering.apply()
    // select A1 of the new sheet without taking the focus (a tab may be going into rename)
    if (rows.rowIds.length && rows.colIds.length) hot.selectCell(0, 0, 0, 0, true, false)
    hot.unlisten()
    refreshSelected()
  }

  function destroy(): void {
    offPhone()
    offTouch()
    doubleClicks.off()
    unsubscribe?.()
    unsubscribe = null
    ctx.hot?.destroy()
    ctx.hot = null
  }

  watch([container, wb.engine], () => { if (!ctx.hot) mount() }, { flush: 'post' })
  if (actions?.peers) watch(actions.peers, () => scheduleRender())
  watch(sheetId, () => switchSheet())
  onScopeDispose(destroy)

  return {
    selected,
    commitSelected,
    /** cell formats of the selection (toolbar, shortcuts) */
    format: { active: format.active, apply: format.apply, toggle: format.toggle, clear: format.clear, painter: format.painter, pick: format.pick, borders: format.borders },
    /** my filter of the sheet shown (rows hidden for me only) */
    filter: filtering,
    /** the active cell's column id, or null */
    activeColId: () => selected.value?.colId ?? null,
    /** sorts by the active column (the selected rows, or the sheet's data rows) */
    sort: (desc: boolean) => sorting.sort(desc),
    relabel: () => { render.relabel(); ctx.hot?.updateSettings({ contextMenu: contextMenu(ctx, edits, sorting) }); ctx.hot?.render() },
    focusGrid: () => { const s = selected.value; if (ctx.hot && s) ctx.hot.selectCell(s.row, s.col) },
    /** selects a cell by ids (on the sheet shown) and scrolls it into view (`focus`: the grid takes the keyboard); false when it is gone */
    selectById: (rowId: string, colId: string, endRowId = rowId, endColId = colId, focus = true): boolean => {
      const hot = ctx.hot
      const r = rows.rowIds.indexOf(rowId), c = rows.colIds.indexOf(colId)
      if (!hot || r < 0 || c < 0) return false
      const r2 = rows.rowIds.indexOf(endRowId), c2 = rows.colIds.indexOf(endColId)
      hot.selectCell(r, c, r2 < 0 ? r : r2, c2 < 0 ? c : c2, true, focus)
      refreshSelected()
      return true
    },
    addRows: (n: number) => edits.structural((d, o) => m.insertRows(d, sheetId.value, rows.rowIds.length, n, o)),
    get hot() { return ctx.hot },
  }
}
