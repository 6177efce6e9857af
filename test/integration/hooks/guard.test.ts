// @vitest-environment node
/**
 * The access guard hook (server/collab/hooks/guard.ts) against the real server: a Yjs client id belongs
 * to the link that first showed it (in presence or in a write), writes under an id bound elsewhere are
 * refused from the socket that sends them, and the rightful writer never loses an edit.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { cellKey, sheetIds, sheetParts, sheetsOf, visibleColIds, visibleRowIds } from '../../../src/core/workbook/schema'
import { insertRows, setCell } from '../../../src/core/workbook/mutations'
import { parseRefusalReason } from '../../../src/core/access/access'
import { reissueState, trackOwnClients } from '../../../src/sync/reissue'
import { closed, connectClient, createLink, createWorkbook, docUntil, rawSocket, socketUrl, syncedClient, testScope, until } from '../../helpers/server'
import { awarenessFrame, sendAndFlush, updateFrame } from './frames'

const { server, track, socket } = testScope()
const cellAt = (d: Y.Doc, sid: string, r: string, c: string) => sheetParts(sheetsOf(d).get(sid)!).cells.get(cellKey(r, c))

describe('guard hook: client ids', () => {
  it('an editor who writes first under the owner\'s announced client id is refused (foreign-client); every edit of the owner arrives and the owner stays connected', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const owner = track(await syncedClient(s, id))
    let ownerClosed = 0
    owner.provider.on('connection-close', () => { ownerClosed++ })
    // as the app does on opening: the person's presence
    owner.provider.awareness.setLocalStateField('user', { name: 'Owner', color: '#1a73e8' })
    const token = await createLink(s, id, 'editor', 'Eve')
    const eve = track(await syncedClient(s, id, { token }))
    // Eve sees the owner's client id in presence before the owner has written anything
    await until('Eve sees the owner', () => eve.provider.awareness.getStates().has(owner.doc.clientID) || undefined,
      r => { eve.provider.awareness.on('change', r); return () => eve.provider.awareness.off('change', r) })
    const sid = sheetIds(owner.doc)[0]!
    const sheet = sheetsOf(owner.doc).get(sid)!
    const rows = visibleRowIds(sheet), [c0] = visibleColIds(sheet)
    const forged = new Y.Doc()
    Y.applyUpdate(forged, Y.encodeStateAsUpdate(eve.doc))
    forged.clientID = owner.doc.clientID
    const sv = Y.encodeStateVector(forged)
    setCell(forged, sid, rows[0]!, c0!, 'forged by Eve')
    const ws = socket(await rawSocket(socketUrl(s, id, token)))
    const shut = closed(ws)
    ws.send(updateFrame(Y.encodeStateAsUpdate(forged, sv)))
    const info = await shut
    expect(info.code).toBe(4409)
    expect(parseRefusalReason(info.reason).code).toBe('foreign-client')
    const room = s.rooms.rooms.get(id)!
    expect(cellAt(room.doc, sid, rows[0]!, c0!)).toBeUndefined()
    // the owner's own edits, under the id Eve tried to take, all arrive
    for (let i = 0; i < 10; i++) setCell(owner.doc, sid, rows[i % rows.length]!, c0!, `owner ${i}`)
    await docUntil(room.doc, 'the owner\'s last edit on the server', d => cellAt(d, sid, rows[9 % rows.length]!, c0!) === 'owner 9')
    const late = track(await syncedClient(s, id))
    for (let i = 0; i < 10; i++) if (i + rows.length >= 10) expect(cellAt(late.doc, sid, rows[i % rows.length]!, c0!)).toBe(`owner ${i}`)
    expect(ownerClosed).toBe(0)
    expect(owner.provider.wsconnected).toBe(true)
    expect((await s.store.loadClientLinks(id)).get(owner.doc.clientID)).toBeDefined()
    // positive control: Eve's edit under her own id is taken
    setCell(eve.doc, sid, rows[1]!, c0!, 'Eve, honestly')
    await docUntil(room.doc, 'Eve\'s own edit', d => cellAt(d, sid, rows[1]!, c0!) === 'Eve, honestly')
  })

  it('a client whose id someone else showed first is told so (foreign-client), takes new ids and sends everything again: no edit is lost', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const first = track(await syncedClient(s, id))
    const sid = sheetIds(first.doc)[0]!
    // the owner works offline in a replica of the workbook: cells and a row inserted
    const doc = new Y.Doc()
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(first.doc))
    const own = trackOwnClients(doc)
    const sheet = sheetsOf(doc).get(sid)!
    const [c0] = visibleColIds(sheet)
    insertRows(doc, sid, 1, 1)
    const rows = visibleRowIds(sheet)
    for (let i = 0; i < 5; i++) setCell(doc, sid, rows[i]!, c0!, `offline ${i}`)
    // meanwhile Eve announces that very id as hers
    const token = await createLink(s, id, 'editor', 'Eve')
    const ws = socket(await rawSocket(socketUrl(s, id, token)))
    await sendAndFlush(ws, awarenessFrame([{ client: doc.clientID, state: { user: { name: 'Eve', color: '#123456' }, cursor: null } }]))
    // the owner connects: refused, and told why
    const c = connectClient(s, id, doc)
    const info = await new Promise<CloseEvent>((resolve, reject) => c.provider.once('connection-close', (e: CloseEvent | null) => (e ? resolve(e) : reject(new Error('closed without an event')))))
    c.provider.destroy()
    expect(info.code).toBe(4409)
    expect(parseRefusalReason(info.reason).code).toBe('foreign-client')
    expect(s.rooms.rooms.get(id)!.awareness.getStates().get(doc.clientID)).toMatchObject({ user: { name: 'Eve' } })
    // what the app does then: a fresh replica from the reissued state
    const fresh = new Y.Doc()
    Y.applyUpdate(fresh, reissueState(doc, own.ids))
    const again = track(connectClient(s, id, fresh))
    await again.synced()
    const room = s.rooms.rooms.get(id)!
    await docUntil(room.doc, 'every offline edit on the server', d => visibleRowIds(sheetsOf(d).get(sid)!).length === rows.length
      && rows.every((r, i) => i >= 5 || cellAt(d, sid, r, c0!) === `offline ${i}`))
    expect(visibleRowIds(sheetsOf(room.doc).get(sid)!)).toEqual(rows)
    expect(again.provider.wsconnected).toBe(true)
    // the new ids are the owner's now
    const links = await s.store.loadClientLinks(id)
    const ownerLink = links.get(first.doc.clientID)
    for (const [client] of Y.decodeStateVector(Y.encodeStateVector(fresh))) {
      if (client !== first.doc.clientID && !Y.decodeStateVector(Y.encodeStateVector(first.doc)).has(client)) expect(links.get(client)).toBe(ownerLink)
    }
  })
})
