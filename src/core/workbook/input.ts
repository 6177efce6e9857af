/**
 * What a person typed → a cell input, and a cell input → the text shown in the editor.
 * Formulas are encoded to the stored form here, so the grid, the formula bar, templates and imports
 * all share one path.
 */
import type { CellInput, ColumnMeta } from './schema'
import { isDate, isFormula } from './schema'
import { decodeFormula, encodeFormula, type FormulaContext } from '../formulas/references'

const ISO_DATE = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$/

export function parseDate(text: string): string | undefined {
  const m = ISO_DATE.exec(text.trim())
  if (!m) return undefined
  const y = Number(m[1]), mo = Number(m[2]), d = Number(m[3])
  const dt = new Date(Date.UTC(y, mo - 1, d))
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return undefined
  return `${m[1]}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`
}

/** Parses a typed number: "1,234.5", "-3", "12%", "¥1,200", "$5", "1e3". */
export function parseNumber(text: string): number | undefined {
  let t = text.trim()
  if (!t) return undefined
  let scale = 1
  if (t.endsWith('%')) { scale = 0.01; t = t.slice(0, -1).trim() }
  t = t.replace(/^([-+]?)\s*[¥￥$€£]\s*/, '$1')
  if (/^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][-+]?\d+)?$/.test(t) && /\d/.test(t)) {
    const n = Number(t.replace(/,/g, ''))
    if (Number.isFinite(n)) return scale === 1 ? n : Number((n * scale).toPrecision(15))
  }
  return undefined
}

/**
 * Text typed into a cell → the input to store. Empty text clears (null). A leading apostrophe forces
 * text, as in Excel. In a percent column, a plain "15" means 15 %.
 */
export function inputFromText(text: string, ctx: FormulaContext, column?: ColumnMeta): CellInput | null {
  if (text === '') return null
  if (text.startsWith("'")) return text.slice(1)
  if (text.startsWith('=') && text.length > 1) return { t: 'f', v: encodeFormula(text, ctx) }
  const type = column?.type
  if (type === 'text' || type === 'select' || type === 'person') return text
  const n = parseNumber(text)
  if (n !== undefined) {
    if (type === 'percent' && !text.trim().endsWith('%')) return Number((n / 100).toPrecision(15))
    return n
  }
  const up = text.trim().toUpperCase()
  if (up === 'TRUE') return true
  if (up === 'FALSE') return false
  const d = parseDate(text)
  if (d) return { t: 'd', v: d }
  return text
}

/** The text a person edits for a stored input (formulas as A1). */
export function textForInput(input: CellInput | undefined | null, ctx: FormulaContext, column?: ColumnMeta): string {
  if (input === undefined || input === null) return ''
  if (isFormula(input)) return decodeFormula(input.v, ctx)
  if (isDate(input)) return input.v
  if (typeof input === 'boolean') return input ? 'TRUE' : 'FALSE'
  if (typeof input === 'number') {
    if (column?.type === 'percent') return `${Number((input * 100).toPrecision(15))}%`
    return String(input)
  }
  // text that would otherwise be read as a number/formula/date keeps Excel's apostrophe
  if (input.startsWith('=') || input.startsWith("'") || (!column?.type || column.type === 'number' || column.type === 'percent' || column.type === 'currency' || column.type === 'date')
    && (parseNumber(input) !== undefined || parseDate(input) !== undefined || /^(TRUE|FALSE)$/i.test(input.trim()))) return `'${input}`
  return input
}

/** Days since 1899-12-30, the serial Excel and HyperFormula use for dates. */
export function dateToSerial(iso: string): number {
  const [y, m, d] = iso.split('-').map(Number)
  return Math.round((Date.UTC(y!, m! - 1, d!) - Date.UTC(1899, 11, 30)) / 86400000)
}

export function serialToDate(serial: number): string {
  const ms = Date.UTC(1899, 11, 30) + Math.round(serial) * 86400000
  const dt = new Date(ms)
  return `${dt.getUTCFullYear()}-${String(dt.getUTCMonth() + 1).padStart(2, '0')}-${String(dt.getUTCDate()).padStart(2, '0')}`
}
