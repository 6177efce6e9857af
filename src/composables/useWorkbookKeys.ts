/**
 * The workbook page's own keys, wherever the keyboard is on the page: Ctrl+F / Ctrl+H find and replace
 * (the browser's own find is not the workbook's), Ctrl+/ the shortcuts, Ctrl+1 the number format, and
 * Ctrl/Cmd+Z and Ctrl+Y also when the keyboard is on the page rather than in the grid (after a toolbar
 * click), Ctrl+Alt+M a comment on the selected cell. Listens while the component that calls it is mounted.
 */
import { onMounted, onUnmounted, type Ref } from 'vue'

export interface WorkbookKeyActions {
  ready: Ref<boolean>
  readOnly: Ref<boolean>
  find(mode: 'find' | 'replace'): void
  shortcuts(): void
  undo(): void
  redo(): void
  /** Ctrl+Alt+M: a comment on the selected cell */
  comment?(): void
}

export function useWorkbookKeys(on: WorkbookKeyActions) {
  function onFindKey(e: KeyboardEvent) {
    if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey || !on.ready.value) return
    const k = e.key.toLowerCase()
    if (k === '/') { e.preventDefault(); on.shortcuts(); return }
    // Ctrl+1: Excel's "format cells" is the number-format menu here
    if (k === '1') { e.preventDefault(); document.querySelector<HTMLSelectElement>('[data-testid="format-nf"]')?.focus(); return }
    if (k !== 'f' && k !== 'h') return
    e.preventDefault()
    e.stopPropagation()
    on.find(k === 'h' && !on.readOnly.value ? 'replace' : 'find')
  }
  function onPageKey(e: KeyboardEvent) {
    if (!(e.ctrlKey || e.metaKey) || e.altKey) return
    const el = e.target as HTMLElement | null
    if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return
    const k = e.key.toLowerCase()
    if (k === 'z' && !e.shiftKey) { e.preventDefault(); on.undo() }
    else if (k === 'y' || (k === 'z' && e.shiftKey)) { e.preventDefault(); on.redo() }
  }
  function onCommentKey(e: KeyboardEvent) {
    // (by the key's place: Alt changes the character on some layouts)
    if (!(e.ctrlKey || e.metaKey) || !e.altKey || e.shiftKey || !(e.code === 'KeyM' || e.key.toLowerCase() === 'm') || !on.ready.value || !on.comment) return
    e.preventDefault()
    e.stopPropagation()
    on.comment()
  }
  onMounted(() => window.addEventListener('keydown', onCommentKey, true))
  onUnmounted(() => window.removeEventListener('keydown', onCommentKey, true))
  onMounted(() => window.addEventListener('keydown', onFindKey, true))
  onUnmounted(() => window.removeEventListener('keydown', onFindKey, true))
  onMounted(() => window.addEventListener('keydown', onPageKey))
  onUnmounted(() => window.removeEventListener('keydown', onPageKey))
}
