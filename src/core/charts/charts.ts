/**
 * Charts live in the doc (root map `charts`: chartId → plain JSON spec), so every collaborator sees the
 * same ones; their data is derived from the computed cell values and never stored. No Vue imports: the
 * server's exports use this too.
 *
 * A spec names its data by ids, never by position: the category column, the value columns, and the
 * first and last row (absent: every data row of the sheet, so the chart grows with the table). Rows and
 * columns inserted or deleted by anyone keep the chart on the same data.
 */
import * as Y from 'yjs'
import { sheetParts, sheetsOf, visibleIds, type ColumnMeta, type SheetMap } from '../workbook/schema'
import { totalsRowOf } from '../workbook/table'
import { serialToDate } from '../workbook/input'
import { colToLetters } from '../formulas/references'
import { WorkbookError } from '../workbook/mutations'
import { firstProblem, z } from '../zod'

export const CHART_KINDS = ['bar', 'line', 'pie', 'combo'] as const
export type ChartKind = typeof CHART_KINDS[number]
export const MAX_CHARTS = 50
export const MAX_SERIES = 12

const ID = /^[A-Za-z0-9_-]{1,40}$/
/** an id (of a sheet, row or column); `message` when it is not one */
const id = (message: string) => z.string({ error: message }).check(z.regex(ID, { error: message }))
const ids = (message: string) => z.array(id(message), { error: message })
const RANGE = 'a chart names both its first and last row, or neither'
const DEVIATION = 'a deviation names its target and actual columns'
const SERIES = `a chart has 1 to ${MAX_SERIES} series`

/**
 * A chart spec as the doc holds it; what clients write is checked against it on the server. The order
 * of the fields is the order their problems are told in.
 */
export const chartSpecSchema = z.object({
  kind: z.enum(CHART_KINDS, { error: 'unknown chart kind' }),
  title: z.string({ error: 'a chart title is text of at most 200 characters' }).check(z.maxLength(200, { error: 'a chart title is text of at most 200 characters' })),
  /** the sheet whose cells the chart shows (and under which it is listed) */
  sheet: id('a chart names its sheet and label column by id'),
  /** column of the category labels */
  labels: id('a chart names its sheet and label column by id'),
  /** columns of the values, one series each */
  series: ids(SERIES).check(z.minLength(1, { error: SERIES }), z.maxLength(MAX_SERIES, { error: SERIES })),
  /** first and last row (inclusive); both absent: every data row above the totals row */
  from: z.optional(id(RANGE)),
  to: z.optional(id(RANGE)),
  /** combo: the columns drawn as lines on a second (right) axis */
  secondAxis: z.optional(ids('second-axis series are column ids')),
  /**
   * Target vs actual: the actual bars are coloured by whether they reach the target. `direction`
   * names a column that says, per row, when lower is better (越低越好 / Lower is better).
   */
  deviation: z.optional(z.object({ target: id(DEVIATION), actual: id(DEVIATION), direction: z.optional(id(DEVIATION)) }, { error: DEVIATION })),
  createdAt: z.number({ error: 'a chart has a creation time' }),
  by: z.optional(z.string({ error: 'a chart author is a name' }).check(z.maxLength(100, { error: 'a chart author is a name' }))),
}, { error: 'a chart is an object' }).check(z.refine(s => (s.from === undefined) === (s.to === undefined), { error: RANGE, path: ['from'] }))

export type ChartSpec = z.infer<typeof chartSpecSchema>

export type ChartDraft = Omit<ChartSpec, 'createdAt'> & { createdAt?: number }

export function chartsOf(doc: Y.Doc): Y.Map<ChartSpec> { return doc.getMap<ChartSpec>('charts') }

/** The value as a chart spec (unknown fields left out), or why it is not one. */
export function readChart(v: unknown): { ok: true; spec: ChartSpec } | { ok: false; problem: string } {
  const r = chartSpecSchema.safeParse(v)
  return r.success ? { ok: true, spec: r.data } : { ok: false, problem: firstProblem(r.error).message }
}

/** Why a value is not a chart spec (null when it is one): the server checks what clients write with it. */
export function chartProblem(v: unknown): string | null {
  const r = readChart(v)
  return r.ok ? null : r.problem
}

