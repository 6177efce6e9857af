/**
 * The timeline (Gantt) view of a sheet: which columns hold a task's phase, name, owner, dates, status
 * and progress, the tasks read from the computed values, and the one mutation the view makes (moving a
 * task's dates). No Vue imports: the server's review pack draws the same timeline.
 *
 * Columns are found by the key a template gave them (`phase`, `task`, `owner`, `start`, `end`,
 * `status`, `progress`), so the view works in every language; columns without a key fall back to their
 * type: the first two date columns are start and end, the first person column the owner, the first
 * select the status, the first percent the progress, the first text column the phase and the second the
 * task. A sheet without a start and an end column is not a timeline.
 *
 * When a task is done (and so never overdue): its progress is 100 %, or its status is a "done" option.
 * The "done" option is the one the status column colours as good (the template's `= 已完成 → good`
 * rule), which holds in any language and whatever the order of the options (the template lists
 * 未开始 first); without such a rule, the usual words (已完成, 完成, Done, Completed…) are recognised.
 * The option coloured as info (进行中 / In progress) is "in progress". A task is overdue when it is not
 * done and its end date is before today.
 */
import type * as Y from 'yjs'
import type { CellValue, FormulaEngine } from '../formulas/engine'
import { cellKey, isDate, sheetParts, sheetsOf, visibleIds, type CellInput, type ColumnMeta } from '../workbook/schema'
import { dateToSerial, parseDate, serialToDate } from '../workbook/input'
import { editCells, type CellWrite, type Origin } from '../workbook/mutations'
import { totalsRowOf } from '../workbook/table'
import { formatValue } from '../format'

export type TimelineRole = 'phase' | 'task' | 'owner' | 'start' | 'end' | 'status' | 'progress'
export const TIMELINE_ROLES: readonly TimelineRole[] = ['phase', 'task', 'owner', 'start', 'end', 'status', 'progress']

/** colIds of the timeline's columns; start and end always exist. */
export type TimelineColumns = { start: string; end: string } & Partial<Record<Exclude<TimelineRole, 'start' | 'end'>, string>>

/** How a task is drawn: done, in progress, or not started. */
export type TaskState = 'done' | 'active' | 'todo'

export interface TimelineTask {
  rowId: string
  phase: string
  task: string
  owner: string
  /** ISO dates as the sheet has them (one may be missing) */
  start: string | null
  end: string | null
  /** the bar's first and last day: start/end, the one date for both when one is missing, in order */
  from: string
  to: string
  /** the status cell's text, as shown */
  status: string
  /** 0..1, or null when the row has none */
  progress: number | null
  state: TaskState
  done: boolean
  overdue: boolean
}

export interface TimelineGroup { phase: string; tasks: TimelineTask[] }

export interface Timeline {
  sheetId: string
  columns: TimelineColumns
  /** tasks in sheet order */
  tasks: TimelineTask[]
  /** tasks by phase, phases in the order they first appear */
  groups: TimelineGroup[]
  /** first and last day of all bars, or null when there are no tasks */
  span: { start: string; end: string } | null
  today: string
}

export class TimelineError extends Error {
  constructor(public code: 'not-a-timeline' | 'unknown-row' | 'bad-date' | 'end-before-start', message: string) {
    super(message)
    this.name = 'TimelineError'
  }
}

// ── dates ─────────────────────────────────────────────────────────────────────────────────────────

