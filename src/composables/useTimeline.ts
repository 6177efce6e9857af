/**
 * The timeline of a sheet of the open workbook, as refs: recomputed after the formula engine has taken
 * a change in (values, rows) and after any doc transaction (a column's type or key changes no value),
 * at most once per change, and only while someone looks at it. Moving a task is one person's step.
 * Listeners are removed when the owning scope is disposed.
 */
import { computed, onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'
import type { OpenWorkbook } from './useWorkbook'
import { canTimeline, moveTask, timelineOf, type Timeline } from '../core/timeline/timeline'
import { workbookTimeZone, zonedToday } from '../core/workbook/zone'

/** Calls `fn` once after each burst of changes of the workbook (the engine's, then the doc's). */
function onWorkbookChange(wb: OpenWorkbook, fn: () => void): void {
  let queued = false
  const schedule = () => {
    if (queued) return
    queued = true
    // after every listener of this transaction has run, the engine's included, whatever their order
    queueMicrotask(() => { queued = false; fn() })
  }
  let offEngine: (() => void) | null = null
  const stopEngine = watch(wb.engine, (e) => {
    offEngine?.()
    offEngine = e ? e.onChange(schedule) : null
    schedule()
  }, { immediate: true })
  wb.doc.on('afterTransaction', schedule)
  onScopeDispose(() => {
    stopEngine()
    offEngine?.()
    wb.doc.off('afterTransaction', schedule)
  })
}

/** Whether the sheet has a start and an end column (cheap: looks at column settings only). */
export function useTimelineAvailable(wb: OpenWorkbook, sheetId: Ref<string>): Ref<boolean> {
  const version = ref(0)
  onWorkbookChange(wb, () => { version.value++ })
  return computed(() => {
    void version.value
    return !!wb.engine.value && !!sheetId.value && canTimeline(wb.doc, sheetId.value)
  })
}

export function useTimeline(wb: OpenWorkbook, sheetId: Ref<string>, today: Ref<string> = ref(zonedToday(workbookTimeZone(wb.doc)))) {
  const timeline = shallowRef<Timeline | null>(null)
  const refresh = () => {
    const engine = wb.engine.value
    timeline.value = engine && sheetId.value ? timelineOf(wb.doc, engine, sheetId.value, today.value) : null
  }
  onWorkbookChange(wb, refresh)
  watch([sheetId, today], refresh, { immediate: true })

  return {
    timeline,
    /** new dates for a task: one undo step; throws TimelineError (end before start, …) */
    move(rowId: string, dates: { start?: string; end?: string }): void {
      const sid = sheetId.value
      wb.mutate((doc, origin) => moveTask(doc, sid, rowId, dates, origin))
    },
  }
}