function clean(draft: ChartDraft): ChartSpec {
  const spec: ChartSpec = {
    kind: draft.kind, title: draft.title.trim().slice(0, 200), sheet: draft.sheet, labels: draft.labels,
    series: [...new Set(draft.series)].slice(0, MAX_SERIES), createdAt: draft.createdAt ?? Date.now(),
  }
  if (draft.from !== undefined || draft.to !== undefined) { spec.from = draft.from; spec.to = draft.to }
  if (draft.kind === 'combo' && draft.secondAxis?.length) spec.secondAxis = draft.secondAxis.filter(c => spec.series.includes(c))
  if (draft.deviation) spec.deviation = { ...draft.deviation }
  if (draft.by) spec.by = draft.by.slice(0, 100)
  const p = chartProblem(spec)
  if (p) throw new WorkbookError('bad-chart', p)
  return spec
}

export function newChartId(): string {
  const a = new Uint8Array(9)
  crypto.getRandomValues(a)
  return 'ch' + Array.from(a, b => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_'[b & 63]).join('')
}

export function addChart(doc: Y.Doc, draft: ChartDraft, origin: unknown = null, id = newChartId()): string {
  const spec = clean(draft)
  if (!sheetsOf(doc).has(spec.sheet)) throw new WorkbookError('unknown-sheet', `unknown sheet ${spec.sheet}`)
  if (chartsOf(doc).size >= MAX_CHARTS) throw new WorkbookError('too-many-charts', `a workbook holds at most ${MAX_CHARTS} charts`)
  doc.transact(() => chartsOf(doc).set(id, spec), origin)
  return id
}

export function updateChart(doc: Y.Doc, id: string, patch: Partial<ChartDraft>, origin: unknown = null): void {
  const prev = chartsOf(doc).get(id)
  if (!prev) throw new WorkbookError('unknown-chart', `unknown chart ${id}`)
  const next = clean({ ...prev, ...patch, createdAt: prev.createdAt })
  doc.transact(() => chartsOf(doc).set(id, next), origin)
}

export function removeChart(doc: Y.Doc, id: string, origin: unknown = null): void {
  if (!chartsOf(doc).has(id)) return
  doc.transact(() => chartsOf(doc).delete(id), origin)
}

/** Charts of a sheet (all sheets when none is given), oldest first. */
export function listCharts(doc: Y.Doc, sheetId?: string): { id: string; spec: ChartSpec }[] {
  const out: { id: string; spec: ChartSpec }[] = []
  chartsOf(doc).forEach((spec, id) => {
    if (chartProblem(spec) === null && sheetsOf(doc).has(spec.sheet) && (!sheetId || spec.sheet === sheetId)) out.push({ id, spec })
  })
  return out.sort((a, b) => a.spec.createdAt - b.spec.createdAt || (a.id < b.id ? -1 : 1))
}

// ---- data ---------------------------------------------------------------------------------------

export type ChartValue = number | string | boolean | null | { error: string }

export interface ChartSeries {
  colId: string
  name: string
  values: (number | null)[]
  /** 0 left, 1 right */
  axis: 0 | 1
  type: 'bar' | 'line'
  percent: boolean
}

export interface ChartData {
  title: string
  kind: ChartKind
  categories: string[]
  rowIds: string[]
  series: ChartSeries[]
  /** per category, for target-vs-actual charts: does the actual reach the target */
  verdicts?: ('good' | 'bad' | null)[]
  /** the column of those actual values (its bars take the verdict's colour) */
  actual?: string
  /** the chart's columns or rows are gone: nothing left to show */
  empty: boolean
}

/** A surviving row for a range end whose row was deleted: walk the tombstones to the next living row. */
function living(id: string, order: string[], gone: Y.Map<{ prev: string | null; next: string | null }>, towards: 'prev' | 'next'): number {
  let cur: string | null = id
  for (let hops = 0; cur && hops < 10_000; hops++) {
    const i = order.indexOf(cur)
    if (i >= 0) return i
    const t = gone.get(cur) as { prev: string | null; next: string | null } | undefined
    if (!t) return -1
    cur = t[towards]
  }
  return -1
}

function title(meta: ColumnMeta | undefined, colIndex: number): string {
  return meta?.title?.trim() || colToLetters(Math.max(0, colIndex))
}

function labelText(v: ChartValue, meta: ColumnMeta | undefined): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'object') return v.error
  if (typeof v === 'number' && meta?.type === 'date') return serialToDate(v)
  return String(v)
}

