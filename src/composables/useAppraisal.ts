/** The appraisal summary as a ref, recomputed (at most once a frame) while it is shown. */
import { onScopeDispose, shallowRef, watch, type Ref } from 'vue'
import { appraisalSheets, appraisalSummary, type AppraisalSummary } from '../core/appraisal/summary'
import type { OpenWorkbook } from './useWorkbook'

export function useAppraisal(wb: OpenWorkbook, locale: Ref<string>) {
  const summary = shallowRef<AppraisalSummary | null>(null)
  /** whether the workbook has an appraisal sheet at all (the toolbar offers the summary then) */
  const available = shallowRef(false)
  let queued = 0
  function compute() {
    queued = 0
    available.value = appraisalSheets(wb.doc).length > 0
    const e = wb.engine.value
    summary.value = e && available.value ? appraisalSummary(wb.doc, (s, r, c) => e.getValueById(s, r, c), locale.value === 'en' ? 'en' : 'zh-CN') : null
  }
  const schedule = () => { if (!queued) queued = requestAnimationFrame(compute) }
  let off: (() => void) | null = null
  watch(wb.engine, (e) => { off?.(); off = e ? e.onChange(schedule) : null; schedule() }, { immediate: true })
  watch(locale, schedule)
  wb.doc.on('afterTransaction', schedule)
  onScopeDispose(() => { off?.(); wb.doc.off('afterTransaction', schedule); if (queued) cancelAnimationFrame(queued) })
  return { summary, available }
}
