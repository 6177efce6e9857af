/**
 * The grid on a phone (narrower than 768 px, the page's own breakpoint): the first column stays in
 * view while the rest scroll sideways under it, so a row can still be told by its name. This is this
 * browser's grid only: the sheet's frozen panes in the doc are left as they are. Columns the sheet
 * freezes are kept as far as they fit in half the grid's width (two wide frozen columns on a 390 px
 * screen would leave nothing to scroll), never fewer than the first one that is shown.
 */
import type Handsontable from '../handsontable'
import type { RowTexts } from './rowTexts'

export const PHONE_QUERY = '(max-width: 767px)'
/** what the row numbers' column takes (Handsontable's main theme: about 50 px) */
const ROW_HEADER_WIDTH = 50

export function isPhone(): boolean {
  return typeof window !== 'undefined' && typeof window.matchMedia === 'function' && window.matchMedia(PHONE_QUERY).matches
}

/**
 * How many columns to freeze on a phone: at least the first shown one (hidden columns count in
 * Handsontable's positions), the sheet's own as far as they fit in `room` pixels.
 */
export function phoneFrozenCols(frozen: number, cols: number, hidden: ReadonlySet<number>, width: (c: number) => number, room: number): number {
  if (cols === 0) return 0
  let first = 0
  while (first < cols - 1 && hidden.has(first)) first++
  let n = Math.min(Math.max(frozen, first + 1), cols)
  const span = (k: number) => { let w = 0; for (let c = 0; c < k; c++) if (!hidden.has(c)) w += width(c); return w }
  while (n > first + 1 && span(n) > room) n--
  return n
}

/**
 * Makes the grid's layout settings (frozen panes, hidden and merged cells) phone-aware wherever they
 * are read, and calls `relayout` when the page crosses the phone width (a phone turned sideways).
 * Returns what stops listening.
 */
export function phoneLayout(rows: RowTexts, container: () => HTMLElement | null, relayout: () => void): () => void {
  const sheetLayout = rows.layoutSettings.bind(rows)
  rows.layoutSettings = () => {
    const layout = sheetLayout()
    if (!isPhone()) return layout
    const hidden = new Set(layout.hiddenColumns.columns)
    const room = (container()?.clientWidth || window.innerWidth) / 2 - ROW_HEADER_WIDTH
    // (as the grid sizes its columns, useGrid)
    const width = (c: number) => rows.colMeta(c)?.width ?? (rows.colMeta(c)?.title ? 120 : 90)
    return { ...layout, fixedColumnsStart: phoneFrozenCols(layout.fixedColumnsStart, rows.colIds.length, hidden, width, room) }
  }
  if (typeof window === 'undefined' || typeof window.matchMedia !== 'function') return () => {}
  const query = window.matchMedia(PHONE_QUERY)
  query.addEventListener('change', relayout)
  return () => query.removeEventListener('change', relayout)
}

/**
 * On a touch screen a double-tap opens the cell's editor (Handsontable's), whose field then lies under
 * the finger: the browser's own double-tap, coming after, selected the word there, and what was typed
 * next replaced it. The touch that opened the editor goes no further (no mouse events, no click), so
 * the caret stays at the end of the text, where Handsontable puts it. Returns what stops listening.
 */
export function touchEditing(container: () => HTMLElement | null, hot: () => Handsontable | null): () => void {
  if (typeof document === 'undefined') return () => {}
  let openAtStart = true
  const opened = () => !!hot()?.getActiveEditor()?.isOpened()
  const inGrid = (e: Event) => !!container()?.contains(e.target as Node)
  const start = (e: TouchEvent) => { openAtStart = !inGrid(e) || opened() }
  const end = (e: TouchEvent) => {
    if (!openAtStart && e.cancelable && inGrid(e) && opened()) e.preventDefault()
    openAtStart = true
  }
  // (the end listened for after the grid's own, which opens the editor)
  document.addEventListener('touchstart', start, { capture: true, passive: true })
  document.addEventListener('touchend', end, { passive: false })
  return () => {
    document.removeEventListener('touchstart', start, { capture: true })
    document.removeEventListener('touchend', end)
  }
}
