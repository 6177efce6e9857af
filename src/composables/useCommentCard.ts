/**
 * Which cell's comments card is shown, and where: the card of a marked cell shows while the cell is
 * selected or the pointer is on it; once someone works in it (or it was opened on purpose: Ctrl+Alt+M,
 * the context menu, the panel) it stays until closed or another cell is chosen. Passing UI state only.
 */
import { computed, onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'
import type { Selected } from './grid/useGrid'
import type { WorkbookComments } from './useComments'
import { colToLetters } from '../core/formulas/references'

export interface CardCell { rowId: string; colId: string; address: string }
interface Card extends CardCell { compose: boolean; threadId: string | null; pinned: boolean; /** a card opened again is a new one */ seq: number }
type Anchor = { top: number; left: number; right: number; bottom: number }

export interface CardGrid {
  selected: Ref<Selected | null>
  /** the cell's element on screen, if it is drawn */
  cellElement(row: number, col: number): HTMLElement | null
  /** the grid stops taking the keys (the card's field has them) */
  unlisten(): void
}

const rectOf = (el: Element | null | undefined): Anchor | null => {
  if (!el) return null
  const r = el.getBoundingClientRect()
  return { top: r.top, left: r.left, right: r.right, bottom: r.bottom }
}

export function useCommentCard(grid: CardGrid, comments: WorkbookComments, sheetId: Ref<string>) {
  const card = ref<Card | null>(null)
  const hover = shallowRef<(CardCell & { anchor: Anchor | null; seq: number }) | null>(null)
  const anchor = shallowRef<Anchor | null>(null)
  let overCard = false
  let seq = 0
  let leaveTimer = 0

  const selectedAnchor = () => { const s = grid.selected.value; return s ? rectOf(grid.cellElement(s.row, s.col)) : null }

  /** opens the card of the selected cell on purpose (new thread: `compose`) */
  function open(opts: { compose?: boolean; threadId?: string | null } = {}): boolean {
    const s = grid.selected.value
    if (!s) return false
    card.value = { rowId: s.rowId, colId: s.colId, address: s.address, compose: !!opts.compose, threadId: opts.threadId ?? null, pinned: true, seq: ++seq }
    anchor.value = selectedAnchor()
    hover.value = null
    grid.unlisten()
    return true
  }
  function close(): void { card.value = null; hover.value = null }
  function pin(): void {
    if (card.value) card.value.pinned = true
    else if (hover.value) { card.value = { ...hover.value, compose: false, threadId: null, pinned: true }; anchor.value = hover.value.anchor; hover.value = null }
  }

  // a marked cell selected shows its card; another cell chosen closes the one shown
  watch(grid.selected, (s) => {
    const c = card.value
    if (c && s && c.rowId === s.rowId && c.colId === s.colId) return
    if (s && comments.markAt(s.rowId, s.colId)) {
      card.value = { rowId: s.rowId, colId: s.colId, address: s.address, compose: false, threadId: null, pinned: false, seq: ++seq }
      anchor.value = selectedAnchor()
    } else card.value = null
  })
  watch(sheetId, close)
  // resolved (here or by someone else): a card nobody works in goes with the mark
  watch(comments.marks, () => {
    const c = card.value
    if (c && !c.pinned && !comments.markAt(c.rowId, c.colId)) card.value = null
    const h = hover.value
    if (h && !comments.markAt(h.rowId, h.colId)) hover.value = null
  })

  function hoverCell(cell: { rowId: string; colId: string; td: HTMLTableCellElement } | null): void {
    clearTimeout(leaveTimer)
    if (cell && comments.markAt(cell.rowId, cell.colId)) {
      const c = card.value
      if (c?.pinned || (c && c.rowId === cell.rowId && c.colId === cell.colId)) return
      if (hover.value?.rowId === cell.rowId && hover.value.colId === cell.colId) return
      const row = (cell.td.parentElement as HTMLTableRowElement | null)?.getAttribute('aria-rowindex')
      const col = cell.td.getAttribute('aria-colindex')
      const address = row && col ? `${colToLetters(Number(col) - 2)}${Number(row) - 1}` : ''
      hover.value = { rowId: cell.rowId, colId: cell.colId, address, anchor: rectOf(cell.td), seq: ++seq }
      return
    }
    // the pointer left: the card it showed goes a moment later, unless the pointer went onto it
    leaveTimer = window.setTimeout(() => { if (!overCard) hover.value = null }, 250)
  }
  function pointerOnCard(on: boolean): void {
    overCard = on
    if (!on) { clearTimeout(leaveTimer); leaveTimer = window.setTimeout(() => { if (!overCard) hover.value = null }, 250) }
  }
  onScopeDispose(() => clearTimeout(leaveTimer))

  /** what is shown: the card worked in, else the one under the pointer, else the selected marked cell's */
  const shown = computed(() => {
    const c = card.value, h = hover.value
    if (c?.pinned || !h) return c ? { cell: c as CardCell, compose: c.compose, threadId: c.threadId, anchor: anchor.value, key: `c${c.seq}` } : null
    return { cell: h as CardCell, compose: false, threadId: null, anchor: h.anchor, key: `c${h.seq}` }
  })

  return { shown, open, close, pin, hoverCell, pointerOnCard }
}

