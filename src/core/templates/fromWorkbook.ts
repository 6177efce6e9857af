/**
 * A workbook → a template file (schemaVersion 2, the shape templates/*.json use): every sheet with its
 * typed columns (titles, formats, dropdowns, help, validation, colour rules, calculated formulas written
 * for row 1), its rows as A1 text, its totals row and frozen panes. Text is written as it is (one
 * language): a template saved from a workbook reads the same in both.
 */
import type * as Y from 'yjs'
import { WorkbookLayout } from '../workbook/layout'
import { decodeFormula } from '../formulas/references'
import { textForInput } from '../workbook/input'
import { columnFormulaFor, totalsRowOf } from '../workbook/table'
import { cellKey, sheetParts, sheetsOf, type CellInput, type ColumnMeta } from '../workbook/schema'
import { TEMPLATE_SCHEMA_VERSION, type TemplateCell, type TemplateChart, type TemplateColumn, type TemplateSheet } from './template'
import { listCharts } from '../charts/charts'

/** A saved template keeps at most this many rows of a sheet (a template is a starting point, not an archive). */
export const MAX_TEMPLATE_ROWS = 2_000

export interface TemplateFile {
  schemaVersion: number
  id: string
  title: string
  description: string
  sheets: TemplateSheet[]
}

export function templateFromWorkbook(doc: Y.Doc, info: { id: string; title: string; description?: string }): { template: TemplateFile; notes: string[] } {
  const layout = new WorkbookLayout(doc)
  const notes: string[] = []
  const sheets: TemplateSheet[] = layout.order.map(sheetId => {
    const sl = layout.sheet(sheetId)!
    const sheet = sheetsOf(doc).get(sheetId)!
    const parts = sheetParts(sheet)
    const ctx = { layout, sheetId }
    const metas = sl.cols.ids.map(c => parts.colMeta.get(c) as ColumnMeta | undefined)
    const totalsId = totalsRowOf(sheet)
    const totalsAt = totalsId ? sl.rows.indexOf(totalsId) : -1
    const text = (r: number, c: number): TemplateCell => {
      const input = parts.cells.get(cellKey(sl.rows.ids[r]!, sl.cols.ids[c]!)) as CellInput | undefined
      if (input === undefined) return null
      if (typeof input === 'number' || typeof input === 'boolean') return input
      return textForInput(input, ctx, metas[c])
    }
    let lastRow = -1, lastCol = -1
    sl.rows.ids.forEach((r, ri) => sl.cols.ids.forEach((c, ci) => { if (parts.cells.has(cellKey(r, c))) { lastRow = Math.max(lastRow, ri); lastCol = Math.max(lastCol, ci) } }))
    lastCol = Math.max(lastCol, metas.reduce((n, m, i) => (m ? i : n), -1))
    const dataEnd = totalsAt >= 0 ? totalsAt : lastRow + 1
    if (totalsAt >= 0 && lastRow > totalsAt) notes.push(`"${sl.name}": rows below the totals row were left out`)
    if (dataEnd > MAX_TEMPLATE_ROWS) notes.push(`"${sl.name}": only the first ${MAX_TEMPLATE_ROWS} rows were kept`)
    const data: TemplateCell[][] = []
    for (let r = 0; r < Math.min(dataEnd, MAX_TEMPLATE_ROWS); r++) {
      const row: TemplateCell[] = []
      for (let c = 0; c <= lastCol; c++) row.push(text(r, c))
      while (row.length && row[row.length - 1] === null) row.pop()
      data.push(row)
    }
    // a column keeps the key its template gave it (the timeline and the summaries find columns by it)
    const keys: string[] = []
    for (let c = 0; c <= lastCol; c++) {
      const k = metas[c]?.key
      keys.push(k && /^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(k) && !keys.includes(k) ? k : `c${c + 1}`)
    }
    const columns: TemplateColumn[] = metas.slice(0, lastCol + 1).map((m, c) => {
      const col: TemplateColumn = { key: keys[c] }
      if (!m) return col
      if (m.title) col.title = m.title
      if (m.type) col.type = m.type
      if (m.width) col.width = m.width
      if (m.decimals !== undefined) col.decimals = m.decimals
      if (m.currency) col.currency = m.currency
      if (m.options?.length) col.options = [...m.options]
      if (m.help) col.help = m.help
      if (m.validation) col.validation = { ...m.validation }
      // a calculated column's formula, as it reads in row 1
      if (m.formula && sl.rows.ids[0]) col.formula = decodeFormula(columnFormulaFor(m.formula, sl.rows.ids[0], sl.rows.ids).v, ctx)
      if (m.rules?.length) {
        col.rules = m.rules.map(r => ({
          op: r.op, style: r.style,
          ...(r.value !== undefined ? { value: r.value } : {}),
          ...(r.value2 !== undefined ? { value2: r.value2 } : {}),
          ...(r.colId && sl.cols.indexOf(r.colId) >= 0 ? { column: keys[sl.cols.indexOf(r.colId)] ?? `c${sl.cols.indexOf(r.colId) + 1}` } : {}),
          ...(r.rows ? { rows: r.rows } : {}),
        }))
      }
      return col
    })
    const out: TemplateSheet = {
      name: sl.name,
      rows: Math.max(sl.rows.length > MAX_TEMPLATE_ROWS ? MAX_TEMPLATE_ROWS + 50 : sl.rows.length, data.length + (totalsAt >= 0 ? 1 : 0)),
      cols: Math.max(sl.cols.length, columns.length),
      columns,
      data,
    }
    if (totalsAt >= 0) {
      const totals: TemplateCell[] = []
      for (let c = 0; c <= lastCol; c++) totals.push(text(totalsAt, c))
      out.totals = totals
    }
    const key = sheet.get('key')
    if (typeof key === 'string' && key) out.key = key
    // the sheet's charts, their columns named by key (a chart over some rows covers the whole table there)
    const keyOf = (colId: string) => { const i = sl.cols.indexOf(colId); return i >= 0 && i < keys.length ? keys[i] : undefined }
    const charts: TemplateChart[] = []
    for (const { spec } of listCharts(doc, sheetId)) {
      const labels = keyOf(spec.labels), series = spec.series.map(keyOf).filter((k): k is string => !!k)
      if (!labels || !series.length) { notes.push(`"${sl.name}": the chart "${spec.title}" was left out (its columns are empty)`); continue }
      const chart: TemplateChart = { kind: spec.kind, title: spec.title, labels, series }
      const second = spec.secondAxis?.map(keyOf).filter((k): k is string => !!k)
      if (second?.length) chart.secondAxis = second
      const d = spec.deviation
      if (d && keyOf(d.target) && keyOf(d.actual)) chart.deviation = { target: keyOf(d.target)!, actual: keyOf(d.actual)!, ...(d.direction && keyOf(d.direction) ? { direction: keyOf(d.direction)! } : {}) }
      if (spec.from) notes.push(`"${sl.name}": the chart "${spec.title}" covers the whole table in the template`)
      charts.push(chart)
    }
    if (charts.length) out.charts = charts
    const fr = Number(sheet.get('frozenRows')) || 0, fc = Number(sheet.get('frozenCols')) || 0
    if (fr) out.frozenRows = fr
    if (fc) out.frozenCols = fc
    return out
  })
  return {
    template: { schemaVersion: TEMPLATE_SCHEMA_VERSION, id: info.id, title: info.title, description: info.description ?? '', sheets },
    notes,
  }
}
