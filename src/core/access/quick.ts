/**
 * The quick check: the verdict of checkChange on an update that only sets or clears cells of existing
 * sheets (what editing does nearly always), read off the doc as it stands, without a copy of the doc to
 * apply it to. Each cell is decided by cellWriteRefusal, as the full check's `cells` checker decides it.
 *
 * Also an update that puts the rows (or columns) of one sheet in another order, with cells set or
 * cleared (a sort: its ids taken out of the order and inserted again, formulas rewritten to keep their
 * positions): the order after it is worked out from the doc (when the insert lands plainly between
 * its neighbours) and the full check's own checkers judge it on that order (judgeChange), without the
 * copy of the doc the full check needs, which takes most of a second to make for 10,000 rows.
 */
import * as Y from 'yjs'
import * as decoding from 'lib0/decoding'
import { sheetParts, sheetsOf, type SheetMap } from '../workbook/schema'
import { cellWriteRefusal } from './cells'
import { judgeChange, type Place } from './checkChange'
import { ChangeContext, stillContext, type Axis } from './context'
import { readAccess, type AccessView, type Principal } from './model'
import { roleRefusal } from './rules'
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

/** The sheet whose row or column order `type` is, in `doc`'s live sheets, with the axis; or null. */
function orderSheetOf(doc: Y.Doc, type: unknown): { sheet: string; axis: Axis } | null {
  if (!(type instanceof Y.Array)) return null
  const partItem = type._item
  const axis = partItem?.parentSub
  if (!partItem || partItem.deleted || (axis !== 'rows' && axis !== 'cols')) return null
  const sheet = partItem.parent
  const sheetItem = sheet instanceof Y.Map ? sheet._item : null
  if (!sheetItem || sheetItem.deleted || sheetItem.parent !== sheetsOf(doc) || sheetItem.parentSub === null) return null
  return sheetsOf(doc).get(sheetItem.parentSub) === sheet && (sheet as SheetMap).get(axis) === type ? { sheet: sheetItem.parentSub, axis } : null
}

/** The ids of a row or column order inserted by the update: where they go, and the elements it deletes there. */
interface OrderMove {
  sheet: string
  axis: Axis
  type: Y.Array<string>
  item: Y.Item
  /** "client:clock" of each element of the order the update deletes */
  deleted: Set<string>
}

/**
 * The order after `move`: the doc's elements without those deleted, with the inserted ids between
 * their origin and right origin. Undefined unless they were neighbours (else Yjs would have to place
 * the insert among others made meanwhile).
 */
function orderAfter(move: OrderMove): string[] | undefined {
  const { item, deleted } = move
  const ins = (item.content as Y.ContentAny).arr as unknown[]
  if (!ins.every(x => typeof x === 'string')) return undefined
  const origin = item.origin, right = item.rightOrigin
  const out: string[] = []
  let placed = false
  let expectRight = false
  const put = () => { out.push(...(ins as string[])); placed = true; expectRight = true }
  if (origin === null) put()
  for (let it = move.type._start; it !== null; it = it.right) {
    if (!(it.content instanceof Y.ContentAny) && !it.deleted) return undefined
    const values = it.deleted ? null : (it.content as Y.ContentAny).arr
    for (let k = 0; k < it.length; k++) {
      const clock = it.id.clock + k
      if (expectRight) {
        if (right === null || right.client !== it.id.client || right.clock !== clock) return undefined
        expectRight = false
      }
      if (values && !deleted.has(`${it.id.client}:${clock}`)) out.push(values[k] as string)
      if (origin !== null && origin.client === it.id.client && origin.clock === clock) {
        if (placed) return undefined
        put()
      }
    }
  }
  if (!placed || (expectRight && right !== null)) return undefined
  return out
}

/** The same ids, as many times each. */
function sameIds(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  const count = new Map<string, number>()
  for (const x of a) count.set(x, (count.get(x) ?? 0) + 1)
  for (const x of b) {
    const n = count.get(x)
    if (!n) return false
    count.set(x, n - 1)
  }
  return true
}

/** A change checked without applying it: the doc stands for itself after it, except for the sheets given. */
class SimulatedChange extends ChangeContext {
  constructor(doc: Y.Doc, who: Principal, view: AccessView, private readonly afterSheets: ReadonlyMap<string, SheetMap>) {
    // (every order holds the same ids after it: it inserts and removes no rows, see newRows and removedRows)
    super(doc, doc, null as unknown as Y.Transaction, who, view)
  }

  override sheetAfter(sid: string): SheetMap | undefined { return this.afterSheets.get(sid) ?? super.sheetAfter(sid) }
  override newRows(): ReadonlySet<string> { return NONE }
  override removedRows(): ReadonlySet<string> { return NONE }
}
const NONE: ReadonlySet<string> = new Set()

