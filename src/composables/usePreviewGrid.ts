/**
 * The grid shown from the workbook view (core/workbook/view.ts) while the doc itself is read: the
 * first sheet, computed by HyperFormula from the view, read-only, drawn as the live grid draws it
 * (formats, colour rules, the totals row, column marks). Once it is on screen the doc's state may be
 * read (sync/prefetch's gate); the computed instance is offered to the formula engine, which takes it
 * over when the doc is at the view's version. It is drawn in the live grid's own container, and the
 * live grid takes it over (`handOver()`: useGrid sets its own data and settings) once the workbook is
 * ready: one grid, no swap.
 */
import { ref, watch, onScopeDispose, type Ref } from 'vue'
import type { HyperFormula } from 'hyperformula'
import Handsontable from './handsontable'
import { baseRenderer } from 'handsontable/renderers'
import { computeView, firstScreenValue, type SheetView, type WorkbookView } from '../core/workbook/view'
import { isErrorValue, toCellValue, type CellValue } from '../core/formulas/engine'
import { colToLetters } from '../core/formulas/references'
import { formatValue } from '../core/format'
import { ruleStyle, validationProblem } from '../core/workbook/table'
import { RULE_STYLES } from '../core/workbook/schema'
import { offerComputed, viewShown, withdrawComputed } from '../sync/prefetch'
import { handsontableLicenseKey } from '../core/licenses'
import { GRID_CLASS } from './grid/render'

export function usePreviewGrid(container: Ref<HTMLElement | null>, workbookId: string, view: Ref<WorkbookView | null>, onError: (e: unknown) => void) {
  const shown = ref(false)
  let hot: Handsontable | null = null
  let hf: HyperFormula | null = null
  let done = false

  function show(el: HTMLElement, v: WorkbookView): void {
    const sheet: SheetView = v.sheets[0]!
    performance.mark('pw:preview-start')
    // the server's values of the first screen, when the view carries them: shown at once, and the
    // sheet is computed here right after (for the rows below, and for the engine to take over)
    const first = v.first && Array.isArray(v.first.values) && v.first.values.length === v.first.rows ? v.first : undefined
    let computed: HyperFormula | null = null
    let hfSheet = 0
    const compute = () => {
      computed = computeView(v)
      hf = computed
      offerComputed(workbookId, v, computed)
      hfSheet = computed.getSheetId(sheet.id)!
    }
    if (!first) compute()
    /** undefined: not computed yet (below the first screen, before this page's build) */
    const valueAt = (row: number, col: number): CellValue | undefined => computed
      ? toCellValue(computed.getCellValue({ sheet: hfSheet, row, col }))
      : firstScreenValue(first!, sheet, row, col)
    const colIndex = new Map(sheet.colIds.map((c, i) => [c, i]))
    const meta = (c: number) => sheet.cols[c] ?? undefined
    const rows = sheet.content.length, cols = sheet.cols.length
    function renderer(this: unknown, instance: Handsontable, td: HTMLTableCellElement, row: number, col: number, prop: string | number, value: unknown, cp: Handsontable.CellProperties) {
      baseRenderer.call(this as never, instance as never, td, row, col, prop, value, cp as never)
      const m = meta(col)
      const computedValue = valueAt(row, col)
      td.classList.toggle('cell-pending', computedValue === undefined)
      const v = computedValue ?? null
      td.textContent = formatValue(v, m)
      const isTotals = row === sheet.totalsRow
      td.classList.toggle('htRight', typeof v === 'number')
      td.classList.toggle('cell-error', isErrorValue(v))
      td.classList.toggle('cell-select', m?.type === 'select')
      td.classList.toggle('cell-totals', isTotals)
      // a cell not computed yet gets no colour and no flag, rather than those of an empty cell
      const pending = (id: string | undefined) => id === undefined ? computedValue === undefined : colIndex.has(id) && valueAt(row, colIndex.get(id)!) === undefined
      const style = m?.rules && !m.rules.some(r => pending(r.colId))
        ? ruleStyle(m, id => (id === undefined ? v : colIndex.has(id) ? valueAt(row, colIndex.get(id)!) ?? null : null), isTotals)
        : undefined
      for (const st of RULE_STYLES) td.classList.toggle(`cell-${st}`, st === style)
      td.classList.toggle('cell-invalid', computedValue !== undefined && !!validationProblem(m, v))
    }
    // the live grid's cell marks (render.css) apply under this class
    el.classList.add(GRID_CLASS)
    hot = new Handsontable(el, {
      data: Array.from({ length: rows }, () => new Array<null>(cols).fill(null)),
      licenseKey: handsontableLicenseKey(),
      themeName: 'ht-theme-main',
      readOnly: true,
      rowHeaders: true,
      colHeaders: (c: number) => { const m = meta(c); return m?.title ? `${colToLetters(c)} · ${m.title}` : colToLetters(c) },
      afterGetColHeader: (c: number, th: HTMLTableCellElement) => {
        if (c < 0) return
        th.classList.toggle('col-help', !!meta(c)?.help)
        th.classList.toggle('col-calculated', !!meta(c)?.formula)
      },
      colWidths: (c: number) => meta(c)?.width ?? (meta(c)?.title ? 120 : 90),
      height: '100%',
      width: '100%',
      stretchH: 'none',
      fixedRowsTop: Math.min(sheet.frozenRows, rows),
      fixedColumnsStart: Math.min(sheet.frozenCols, cols),
      outsideClickDeselects: false,
      undo: false,
      fillHandle: false,
      contextMenu: false,
      copyPaste: true,
      renderer: renderer as never,
    })
    shown.value = true
    performance.mark('pw:preview-shown')
    // after the browser has painted this: the sheet computed here if it was not (its instance is
    // offered to the engine before the doc's state is read), then the state is read
    requestAnimationFrame(() => setTimeout(() => {
      if (!computed && !done) {
        try {
          compute()
          hot?.render()
          performance.mark('pw:preview-computed')
        } catch (e) {
          // the server's first screen stays; the engine builds its own instance from the doc
          console.warn('preview: computing the view failed', e)
        }
      }
      viewShown(workbookId)
    }, 0))
  }

  const stop = watch([container, view], ([el, v]) => {
    if (!el || !v || hot || done) return
    try {
      show(el, v)
    } catch (e) {
      // no preview then: the workbook opens as it would without one
      destroy()
      onError(e)
    }
  }, { flush: 'post' })

  /**
   * The grid, for the live grid to take over (it sets its own data and settings), or null when none is
   * on screen; the preview is done either way.
   */
  function handOver(): Handsontable | null {
    const h = shown.value ? hot : null
    if (h) hot = null
    destroy()
    return h
  }

  /** Takes the preview away (its computed instance stays with the engine if the engine took it). */
  function destroy(): void {
    if (done) return
    done = true
    stop()
    hot?.destroy()
    hot = null
    if (hf) withdrawComputed(hf)
    hf = null
    shown.value = false
    viewShown(workbookId)
  }
  onScopeDispose(destroy)
  return { shown, destroy, handOver }
}
