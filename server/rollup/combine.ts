/**
 * Combining the sources' contributions into the roll-up sheet's rows (pure; test/unit/rollup.test.ts).
 *
 * stack: one block per available source, in the sources' order, each row as the source has it and the
 * source's title in the source column. A row's id is derived from the source workbook and the source
 * row's id, so it stays the same row while the source edits, inserts or sorts around it.
 * aggregate: one row per key value (first appearance first; rows without a key are left out), its id
 * derived from the key. Measures combine the numbers of the rows with that key (sum, avg, min, max,
 * count of non-empty values, wavg: Σ value·weight / Σ weight); a calculated column of the template is
 * computed again on the combined row; every other column takes the first non-empty value.
 */
import { createHash } from 'node:crypto'
import type { CellInput } from '../../src/core/workbook/schema'
import type { PlanMeasure } from '../../src/core/rollup/plan'
import type { SourceRow } from './read'

export interface Block { workbookId: string; title: string; rows: SourceRow[] }

/** A row of the roll-up sheet: its id and a value per column id (null: empty). */
export interface OutRow { id: string; cells: Map<string, CellInput | null> }

/** A row id of [a-z0-9] (what formula references allow), the same for the same `seed`. */
export function derivedRowId(seed: string): string {
  return 'r' + createHash('sha256').update(seed).digest('hex').slice(0, 16)
}

/** `cols`: the roll-up sheet's columns read from the sources, in the order of the rows' values. */
export function stackRows(blocks: readonly Block[], cols: readonly string[], sourceCol: string | null): OutRow[] {
  const out: OutRow[] = []
  for (const b of blocks) {
    for (const r of b.rows) {
      const cells = new Map<string, CellInput | null>()
      if (sourceCol) cells.set(sourceCol, b.title || b.workbookId)
      cols.forEach((c, i) => cells.set(c, r.values[i] ?? null))
      out.push({ id: derivedRowId(`${b.workbookId}:${r.id}`), cells })
    }
  }
  return out
}

const keyText = (v: CellInput | null): string => {
  if (v === null) return ''
  if (typeof v === 'object') return v.v.trim()
  return String(v).trim()
}

const num = (v: CellInput | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** One measure over the rows of a group. */
export function measure(fn: PlanMeasure['fn'], values: readonly (CellInput | null)[], weights: readonly (CellInput | null)[] = []): number | null {
  if (fn === 'count') return values.filter(v => v !== null && v !== '').length
  if (fn === 'wavg') {
    let s = 0, w = 0
    values.forEach((v, i) => { const x = num(v), y = num(weights[i]); if (x !== null && y !== null) { s += x * y; w += y } })
    return w === 0 ? null : s / w
  }
  const nums = values.map(num).filter((x): x is number => x !== null)
  if (!nums.length) return fn === 'sum' ? 0 : null
  if (fn === 'sum') return nums.reduce((a, b) => a + b, 0)
  if (fn === 'avg') return nums.reduce((a, b) => a + b, 0) / nums.length
  if (fn === 'min') return Math.min(...nums)
  return Math.max(...nums)
}

/**
 * `cols` as for stackRows; `formulaCols` are left out of the cells (the writer puts the template's
 * formula there for each row).
 */
export function aggregateRows(blocks: readonly Block[], cols: readonly string[], keyCol: string, measures: readonly PlanMeasure[], formulaCols: ReadonlySet<string> = new Set()): OutRow[] {
  const k = cols.indexOf(keyCol)
  if (k < 0) return []
  const groups = new Map<string, { first: CellInput; rows: SourceRow[] }>()
  for (const b of blocks) {
    for (const r of b.rows) {
      const key = keyText(r.values[k] ?? null)
      if (!key) continue
      let g = groups.get(key)
      if (!g) groups.set(key, g = { first: r.values[k]!, rows: [] })
      g.rows.push(r)
    }
  }
  const byCol = new Map(measures.map(m => [m.col, m]))
  const out: OutRow[] = []
  for (const [key, g] of groups) {
    const cells = new Map<string, CellInput | null>()
    cols.forEach((c, i) => {
      if (i === k) { cells.set(c, g.first); return }
      const m = byCol.get(c)
      if (m) {
        const w = m.weight ? cols.indexOf(m.weight) : -1
        cells.set(c, measure(m.fn, g.rows.map(r => r.values[i] ?? null), w < 0 ? [] : g.rows.map(r => r.values[w] ?? null)))
        return
      }
      if (formulaCols.has(c)) return
      cells.set(c, g.rows.map(r => r.values[i] ?? null).find(v => v !== null && v !== '') ?? null)
    })
    out.push({ id: derivedRowId(`key:${key}`), cells })
  }
  return out
}