const LOWER = /越低|lower/i

/**
 * The chart's rows and series as they are now. `valueOf` gives a cell's computed value (the formula
 * engine's); errors and text count as gaps, not zeros.
 */
/** `skip`: rows left out (hidden or filtered out, as Excel's charts leave out what is not shown) */
export function chartData(doc: Y.Doc, spec: ChartSpec, valueOf: (rowId: string, colId: string) => ChartValue, skip?: (rowId: string) => boolean): ChartData {
  const sheet = sheetsOf(doc).get(spec.sheet) as SheetMap | undefined
  const base: ChartData = { title: spec.title, kind: spec.kind, categories: [], rowIds: [], series: [], empty: true }
  if (!sheet) return base
  const p = sheetParts(sheet)
  const rows = visibleIds(p.rows, p.rowsGone)
  const cols = visibleIds(p.cols, p.colsGone)
  let r0 = 0, r1 = rows.length - 1
  if (spec.from && spec.to) {
    r0 = living(spec.from, rows, p.rowsGone, 'next')
    r1 = living(spec.to, rows, p.rowsGone, 'prev')
    if (r0 < 0 || r1 < 0) return base
  } else {
    const totals = totalsRowOf(sheet)
    const ti = totals ? rows.indexOf(totals) : -1
    if (ti >= 0) r1 = ti - 1
  }
  const metaOf = (c: string) => p.colMeta.get(c) as ColumnMeta | undefined
  const seriesCols = spec.series.filter(c => cols.includes(c))
  const labelCol = cols.includes(spec.labels) ? spec.labels : null
  if (seriesCols.length === 0) return base
  const second = new Set(spec.kind === 'combo' ? spec.secondAxis ?? [] : [])
  const series: ChartSeries[] = seriesCols.map(c => ({
    colId: c, name: title(metaOf(c), cols.indexOf(c)), values: [],
    axis: second.has(c) ? 1 : 0,
    type: spec.kind === 'line' || (spec.kind === 'combo' && second.has(c)) ? 'line' : 'bar',
    percent: metaOf(c)?.type === 'percent',
  }))
  const dev = spec.deviation && cols.includes(spec.deviation.target) && cols.includes(spec.deviation.actual) ? spec.deviation : undefined
  const verdicts: ('good' | 'bad' | null)[] = []
  const num = (v: ChartValue) => (typeof v === 'number' && Number.isFinite(v) ? v : null)
  for (let r = Math.max(0, r0); r <= r1 && r < rows.length; r++) {
    const rowId = rows[r]!
    if (skip?.(rowId)) continue
    const label = labelCol ? labelText(valueOf(rowId, labelCol), metaOf(labelCol)) : String(r + 1)
    const values = seriesCols.map(c => num(valueOf(rowId, c)))
    // a row with neither a label nor a value is not a category (the empty rows under a table)
    if (!label && values.every(v => v === null)) continue
    base.categories.push(label || String(r + 1))
    base.rowIds.push(rowId)
    values.forEach((v, i) => series[i]!.values.push(v))
    if (dev) {
      const t = num(valueOf(rowId, dev.target)), a = num(valueOf(rowId, dev.actual))
      const dirV = dev.direction && cols.includes(dev.direction) ? valueOf(rowId, dev.direction) : null
      const lower = typeof dirV === 'string' && LOWER.test(dirV)
      verdicts.push(t === null || a === null ? null : (lower ? a <= t : a >= t) ? 'good' : 'bad')
    }
  }
  return { ...base, series, ...(dev ? { verdicts, actual: dev.actual } : {}), empty: base.categories.length === 0 }
}

// ---- rendering (an ECharts option; plain data, so print and export can use it too) ---------------

export const PALETTE = ['#1a73e8', '#f29900', '#12b5cb', '#e52592', '#9334e6', '#7cb342', '#5f6368', '#f4511e']
export const VERDICT_COLOURS = { good: '#1e8e3e', bad: '#d93025' } as const

const pct = (v: number) => `${Math.round(v * 1000) / 10}%`

