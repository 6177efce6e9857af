/**
 * Merged cells:
 *
 *   merges   Y.Map   "sheetId/rowId:colId" (the top-left cell) → { r: last rowId, c: last colId }
 *
 * A merge names its corners by id, so rows or columns inserted inside it widen it, as in Excel, and a
 * deleted corner row or column gives way to its surviving neighbour (as formula ranges do). Two
 * people merging overlapping blocks at once: both entries arrive, and the one whose key sorts first
 * wins everywhere (the other is not shown, and goes with the next unmerge there).
 */
import type * as Y from 'yjs'
import { ID_TEXT } from '../access/shape'
import type { WorkbookLayout } from './layout'

export interface MergeEnd { r: string; c: string }
/** a merge in visible positions, as the grid and the export take it */
export interface MergeBox { key: string; row: number; col: number; rowspan: number; colspan: number }

export function mergesOf(doc: Y.Doc): Y.Map<MergeEnd> { return doc.getMap<MergeEnd>('merges') }

export const mergeKey = (sheetId: string, rowId: string, colId: string): string => `${sheetId}/${rowId}:${colId}`

export function parseMergeKey(key: string): { sheetId: string; rowId: string; colId: string } | null {
  const m = /^([^/]+)\/([^:]+):(.+)$/.exec(key)
  if (!m || !ID_TEXT.test(m[1]!) || !ID_TEXT.test(m[2]!) || !ID_TEXT.test(m[3]!)) return null
  return { sheetId: m[1]!, rowId: m[2]!, colId: m[3]! }
}

export const isMergeEnd = (v: unknown): v is MergeEnd =>
  !!v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 2
  && typeof (v as MergeEnd).r === 'string' && ID_TEXT.test((v as MergeEnd).r) && typeof (v as MergeEnd).c === 'string' && ID_TEXT.test((v as MergeEnd).c)

/** The merges of a sheet in visible positions: collapsed ones (a single cell) and overlapping later ones left out. */
export function sheetMerges(doc: Y.Doc, layout: WorkbookLayout, sheetId: string): MergeBox[] {
  const sl = layout.sheet(sheetId)
  if (!sl) return []
  const prefix = `${sheetId}/`
  const boxes: MergeBox[] = []
  const keys = [...mergesOf(doc).keys()].filter(k => k.startsWith(prefix)).sort()
  const taken: MergeBox[] = []
  for (const key of keys) {
    const at = parseMergeKey(key), end = mergesOf(doc).get(key)
    if (!at || !isMergeEnd(end)) continue
    const r1 = sl.rows.resolveEnd(at.rowId, 'start'), c1 = sl.cols.resolveEnd(at.colId, 'start')
    const r2 = sl.rows.resolveEnd(end.r, 'end'), c2 = sl.cols.resolveEnd(end.c, 'end')
    if (r1 === undefined || c1 === undefined || r2 === undefined || c2 === undefined) continue
    if (r1 < 0 || c1 < 0 || r2 >= sl.rows.length || c2 >= sl.cols.length || r2 < r1 || c2 < c1 || (r1 === r2 && c1 === c2)) continue
    const box = { key, row: r1, col: c1, rowspan: r2 - r1 + 1, colspan: c2 - c1 + 1 }
    const overlaps = taken.some(b => box.row < b.row + b.rowspan && b.row < box.row + box.rowspan && box.col < b.col + b.colspan && b.col < box.col + box.colspan)
    if (overlaps) continue
    taken.push(box)
    boxes.push(box)
  }
  return boxes
}

/**
 * Merges the block (visible ids of two corners) into one cell. Merges inside it or overlapping it go
 * (`unmergeAt`); `across`: each row of the block is merged on its own (Excel's "merge across").
 */
export function mergeCells(doc: Y.Doc, layout: WorkbookLayout, sheetId: string, from: { rowId: string; colId: string }, to: { rowId: string; colId: string }, across = false, origin: unknown = null): void {
  const sl = layout.sheet(sheetId)
  if (!sl) return
  const r1 = Math.min(sl.rows.indexOf(from.rowId), sl.rows.indexOf(to.rowId)), r2 = Math.max(sl.rows.indexOf(from.rowId), sl.rows.indexOf(to.rowId))
  const c1 = Math.min(sl.cols.indexOf(from.colId), sl.cols.indexOf(to.colId)), c2 = Math.max(sl.cols.indexOf(from.colId), sl.cols.indexOf(to.colId))
  if (r1 < 0 || c1 < 0 || (r1 === r2 && c1 === c2) || (across && c1 === c2)) return
  const map = mergesOf(doc)
  doc.transact(() => {
    unmergeIn(doc, layout, sheetId, r1, c1, r2, c2)
    if (across) for (let r = r1; r <= r2; r++) map.set(mergeKey(sheetId, sl.rows.ids[r]!, sl.cols.ids[c1]!), { r: sl.rows.ids[r]!, c: sl.cols.ids[c2]! })
    else map.set(mergeKey(sheetId, sl.rows.ids[r1]!, sl.cols.ids[c1]!), { r: sl.rows.ids[r2]!, c: sl.cols.ids[c2]! })
  }, origin)
}

/** Takes off every merge that overlaps the block (visible positions). */
export function unmergeIn(doc: Y.Doc, layout: WorkbookLayout, sheetId: string, r1: number, c1: number, r2: number, c2: number, origin: unknown = null): number {
  const map = mergesOf(doc)
  let n = 0
  doc.transact(() => {
    // every entry of the sheet that overlaps, shown or not (a losing concurrent merge goes too)
    const prefix = `${sheetId}/`
    const sl = layout.sheet(sheetId)
    if (!sl) return
    for (const key of [...map.keys()]) {
      if (!key.startsWith(prefix)) continue
      const at = parseMergeKey(key), end = map.get(key)
      if (!at || !isMergeEnd(end)) { map.delete(key); continue }
      const a = sl.rows.resolveEnd(at.rowId, 'start') ?? -1, b = sl.cols.resolveEnd(at.colId, 'start') ?? -1
      const c = sl.rows.resolveEnd(end.r, 'end') ?? -1, d = sl.cols.resolveEnd(end.c, 'end') ?? -1
      if (a <= r2 && r1 <= c && b <= c2 && c1 <= d) { map.delete(key); n++ }
    }
  }, origin)
  return n
}
