/**
 * The roll-up an open workbook is (issue 21), if it is one: its sources with their status, kept current
 * from the doc's `rollup` map (the server writes it; nobody else may).
 */
import { computed, onScopeDispose, shallowRef } from 'vue'
import { readPlan, readSources, rollupMapOf, type SourceEntry } from '../core/rollup/plan'
import type { OpenWorkbook } from './useWorkbook'

export function useRollup(wb: OpenWorkbook) {
  const map = rollupMapOf(wb.doc)
  const sheet = shallowRef<string | null>(readPlan(wb.doc)?.sheet ?? null)
  const sources = shallowRef<SourceEntry[]>(readSources(wb.doc))
  const refresh = () => { sheet.value = readPlan(wb.doc)?.sheet ?? null; sources.value = readSources(wb.doc) }
  map.observe(refresh)
  onScopeDispose(() => map.unobserve(refresh))
  return {
    /** the roll-up sheet's id, or null when the workbook is no roll-up */
    sheet,
    sources,
    unavailable: computed(() => sources.value.filter(s => s.status !== 'ok')),
  }
}
