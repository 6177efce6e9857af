/**
 * Display text of computed values by column type: what the grid shows, and what CSV/print export use.
 */
import type { ColumnMeta } from './workbook/schema'
import type { CellValue } from './formulas/engine'
import { serialToDate } from './workbook/input'

const groupers = new Map<string, Intl.NumberFormat>()
function fixed(n: number, decimals: number, grouping: boolean): string {
  const key = `${decimals}:${grouping}`
  let f = groupers.get(key)
  if (!f) {
    f = new Intl.NumberFormat('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals, useGrouping: grouping })
    groupers.set(key, f)
  }
  return f.format(n)
}

/** Excel's "General": up to 10 significant decimals, no grouping, no float noise (0.1+0.2 → 0.3). */
export function generalNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  if (Number.isInteger(n)) return String(n)
  return String(Number(n.toPrecision(12)))
}

export function formatValue(value: CellValue, column?: ColumnMeta): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'object') return value.error
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE'
  if (typeof value === 'string') return value
  switch (column?.type) {
    case 'percent': return `${fixed(value * 100, column.decimals ?? 2, false)}%`
    case 'currency': {
      const s = fixed(Math.abs(value), column.decimals ?? 2, true)
      return `${value < 0 ? '-' : ''}${column.currency ?? '¥'}${s}`
    }
    case 'date': return Number.isFinite(value) && value > 0 && value < 2958466 ? serialToDate(value) : generalNumber(value)
    case 'number': return column.decimals !== undefined ? fixed(value, column.decimals, true) : generalNumber(value)
    default: return generalNumber(value)
  }
}
