/**
 * What the fill handle writes, as Excel does: formulas copied with their relative references shifted
 * by how far each copy moves; series continued — numbers (two or more: their step), dates (by day, or
 * the step of two), text ending in or holding a number ("第1周", "SKU-009", "Q1": the last number counts
 * on, zeros kept) — in the direction of the drag, backwards when dragged up or left; anything else
 * repeated. Works on edit texts (what the grid holds: formulas as A1 text), one line of the source at
 * a time (a column when dragging down or up, a row when dragging right or left).
 */
import { shiftA1Formula } from '../formulas/references'

export type FillDirection = 'up' | 'down' | 'left' | 'right'

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const COUNTED = /^(.*?)(\d+)(\D*)$/

const DAY = 86_400_000
const toDay = (t: string): number | undefined => {
  const m = ISO_DATE.exec(t)
  if (!m) return undefined
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!)
  return Number.isNaN(ms) ? undefined : ms / DAY
}
const fromDay = (d: number): string => new Date(d * DAY).toISOString().slice(0, 10)
const tidy = (n: number): string => String(Math.round(n * 1e10) / 1e10)

/** The value at place `i` along a line of source texts (0 … length-1 are the source itself), and the shift a formula there gets. */
function continueLine(line: readonly string[], i: number): { text: string; shift: number } {
  const n = line.length
  const j = ((i % n) + n) % n
  const text = line[j] ?? ''
  if (text.startsWith('=')) return { text, shift: i - j }
  if (line.every(t => NUMBER.test(t.trim())) && n >= 2) {
    const a = Number(line[0]), b = Number(line[n - 1])
    return { text: tidy(a + ((b - a) / (n - 1)) * i), shift: 0 }
  }
  const days = line.map(toDay)
  if (days.every(d => d !== undefined)) {
    const step = n >= 2 ? (days[n - 1]! - days[0]!) / (n - 1) : 1
    if (Number.isInteger(step)) return { text: fromDay(days[0]! + step * i), shift: 0 }
  }
  const parts = line.map(t => COUNTED.exec(t))
  if (parts.every(p => p && !NUMBER.test(line[0]!.trim())) && parts.every(p => p![1] === parts[0]![1] && p![3] === parts[0]![3])) {
    const first = Number(parts[0]![2]), last = Number(parts[n - 1]![2])
    const step = n >= 2 ? (last - first) / (n - 1) : 1
    if (Number.isInteger(step)) {
      const v = first + step * i
      if (v >= 0) {
        const width = parts[0]![2]!.length
        const digits = String(v)
        const padded = parts[0]![2]!.startsWith('0') && digits.length < width ? digits.padStart(width, '0') : digits
        return { text: parts[0]![1] + padded + parts[0]![3], shift: 0 }
      }
    }
  }
  return { text, shift: 0 }
}

/**
 * The texts for a fill target of `count` lines (rows when dragging up/down, columns when left/right)
 * next to `source` (rows × columns of edit texts), in the target's own top-to-bottom, left-to-right order.
 */
export function fillTexts(source: readonly (readonly string[])[], direction: FillDirection, count: number): string[][] {
  const h = source.length, w = source[0]?.length ?? 0
  const vertical = direction === 'up' || direction === 'down'
  // place along the drag of the target's k-th line (in screen order)
  const place = (k: number) => (direction === 'down' ? h + k : direction === 'right' ? w + k : k - count)
  if (vertical) {
    return Array.from({ length: count }, (_v, k) => Array.from({ length: w }, (_u, c) => {
      const { text, shift } = continueLine(source.map(row => row[c] ?? ''), place(k))
      return shift ? shiftA1Formula(text, shift, 0) : text
    }))
  }
  return Array.from({ length: h }, (_v, r) => Array.from({ length: count }, (_u, k) => {
    const { text, shift } = continueLine(source[r] ?? [], place(k))
    return shift ? shiftA1Formula(text, 0, shift) : text
  }))
}
