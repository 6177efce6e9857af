/**
 * Presence: keeps my awareness state (name, colour, sheet and selection by ids) current, and the list
 * of colleagues present as a ref. Passing state only: nothing here touches the document.
 */
import { onScopeDispose, shallowRef, watch, type Ref } from 'vue'
import type { OpenWorkbook } from './useWorkbook'
import type { Selected } from './grid/useGrid'
import type { Identity } from '../sync/identity'
import { peersOf, type CursorState, type Peer } from '../sync/presence'

export function usePresence(wb: OpenWorkbook, sheetId: Ref<string>, selected: Ref<Selected | null>, me: Ref<Identity>) {
  const peers = shallowRef<Peer[]>([])
  const awareness = wb.awareness

  let shown = '[]'
  const refresh = () => {
    const now = peersOf(awareness.getStates(), awareness.clientID)
    // my own cursor moving changes the awareness too: the list (and the grid's outlines) only when others changed
    const key = JSON.stringify(now)
    if (key === shown) return
    shown = key
    peers.value = now
  }
  awareness.on('change', refresh)
  refresh()

  watch(me, who => wb.setIdentity(who), { immediate: true })

  watch([selected, sheetId], ([s, sheet]) => {
    const cursor: CursorState | null = s && sheet
      ? { sheet, anchor: { row: s.rowId, col: s.colId }, head: { row: s.endRowId, col: s.endColId } }
      : null
    awareness.setLocalStateField('cursor', cursor)
  }, { immediate: true })

  onScopeDispose(() => awareness.off('change', refresh))

  return { peers }
}