/** Sheet `before` as it is after the change: `order` for its `axis` (if given), `cells` over its cells. */
function sheetAfter(before: SheetMap, move: { axis: Axis; order: string[] } | null, cells: ReadonlyMap<string, unknown> | undefined): SheetMap {
  const base = sheetParts(before).cells
  const cellsView = cells && {
    get: (k: string) => (cells.has(k) ? cells.get(k) : base.get(k)),
    has: (k: string) => (cells.has(k) ? cells.get(k) !== undefined : base.has(k)),
    forEach(fn: (v: unknown, k: string) => void) {
      base.forEach((v, k) => { const now = cells.has(k) ? cells.get(k) : v; if (now !== undefined) fn(now, k) })
      for (const [k, v] of cells) if (!base.has(k) && v !== undefined) fn(v, k)
    },
  }
  const order = move && { toArray: () => move.order, get length() { return move.order.length } }
  return { get: (k: string) => (move && k === move.axis ? order : k === 'cells' && cellsView ? cellsView : before.get(k)) } as unknown as SheetMap
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
  // a commenter's update is mostly a comment: the full check sorts comments from cells
  if (who.role === 'commenter') return undefined
  const denied = roleRefusal(who)
  if (denied) return denied
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
    /** an order's ids inserted again (at most one insert, of one order) */
    let move: OrderMove | null = null
    /** the places the change touches, in the order Yjs notes them (structs first, then deletions) */
    const touched: string[] = []
    const touch = (what: string) => { if (!touched.includes(what)) touched.push(what) }
    for (const s of decoded.structs) {
      if (!(s instanceof Y.Item) || !(s.content instanceof Y.ContentAny)) return undefined
      const client = s.id.client
      const expected = next.get(client) ?? Y.getState(doc.store, client)
      if (s.id.clock !== expected) return undefined
      next.set(client, expected + s.length)
      // ids inserted into a row or column order: its parent is its neighbours'
      const neighbour = s.origin ?? s.rightOrigin
      const at = neighbour && structAt(doc, neighbour.client, neighbour.clock)
      const parent = at instanceof Y.Item && at.parentSub === null ? at.parent : null
      const order = parent ? orderSheetOf(doc, parent) : null
      if (order) {
        // (one client: Yjs notes the places of several in another order than the update lists them)
        if (move || s.parentSub !== null || clients.size !== 1) return undefined
        for (const id of [s.origin, s.rightOrigin]) {
          const n = id && structAt(doc, id.client, id.clock)
          if (id && (!(n instanceof Y.Item) || n.parent !== parent)) return undefined
        }
        move = { ...order, type: parent as Y.Array<string>, item: s, deleted: new Set() }
        touch(`order:${order.sheet}`)
        continue
      }
      if (s.length !== 1 || s.rightOrigin !== null) return undefined
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
      touch(`cells:${sid}`)
    }
    for (const [client, ranges] of decoded.ds.clients) {
      for (const { clock, len } of ranges) {
        if (len <= 0 || clock + len > Y.getState(doc.store, client)) return undefined
        for (let c = clock; c < clock + len;) {
          const item = structAt(doc, client, c)!
          c = item.id.clock + item.length
          if (!(item instanceof Y.Item) || item.deleted) continue
          if (item.parentSub === null && move && item.parent === move.type) {
            // elements of the order the insert moves (taken out where they were)
            for (let k = Math.max(clock, item.id.clock); k < Math.min(c, clock + len); k++) move.deleted.add(`${client}:${k}`)
            continue
          }
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
            touch(`cells:${sid}`)
          }
        }
      }
    }
    const view = readAccess(doc)
    if (move) return judgeMove(doc, who, view, move, changes, touched)
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

/**
 * The verdict on an update that reorders one sheet's rows or columns (`move`) and sets or clears
 * `changes`: the full check's checkers, on the order after it. Undefined when it does more than
 * reorder (ids added or taken away: what that inserts or deletes is the full check's to see).
 */
function judgeMove(doc: Y.Doc, who: Principal, view: AccessView, move: OrderMove, changes: ReadonlyMap<string, ReadonlyMap<string, unknown>>, touched: readonly string[]): Refusal | null | undefined {
  const order = orderAfter(move)
  if (!order || !sameIds(move.type.toArray(), order)) return undefined
  const afterSheets = new Map<string, SheetMap>()
  for (const sid of new Set([move.sheet, ...changes.keys()])) {
    afterSheets.set(sid, sheetAfter(sheetsOf(doc).get(sid)!, sid === move.sheet ? { axis: move.axis, order } : null, changes.get(sid)))
  }
  const ctx = new SimulatedChange(doc, who, view, afterSheets)
  const places: [Place, ReadonlySet<string | null>][] = touched.map(t => {
    const [what, sid] = [t.slice(0, t.indexOf(':')), t.slice(t.indexOf(':') + 1)]
    return what === 'order'
      ? [{ root: 'sheets', sheet: sid, part: move.axis }, new Set([null])]
      : [{ root: 'sheets', sheet: sid, part: 'cells' }, new Set(changes.get(sid)!.keys())]
  })
  return judgeChange(ctx, places, () => null)
}
