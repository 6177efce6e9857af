/**
 * The small calendar a date cell's editor shows under the cell (gridEditors.ts), as in Feishu Sheets
 * and Excel online: the month of the cell's date (today's when empty), previous / next month, weekdays
 * from Monday, today marked, the date the editor holds selected, and a Today button. Plain DOM, every
 * text set as textContent; it lives in <body> (fixed, kept inside the visible viewport, above the cell
 * when there is no room under it) until `destroy()`, which also removes the listeners it added.
 *
 * Dates are calendar dates: yyyy-mm-dd is built from the year, month and day shown, never through a
 * Date's time zone (no toISOString of a local midnight).
 */
import './datePicker.css'

export interface DatePickerLabels {
  /** weekday names from Monday: 一 … 日 / Mon … Sun */
  weekdays: string[]
  /** the month shown: 2025年6月 / June 2025 (month 1–12) */
  month: (year: number, month: number) => string
  today: string
  prevMonth: string
  nextMonth: string
}

export interface DatePickerOptions {
  labels: DatePickerLabels
  /** the date selected at first (yyyy-mm-dd), if any */
  value?: string
  /** a day was clicked (or Today): its yyyy-mm-dd */
  onPick: (iso: string) => void
  /** where the calendar goes: under this box (the cell being edited), or above it */
  anchor: () => DOMRect | null
  /** today's yyyy-mm-dd (by default this device's calendar date) */
  today?: () => string
}

export interface DatePicker {
  readonly element: HTMLElement
  /** selects a date and shows its month; undefined: nothing selected, the month shown stays */
  select(iso: string | undefined): void
  /** places the calendar against its anchor again (the cell moved or grew) */
  place(): void
  /** removes the calendar and its listeners */
  destroy(): void
}

/** The class of the calendar's root (for styles and tests). */
export const DATE_PICKER_CLASS = 'pw-datepicker'
/** room kept between the calendar and the viewport's edges */
const MARGIN = 4
/** the gap between the cell and the calendar */
const GAP = 2