/** An ISO date `n` days later (earlier for negative n). */
export function addDays(iso: string, n: number): string { return serialToDate(dateToSerial(iso) + n) }
/** Whole days from `a` to `b`. */
export function daysBetween(a: string, b: string): number { return dateToSerial(b) - dateToSerial(a) }
/** Today in the local calendar, as HyperFormula's TODAY() sees it. */
export function localToday(now = new Date()): string {
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`
}

// ── columns ───────────────────────────────────────────────────────────────────────────────────────

const FALLBACK: [TimelineRole, (m: ColumnMeta) => boolean][] = [
  ['start', m => m.type === 'date'],
  ['end', m => m.type === 'date'],
  ['owner', m => m.type === 'person'],
  ['status', m => m.type === 'select'],
  ['progress', m => m.type === 'percent'],
  // a column of no type holds text (a blank sheet's columns have none); typed text columns come first
  ['phase', m => m.type === 'text'],
  ['task', m => m.type === 'text'],
  ['phase', m => m.type === undefined],
  ['task', m => m.type === undefined],
]

/** The sheet's timeline columns, or null when it has no start and end column. */
export function timelineColumns(doc: Y.Doc, sheetId: string): TimelineColumns | null {
  const sheet = sheetsOf(doc).get(sheetId)
  if (!sheet) return null
  const p = sheetParts(sheet)
  const cols = visibleIds(p.cols, p.colsGone).map(id => ({ id, meta: (p.colMeta.get(id) ?? {}) as ColumnMeta }))
  const found: Partial<Record<TimelineRole, string>> = {}
  const used = new Set<string>()
  for (const role of TIMELINE_ROLES) {
    const c = cols.find(x => x.meta.key === role && !used.has(x.id))
    if (c) { found[role] = c.id; used.add(c.id) }
  }
  // by type: columns without a key first (a template's `criteria` is not taken for the task while a
  // column of no stated meaning fits), then any other
  const keyed = (m: ColumnMeta) => typeof m.key === 'string' && m.key !== ''
  for (const [role, fits] of FALLBACK) {
    if (found[role]) continue
    const free = cols.filter(x => !used.has(x.id) && fits(x.meta))
    const c = free.find(x => !keyed(x.meta)) ?? free[0]
    if (c) { found[role] = c.id; used.add(c.id) }
  }
  if (!found.start || !found.end) return null
  return found as TimelineColumns
}

export function canTimeline(doc: Y.Doc, sheetId: string): boolean {
  return timelineColumns(doc, sheetId) !== null
}

// ── status ────────────────────────────────────────────────────────────────────────────────────────

const DONE_WORDS = new Set(['已完成', '完成', '已完结', '已结束', 'done', 'completed', 'complete', 'finished'])
const ACTIVE_WORDS = new Set(['进行中', '执行中', 'in progress', 'ongoing', 'active', 'doing'])

/** The status texts meaning done / in progress, from the column's colour rules, else the usual words. */
function statusWords(meta: ColumnMeta | undefined): { done: Set<string>; active: Set<string> } {
  const done = new Set<string>(), active = new Set<string>()
  for (const r of meta?.rules ?? []) {
    if (r.op !== '=' || typeof r.value !== 'string' || r.colId) continue
    if (r.style === 'good') done.add(r.value.trim().toLowerCase())
    else if (r.style === 'info') active.add(r.value.trim().toLowerCase())
  }
  return { done: done.size ? done : DONE_WORDS, active: active.size ? active : ACTIVE_WORDS }
}

// ── reading ───────────────────────────────────────────────────────────────────────────────────────

function dateOf(v: CellValue): string | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0 && v < 2958466) return serialToDate(v)
  if (typeof v === 'string') return parseDate(v) ?? null
  return null
}

function textOf(v: CellValue, meta: ColumnMeta | undefined): string {
  if (v === null || typeof v === 'object') return ''
  return formatValue(v, meta).trim()
}

/** A progress value as 0..1: percent columns hold fractions; a plain number above 1 is read as percent. */
function progressOf(v: CellValue, meta: ColumnMeta | undefined): number | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) return null
  const f = meta?.type !== 'percent' && v > 1 ? v / 100 : v
  return Math.max(0, Math.min(1, f))
}

/**
 * The sheet as a timeline: every row with a start or an end date (the totals row left out), in sheet
 * order, grouped by phase. A row whose phase cell is blank belongs to the phase above it (as people
 * leave the rest of a phase blank instead of merging cells, or give a phase a heading row of its own). Null when the sheet is not a timeline.
 */
export function timelineOf(doc: Y.Doc, engine: FormulaEngine, sheetId: string, today: string): Timeline | null {
  const columns = timelineColumns(doc, sheetId)
  const sheet = sheetsOf(doc).get(sheetId)
  const sl = engine.layout.sheet(sheetId)
  if (!columns || !sheet || !sl) return null
  const metas = sheetParts(sheet).colMeta
  const meta = (col: string | undefined) => (col ? metas.get(col) as ColumnMeta | undefined : undefined)
  const value = (rowId: string, col: string | undefined): CellValue => (col ? engine.getValueById(sheetId, rowId, col) : null)
  const words = statusWords(meta(columns.status))
  const totals = totalsRowOf(sheet)
  const tasks: TimelineTask[] = []
  let phase = ''
  for (const rowId of sl.rows.ids) {
    if (rowId === totals) continue
    const ownPhase = textOf(value(rowId, columns.phase), meta(columns.phase))
    const start = dateOf(value(rowId, columns.start))
    const end = dateOf(value(rowId, columns.end))
    if (!start && !end) { if (ownPhase) phase = ownPhase; continue }
    if (ownPhase) phase = ownPhase
    const status = textOf(value(rowId, columns.status), meta(columns.status))
    const progress = progressOf(value(rowId, columns.progress), meta(columns.progress))
    const s = status.toLowerCase()
    const done = (progress !== null && progress >= 1) || words.done.has(s)
    const state: TaskState = done ? 'done' : words.active.has(s) || (progress !== null && progress > 0) ? 'active' : 'todo'
    let from = (start ?? end)!, to = (end ?? start)!
    if (to < from) [from, to] = [to, from]
    tasks.push({
      rowId, phase, task: textOf(value(rowId, columns.task), meta(columns.task)),
      owner: textOf(value(rowId, columns.owner), meta(columns.owner)),
      start, end, from, to, status, progress, state, done,
      overdue: !done && !!end && end < today,
    })
  }
  const byPhase = new Map<string, TimelineGroup>()
  for (const t of tasks) {
    let g = byPhase.get(t.phase)
    if (!g) byPhase.set(t.phase, (g = { phase: t.phase, tasks: [] }))
    g.tasks.push(t)
  }
  const span = tasks.length
    ? { start: tasks.reduce((m, t) => (t.from < m ? t.from : m), tasks[0]!.from), end: tasks.reduce((m, t) => (t.to > m ? t.to : m), tasks[0]!.to) }
    : null
  return { sheetId, columns, tasks, groups: [...byPhase.values()], span, today }
}

/** The same timeline seen on another day (the review pack is drawn on the server, read in the browser). */
export function onDay(timeline: Timeline, today: string): Timeline {
  const tasks = timeline.tasks.map(t => ({ ...t, overdue: !t.done && !!t.end && t.end < today }))
  const byRow = new Map(tasks.map(t => [t.rowId, t]))
  return { ...timeline, today, tasks, groups: timeline.groups.map(g => ({ phase: g.phase, tasks: g.tasks.map(t => byRow.get(t.rowId)!) })) }
}

// ── writing ───────────────────────────────────────────────────────────────────────────────────────

function storedDate(input: CellInput | undefined): string | null {
  if (input === undefined) return null
  if (isDate(input)) return parseDate(input.v) ?? null
  if (typeof input === 'number') return dateOf(input)
  if (typeof input === 'string') return parseDate(input) ?? null
  return null // a formula: its value is not known here
}

/**
 * Gives a task new dates (either or both), written as date inputs in one transaction, so one undo step
 * takes them back. Refuses an end before the start (the other date being the one the sheet holds).
 */
export function moveTask(doc: Y.Doc, sheetId: string, rowId: string, dates: { start?: string; end?: string }, origin: Origin = null): void {
  const columns = timelineColumns(doc, sheetId)
  if (!columns) throw new TimelineError('not-a-timeline', `sheet ${sheetId} has no start and end columns`)
  const p = sheetParts(sheetsOf(doc).get(sheetId)!)
  if (!visibleIds(p.rows, p.rowsGone).includes(rowId)) throw new TimelineError('unknown-row', `unknown row ${rowId}`)
  const norm = (d: string | undefined, what: string): string | undefined => {
    if (d === undefined) return undefined
    const iso = parseDate(d)
    if (!iso) throw new TimelineError('bad-date', `${what} is not a date: ${JSON.stringify(d)}`)
    return iso
  }
  const start = norm(dates.start, 'start'), end = norm(dates.end, 'end')
  if (start === undefined && end === undefined) return
  const s = start ?? storedDate(p.cells.get(cellKey(rowId, columns.start)))
  const e = end ?? storedDate(p.cells.get(cellKey(rowId, columns.end)))
  if (s && e && e < s) throw new TimelineError('end-before-start', `end ${e} is before start ${s}`)
  const writes: CellWrite[] = []
  if (start !== undefined) writes.push({ rowId, colId: columns.start, value: { t: 'd', v: start } })
  if (end !== undefined) writes.push({ rowId, colId: columns.end, value: { t: 'd', v: end } })
  doc.transact(() => editCells(doc, sheetId, writes, origin), origin)
}
