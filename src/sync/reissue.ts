/**
 * Taking a new client id without losing anything. The server binds a Yjs client id to the link that
 * first showed it; when it refuses my changes because my id is bound to someone else ('foreign-client'),
 * everything I wrote under that id is unknown to it (it would take nothing of mine under that id). So
 * my replica's state is rewritten with those structs under a fresh id — every reference to them too
 * (origins, parents, deletions) — and a fresh replica applies it and syncs: the server then sees an id
 * nobody has, binds it to me, and takes all of my edits.
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'

/** a client id no doc has used yet (Yjs takes 32-bit unsigned ids) */
export function freshClientId(taken: ReadonlySet<number> = new Set()): number {
  let id: number
  do { id = (Math.random() * 0xffffffff) >>> 0 } while (id === 0 || taken.has(id))
  return id
}

/**
 * `update` (a v1 Yjs update, e.g. a whole state) with every struct of the clients in `from` moved to a
 * new client id each (the same clocks), references included. Returns the update and the ids used.
 */
export function relabelClients(update: Uint8Array, from: ReadonlySet<number>): { update: Uint8Array; ids: Map<number, number> } {
  const { structs, ds } = Y.decodeUpdate(update)
  const taken = new Set<number>(structs.map(s => s.id.client))
  for (const c of ds.clients.keys()) taken.add(c)
  const ids = new Map<number, number>()
  for (const c of from) if (taken.has(c)) { const n = freshClientId(taken); taken.add(n); ids.set(c, n) }
  if (ids.size === 0) return { update, ids }
  const move = (id: Y.ID | null): Y.ID | null => (id && ids.has(id.client) ? Y.createID(ids.get(id.client)!, id.clock) : id)
  // structs grouped by client, in clock order
  const groups = new Map<number, (typeof structs)[number][]>()
  for (const s of structs) {
    const m = s as unknown as { id: Y.ID; origin?: Y.ID | null; rightOrigin?: Y.ID | null; parent?: unknown }
    m.id = move(m.id)!
    if (s instanceof Y.Item) {
      s.origin = move(s.origin)
      s.rightOrigin = move(s.rightOrigin)
      if (s.parent instanceof Y.ID) s.parent = move(s.parent)
    }
    const g = groups.get(m.id.client) ?? groups.set(m.id.client, []).get(m.id.client)!
    g.push(s)
  }
  const encoder = new Y.UpdateEncoderV1()
  encoding.writeVarUint(encoder.restEncoder, groups.size)
  for (const [client, list] of [...groups].sort((a, b) => b[0] - a[0])) {
    list.sort((a, b) => a.id.clock - b.id.clock)
    encoding.writeVarUint(encoder.restEncoder, list.length)
    encoder.writeClient(client)
    encoding.writeVarUint(encoder.restEncoder, list[0]!.id.clock)
    for (const s of list) s.write(encoder, 0)
  }
  // the delete set, with the moved clients' ranges under their new ids
  const dsClients = new Map<number, { clock: number; len: number }[]>()
  for (const [client, ranges] of ds.clients) {
    const to = ids.get(client) ?? client
    const list = dsClients.get(to) ?? dsClients.set(to, []).get(to)!
    for (const r of ranges) list.push({ clock: r.clock, len: r.len })
  }
  encoding.writeVarUint(encoder.restEncoder, dsClients.size)
  for (const [client, ranges] of [...dsClients].sort((a, b) => b[0] - a[0])) {
    encoder.resetDsCurVal()
    encoding.writeVarUint(encoder.restEncoder, client)
    ranges.sort((a, b) => a.clock - b.clock)
    encoding.writeVarUint(encoder.restEncoder, ranges.length)
    for (const r of ranges) { encoder.writeDsClock(r.clock); encoder.writeDsLen(r.len) }
  }
  return { update: encoder.toUint8Array(), ids }
}

/**
 * Which client ids a doc has written with here: Yjs changes a doc's id by itself when it meets its own
 * id in a remote change, so one replica may have written under several. Watch from the doc's start.
 */
export function trackOwnClients(doc: Y.Doc): { ids: Set<number>; stop(): void } {
  const ids = new Set<number>([doc.clientID])
  const f = (tr: Y.Transaction) => { if (tr.local) ids.add(doc.clientID) }
  doc.on('afterTransaction', f)
  return { ids, stop: () => doc.off('afterTransaction', f) }
}

/** My replica's whole state with what I wrote moved to new client ids: apply it to a fresh replica. */
export function reissueState(doc: Y.Doc, own: ReadonlySet<number>): Uint8Array {
  return relabelClients(Y.encodeStateAsUpdate(doc), own).update
}