export function isoOf(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`
}

/** Today on this computer's calendar. */
export function todayIso(now = new Date()): string {
  return isoOf(now.getFullYear(), now.getMonth() + 1, now.getDate())
}

function parts(iso: string): { y: number; m: number; d: number } | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso)
  return m ? { y: Number(m[1]), m: Number(m[2]), d: Number(m[3]) } : null
}

/** Days in a month (m 1–12), and the weekday of its first day from Monday (0 = Monday … 6 = Sunday). */
function monthShape(y: number, m: number): { days: number; lead: number } {
  // UTC only for arithmetic on calendar dates: no local time is involved
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate()
  const lead = (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7
  return { days, lead }
}

/** The y/m/d of day `offset` counted from the 1st of month m (negative: the month before). */
function dayFrom(y: number, m: number, offset: number): { y: number; m: number; d: number } {
  const dt = new Date(Date.UTC(y, m - 1, 1 + offset))
  return { y: dt.getUTCFullYear(), m: dt.getUTCMonth() + 1, d: dt.getUTCDate() }
}

function button(doc: Document, cls: string, text: string, label?: string): HTMLButtonElement {
  const b = doc.createElement('button')
  b.type = 'button'
  b.className = cls
  // never focused: the editor's text field keeps the keyboard
  b.tabIndex = -1
  b.textContent = text
  if (label) { b.setAttribute('aria-label', label); b.title = label }
  return b
}

export function openDatePicker(opts: DatePickerOptions, doc: Document = document): DatePicker {
  const { labels } = opts
  const todayOf = opts.today ?? (() => todayIso())
  const win = doc.defaultView ?? window
  let selected = opts.value && parts(opts.value) ? opts.value : undefined
  const start = parts(selected ?? todayOf()) ?? parts(todayIso())!
  let year = start.y, month = start.m

  const root = doc.createElement('div')
  root.className = DATE_PICKER_CLASS
  const head = doc.createElement('div')
  head.className = 'dp-head'
  const prev = button(doc, 'dp-prev', '‹', labels.prevMonth)
  const next = button(doc, 'dp-next', '›', labels.nextMonth)
  const title = doc.createElement('div')
  title.className = 'dp-title'
  title.setAttribute('aria-live', 'polite')
  head.append(prev, title, next)
  const week = doc.createElement('div')
  week.className = 'dp-week'
  for (const w of labels.weekdays.slice(0, 7)) {
    const s = doc.createElement('span')
    s.textContent = w
    week.appendChild(s)
  }
  const grid = doc.createElement('div')
  grid.className = 'dp-days'
  const foot = doc.createElement('div')
  foot.className = 'dp-foot'
  const today = button(doc, 'dp-today-btn', labels.today)
  foot.appendChild(today)
  root.append(head, week, grid, foot)

  function draw(): void {
    title.textContent = labels.month(year, month)
    const { lead } = monthShape(year, month)
    const now = todayOf()
    const cells: HTMLButtonElement[] = []
    // six weeks always: the calendar keeps its height from month to month
    for (let i = 0; i < 42; i++) {
      const day = dayFrom(year, month, i - lead)
      const iso = isoOf(day.y, day.m, day.d)
      const b = button(doc, 'dp-day', String(day.d), iso)
      b.dataset.date = iso
      if (day.m !== month) b.classList.add('dp-outside')
      if (iso === now) { b.classList.add('dp-today'); b.setAttribute('aria-current', 'date') }
      if (iso === selected) b.classList.add('dp-selected')
      b.setAttribute('aria-pressed', String(iso === selected))
      cells.push(b)
    }
    grid.replaceChildren(...cells)
  }

  function shift(by: number): void {
    const dt = new Date(Date.UTC(year, month - 1 + by, 1))
    year = dt.getUTCFullYear()
    month = dt.getUTCMonth() + 1
    draw()
  }

  // a press on the calendar is not a click outside the grid: the editor stays open and keeps the
  // focus (Handsontable closes its editor on a mousedown anywhere else in the document)
  root.addEventListener('mousedown', e => { e.preventDefault(); e.stopPropagation() })
  root.addEventListener('click', e => {
    const target = (e.target as HTMLElement | null)?.closest('button')
    if (!target) return
    e.stopPropagation()
    if (target === prev) shift(-1)
    else if (target === next) shift(1)
    else if (target === today) opts.onPick(todayOf())
    else if (target.dataset.date) opts.onPick(target.dataset.date)
  })

  function place(): void {
    const box = opts.anchor()
    if (!box) return
    const vv = win.visualViewport
    // the visible part of the page (a phone's keyboard takes the bottom of it)
    const top0 = vv ? vv.offsetTop : 0, left0 = vv ? vv.offsetLeft : 0
    const vh = vv ? vv.height : win.innerHeight, vw = vv ? vv.width : win.innerWidth
    const w = root.offsetWidth, h = root.offsetHeight
    let top = box.bottom + GAP
    if (top + h > top0 + vh - MARGIN) {
      const above = box.top - GAP - h
      // above the cell when it fits there, else wherever it is seen whole
      top = above >= top0 + MARGIN ? above : Math.max(top0 + MARGIN, top0 + vh - MARGIN - h)
    }
    const left = Math.min(Math.max(box.left, left0 + MARGIN), left0 + vw - MARGIN - w)
    root.style.top = `${Math.round(top)}px`
    root.style.left = `${Math.round(Math.max(left, left0 + MARGIN))}px`
  }

  const onViewport = () => place()
  win.addEventListener('resize', onViewport)
  win.visualViewport?.addEventListener('resize', onViewport)
  win.visualViewport?.addEventListener('scroll', onViewport)

  draw()
  doc.body.appendChild(root)
  place()

  return {
    element: root,
    select(iso) {
      const p = iso ? parts(iso) : null
      selected = p ? iso : undefined
      if (p) { year = p.y; month = p.m }
      draw()
    },
    place,
    destroy() {
      win.removeEventListener('resize', onViewport)
      win.visualViewport?.removeEventListener('resize', onViewport)
      win.visualViewport?.removeEventListener('scroll', onViewport)
      root.remove()
    },
  }
}
