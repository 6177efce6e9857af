/**
 * Hidden rows and columns, shared by everyone (a person's own view of rows is the filter's business):
 *
 *   hidden   Y.Map   "sheetId/r/rowId" | "sheetId/c/colId" → true
 *
 * By id, so a hidden row stays hidden when rows are inserted above it or the sheet is sorted. A root
 * map, for the reason formats are one (styles.ts): a part added to an existing sheet by two people at
 * once would lose one of them.
 */
import type * as Y from 'yjs'
import { ID_TEXT } from '../access/shape'

export type HiddenAxis = 'rows' | 'cols'

export function hiddenOf(doc: Y.Doc): Y.Map<unknown> { return doc.getMap('hidden') }

const letter = (axis: HiddenAxis) => (axis === 'rows' ? 'r' : 'c')
export const hiddenKey = (sheetId: string, axis: HiddenAxis, id: string): string => `${sheetId}/${letter(axis)}/${id}`

/** A key of the hidden map read back, or null when it is not one. */
export function parseHiddenKey(key: string): { sheetId: string; axis: HiddenAxis; id: string } | null {
  const m = /^([^/]+)\/([rc])\/([^/]+)$/.exec(key)
  if (!m || !ID_TEXT.test(m[1]!) || !ID_TEXT.test(m[3]!)) return null
  return { sheetId: m[1]!, axis: m[2] === 'r' ? 'rows' : 'cols', id: m[3]! }
}

/** The hidden ids of one axis of a sheet. */
export function hiddenIds(doc: Y.Doc, sheetId: string, axis: HiddenAxis): Set<string> {
  const out = new Set<string>()
  const prefix = `${sheetId}/${letter(axis)}/`
  hiddenOf(doc).forEach((v, key) => { if (v === true && key.startsWith(prefix)) out.add(key.slice(prefix.length)) })
  return out
}

/** Hides (or shows again) rows or columns, in one transaction. */
export function setHidden(doc: Y.Doc, sheetId: string, axis: HiddenAxis, ids: readonly string[], hidden: boolean, origin: unknown = null): void {
  const map = hiddenOf(doc)
  doc.transact(() => {
    for (const id of ids) {
      const key = hiddenKey(sheetId, axis, id)
      if (hidden) { if (map.get(key) !== true) map.set(key, true) }
      else if (map.has(key)) map.delete(key)
    }
  }, origin)
}
