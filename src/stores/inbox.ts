/**
 * My inbox, as this browser last heard it: the items of every link it holds (mentions, assignments,
 * replies to my threads) and how many are unread, for the header's badge and the inbox page. Asked of
 * the server with all the tokens at once; marking read changes the count here at once.
 */
import { acceptHMRUpdate, defineStore } from 'pinia'
import { ref } from 'vue'
import { ApiError } from '../api'
import { allHeldLinks } from '../sync/links'
import { commentsApi, type InboxItem, type ReadMark } from '../components/comments/commentsApi'

const tokens = () => [...new Set(allHeldLinks().map(([, l]) => l.token).filter(Boolean))]
const sameItem = (a: ReadMark, b: ReadMark) => a.workbookId === b.workbookId && a.commentId === b.commentId && a.kind === b.kind && (a.replyId ?? '') === (b.replyId ?? '')

export const useInboxStore = defineStore('inbox', () => {
  const items = ref<InboxItem[]>([])
  const unread = ref(0)
  const loaded = ref(false)
  const error = ref('')
  /** this browser holds no link the server still knows */
  const noLinks = ref(false)
  let asking: Promise<void> | null = null
  let again = false

  async function ask(): Promise<void> {
    const held = tokens()
    if (!held.length) { items.value = []; unread.value = 0; noLinks.value = true; loaded.value = true; return }
    try {
      const r = await commentsApi.inbox(held)
      items.value = r.items
      unread.value = r.unread
      noLinks.value = false
      error.value = ''
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { items.value = []; unread.value = 0; noLinks.value = true; error.value = '' }
      else error.value = (e as Error).message
    } finally {
      loaded.value = true
    }
  }
  /** asks again (one request at a time; a call meanwhile asks once more after it) */
  function refresh(): Promise<void> {
    if (asking) { again = true; return asking }
    asking = ask().finally(() => {
      asking = null
      if (again) { again = false; void refresh() }
    })
    return asking
  }

  async function markRead(marks: ReadMark[]): Promise<void> {
    const fresh = marks.filter(m => items.value.some(i => !i.read && sameItem(i, m)))
    if (!fresh.length) return
    items.value = items.value.map(i => fresh.some(m => sameItem(i, m)) ? { ...i, read: true } : i)
    unread.value = items.value.filter(i => !i.read).length
    try { await commentsApi.markRead(tokens(), { items: fresh.map(({ workbookId, commentId, kind, replyId }) => ({ workbookId, commentId, kind, ...(replyId ? { replyId } : {}) })) }) } catch { /* asked again below */ }
    void refresh()
  }
  async function markAllRead(): Promise<void> {
    items.value = items.value.map(i => ({ ...i, read: true }))
    unread.value = 0
    try { await commentsApi.markRead(tokens(), { all: true }) } catch { /* asked again below */ }
    void refresh()
  }

  return { items, unread, loaded, error, noLinks, refresh, markRead, markAllRead }
})

if (import.meta.hot) import.meta.hot.accept(acceptHMRUpdate(useInboxStore, import.meta.hot))
