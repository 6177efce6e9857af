/**
 * Keeps the inbox current while a page shows it (the header's badge, the inbox page): asked at once,
 * every 30 s, when the tab comes back into view, and soon after the comments of the open workbook
 * change (`changed`, a counter). Stops when the owning scope goes.
 */
import { onScopeDispose, watch, type Ref } from 'vue'
import { useInboxStore } from '../stores/inbox'

export const INBOX_POLL_MS = 30_000

export function useInbox(changed?: Ref<number>) {
  const inbox = useInboxStore()
  void inbox.refresh()
  const timer = window.setInterval(() => { if (document.visibilityState !== 'hidden') void inbox.refresh() }, INBOX_POLL_MS)
  const onVisible = () => { if (document.visibilityState === 'visible') void inbox.refresh() }
  document.addEventListener('visibilitychange', onVisible)
  let soon = 0
  // a comment arriving over the socket is in the server's copy already: asked again a moment later,
  // several changes together asking once
  if (changed) watch(changed, () => { clearTimeout(soon); soon = window.setTimeout(() => void inbox.refresh(), 400) })
  onScopeDispose(() => { clearInterval(timer); clearTimeout(soon); document.removeEventListener('visibilitychange', onVisible) })
  return inbox
}
