/**
 * Colour scales and data bars of a column (pure; the grid, the review pack and the exports use it).
 * The scale's ends are the lowest and highest number among the column's data rows, as Excel's default
 * "lowest value / highest value" scale; text, empty cells and errors get nothing.
 */
import { isHexColor, type ColumnScale } from './schema'

export interface Extent { min: number; max: number }

/** The lowest and highest number of `values`, or null when there is none. */
export function extentOf(values: Iterable<unknown>): Extent | null {
  let min = Infinity, max = -Infinity
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue
    if (v < min) min = v
    if (v > max) max = v
  }
  return min === Infinity ? null : { min, max }
}

/** A column's scale if it is well formed (metadata comes from any co-editor's client: junk is ignored). */
export function validScale(s: unknown): ColumnScale | undefined {
  if (!s || typeof s !== 'object') return undefined
  const o = s as Record<string, unknown>
  if (o.kind === 'bar') return isHexColor(o.color) ? { kind: 'bar', color: o.color } : undefined
  if (o.kind === 'scale' && isHexColor(o.min) && isHexColor(o.max)) {
    return { kind: 'scale', min: o.min, max: o.max, ...(isHexColor(o.mid) ? { mid: o.mid } : {}) }
  }
  return undefined
}

const rgb = (hex: string): [number, number, number] => [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number]
const hex2 = (n: number): string => Math.round(n).toString(16).padStart(2, '0')

/** The colour between `a` (t = 0) and `b` (t = 1). */
export function blend(a: string, b: string, t: number): string {
  const x = rgb(a), y = rgb(b)
  return `#${x.map((v, i) => hex2(v + (y[i]! - v) * t)).join('')}`
}

/** Where `v` lies from the extent's lowest (0) to its highest (1); 1 when all numbers are equal (Excel fills them). */
export function position(v: number, e: Extent): number {
  if (e.max === e.min) return 1
  return Math.min(1, Math.max(0, (v - e.min) / (e.max - e.min)))
}

export type ScaleLook = { bg: string } | { bar: string; pct: number }

/** How a number looks under the scale, given the column's extent. */
export function scaleLook(scale: ColumnScale, v: unknown, e: Extent | null): ScaleLook | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v) || !e) return undefined
  const t = position(v, e)
  if (scale.kind === 'bar') return { bar: scale.color, pct: Math.round(t * 100) }
  if (scale.mid) return { bg: t < 0.5 ? blend(scale.min, scale.mid, t * 2) : blend(scale.mid, scale.max, (t - 0.5) * 2) }
  return { bg: blend(scale.min, scale.max, t) }
}

/** The scales offered in the rules dialog (Excel's usual ones). */
export const SCALE_PRESETS: readonly ColumnScale[] = [
  { kind: 'scale', min: '#f8696b', mid: '#ffeb84', max: '#63be7b' },
  { kind: 'scale', min: '#63be7b', mid: '#ffeb84', max: '#f8696b' },
  { kind: 'scale', min: '#ffffff', max: '#63be7b' },
  { kind: 'bar', color: '#638ec6' },
  { kind: 'bar', color: '#63be7b' },
]
