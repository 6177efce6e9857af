/**
 * The review pack's data: every sheet's values as people see them (formatted by column type, or by
 * the cell's own number format), with the column titles, the totals row, which columns are numbers,
 * the cells' formats and the merged cells. Hidden rows and columns are left out, as Excel leaves them
 * out of a printout. The print view lays it out.
 */
import type * as Y from 'yjs'
import { format as formatCode } from 'numfmt'
import { FormulaEngine, type CellValue } from '../../src/core/formulas/engine'
import type { BaselineSource } from '../../src/core/formulas/baseline'
import { colToLetters } from '../../src/core/formulas/references'
import { getTitle, RULE_LOOKS, sheetKey, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { formatValue } from '../../src/core/format'
import { ruleStyle, totalsRowOf } from '../../src/core/workbook/table'
import { extentOf, scaleLook, validScale, type Extent } from '../../src/core/workbook/scale'
import { cellStyle, sheetStyles, type CellStyle } from '../../src/core/workbook/styles'
import { sheetMerges } from '../../src/core/workbook/merges'
import { hiddenIds } from '../../src/core/workbook/hidden'
import { chartData, listCharts, type ChartData } from '../../src/core/charts/charts'
import { timelineOf, type Timeline } from '../../src/core/timeline/timeline'
import { workbookTimeZone, zonedToday } from '../../src/core/workbook/zone'
import { readThreads, type CommentThread } from '../../src/core/comments/comments'

/** a cell's format in the pack: its number format is already in the cell's text */
/** a cell's look in the pack: its format (the number format is in its text), with its conditional colour or scale over it, and a data bar */
export type ReviewStyle = Omit<CellStyle, 'nf'> & { bar?: { color: string; pct: number } }
/** a merged cell, in indices into the pack's rows and columns */
export interface ReviewMerge { row: number; col: number; rowspan: number; colspan: number }

export interface ReviewSheet {
  id: string
  name: string
  /** column titles, or letters where a column has none (the visible columns only) */
  columns: string[]
  /** which columns hold numbers (right-aligned) */
  numeric: boolean[]
  /** the visible rows' texts; a cell a merge covers holds '' (the merge shows its top-left cell's) */
  rows: string[][]
  /** index into rows of the totals row, or -1 (also when it is hidden) */
  totalsRow: number
  /** the formatted cells, "row:col" (indices into rows and columns) → format; absent when none is */
  styles?: Record<string, ReviewStyle>
  /** merged cells (over the visible rows and columns only); absent when there are none */
  merges?: ReviewMerge[]
  /** the sheet's charts with their data now (the print view draws them) */
  charts: ChartData[]
  /** a progress sheet's timeline (tasks with dates), drawn under its table; overdue as of the server's day */
  timeline?: Timeline
  /** what the sheet is, when a template made it ("appraisal", …) */
  key?: string
  /** an appraisal sheet's row and column ids by pack index (who entered each score is looked up by them) */
  rowIds?: string[]
  colIds?: string[]
  /** the sheet's open comments and assignments (not resolved), oldest first; absent when there are none */
  comments?: ReviewComment[]
  /** an appraisal sheet's cells by "row:col" pack index: who last entered each, and when (from the audit trail) */
  entered?: Record<string, { by: string; at: number }>
}

/** an open thread in the pack: where it is (null: its row or column was deleted), what it says, who must act */
export interface ReviewComment {
  cell: string | null
  author: string
  text: string
  at: number
  assignee?: string
  due?: string
  done?: boolean
  replies: number
  /** the last reply, when there is one */
  last?: { author: string; text: string; at: number }
}

const reviewComment = (t: CommentThread): ReviewComment => {
  const last = t.replies.at(-1)
  return {
    cell: t.cell, author: t.author, text: t.text, at: t.at, ...(t.assignee ? { assignee: t.assignee, done: t.done } : {}), ...(t.due ? { due: t.due } : {}),
    replies: t.replies.length, ...(last ? { last: { author: last.author, text: last.text, at: last.at } } : {}),
  }
}

/** timeZone: the workbook's (its timelines are drawn as of today there) */
export interface ReviewData { title: string; sheets: ReviewSheet[]; timeZone: string }

/** A value's text as the grid shows it (src/composables/grid/render.ts): the cell's number format over its column's. */
export function cellText(v: CellValue, meta: ColumnMeta | undefined, nf: string | undefined): string {
  if (nf && typeof v === 'number') {
    try { return formatCode(nf, v, { locale: 'zh-CN' }) } catch { /* the column's format, then */ }
  }
  return formatValue(v, meta)
}

/** formats that show on an empty cell, so a cell with one is printed even when it holds nothing */
const SHOWS_EMPTY: readonly (keyof CellStyle)[] = ['bg', 'bt', 'bb', 'bl', 'br']

export function reviewData(doc: Y.Doc, baselines?: BaselineSource): ReviewData {
  const engine = new FormulaEngine(doc)
  if (baselines) engine.setBaselines(baselines)
  try {
    const open = readThreads(doc, engine.layout).filter(t => !t.resolved)
    const sheets = engine.layout.order.map(id => {
      const s = reviewSheet(doc, engine, id)
      const mine = open.filter(t => t.sheetId === id)
      return mine.length ? { ...s, comments: mine.map(reviewComment) } : s
    })
    return { title: getTitle(doc), timeZone: workbookTimeZone(doc), sheets }
  } finally {
    engine.destroy()
  }
}

function reviewSheet(doc: Y.Doc, engine: FormulaEngine, id: string): ReviewSheet {
  const sl = engine.layout.sheet(id)!
  const sheet = sheetsOf(doc).get(id)!
  const parts = sheetParts(sheet)
  const metas = sl.cols.ids.map(c => parts.colMeta.get(c) as ColumnMeta | undefined)
  // the pack's rows and columns are the sheet's visible ones: sheet position by pack index, and back
  const hiddenRows = hiddenIds(doc, id, 'rows'), hiddenCols = hiddenIds(doc, id, 'cols')
  const rowAt = sl.rows.ids.flatMap((r, i) => (hiddenRows.has(r) ? [] : [i]))
  const colAt = sl.cols.ids.flatMap((c, i) => (hiddenCols.has(c) ? [] : [i]))
  const packRow = new Map(rowAt.map((at, p) => [at, p])), packCol = new Map(colAt.map((at, p) => [at, p]))
  /** a "rowId:colId" key's pack position, or undefined when hidden or gone */
  const place = (key: string): [number, number] | undefined => {
    const i = key.indexOf(':')
    const r = packRow.get(sl.rows.pos.get(key.slice(0, i)) ?? -1), c = packCol.get(sl.cols.pos.get(key.slice(i + 1)) ?? -1)
    return r === undefined || c === undefined ? undefined : [r, c]
  }
  // the extent worth printing: up to the last visible row and column holding anything, titled, filled
  // or bordered, or merged
  let lastRow = -1, lastCol = -1
  const reach = (r: number, c: number) => { lastRow = Math.max(lastRow, r); lastCol = Math.max(lastCol, c) }
  parts.cells.forEach((_v, key) => { const p = place(key); if (p) reach(...p) })
  colAt.forEach((at, p) => { if (metas[at]?.title) lastCol = Math.max(lastCol, p) })
  const looks = new Map<string, CellStyle>()
  for (const [key, look] of sheetStyles(doc, id)) {
    const p = place(key)
    if (!p) continue
    looks.set(`${p[0]}:${p[1]}`, look)
    if (SHOWS_EMPTY.some(k => look[k])) reach(...p)
  }
  // merges over the visible rows and columns: a hidden row or column inside one narrows it; its
  // top-left visible cell shows the merge's own (top-left) cell, even when that one is hidden
  const merges: ReviewMerge[] = []
  const anchors = new Map<string, [number, number]>(), covered = new Set<string>()
  for (const b of sheetMerges(doc, engine.layout, id)) {
    const rs = Array.from({ length: b.rowspan }, (_v, i) => packRow.get(b.row + i)).filter(p => p !== undefined)
    const cs = Array.from({ length: b.colspan }, (_v, i) => packCol.get(b.col + i)).filter(p => p !== undefined)
    if (!rs.length || !cs.length) continue
    const m = { row: rs[0]!, col: cs[0]!, rowspan: rs.length, colspan: cs.length }
    anchors.set(`${m.row}:${m.col}`, [b.row, b.col])
    rs.forEach(r => cs.forEach(c => { if (r !== m.row || c !== m.col) covered.add(`${r}:${c}`) }))
    if (m.rowspan > 1 || m.colspan > 1) merges.push(m)
    reach(m.row + m.rowspan - 1, m.col + m.colspan - 1)
  }
  const numeric = Array.from({ length: lastCol + 1 }, () => false)
  const rows: string[][] = []
  for (let r = 0; r <= lastRow; r++) {
    const row: string[] = []
    for (let c = 0; c <= lastCol; c++) {
      const k = `${r}:${c}`
      if (covered.has(k)) { row.push(''); continue }
      const [sr, sc] = anchors.get(k) ?? [rowAt[r]!, colAt[c]!]
      if (sr !== rowAt[r] || sc !== colAt[c]) {
        const look = cellStyle(doc, id, sl.rows.ids[sr]!, sl.cols.ids[sc]!)
        if (Object.keys(look).length) looks.set(k, look)
        else looks.delete(k)
      }
      const v = engine.getValue(id, sr, sc)
      if (typeof v === 'number') numeric[c] = true
      row.push(cellText(v, metas[sc], looks.get(k)?.nf))
    }
    rows.push(row)
  }
  // conditional colours, colour scales and data bars over the cells' own formats, as the grid draws them
  const totalsId = totalsRowOf(sheet)
  const extents = new Map<number, Extent | null>()
  const extent = (sc: number) => {
    if (!extents.has(sc)) extents.set(sc, extentOf(sl.rows.ids.flatMap((rowId, r) => (rowId === totalsId ? [] : [engine.getValue(id, r, sc)]))))
    return extents.get(sc)!
  }
  const marked = new Map<string, ReviewStyle>()
  for (let r = 0; r <= lastRow; r++) for (let c = 0; c <= lastCol; c++) {
    const k = `${r}:${c}`, sr = rowAt[r]!, sc = colAt[c]!, meta = metas[sc]
    if (covered.has(k) || (!meta?.rules && !meta?.scale)) continue
    const rowId = sl.rows.ids[sr]!, isTotals = rowId === totalsId
    const v = engine.getValue(id, sr, sc)
    const rule = meta.rules ? ruleStyle(meta, other => (other === undefined ? v : engine.getValueById(id, rowId, other)), isTotals) : undefined
    const scale = !rule && meta.scale && !isTotals ? validScale(meta.scale) : undefined
    const look = scale ? scaleLook(scale, v, extent(sc)) : undefined
    if (!rule && !look) continue
    const { nf: _nf, ...own } = looks.get(k) ?? {}
    marked.set(k, { ...own, ...(rule ? RULE_LOOKS[rule] : {}), ...(look && 'bg' in look ? { bg: look.bg } : {}), ...(look && 'bar' in look ? { bar: { color: look.bar, pct: look.pct } } : {}) })
  }
  // only the formatted cells of the extent, without their number format (it is in the text)
  const styles: Record<string, ReviewStyle> = {}
  for (const [k, look] of marked) styles[k] = look
  for (const [k, { nf: _nf, ...look }] of looks) {
    if (marked.has(k)) continue
    const [r, c] = k.split(':').map(Number) as [number, number]
    if (r <= lastRow && c <= lastCol && Object.keys(look).length) styles[k] = look
  }
  const totals = totalsId
  const timeline = timelineOf(doc, engine, id, zonedToday(workbookTimeZone(doc)))
  const key = sheetKey(doc, id)
  return {
    ...(key ? { key } : {}),
    ...(key === 'appraisal' ? { rowIds: rowAt.slice(0, lastRow + 1).map(i => sl.rows.ids[i]!), colIds: colAt.slice(0, lastCol + 1).map(i => sl.cols.ids[i]!) } : {}),
    id, name: sl.name,
    columns: colAt.slice(0, lastCol + 1).map(at => metas[at]?.title || colToLetters(at)),
    numeric, rows, totalsRow: totals ? packRow.get(sl.rows.indexOf(totals)) ?? -1 : -1,
    ...(Object.keys(styles).length ? { styles } : {}),
    ...(merges.length ? { merges } : {}),
    charts: listCharts(doc, id).map(({ spec }) => chartData(doc, spec, (r, c) => engine.getValueById(id, r, c))).filter(d => !d.empty),
    ...(timeline?.tasks.length ? { timeline } : {}),
  }
}
