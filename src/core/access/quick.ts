/**
 * The quick check: the verdict of checkChange on an update that only sets or clears cells of existing
 * sheets (what editing does nearly always), read off the doc as it stands, without a copy of the doc to
 * apply it to. Each cell is decided by cellWriteRefusal, as the full check's `cells` checker decides it.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { sheetParts, sheetsOf, type SheetMap } from '../workbook/schema'
import { cellWriteRefusal } from './cells'
import { stillContext } from './context'
import { readAccess, type Principal } from './model'
import type { Refusal } from './refusal'
import { defineRoots } from './shape'

export type DecodedStructs = { structs: Array<Y.Item | Y.GC | { constructor: unknown }>; ds: { clients: Map<number, { clock: number; len: number }[]> } }

/** The sheet whose cells map `type` is, in `doc`'s live sheets, or null. */
function cellsSheetOf(doc: Y.Doc, type: unknown): string | null {
  if (!(type instanceof Y.Map)) return null
  const partItem = type._item
  if (!partItem || partItem.deleted || partItem.parentSub !== 'cells') return null
  const sheet = partItem.parent
  const sheetItem = sheet instanceof Y.Map ? sheet._item : null
  if (!sheetItem || sheetItem.deleted || sheetItem.parent !== sheetsOf(doc) || sheetItem.parentSub === null) return null
  return sheetsOf(doc).get(sheetItem.parentSub) === sheet && (sheet as SheetMap).get('cells') === type ? sheetItem.parentSub : null
}

/** The struct of `doc` at (client, clock), when the doc has it. */
function structAt(doc: Y.Doc, client: number, clock: number): Y.Item | Y.GC | null {
  if (clock >= Y.getState(doc.store, client)) return null
  const structs = doc.store.clients.get(client)!
  return structs[Y.findIndexSS(structs, clock)] as Y.Item | Y.GC
}

/**
 * The verdict of checkChange on an update (decoded, not applied) that only sets or clears cells of
 * existing sheets, what editing does nearly always: read off `doc` as it stands, without a copy of the
 * doc to try it on. `undefined` when the update is anything else, or not plainly so (concurrent with
 * an edit the doc has, building on edits it lacks, repeating some it holds): the full check decides.
 */
export function quickCellCheck(doc: Y.Doc, update: Uint8Array, decoded: DecodedStructs, who: Principal): Refusal | null | undefined {
  if (who.role === 'viewer') return { code: 'read-only' }
  try {
    defineRoots(doc)
    // one group of structs per client: Yjs keeps only the last group a client id has in an update
    // (an empty one too), so the structs decodeUpdate lists would not all be what is applied
    const clients = new Set<number>()
    let last = -1
    for (const s of decoded.structs) {
      const c = s instanceof Y.Item ? s.id.client : -1
      if (c !== last && clients.has(c)) return undefined
      clients.add(c)
      last = c
    }
    if (decoding.readVarUint(decoding.createDecoder(update)) !== clients.size) return undefined
    // sheet → key → the value after the change
    const changes = new Map<string, Map<string, unknown>>()
    /** the entries new items take over (Yjs deletes each as its successor comes in) */
    const replaced = new Set<Y.Item>()
    const next = new Map<number, number>()
    for (const s of decoded.structs) {
      if (!(s instanceof Y.Item) || s.length !== 1 || !(s.content instanceof Y.ContentAny) || s.rightOrigin !== null) return undefined
      const client = s.id.client
      const expected = next.get(client) ?? Y.getState(doc.store, client)
      if (s.id.clock !== expected) return undefined
      next.set(client, expected + 1)
      let map: unknown, key: string | null
      if (s.origin) {
        // an existing entry overwritten: its parent and key are the entry's (the update does not repeat them)
        const left = structAt(doc, s.origin.client, s.origin.clock)
        // (an origin inside a longer item would split it, and the new entry would not end up last)
        if (!(left instanceof Y.Item) || left.parentSub === null || replaced.has(left) || s.origin.clock !== left.id.clock + left.length - 1) return undefined
        map = left.parent
        key = left.parentSub
        if (!(map instanceof Y.Map) || map._map.get(key) !== left) return undefined
        replaced.add(left)
      } else {
        // a new key: the parent is named, and nobody may have written the key meanwhile
        if (!(s.parent instanceof Y.ID) || typeof s.parentSub !== 'string') return undefined
        const parentItem = structAt(doc, s.parent.client, s.parent.clock)
        if (!(parentItem instanceof Y.Item) || !(parentItem.content instanceof Y.ContentType)) return undefined
        map = parentItem.content.type
        key = s.parentSub
        if (!(map instanceof Y.Map) || map._map.has(key)) return undefined
      }
      const sid = cellsSheetOf(doc, map)
      if (sid === null) return undefined
      const keys = changes.get(sid) ?? changes.set(sid, new Map()).get(sid)!
      if (keys.has(key)) return undefined
      keys.set(key, (s.content as Y.ContentAny).arr[0])
    }
    for (const [client, ranges] of decoded.ds.clients) {
      for (const { clock, len } of ranges) {
        if (len <= 0 || clock + len > Y.getState(doc.store, client)) return undefined
        for (let c = clock; c < clock + len;) {
          const item = structAt(doc, client, c)!
          c = item.id.clock + item.length
          if (!(item instanceof Y.Item) || item.deleted) continue
          if (item.parentSub === null || item.id.clock < clock || c > clock + len) return undefined
          const sid = cellsSheetOf(doc, item.parent)
          if (sid === null) return undefined
          // an entry some later one overwrote already: deleting it shows nothing
          if ((item.parent as Y.Map<unknown>)._map.get(item.parentSub) !== item) continue
          // the entry a new item takes over goes with it; any other is a cell cleared
          if (!replaced.has(item)) {
            const keys = changes.get(sid) ?? changes.set(sid, new Map()).get(sid)!
            if (keys.has(item.parentSub)) return undefined
            keys.set(item.parentSub, undefined)
          }
        }
      }
    }
    const view = readAccess(doc)
    const ctx = stillContext(doc)
    for (const [sid, keys] of changes) {
      const cells = sheetParts(sheetsOf(doc).get(sid)!).cells
      for (const [key, value] of keys) {
        const r = cellWriteRefusal(view, doc, who, sid, key, cells.get(key), value, ctx)
        if (r) return r
      }
    }
    return null
  } catch {
    return undefined
  }
}
