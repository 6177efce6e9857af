/**
 * One sheet → CSV for Excel: UTF-8 with a BOM (so Excel shows Chinese), CRLF, the header row of column
 * titles when the sheet has any, computed values. Numbers stay numbers (-5 is -5, percent columns as
 * "60.00%", which spreadsheets read as 0.6), dates as yyyy-mm-dd. Text that a spreadsheet would run as
 * a formula (starting with = + - @, a tab or a carriage return) is neutralised with a leading
 * apostrophe (OWASP's advice on CSV injection).
 */
import type * as Y from 'yjs'
import type { BaselineSource } from '../../src/core/formulas/baseline'
import { FormulaEngine, type CellValue } from '../../src/core/formulas/engine'
import { cellKey, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { formatValue } from '../../src/core/format'

export class SheetNotFound extends Error {
  constructor(ref: string, readonly available: string[]) { super(`no sheet ${JSON.stringify(ref)}; sheets: ${available.join(', ')}`); this.name = 'SheetNotFound' }
}

/** Neutralises text a spreadsheet would read as a formula. */
export function safeText(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
}

function field(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

function cellText(v: CellValue, meta: ColumnMeta | undefined): string {
  if (v === null || v === undefined) return ''
  if (typeof v === 'number') {
    if (meta?.type === 'percent' || meta?.type === 'date') return formatValue(v, meta)
    return Number.isFinite(v) ? String(Number(v.toPrecision(15))) : ''
  }
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE'
  if (typeof v === 'object') return v.error
  return safeText(v)
}

/** The sheet named `ref` (ignoring case), or at index `ref` counting from 0. */
export function findSheet(doc: Y.Doc, engine: FormulaEngine, ref: string): string {
  const order = engine.layout.order
  const names = order.map(id => engine.layout.sheet(id)!.name)
  const byName = order.find((_id, i) => names[i]!.toLowerCase() === ref.trim().toLowerCase())
  if (byName) return byName
  if (/^\d+$/.test(ref.trim()) && Number(ref) < order.length) return order[Number(ref)]!
  void doc
  throw new SheetNotFound(ref, names)
}

export function exportCsv(doc: Y.Doc, sheetRef = '0', baselines?: BaselineSource): { text: string; sheetName: string } {
  const engine = new FormulaEngine(doc)
  if (baselines) engine.setBaselines(baselines)
  try {
    const sheetId = findSheet(doc, engine, sheetRef)
    const sl = engine.layout.sheet(sheetId)!
    const parts = sheetParts(sheetsOf(doc).get(sheetId)!)
    const metas = sl.cols.ids.map(c => parts.colMeta.get(c) as ColumnMeta | undefined)
    let lastRow = -1, lastCol = -1
    sl.rows.ids.forEach((rowId, r) => sl.cols.ids.forEach((colId, c) => {
      if (parts.cells.has(cellKey(rowId, colId))) { if (r > lastRow) lastRow = r; if (c > lastCol) lastCol = c }
    }))
    const lines: string[] = []
    if (metas.some(m => m?.title)) {
      lastCol = Math.max(lastCol, metas.reduce((n, m, i) => (m?.title ? i : n), -1))
      lines.push(metas.slice(0, lastCol + 1).map(m => field(safeText(m?.title ?? ''))).join(','))
    }
    for (let r = 0; r <= lastRow; r++) {
      const row: string[] = []
      for (let c = 0; c <= lastCol; c++) row.push(field(cellText(engine.getValue(sheetId, r, c), metas[c])))
      lines.push(row.join(','))
    }
    return { text: '\uFEFF' + lines.join('\r\n') + (lines.length ? '\r\n' : ''), sheetName: sl.name }
  } finally {
    engine.destroy()
  }
}
