// @vitest-environment node
/**
 * Resting rooms: a loaded workbook whose doc has been quiet for `restAfterMs` keeps its state as one
 * encoded update and frees the Y.Doc. These tests hold the room to what it promised at rest: it answers
 * new clients and repeats without making the doc again, applies the access rules to the first real
 * change, and loses nothing across rest, wake, unload and restart.
 */
import { describe, it, expect } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import { sheetIds } from '../../../src/core/workbook/schema'
import { defineRoots, readProtections, setProtections } from '../../../src/core/access/access'
import type { Room } from '../../../server/collab/rooms'
import {
  connectClient, createLink, storedDoc, createWorkbook, docUntil, nextEvent, socketUrl, testScope, until, type TestServer,
} from '../../helpers/server'
import { layoutOf, textAt, type } from '../../helpers/workbook'

const { server, track, socket } = testScope()

const REST_MS = 40

/**
 * Resolves when the room of `id` rests holding all of `doc` (a room may rest before a client's edits
 * arrive, when the client took longer than the quiet period to sync: that rest does not count).
 */
function restingWith(s: TestServer, id: string, doc: Y.Doc): Promise<Room> {
  const want = Y.snapshot(doc)
  return until(`the room resting with everything`, () => {
    const room = s.rooms.rooms.get(id)
    if (!room?.isResting) return undefined
    const state = room.encodedState()
    return Y.snapshotContainsUpdate(want, state) && Y.snapshotContainsUpdate(Y.snapshot(docOf(state)), Y.encodeStateAsUpdate(doc)) ? room : undefined
  }, recheck => {
    s.rooms.on('room-resting', recheck)
    return () => { s.rooms.off('room-resting', recheck) }
  })
}

function docOf(update: Uint8Array): Y.Doc {
  const d = new Y.Doc()
  Y.applyUpdate(d, update)
  return d
}

/** Counts the wakes of one room. */
function wakes(s: TestServer, id: string): { count: () => number; whys: string[] } {
  const whys: string[] = []
  const fn = (x: string, info: { why: string }) => { if (x === id) whys.push(info.why) }
  s.rooms.on('room-woke', fn)
  return { count: () => whys.length, whys }
}

/** The doc as JSON, every root included (a root nobody touched yet is left out of Y.Doc#toJSON). */
function json(doc: Y.Doc): unknown {
  defineRoots(doc)
  return doc.toJSON()
}

function syncMessage(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  write(e)
  return encoding.toUint8Array(e)
}

/** Next sync message of type `syncType` on a raw socket, decoded to its payload. */
function nextSync(ws: WebSocket, syncType: number): Promise<Uint8Array> {
  let got: Uint8Array | undefined
  return until(`sync message ${syncType}`, () => got, recheck => {
    const fn = (data: Buffer) => {
      const d = decoding.createDecoder(new Uint8Array(data))
      if (decoding.readVarUint(d) !== 0 || decoding.readVarUint(d) !== syncType) return
      got ??= decoding.readVarUint8Array(d)
      recheck()
    }
    ws.on('message', fn)
    return () => { ws.off('message', fn) }
  })
}

