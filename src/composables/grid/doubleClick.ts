/**
 * Only a real double-click opens a cell's editor by the mouse.
 *
 * Handsontable (Walkontable's `event.mjs`) makes its own double-click out of two mouseups on the same
 * cell element within 500 ms, whatever came between them: typing and Enter, a click outside the grid
 * (the connection status, a panel), anything. Such a phantom double-click opens the editor in full
 * edit mode, on the cell's text with the caret after it, and what the person types next is added to
 * that text: A1 "100", Enter, a click on the status, a click back on A1 and "200" stored "100200".
 *
 * A double-click is what the browser counts as one: the second click of a pair at the same place within
 * the system's double-click time (`detail` ≥ 2), with no key typed since the first click. Any other
 * mouse opening is refused (`beforeBeginEditing`); Handsontable then forgets the cell's editor, which is
 * prepared again at once, so the click leaves the cell selected with the typing field ready as any
 * click does (typing replaces the text, an input method composes there). Keyboard openings (F2, Enter,
 * typing) and a finger's double-tap (touch events, not mouse events) are left to Handsontable.
 */
import type Handsontable from '../handsontable'

/** keys that type nothing: held or pressed between two clicks, they do not part them */
const MODIFIERS = new Set(['Shift', 'Control', 'Alt', 'Meta', 'AltGraph', 'CapsLock'])

export function realDoubleClicks(hot: () => Handsontable | null): { beforeBeginEditing: NonNullable<Handsontable.GridSettings['beforeBeginEditing']>; off: () => void } {
  /** a key typed since the last mousedown, and between the last two */
  let keySinceDown = false
  let keyBetween = false
  const onDown = () => { keyBetween = keySinceDown; keySinceDown = false }
  const onKey = (e: KeyboardEvent) => { if (!MODIFIERS.has(e.key)) keySinceDown = true }
  if (typeof document !== 'undefined') {
    // (capture: before the grid's own listeners, which may stop the event)
    document.addEventListener('mousedown', onDown, true)
    document.addEventListener('keydown', onKey, true)
  }

  const beforeBeginEditing = (_row: number, _col: number, _value: unknown, event: unknown): boolean | void => {
    if (!(event instanceof MouseEvent)) return
    // (a mouse event a touch screen made: Handsontable pairs taps itself)
    if ((event as MouseEvent & { sourceCapabilities?: { firesTouchEvents?: boolean } | null }).sourceCapabilities?.firesTouchEvents) return
    const h = hot()
    if (!h || h.getActiveEditor()?.isOpened()) return
    if (event.detail >= 2 && !keyBetween) return
    // refused: Handsontable drops the cell's editor after this hook; it is prepared again before the
    // mouseup reaches the document, where the typing field takes the focus (imeFastEdit)
    queueMicrotask(() => { const g = hot(); if (g && !g.isDestroyed && !g.getActiveEditor()) g.destroyEditor(false, true) })
    return false
  }

  return {
    beforeBeginEditing,
    off: () => {
      if (typeof document === 'undefined') return
      document.removeEventListener('mousedown', onDown, true)
      document.removeEventListener('keydown', onKey, true)
    },
  }
}
