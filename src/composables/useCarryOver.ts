/**
 * A workbook reopened after the server refused a change of mine. The refused replica is of no further
 * use: `onRefused` is told (the page opens the workbook afresh, with the replica's state). Opened
 * afresh, the other changes I had not sent yet come along into the fresh replica, where I may make
 * them; `onCarried` is told once they have.
 */
import { computed, ref, watch } from 'vue'
import * as Y from 'yjs'
import { carryOver, type CarryResult } from '../sync/carry'
import { parseRefusalReason, type Principal } from '../core/access/access'
import type { OpenWorkbook } from './useWorkbook'

export interface CarryOverOptions {
  /** why the previous replica was refused ('' or undefined: it was not) */
  refusedReason: () => string | undefined
  /** the refused replica's state, to carry over */
  carry: () => Uint8Array | null | undefined
  who: () => Principal
  onRefused(reason: string, state: Uint8Array | null): void
  onCarried(): void
}

export function useCarryOver(wb: OpenWorkbook, o: CarryOverOptions) {
  watch(wb.refused, (reason) => { if (reason) o.onRefused(reason, wb.refusedState.value) })
  /** how many of my changes came along, and how many could not */
  const carried = ref<CarryResult | null>(null)
  /** refused only because my client id was taken: nothing is lost, the page says so instead of an error */
  const reissued = computed(() => { const r = o.refusedReason(); return !!r && parseRefusalReason(r).code === 'foreign-client' })
  if (o.carry()) {
    const stop = watch(wb.status, (s) => {
      const state = o.carry()
      if (s !== 'connected' || !state) return
      stop()
      if (reissued.value) {
        // my client id was someone else's: the replica's whole state, under new ids, goes again as it was
        Y.applyUpdate(wb.doc, state, 'reissue')
      } else {
        carried.value = wb.mutate((d, origin) => carryOver(state, d, o.who(), origin))
      }
      o.onCarried()
    }, { immediate: true })
  }
  return { carried, reissued }
}
