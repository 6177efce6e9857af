/**
 * What a CSV field is: numbers with thousands separators, percentages, ¥ amounts, dates (2025-06-18,
 * 2025/6/18, 2025年6月18日), 万/亿 amounts (scaled: 3.2万 → 32000), text. Codes that only look like
 * numbers stay text: leading zeros (SKU 00123) and more than 15 digits (order numbers a double would
 * round). Text starting with "=" is a formula only when the person asks (formula injection).
 * A column's type is its cells' majority; cells that do not fit it stay text and are counted.
 */
import { parseDate, parseNumber } from '../workbook/input'
import type { CellInput, ColumnMeta, ColumnType } from '../workbook/schema'

export type FieldKind = 'empty' | 'number' | 'percent' | 'currency' | 'wan' | 'date' | 'text' | 'formula' | 'code'

export interface Field {
  kind: FieldKind
  /** the value for the kinds that are numbers or dates */
  value?: number | string
  decimals?: number
  grouped?: boolean
  symbol?: string
}

const NUM = '[-+]?(?:\\d{1,3}(?:,\\d{3})+|\\d+)(?:\\.\\d+)?'
const WAN = new RegExp(`^(${NUM})\\s*(万|亿)\\s*(元)?$`)
const YUAN = new RegExp(`^(${NUM})\\s*元$`)
const CODE = /^[-+]?0\d+$|^\d{16,}$/
const decimalsOf = (t: string) => { const m = /\.(\d+)/.exec(t); return m ? m[1]!.length : 0 }

export function readField(raw: string): Field {
  const t = raw.trim()
  if (!t) return { kind: 'empty' }
  if (t.startsWith('=')) return { kind: 'formula' }
  if (CODE.test(t)) return { kind: 'code' }
  const w = WAN.exec(t)
  if (w) {
    const n = Number(w[1]!.replace(/,/g, ''))
    return { kind: 'wan', value: Number((n * (w[2] === '亿' ? 1e8 : 1e4)).toPrecision(15)) }
  }
  const y = YUAN.exec(t)
  if (y) return { kind: 'currency', value: Number(y[1]!.replace(/,/g, '')), decimals: decimalsOf(y[1]!), symbol: '¥' }
  const n = parseNumber(t)
  if (n !== undefined) {
    const sym = /[¥￥$€£]/.exec(t)?.[0]
    if (t.endsWith('%')) return { kind: 'percent', value: n, decimals: decimalsOf(t) }
    if (sym) return { kind: 'currency', value: n, decimals: decimalsOf(t), symbol: sym === '￥' ? '¥' : sym }
    return { kind: 'number', value: n, decimals: decimalsOf(t), grouped: t.includes(',') }
  }
  const d = parseDate(t)
  if (d) return { kind: 'date', value: d }
  return { kind: 'text' }
}

export interface ColumnGuess {
  type: ColumnType
  decimals?: number
  currency?: string
  /** how many non-empty cells the guess saw, and how many of them fit */
  seen: number
  fit: number
}

const NUMERIC: readonly FieldKind[] = ['number', 'percent', 'currency', 'wan']

/** The type most of a column's non-empty fields have (numbers: 80 % of them; dates likewise). */
export function guessColumn(fields: readonly string[]): ColumnGuess {
  const counts = new Map<FieldKind, number>()
  let seen = 0, decimals = 0, grouped = false
  let symbol: string | undefined
  for (const raw of fields) {
    const f = readField(raw)
    if (f.kind === 'empty') continue
    seen++
    counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1)
    if (NUMERIC.includes(f.kind)) {
      decimals = Math.max(decimals, f.decimals ?? 0)
      if (f.grouped) grouped = true
      if (f.kind === 'currency') symbol ??= f.symbol
    }
  }
  const of = (k: FieldKind) => counts.get(k) ?? 0
  const numeric = NUMERIC.reduce((n, k) => n + of(k), 0)
  if (seen && numeric >= seen * 0.8) {
    const d = Math.min(decimals, 6)
    if (of('percent') >= of('currency') && of('percent') > of('number') + of('wan')) return { type: 'percent', decimals: d, seen, fit: numeric }
    if (of('currency') > of('number') + of('wan')) return { type: 'currency', decimals: d, currency: symbol ?? '¥', seen, fit: numeric }
    return { type: 'number', ...(grouped ? { decimals: d } : {}), seen, fit: numeric }
  }
  if (seen && of('date') >= seen * 0.8) return { type: 'date', seen, fit: of('date') }
  return { type: 'text', seen, fit: seen }
}

export const columnMetaOf = (g: ColumnGuess): Partial<ColumnMeta> =>
  g.type === 'text' ? {} : { type: g.type, ...(g.decimals !== undefined ? { decimals: g.decimals } : {}), ...(g.currency ? { currency: g.currency } : {}) }

/** What the coercions did, counted over the cells written. */
export interface Coerced {
  numbers: number
  percents: number
  currency: number
  dates: number
  /** 万/亿 amounts written as the scaled number */
  wan: number
  /** text starting with "=" kept as text */
  formulasAsText: number
  /** written as formulas (the person asked) */
  formulas: number
  /** numbers-looking codes kept as text (leading zeros, more than 15 digits) */
  codes: number
  /** cells that did not fit their column's type, kept as text */
  keptText: number
}
export const noCoercions = (): Coerced => ({ numbers: 0, percents: 0, currency: 0, dates: 0, wan: 0, formulasAsText: 0, formulas: 0, codes: 0, keptText: 0 })

/**
 * A field → what to store in a column of `type`; `formula` makes "=…" text a formula (its encoding is
 * the caller's: it gets the text back with `{ t: 'f' }` and encodes it). Text columns keep text as it is.
 */
export function coerceField(raw: string, type: ColumnType | undefined, formulas: boolean, counts: Coerced): CellInput | { formulaText: string } | null {
  if (raw === '') return null
  const f = readField(raw)
  if (f.kind === 'empty') return raw.length ? raw : null
  if (f.kind === 'formula') {
    if (formulas && raw.trim().length > 1) { counts.formulas++; return { formulaText: raw.trim() } }
    counts.formulasAsText++
    return raw
  }
  if (!type || type === 'text' || type === 'select' || type === 'person') return raw
  if (f.kind === 'code') { counts.codes++; return raw }
  if (type === 'date') {
    if (f.kind === 'date') { counts.dates++; return { t: 'd', v: f.value as string } }
    counts.keptText++
    return raw
  }
  if (!NUMERIC.includes(f.kind)) { counts.keptText++; return raw }
  const v = f.value as number
  if (f.kind === 'wan') counts.wan++
  else if (f.kind === 'percent') counts.percents++
  else if (f.kind === 'currency') counts.currency++
  else counts.numbers++
  return v
}
