// @vitest-environment node
/**
 * Attacks found in a review of the access rules, against the real server: writing under another
 * person's Yjs client id, flooding presence, breaking a sheet's shape so that every replica fails, and
 * moving rows out of the range a protected total sums.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import { cellKey, sheetIds, sheetParts, sheetsOf, visibleColIds, visibleRowIds } from '../../src/core/workbook/schema'
import { setCell } from '../../src/core/workbook/mutations'
import { setProtections, readProtections } from '../../src/core/access/access'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { type as typeIn } from '../helpers/workbook'
import { MAX_AWARENESS_CLIENTS } from '../../server/collab/rooms'
import { closed, createLink, createWorkbook, docUntil, rawSocket, socketUrl, syncedClient, testScope, until } from '../helpers/server'

const { server, track, socket } = testScope()

const updateFrame = (u: Uint8Array) => { const e = encoding.createEncoder(); encoding.writeVarUint(e, 0); syncProtocol.writeUpdate(e, u); return encoding.toUint8Array(e) }
const awarenessFrame = (entries: { client: number; state: unknown }[]) => {
  const inner = encoding.createEncoder()
  encoding.writeVarUint(inner, entries.length)
  for (const x of entries) { encoding.writeVarUint(inner, x.client); encoding.writeVarUint(inner, 1); encoding.writeVarString(inner, JSON.stringify(x.state)) }
  const e = encoding.createEncoder(); encoding.writeVarUint(e, 1); encoding.writeVarUint8Array(e, encoding.toUint8Array(inner)); return encoding.toUint8Array(e)
}
/** Sends a frame, then a query-awareness; resolves on its answer (the frame has been handled by then). */
async function sendAndFlush(ws: WebSocket, frame: Uint8Array): Promise<void> {
  const answered = new Promise<void>(r => ws.once('message', () => r()))
  ws.send(frame)
  ws.send(new Uint8Array([3]))
  await answered
}
const cellAt = (d: Y.Doc, sid: string, r: string, c: string) => sheetParts(sheetsOf(d).get(sid)!).cells.get(cellKey(r, c))
/** An update, made on a copy of `doc` under a client id of its own, that takes row `id` out of the order and puts it back before `beforeId`. */
function rowMove(doc: Y.Doc, sid: string, id: string, beforeId: string): Uint8Array {
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
  const sv = Y.encodeStateVector(copy)
  copy.transact(() => {
    const rows = sheetParts(sheetsOf(copy).get(sid)!).rows
    rows.delete(rows.toArray().indexOf(id), 1)
    rows.insert(rows.toArray().indexOf(beforeId), [id])
  })
  return Y.encodeStateAsUpdate(copy, sv)
}

