/**
 * The review pack's data: every sheet's values as people see them (formatted by column type), with the
 * column titles, the totals row and which columns are numbers. The print view lays it out.
 */
import type * as Y from 'yjs'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { colToLetters } from '../../src/core/formulas/references'
import { cellKey, getTitle, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { formatValue } from '../../src/core/format'
import { totalsRowOf } from '../../src/core/workbook/table'
import { chartData, listCharts, type ChartData } from '../../src/core/charts/charts'
import { localToday, timelineOf, type Timeline } from '../../src/core/timeline/timeline'

export interface ReviewSheet {
  id: string
  name: string
  /** column titles, or letters where a column has none */
  columns: string[]
  /** which columns hold numbers (right-aligned) */
  numeric: boolean[]
  rows: string[][]
  /** index into rows of the totals row, or -1 */
  totalsRow: number
  /** the sheet's charts with their data now (the print view draws them) */
  charts: ChartData[]
  /** a progress sheet's timeline (tasks with dates), drawn under its table; overdue as of the server's day */
  timeline?: Timeline
}

export interface ReviewData { title: string; sheets: ReviewSheet[] }

export function reviewData(doc: Y.Doc): ReviewData {
  const engine = new FormulaEngine(doc)
  try {
    const sheets: ReviewSheet[] = []
    for (const id of engine.layout.order) {
      const sl = engine.layout.sheet(id)!
      const sheet = sheetsOf(doc).get(id)!
      const parts = sheetParts(sheet)
      const metas = sl.cols.ids.map(c => parts.colMeta.get(c) as ColumnMeta | undefined)
      let lastRow = -1, lastCol = -1
      sl.rows.ids.forEach((r, ri) => sl.cols.ids.forEach((c, ci) => { if (parts.cells.has(cellKey(r, c))) { lastRow = Math.max(lastRow, ri); lastCol = Math.max(lastCol, ci) } }))
      lastCol = Math.max(lastCol, metas.reduce((n, m, i) => (m?.title ? i : n), -1))
      const numeric = Array.from({ length: lastCol + 1 }, () => false)
      const rows: string[][] = []
      for (let r = 0; r <= lastRow; r++) {
        const row: string[] = []
        for (let c = 0; c <= lastCol; c++) {
          const v = engine.getValue(id, r, c)
          if (typeof v === 'number') numeric[c] = true
          row.push(formatValue(v, metas[c]))
        }
        rows.push(row)
      }
      const totals = totalsRowOf(sheet)
      const timeline = timelineOf(doc, engine, id, localToday())
      sheets.push({
        id, name: sl.name,
        columns: metas.slice(0, lastCol + 1).map((m, c) => m?.title || colToLetters(c)),
        numeric, rows, totalsRow: totals ? sl.rows.indexOf(totals) : -1,
        charts: listCharts(doc, id).map(({ spec }) => chartData(doc, spec, (r, c) => engine.getValueById(id, r, c))).filter(d => !d.empty),
        ...(timeline?.tasks.length ? { timeline } : {}),
      })
    }
    return { title: getTitle(doc), sheets }
  } finally {
    engine.destroy()
  }
}
