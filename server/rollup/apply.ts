/**
 * Writing the combined rows into the roll-up sheet as the smallest change: rows keep their ids (so
 * formulas and charts that name them keep working), a row no longer there becomes a tombstone (ranges
 * over it shrink as for a deleted row), one that comes back is brought back, the order is mended by
 * moving only the rows out of place, and only cells whose value changed are written. A pass that finds
 * nothing to change writes nothing (no update, no history).
 */
import type * as Y from 'yjs'
import { cellKey, sheetParts, sheetsOf, visibleIds, type CellInput } from '../../src/core/workbook/schema'
import { columnFormulaFor } from '../../src/core/workbook/table'
import { sameInput } from '../../src/core/access/shape'
import type { OutRow } from './combine'

export interface ApplyStats { inserted: number; removed: number; moved: number; cells: number }

export function applyRows(doc: Y.Doc, sheetId: string, rows: readonly OutRow[], formulas: Record<string, string>, origin: unknown): ApplyStats {
  const stats: ApplyStats = { inserted: 0, removed: 0, moved: 0, cells: 0 }
  const sheet = sheetsOf(doc).get(sheetId)
  if (!sheet) return stats
  const p = sheetParts(sheet)
  const want = rows.map(r => r.id)
  const wanted = new Set(want)
  doc.transact(() => {
    // 1. rows no longer wanted: tombstones, their cells cleared
    const visible = visibleIds(p.rows, p.rowsGone)
    visible.forEach((id, i) => {
      if (wanted.has(id)) return
      p.rowsGone.set(id, { prev: visible[i - 1] ?? null, next: visible[i + 1] ?? null })
      p.cells.forEach((_v, k) => { if (k.startsWith(id + ':')) p.cells.delete(k) })
      stats.removed++
    })
    // 2. rows wanted again
    for (const id of want) if (p.rowsGone.has(id)) p.rowsGone.delete(id)
    // 3. the order: the rows already in the wanted order stay; the others (new, or out of place) go in
    //    in runs, each right after the wanted row before it
    const wantAt = new Map(want.map((id, i) => [id, i]))
    const kept = new Set<string>()
    let last = -1
    for (const id of visibleIds(p.rows, p.rowsGone)) {
      const at = wantAt.get(id)!
      if (at > last) { kept.add(id); last = at }
    }
    const all = p.rows.toArray()
    const out: number[] = []
    all.forEach((id, i) => { if (wanted.has(id) && !kept.has(id)) out.push(i) })
    for (let i = out.length - 1; i >= 0; i--) { p.rows.delete(out[i]!, 1); stats.moved++ }
    const known = new Set(all)
    for (let i = 0; i < want.length;) {
      if (kept.has(want[i]!)) { i++; continue }
      let j = i
      while (j < want.length && !kept.has(want[j]!)) j++
      const run = want.slice(i, j)
      for (const id of run) if (!known.has(id)) stats.inserted++
      const prev = want[i - 1]
      p.rows.insert(prev === undefined ? 0 : p.rows.toArray().indexOf(prev) + 1, run)
      i = j
    }
    // 4. the cells that changed
    const order = visibleIds(p.rows, p.rowsGone)
    for (const r of rows) {
      for (const [colId, value] of r.cells) set(p.cells, cellKey(r.id, colId), value, stats)
      for (const [colId, f] of Object.entries(formulas)) set(p.cells, cellKey(r.id, colId), columnFormulaFor(f, r.id, order), stats)
    }
  }, origin)
  return stats
}

function set(cells: Y.Map<CellInput>, key: string, value: CellInput | null, stats: ApplyStats): void {
  const had = cells.get(key)
  if (value === null || value === '') { if (had !== undefined) { cells.delete(key); stats.cells++ } return }
  if (had !== undefined && sameInput(had, value)) return
  cells.set(key, value)
  stats.cells++
}