describe('hardening', () => {
  it('an editor cannot continue the owner\'s client id: refused (4409), and the owner\'s offline edit still reaches everyone', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const owner = track(await syncedClient(s, id))
    const sid = sheetIds(owner.doc)[0]!
    const sheet = sheetsOf(owner.doc).get(sid)!
    const [r0, r1] = visibleRowIds(sheet), [c0] = visibleColIds(sheet)
    setCell(owner.doc, sid, r0!, c0!, 'first')
    const token = await createLink(s, id, 'editor', 'Eve')
    const eve = track(await syncedClient(s, id, { token }))
    await docUntil(eve.doc, 'the owner\'s edit at Eve', d => cellAt(d, sid, r0!, c0!) === 'first')
    owner.provider.disconnect()
    setCell(owner.doc, sid, r1!, c0!, 'OWNER OFFLINE EDIT')
    // Eve forges the owner's next clock
    const forged = new Y.Doc()
    Y.applyUpdate(forged, Y.encodeStateAsUpdate(eve.doc))
    forged.clientID = owner.doc.clientID
    const sv = Y.encodeStateVector(forged)
    setCell(forged, sid, r0!, c0!, 'forged by Eve')
    const ws = socket(await rawSocket(socketUrl(s, id, token)))
    const shut = closed(ws)
    ws.send(updateFrame(Y.encodeStateAsUpdate(forged, sv)))
    expect((await shut).code).toBe(4409)
    const room = s.rooms.rooms.get(id)!
    expect(cellAt(room.doc, sid, r0!, c0!)).toBe('first')
    owner.provider.connect()
    await docUntil(room.doc, 'the owner\'s offline edit on the server', d => cellAt(d, sid, r1!, c0!) === 'OWNER OFFLINE EDIT')
    const late = track(await syncedClient(s, id))
    expect(cellAt(late.doc, sid, r1!, c0!)).toBe('OWNER OFFLINE EDIT')
    // the claim survives a restart of the room: Eve's own client id stays hers, the owner's his
    expect((await s.store.loadClientLinks(id)).get(owner.doc.clientID)).toBeDefined()
  })

  it('presence: a connection speaks for a few client ids with small states; a flood of entries closes it', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const owner = track(await syncedClient(s, id))
    const ws = socket(await rawSocket(socketUrl(s, id, await createLink(s, id, 'viewer', 'Vic'))))
    const entries = Array.from({ length: 50 }, (_, i) => ({ client: 5_000_000 + i, state: { user: { name: 'x', color: '#000000' }, pad: 'p'.repeat(1000), cursor: null } }))
    await sendAndFlush(ws, awarenessFrame(entries))
    const states = s.rooms.rooms.get(id)!.awareness.getStates()
    const fromVic = [...states.entries()].filter(([c]) => c >= 5_000_000 && c < 5_000_050)
    expect(fromVic).toHaveLength(MAX_AWARENESS_CLIENTS)
    for (const [, st] of fromVic) expect(st).toEqual({ user: { name: 'Vic', color: '#000000', role: 'viewer' }, cursor: null })
    await until('the owner sees Vic', () => [...owner.provider.awareness.getStates().keys()].filter(c => c >= 5_000_000 && c < 5_000_050).length === MAX_AWARENESS_CLIENTS || undefined,
      recheck => { owner.provider.awareness.on('change', recheck); return () => owner.provider.awareness.off('change', recheck) })
    const shut = closed(ws)
    ws.send(awarenessFrame(Array.from({ length: 101 }, (_, i) => ({ client: 6_000_000 + i, state: null }))))
    expect((await shut).code).toBe(1002)
  })

  it('a sheet broken in shape is refused (4409), not a crash that recurs for everyone (1011)', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const token = await createLink(s, id, 'editor', 'Mallory')
    const m = track(await syncedClient(s, id, { token }))
    const sid = sheetIds(m.doc)[0]!
    const shut = new Promise<number>(resolve => m.provider.once('connection-close', (e: CloseEvent | null) => resolve(e?.code ?? 0)))
    sheetsOf(m.doc).get(sid)!.set('rows', new Y.Map())
    expect(await shut).toBe(4409)
    // an honest editor goes on as before
    const h = track(await syncedClient(s, id, { token: await createLink(s, id, 'editor', 'Honest') }))
    const hs = sheetsOf(h.doc).get(sid)!
    setCell(h.doc, sid, visibleRowIds(hs)[0]!, visibleColIds(hs)[0]!, 'fine')
    await docUntil(s.rooms.rooms.get(id)!.doc, 'the honest edit', d => cellAt(d, sid, visibleRowIds(hs)[0]!, visibleColIds(hs)[0]!) === 'fine')
    expect(h.provider.wsconnected).toBe(true)
  })

  it('moving a row out of the range a protected total sums is refused (4409 protected-range-moved); the manager\'s same move is accepted', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const owner = track(await syncedClient(s, id))
    const sid = sheetIds(owner.doc)[0]!
    const sheet = sheetsOf(owner.doc).get(sid)!
    const rows = visibleRowIds(sheet), cols = visibleColIds(sheet)
    // B2:B6 anyone's, B7 = SUM(B2:B6) the manager's
    ;[30, 30, 40, 31, 20].forEach((v, i) => typeIn(owner.doc, sid, `B${i + 2}`, String(v)))
    typeIn(owner.doc, sid, 'B7', '=SUM(B2:B6)')
    setProtections(owner.doc, [{ id: 'total', sheet: sid, rows: [rows[6]!], cols: [cols[1]!], names: ['王经理'], label: '合计' }])
    const room = s.rooms.rooms.get(id)!
    await docUntil(room.doc, 'the budget on the server', d => readProtections(d).length === 1 && cellAt(d, sid, rows[6]!, cols[1]!) !== undefined)
    const total = (d: Y.Doc, addr: 'B6' | 'B7') => { const e = new FormulaEngine(d); try { return e.getValue(sid, addr === 'B6' ? 5 : 6, 1) } finally { e.destroy() } }
    expect(total(room.doc, 'B7')).toBe(151)
    const order = () => sheetParts(sheetsOf(room.doc).get(sid)!).rows.toArray()
    const before = order()

    // 小李 takes B3 (30) out of the order and puts it back below the total: no protected cell written
    const li = socket(await rawSocket(socketUrl(s, id, await createLink(s, id, 'editor', '小李'))))
    const shut = closed(li)
    li.send(updateFrame(rowMove(room.doc, sid, rows[2]!, rows[7]!)))
    expect(await shut).toEqual({ code: 4409, reason: 'protected-range-moved total' })
    expect(order()).toEqual(before)
    expect(total(room.doc, 'B7')).toBe(151)

    // positive control: the manager's same move is the manager's to make, and does change the total
    const wang = socket(await rawSocket(socketUrl(s, id, await createLink(s, id, 'editor', '王经理'))))
    await sendAndFlush(wang, updateFrame(rowMove(room.doc, sid, rows[2]!, rows[7]!)))
    await docUntil(room.doc, 'the manager\'s move on the server', () => order().indexOf(rows[2]!) > order().indexOf(rows[6]!))
    expect(wang.readyState).toBe(WebSocket.OPEN)
    expect(total(room.doc, 'B6')).toBe(121)
    await docUntil(owner.doc, 'the move at the owner', d => visibleRowIds(sheetsOf(d).get(sid)!).indexOf(rows[2]!) === 6)
  })
})
