/**
 * What a person typed → a cell input, and a cell input → the text shown in the editor.
 * Formulas are encoded to the stored form here, so the grid, the formula bar, templates and imports
 * all share one path.
 */
import type { CellInput, ColumnMeta } from './schema'
import { isDate, isFormula } from './schema'
import { decodeFormula, encodeFormula, type FormulaContext } from '../formulas/references'

const ISO_DATE = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$/
/** 2025年6月18日 (the 日 may be left out) */
const CN_DATE = /^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$/
/** 6月18日: this year */
const CN_MONTH_DAY = /^(\d{1,2})\s*月\s*(\d{1,2})\s*日?$/

/**
 * A typed date → ISO yyyy-mm-dd: 2025-06-18, 2025/6/18, 2025.6.18, 2025年6月18日, and 6月18日 (in
 * `year`, this year by default). Impossible dates (2月30日) are not dates.
 */
export function parseDate(text: string, year = new Date().getFullYear()): string | undefined {
  const t = text.trim()
  const m = ISO_DATE.exec(t) ?? CN_DATE.exec(t)
  const md = m ? null : CN_MONTH_DAY.exec(t)
  if (!m && !md) return undefined
  return isoDate(m ? Number(m[1]) : year, Number((m ?? md)![m ? 2 : 1]), Number((m ?? md)![m ? 3 : 2]))
}

function isoDate(y: number, mo: number, d: number): string | undefined {
  const dt = new Date(Date.UTC(y, mo - 1, d))
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return undefined
  return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`
}

/** In a date column, also what Excel takes there: a date serial (45826) and month/day (6/18, this year). */
function dateInColumn(text: string): string | undefined {
  const t = text.trim()
  if (/^\d{1,7}$/.test(t)) {
    const n = Number(t)
    return n >= 1 && n <= 2_958_465 ? serialToDate(n) : undefined
  }
  const md = /^(\d{1,2})[/-](\d{1,2})$/.exec(t)
  return md ? isoDate(new Date().getFullYear(), Number(md[1]), Number(md[2])) : parseDate(t)
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
  if (type === 'date') {
    const d = dateInColumn(text)
    if (d) return { t: 'd', v: d }
  }
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