/** The ECharts option of a chart. `animation` off for print and images. */
export function chartOption(data: ChartData, opts: { animation?: boolean } = {}): Record<string, unknown> {
  const animation = opts.animation ?? true
  const titleOpt = { text: data.title, left: 8, top: 4, textStyle: { fontSize: 14, fontWeight: 600 } }
  if (data.kind === 'pie') {
    const s = data.series[0]
    return {
      animation, color: PALETTE, title: titleOpt,
      tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
      legend: { type: 'scroll', bottom: 0 },
      series: [{
        type: 'pie', name: s?.name ?? '', radius: ['35%', '65%'], center: ['50%', '52%'],
        data: data.categories.map((c, i) => ({ name: c, value: s?.values[i] ?? 0 })).filter(d => d.value > 0),
        label: { formatter: '{b} {d}%' },
      }],
    }
  }
  const usesSecond = data.series.some(s => s.axis === 1)
  const axisFor = (axis: 0 | 1) => {
    const percent = data.series.filter(s => s.axis === axis).every(s => s.percent) && data.series.some(s => s.axis === axis)
    return { type: 'value', position: axis ? 'right' : 'left', splitLine: { show: axis === 0 }, axisLabel: percent ? { formatter: (v: number) => pct(v) } : {} }
  }
  return {
    animation, color: PALETTE, title: titleOpt,
    tooltip: { trigger: 'axis' },
    legend: { type: 'scroll', bottom: 0 },
    grid: { left: 56, right: usesSecond ? 56 : 24, top: 40, bottom: 56, containLabel: false },
    xAxis: { type: 'category', data: data.categories, axisLabel: { interval: 0, hideOverlap: true, rotate: data.categories.length > 8 ? 30 : 0 } },
    yAxis: usesSecond ? [axisFor(0), axisFor(1)] : [axisFor(0)],
    series: data.series.map(s => ({
      type: s.type, name: s.name, yAxisIndex: usesSecond ? s.axis : 0, smooth: s.type === 'line',
      data: s.values.map((v, i) => {
        const verdict = s.colId === data.actual ? data.verdicts?.[i] : null
        return verdict ? { value: v, itemStyle: { color: VERDICT_COLOURS[verdict] } } : v
      }),
      ...(s.type === 'bar' ? { barMaxWidth: 36 } : { symbolSize: 6 }),
    })),
  }
}

/** The visible columns of a sheet, as a chart dialog lists them (title, or the letter where none). */
export function chartColumns(doc: Y.Doc, sheetId: string): { id: string; label: string; numeric: boolean }[] {
  const sheet = sheetsOf(doc).get(sheetId) as SheetMap | undefined
  if (!sheet) return []
  const p = sheetParts(sheet)
  return visibleIds(p.cols, p.colsGone).map((id, i) => {
    const m = p.colMeta.get(id) as ColumnMeta | undefined
    const letter = colToLetters(i)
    return { id, label: m?.title ? `${letter} · ${m.title}` : letter, numeric: !m?.type || ['number', 'percent', 'currency'].includes(m.type) }
  })
}

/**
 * A draft for a chart of a selected block: its first column gives the categories, the others the
 * series (one column selected: it is the series, the sheet's first column the categories); several
 * rows selected bound the chart to them, one row means the whole table.
 */
export function draftFromSelection(doc: Y.Doc, sheetId: string, sel: { rowId: string; colId: string; endRowId: string; endColId: string }): ChartDraft | null {
  const sheet = sheetsOf(doc).get(sheetId) as SheetMap | undefined
  if (!sheet) return null
  const p = sheetParts(sheet)
  const cols = visibleIds(p.cols, p.colsGone), rows = visibleIds(p.rows, p.rowsGone)
  let c0 = cols.indexOf(sel.colId), c1 = cols.indexOf(sel.endColId)
  let r0 = rows.indexOf(sel.rowId), r1 = rows.indexOf(sel.endRowId)
  if (c0 < 0 || c1 < 0 || r0 < 0 || r1 < 0) return null
  if (c0 > c1) [c0, c1] = [c1, c0]
  if (r0 > r1) [r0, r1] = [r1, r0]
  const picked = cols.slice(c0, c1 + 1)
  const labels = picked.length > 1 ? picked[0]! : cols[0]!
  const series = (picked.length > 1 ? picked.slice(1) : picked).slice(0, MAX_SERIES)
  const title = series.map(c => (p.colMeta.get(c) as ColumnMeta | undefined)?.title).filter(Boolean).join(' / ')
  return {
    kind: 'bar', title, sheet: sheetId, labels, series,
    ...(r1 > r0 ? { from: rows[r0]!, to: rows[r1]! } : {}),
  }
}
