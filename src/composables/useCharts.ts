/**
 * The charts of the sheet shown, as refs: their specs (from the doc) and their data (from the formula
 * engine), kept current as anyone edits cells or charts. Recomputes at most once a frame.
 */
import { onScopeDispose, shallowRef, watch, type Ref } from 'vue'
import { chartData, chartsOf, listCharts, type ChartData, type ChartSpec } from '../core/charts/charts'
import type { OpenWorkbook } from './useWorkbook'

export interface ShownChart { id: string; spec: ChartSpec; data: ChartData }

/**
 * `hidden(sheetId)`: the rows not shown to me on a sheet (hidden, or out of my filter): a chart leaves
 * them out, as Excel's do.
 */
export function useCharts(wb: OpenWorkbook, sheetId: Ref<string>, hidden: (sheetId: string) => ReadonlySet<string> = () => new Set()) {
  const charts = shallowRef<ShownChart[]>([])
  /** how many charts the whole workbook has (the toolbar shows it) */
  const total = shallowRef(0)
  let queued = 0

  function chartOf(engine: NonNullable<OpenWorkbook['engine']['value']>, spec: ChartSpec): ChartData {
    const out = hidden(spec.sheet)
    return chartData(wb.doc, spec, (r, c) => engine.getValueById(spec.sheet, r, c), out.size ? r => out.has(r) : undefined)
  }

  function compute(): void {
    queued = 0
    const engine = wb.engine.value
    total.value = listCharts(wb.doc).length
    if (!engine || !sheetId.value) { charts.value = []; return }
    charts.value = listCharts(wb.doc, sheetId.value).map(({ id, spec }) => ({
      id, spec, data: chartOf(engine, spec),
    }))
  }
  const schedule = () => {
    if (queued) return
    queued = typeof requestAnimationFrame === 'function' ? requestAnimationFrame(compute) : (setTimeout(compute, 16) as unknown as number)
  }

  const map = chartsOf(wb.doc)
  map.observe(schedule)
  let offEngine: (() => void) | null = null
  watch(wb.engine, (e) => {
    offEngine?.()
    offEngine = e ? e.onChange(schedule) : null
    schedule()
  }, { immediate: true })
  watch(sheetId, () => compute())
  // structure changes (rows inserted or deleted) move the data without an engine value change
  const onTxn = () => schedule()
  wb.doc.on('afterTransaction', onTxn)

  onScopeDispose(() => {
    map.unobserve(schedule)
    offEngine?.()
    wb.doc.off('afterTransaction', onTxn)
    if (queued && typeof cancelAnimationFrame === 'function') cancelAnimationFrame(queued)
  })
  /** every chart of the workbook with its data now (for the export's pictures) */
  const everyChart = (): ShownChart[] => {
    const engine = wb.engine.value
    if (!engine) return []
    return listCharts(wb.doc).map(({ id, spec }) => ({ id, spec, data: chartOf(engine, spec) }))
  }
  return { charts, total, refresh: compute, everyChart }
}