describe('resting rooms', () => {
  it('a quiet room rests; new clients and repeats are answered without the doc; a change wakes it, reaches others and is stored', async () => {
    const s = await server({ restAfterMs: REST_MS })
    const id = await createWorkbook(s)
    const a = track(connectClient(s, id))
    await a.synced()
    const sid = sheetIds(a.doc)[0]!
    // a value written over (a deletion in the doc) and a Chinese one
    type(a.doc, sid, 'A1', 'first')
    const early = Y.encodeStateAsUpdate(a.doc)
    type(a.doc, sid, 'A1', 'second')
    type(a.doc, sid, 'B2', '=1+1')
    type(a.doc, sid, 'C3', '华东')
    const room = await restingWith(s, id, a.doc)
    const woke = wakes(s, id)
    expect((await s.api('GET', '/api/health')).json).toMatchObject({ ok: true, rooms: 1, resting: 1 })

    // a first open is answered from the encoded state
    const b = track(connectClient(s, id))
    await b.synced()
    expect(json(b.doc)).toEqual(json(a.doc))
    expect(textAt(b.doc, sid, 'A1')).toBe('second')
    expect(textAt(b.doc, sid, 'C3')).toBe('华东')

    // a client that has part of it gets the rest (a diff of the encoded state against its vector)
    const partial = new Y.Doc()
    Y.applyUpdate(partial, early)
    const ws = socket(new WebSocket(socketUrl(s, id)))
    // listening before the socket opens: the server's step 1 may come in the same read as the upgrade
    await nextSync(ws, syncProtocol.messageYjsSyncStep1)
    // a reconnecting replica's step 2 repeats every deletion it knows of: nothing new, nothing woken
    ws.send(syncMessage(e => syncProtocol.writeSyncStep2(e, a.doc)))
    const reply = nextSync(ws, syncProtocol.messageYjsSyncStep2)
    ws.send(syncMessage(e => syncProtocol.writeSyncStep1(e, partial)))
    Y.applyUpdate(partial, await reply)
    expect(json(partial)).toEqual(json(a.doc))
    expect(woke.count()).toBe(0)
    expect(room.isResting).toBe(true)

    // the first real change wakes the room: applied, relayed, stored
    type(a.doc, sid, 'D4', '42')
    await docUntil(b.doc, 'B sees D4', d => textAt(d, sid, 'D4') === '42')
    expect(woke.whys).toEqual(['a change'])
    await s.rooms.flushAll()
    const stored = await storedDoc(s, id)
    expect(textAt(stored, sid, 'D4')).toBe('42')
    expect(json(stored)).toEqual(json(a.doc))
    // and it rests again once quiet, the same room
    expect(await restingWith(s, id, a.doc)).toBe(room)
  })

  it('at rest the access rules still hold: an editor\'s change to a protected column is refused (4409) and nothing of it is kept', async () => {
    const s = await server({ restAfterMs: REST_MS })
    const id = await createWorkbook(s)
    const owner = track(connectClient(s, id))
    await owner.synced()
    const sid = sheetIds(owner.doc)[0]!
    const scoreCol = layoutOf(owner.doc).sheet(sid)!.cols.ids[1]!
    type(owner.doc, sid, 'B1', '90')
    setProtections(owner.doc, [{ id: 'mgr', sheet: sid, cols: [scoreCol], names: ['王经理'] }], 'owner')
    const room = await restingWith(s, id, owner.doc)

    const woke = wakes(s, id)
    const editor = track(connectClient(s, id, new Y.Doc(), { token: await createLink(s, id, 'editor', '小李') }))
    await editor.synced()
    expect(woke.whys).toEqual([])
    expect(room.isResting).toBe(true)
    expect(textAt(editor.doc, sid, 'B1')).toBe('90')
    expect(readProtections(editor.doc)).toHaveLength(1)
    const refused = nextEvent<[{ code: number } | null]>(editor.provider as never, 'connection-close', e => e !== null)
    type(editor.doc, sid, 'B1', '100', 'li')
    const [ev] = await refused
    expect(ev!.code).toBe(4409)
    // checked by the woken doc, against the rules as they stood
    expect(woke.whys).toEqual(['a change'])
    expect(textAt(room.doc, sid, 'B1')).toBe('90')
    await s.rooms.flushAll()
    expect(textAt(await storedDoc(s, id), sid, 'B1')).toBe('90')
    // the owner, still connected, never saw it; the editor's other cells are still theirs to write
    expect(textAt(owner.doc, sid, 'B1')).toBe('90')
    const again = track(connectClient(s, id, new Y.Doc(), { token: await createLink(s, id, 'editor', '小张') }))
    await again.synced()
    type(again.doc, sid, 'A1', '小张 was here', 'zhang')
    await docUntil(owner.doc, 'the owner sees the allowed edit', d => textAt(d, sid, 'A1') === '小张 was here')
  })

  it('a cursor moving wakes a resting room ahead of the first change (an editor\'s, not a viewer\'s); the room stays awake while they move about', async () => {
    // a quiet second: long enough that the change below arrives before the woken room could rest again
    const s = await server({ restAfterMs: 1_000 })
    const id = await createWorkbook(s)
    const owner = track(connectClient(s, id))
    await owner.synced()
    const sid = sheetIds(owner.doc)[0]!
    // as the app does on opening: who I am first (the server knows my presence from then on)
    owner.provider.awareness.setLocalStateField('user', { name: 'owner', color: '#336699' })
    type(owner.doc, sid, 'A1', '目标')
    const room = await restingWith(s, id, owner.doc)
    const woke = wakes(s, id)
    const viewer = track(connectClient(s, id, new Y.Doc(), { token: await createLink(s, id, 'viewer', '小赵') }))
    await viewer.synced()
    // the viewer moves about: relayed to the owner (so the server has handled it), nothing woken
    const seen = until('the owner sees the viewer\'s cursor', () => [...owner.provider.awareness.getStates().values()].some(st => (st as { cursor?: unknown }).cursor !== undefined && (st as { cursor?: unknown }).cursor !== null) || undefined,
      r => { owner.provider.awareness.on('change', r); return () => owner.provider.awareness.off('change', r) })
    viewer.provider.awareness.setLocalStateField('user', { name: '小赵', color: '#993366' })
    viewer.provider.awareness.setLocalStateField('cursor', { sheet: sid, anchor: { row: 'r', col: 'c' }, head: { row: 'r', col: 'c' } })
    await seen
    expect(woke.whys).toEqual([])
    expect(room.isResting).toBe(true)
    // the owner moves: the room wakes before any change
    const wake = nextEvent<[string, { why: string }]>(s.rooms, 'room-woke', x => x === id)
    owner.provider.awareness.setLocalStateField('cursor', { sheet: sid, anchor: { row: 'r2', col: 'c2' }, head: { row: 'r2', col: 'c2' } })
    const [, info] = await wake
    expect(info.why).toBe('presence')
    expect(room.isResting).toBe(false)
    // and their change then needs no wake
    type(owner.doc, sid, 'A2', '100')
    await docUntil(viewer.doc, 'the viewer sees A2', d => textAt(d, sid, 'A2') === '100')
    expect(woke.whys).toEqual(['presence'])
  })

  it('withDoc reads a resting room\'s latest state; a resting room unloads, and loads again with everything', async () => {
    const s = await server({ restAfterMs: REST_MS, unloadDelayMs: 50 })
    const id = await createWorkbook(s)
    const a = track(connectClient(s, id))
    await a.synced()
    const sid = sheetIds(a.doc)[0]!
    type(a.doc, sid, 'A1', '预算')
    type(a.doc, sid, 'A2', '=LEN(A1)')
    const serverClient = s.rooms.rooms.get(id)!.doc.clientID
    const room = await restingWith(s, id, a.doc)
    const woke = wakes(s, id)
    expect((await s.api('GET', '/api/health')).json).toMatchObject({ ok: true, rooms: 1, resting: 1 })
    expect(await s.rooms.withDoc(id, d => textAt(d, sid, 'A1'))).toBe('预算')
    expect(woke.whys).toEqual(['doc'])
    // the woken doc writes under the same client id (server-side edits do not add one per wake)
    expect(await s.rooms.withDoc(id, d => d.clientID)).toBe(serverClient)

    expect(await restingWith(s, id, a.doc)).toBe(room)
    const unloaded = nextEvent<[string]>(s.rooms, 'room-unloaded', x => x === id)
    a.provider.destroy()
    await unloaded
    expect(s.rooms.rooms.has(id)).toBe(false)

    const c = track(connectClient(s, id))
    await c.synced()
    expect(textAt(c.doc, sid, 'A1')).toBe('预算')
    expect(textAt(c.doc, sid, 'A2')).toBe('=LEN(A1)')
  })
})
