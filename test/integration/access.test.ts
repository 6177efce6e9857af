// @vitest-environment node
/**
 * Share links and access rules, enforced by the real server (in-process, port 0, temp data dir):
 * viewers' raw y-websocket frames, tokens for the API and the socket, revocation, protected columns,
 * per-row ownership, sheet locks, and the limits (message size, rate, failed tokens, garbage, doc size).
 * No mocks and no sleeps: every wait is on an event (with a timeout), ordering is proven by a reply.
 */
import { describe, it, expect } from 'vitest'
import { connect as tcpConnect } from 'node:net'
import { randomBytes } from 'node:crypto'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import {
  cellKey, getTitle, sheetIds, sheetParts, sheetsOf, visibleColIds, visibleRowIds, type CellInput, type ColumnMeta,
} from '../../src/core/workbook/schema'
import { addSheet, editCells, insertCols, insertRows, moveSheet, setTitle } from '../../src/core/workbook/mutations'
import { cellStyle, setCellStyle } from '../../src/core/workbook/styles'
import { lockSheet, readProtections, setProtections, sheetLock, unlockSheet, type Protection } from '../../src/core/access/access'
import { parseA1 } from '../../src/core/formulas/references'
import type { Connection } from '../../server/collab/rooms'
import {
  closed, createWorkbook, docUntil, nextEvent, ownerTokens, refusedUpgradeStatus, socketUrl,
  storedDoc, syncedClient, until, type Client, type TestServer, testScope,
} from '../helpers/server'
import { type } from '../helpers/workbook'

// ── bookkeeping: everything a test opens is closed after it, clients before servers ───────────────

const { cleanups, server, dataDir, track } = testScope()
const client = async (s: { url: string }, id: string, token?: string) => track(await syncedClient(s, id, token === undefined ? {} : { token }))

type AnyEmitter = Parameters<typeof nextEvent>[0]

/** The next time the server closes this client's socket: its close code and reason. */
function serverClose(c: Client): Promise<{ code: number; reason: string }> {
  return nextEvent<[{ code: number; reason: string } | null]>(c.provider as unknown as AnyEmitter, 'connection-close', e => e !== null)
    .then(([e]) => ({ code: e!.code, reason: e!.reason }))
}

/** Resolves once the timers already due (such as the provider's reconnect, scheduled with a 0 ms backoff) have run. */
const afterDueTimers = () => new Promise<void>(resolve => setTimeout(resolve, 0))

// ── links through the API ─────────────────────────────────────────────────────────────────────────

interface Link { id: string; token: string; role: string; name: string }

async function link(s: TestServer, id: string, role: 'owner' | 'editor' | 'viewer', name: string): Promise<Link> {
  const res = await s.api('POST', `/api/workbooks/${id}/links`, { role, name })
  expect(res.status).toBe(201)
  return res.json as Link
}

async function status(s: TestServer, method: string, path: string, auth: string | null, body?: unknown): Promise<number> {
  // an explicit (possibly empty) authorization header keeps `s.api` from adding the owner's token
  return (await s.api(method, path, body, { headers: { authorization: auth ?? '' } })).status
}

// ── cells by A1 address on a sheet ────────────────────────────────────────────────────────────────

function place(doc: Y.Doc, sheetId: string, addr: string): { rowId: string; colId: string } {
  const sheet = sheetsOf(doc).get(sheetId)
  const at = parseA1(addr)
  if (!sheet || !at) throw new Error(`no cell ${addr} on ${sheetId}`)
  const rowId = visibleRowIds(sheet)[at.row], colId = visibleColIds(sheet)[at.col]
  if (!rowId || !colId) throw new Error(`no cell ${addr} on ${sheetId}`)
  return { rowId, colId }
}
function valueAt(doc: Y.Doc, sheetId: string, addr: string): CellInput | undefined {
  const sheet = sheetsOf(doc).get(sheetId)
  if (!sheet) return undefined
  const { rowId, colId } = place(doc, sheetId, addr)
  return sheetParts(sheet).cells.get(cellKey(rowId, colId))
}
const has = (sheetId: string, addr: string, v: CellInput) => (doc: Y.Doc) => valueAt(doc, sheetId, addr) === v
const colId = (doc: Y.Doc, sheetId: string, letter: string) => place(doc, sheetId, `${letter}1`).colId
const rowId = (doc: Y.Doc, sheetId: string, n: number) => place(doc, sheetId, `A${n}`).rowId
const firstSheet = (doc: Y.Doc) => sheetIds(doc)[0]!

/** The workbook as the server holds it in memory. */
function serverDoc(s: TestServer, id: string): Y.Doc {
  const room = s.rooms.rooms.get(id)
  if (!room) throw new Error(`workbook ${id} is not loaded`)
  return room.doc
}

/** Every root of a workbook as JSON (Y.Doc#toJSON shows only the roots this doc happened to ask for). */
const contentOf = (d: Y.Doc) => ({
  meta: d.getMap('meta').toJSON(), sheetOrder: d.getArray('sheetOrder').toJSON(), sheets: d.getMap('sheets').toJSON(), access: d.getMap('access').toJSON(),
})

const stateVector = (d: Y.Doc) => Array.from(Y.decodeStateVector(Y.encodeStateVector(d)).entries()).sort((a, b) => a[0] - b[0])

/** The two docs hold the same content and the same history. */
function expectSameDoc(a: Y.Doc, b: Y.Doc): void {
  expect(contentOf(a)).toEqual(contentOf(b))
  expect(stateVector(a)).toEqual(stateVector(b))
}

// ── raw y-websocket peers ─────────────────────────────────────────────────────────────────────────

const MESSAGE_SYNC = 0, MESSAGE_AWARENESS = 1, MESSAGE_QUERY_AWARENESS = 3

function syncMessage(sub: number, payload: Uint8Array): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MESSAGE_SYNC)
  encoding.writeVarUint(e, sub)
  encoding.writeVarUint8Array(e, payload)
  return encoding.toUint8Array(e)
}
const step1Frame = (doc: Y.Doc) => syncMessage(syncProtocol.messageYjsSyncStep1, Y.encodeStateVector(doc))
const step2Frame = (update: Uint8Array) => syncMessage(syncProtocol.messageYjsSyncStep2, update)
const updateFrame = (update: Uint8Array) => syncMessage(syncProtocol.messageYjsUpdate, update)

/** 'sync0' | 'sync1' | 'sync2' | 'awareness' | 'type<n>' */
function kindOf(m: Uint8Array): string {
  const d = decoding.createDecoder(m)
  const t = decoding.readVarUint(d)
  return t === MESSAGE_SYNC ? `sync${decoding.readVarUint(d)}` : t === MESSAGE_AWARENESS ? 'awareness' : `type${t}`
}
function syncPayload(m: Uint8Array): Uint8Array {
  const d = decoding.createDecoder(m)
  decoding.readVarUint(d)
  decoding.readVarUint(d)
  return decoding.readVarUint8Array(d)
}

/** The single update made by `fn` on `doc` (one transaction). */
function updateOf(doc: Y.Doc, fn: () => void): Uint8Array {
  const updates: Uint8Array[] = []
  const on = (u: Uint8Array) => updates.push(u)
  doc.on('update', on)
  try { fn() } finally { doc.off('update', on) }
  expect(updates.length).toBeGreaterThan(0)
  return Y.mergeUpdates(updates)
}

interface Peer {
  ws: WebSocket
  /** every message the server sent, in order */
  received: Uint8Array[]
  /** a replica of the workbook, filled by `sync()` */
  doc: Y.Doc
  /** the first message from index `from` on that passes `pred` */
  next(what: string, pred: (m: Uint8Array) => boolean, from?: number): Promise<Uint8Array>
  /** asks for the server's state (sync step 1) and applies its answer to `doc`; returns the answer */
  sync(): Promise<Uint8Array>
  /**
   * Resolves once the server has processed everything sent before: it handles a connection's messages
   * in order, and only its own sync step 1 gets a step 2 back (everything else it sends is an update
   * or awareness).
   */
  barrier(): Promise<void>
}

/** A raw socket speaking the y-websocket protocol; listens before it is open, so no message is missed. */
function peer(url: string): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    cleanups.push(() => ws.terminate())
    const received: Uint8Array[] = []
    ws.on('message', (data: Buffer) => received.push(new Uint8Array(data)))
    const doc = new Y.Doc()
    cleanups.push(() => doc.destroy())
    const next: Peer['next'] = (what, pred, from = 0) => until(what, () => received.slice(from).find(pred), recheck => {
      ws.on('message', recheck)
      return () => { ws.off('message', recheck) }
    })
    const p: Peer = {
      ws, received, doc, next,
      async sync() {
        const from = received.length
        ws.send(step1Frame(doc))
        const answer = await next('sync step 2 from the server', m => kindOf(m) === 'sync1', from)
        Y.applyUpdate(doc, syncPayload(answer), 'server')
        return answer
      },
      async barrier() {
        const from = received.length
        ws.send(step1Frame(new Y.Doc()))
        await next('the answer to a sync step 1', m => kindOf(m) === 'sync1', from)
      },
    }
    ws.once('open', () => resolve(p))
    ws.once('error', reject)
  })
}

// ── viewers ───────────────────────────────────────────────────────────────────────────────────────

describe('viewers are read-only on the server', () => {
  it('drops a viewer\'s Update and SyncStep2 frames: not applied, not relayed, not stored across a restart', async () => {
    const dir = dataDir()
    const s1 = await server({ dataDir: dir })
    const id = await createWorkbook(s1)
    const owner = await client(s1, id)
    const sid = firstSheet(owner.doc)
    type(owner.doc, sid, 'A1', 'by the owner', 'owner')
    const viewer = await link(s1, id, 'viewer', '小赵')
    const editor = await client(s1, id, (await link(s1, id, 'editor', '小李')).token)
    await docUntil(editor.doc, 'the editor has A1', has(sid, 'A1', 'by the owner'))

    const v = await peer(socketUrl(s1, id, viewer.token))
    await v.sync()
    expect(valueAt(v.doc, sid, 'A1')).toBe('by the owner') // viewers read
    const before = contentOf(serverDoc(s1, id))
    const svBefore = stateVector(serverDoc(s1, id))

    // an Update frame and a SyncStep2 frame, each carrying real changes
    const update = updateOf(v.doc, () => type(v.doc, sid, 'B2', 'viewer update', 'viewer'))
    const step2 = updateOf(v.doc, () => { type(v.doc, sid, 'C3', 'viewer step2', 'viewer'); setTitle(v.doc, '被改了', 'viewer') })
    let serverChanges = 0
    const countChanges = () => { serverChanges++ }
    const live = serverDoc(s1, id)
    live.on('update', countChanges)
    cleanups.push(() => live.off('update', countChanges))
    const editorSaw: string[] = []
    editor.doc.on('update', (_u: Uint8Array, origin: unknown) => { if (origin === editor.provider) editorSaw.push(JSON.stringify(contentOf(editor.doc))) })
    v.ws.send(updateFrame(update))
    v.ws.send(step2Frame(step2))
    v.ws.send(step2Frame(Y.encodeStateAsUpdate(v.doc))) // and everything it has, as a client's sync answer
    await v.barrier() // the server has processed all three

    expect(v.ws.readyState).toBe(WebSocket.OPEN) // dropped, not a reason to close
    expect(serverChanges).toBe(0)
    expect(contentOf(serverDoc(s1, id))).toEqual(before)
    expect(stateVector(serverDoc(s1, id))).toEqual(svBefore)
    // the server's own state, as it answers the viewer, lacks the changes too
    const fresh = new Y.Doc()
    Y.applyUpdate(fresh, syncPayload(await v.sync()))
    expect(valueAt(fresh, sid, 'B2')).toBeUndefined()
    expect(getTitle(fresh)).not.toBe('被改了')

    // not relayed: a marker made after them reaches the editor, and nothing of the viewer's came first
    type(owner.doc, sid, 'D4', 'marker', 'owner')
    await docUntil(editor.doc, 'the editor has the marker', has(sid, 'D4', 'marker'))
    expect(valueAt(editor.doc, sid, 'B2')).toBeUndefined()
    expect(valueAt(editor.doc, sid, 'C3')).toBeUndefined()
    expect(getTitle(editor.doc)).not.toBe('被改了')
    expect(editorSaw.some(j => j.includes('viewer update') || j.includes('viewer step2') || j.includes('被改了'))).toBe(false)

    // not stored: gone after a restart on the same data directory
    editor.destroy(); owner.destroy(); v.ws.terminate()
    await s1.close()
    const s2 = await server({ dataDir: dir })
    const after = await client(s2, id)
    expect(valueAt(after.doc, sid, 'A1')).toBe('by the owner')
    expect(valueAt(after.doc, sid, 'D4')).toBe('marker')
    expect(valueAt(after.doc, sid, 'B2')).toBeUndefined()
    expect(valueAt(after.doc, sid, 'C3')).toBeUndefined()
    expect(getTitle(after.doc)).not.toBe('被改了')
    const stored = await storedDoc(s2, id)
    expect(JSON.stringify(contentOf(stored))).not.toMatch(/viewer update|viewer step2|被改了/)
  })
})

// ── tokens and links ──────────────────────────────────────────────────────────────────────────────

describe('share-link tokens', () => {
  it('refuses missing, malformed, unknown, other-workbook and revoked tokens for the API and the socket', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const other = await createWorkbook(s)
    const viewer = await link(s, id, 'viewer', '小赵')
    const editor = await link(s, id, 'editor', '小李')
    const revoked = await link(s, id, 'editor', '离职的人')
    expect((await s.api('DELETE', `/api/workbooks/${id}/links/${revoked.id}`)).status).toBe(200)
    const path = `/api/workbooks/${id}`
    const unknown = randomBytes(24).toString('base64url') // the shape of a real token

    const refused: [string, string | null, string, number][] = [
      ['missing', null, '', 401],
      ['not bearer', 'Basic dXNlcjpwYXNz', '', 401],
      ['malformed', 'Bearer !!not-a-token!!', '%21%21not-a-token%21%21', 401],
      ['too short', 'Bearer abc', 'abc', 401],
      ['unknown', `Bearer ${unknown}`, unknown, 401],
      ['other workbook', `Bearer ${ownerTokens.get(other)}`, ownerTokens.get(other)!, 403],
      ['revoked', `Bearer ${revoked.token}`, revoked.token, 403],
    ]
    for (const [what, auth, query, code] of refused) {
      expect({ what, api: await status(s, 'GET', path, auth) }).toEqual({ what, api: code })
      const viaQuery = (await s.api('GET', `${path}?token=${query}`, undefined, { headers: { authorization: '' } })).status
      expect({ what, query: viaQuery }).toEqual({ what, query: query ? code : 401 })
      const socket = await refusedUpgradeStatus(`${s.wsUrl}/collab/${id}${query ? `?token=${query}` : ''}`)
      expect({ what, socket }).toEqual({ what, socket: code })
    }
    const unauthorized = await s.api('GET', path, undefined, { headers: { authorization: '' } })
    expect(unauthorized.headers.get('www-authenticate')).toBe('Bearer')
    expect(typeof unauthorized.json.error).toBe('string')

    // the good ones, by header and by query; each role only where it belongs
    expect(await status(s, 'GET', path, `Bearer ${viewer.token}`)).toBe(200)
    const you = await s.api('GET', `${path}?token=${editor.token}`, undefined, { headers: { authorization: '' } })
    expect(you.status).toBe(200)
    expect(you.json.you).toEqual({ linkId: editor.id, role: 'editor', name: '小李' })
    expect(await status(s, 'PATCH', path, `Bearer ${viewer.token}`, { title: 'x' })).toBe(403)
    expect(await status(s, 'PATCH', path, `Bearer ${editor.token}`, { title: '编辑改名' })).toBe(200)
    expect(await status(s, 'GET', `${path}/links`, `Bearer ${editor.token}`)).toBe(403)
    expect(await status(s, 'POST', `${path}/links`, `Bearer ${editor.token}`, { role: 'owner', name: '我' })).toBe(403)
    expect(await status(s, 'DELETE', `${path}/links/${viewer.id}`, `Bearer ${editor.token}`)).toBe(403)
    expect(await status(s, 'DELETE', path, `Bearer ${editor.token}`)).toBe(403)
    // the other workbook's owner cannot touch this one's links either
    expect(await status(s, 'GET', `${path}/links`, `Bearer ${ownerTokens.get(other)}`)).toBe(403)
    const list = await s.api('GET', `${path}/links`)
    expect(list.status).toBe(200)
    expect(list.json.map((l: { name: string }) => l.name).sort()).toEqual(['小李', '小赵', '所有者', '离职的人'].sort())
    expect(JSON.stringify(list.json)).not.toContain(editor.token) // tokens are shown once, never listed
    for (const token of [viewer.token, editor.token, ownerTokens.get(id)!]) {
      const ws = await peer(socketUrl(s, id, token))
      expect(ws.ws.readyState).toBe(WebSocket.OPEN)
      ws.ws.terminate()
    }
  })

  it('revoking a link closes its live sockets with 4403 for good; other links stay connected; the last owner link stays', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const owner = await client(s, id)
    const sid = firstSheet(owner.doc)
    const li = await link(s, id, 'editor', '小李')
    const zhang = await link(s, id, 'editor', '小张')

    // 小李 in the app (the stock provider; a 0 ms backoff so its reconnect would be due at once) and on a raw socket
    const liDoc = new Y.Doc()
    cleanups.push(() => liDoc.destroy())
    const liProvider = new WebsocketProvider(`${s.wsUrl}/collab`, id, liDoc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true, maxBackoffTime: 0, params: { token: li.token },
    })
    cleanups.push(() => liProvider.destroy())
    await nextEvent<[boolean]>(liProvider as unknown as AnyEmitter, 'sync', synced => synced)
    const liRaw = await peer(socketUrl(s, id, li.token))
    await liRaw.barrier()
    const zhangClient = await client(s, id, zhang.token)

    const opened: string[] = []
    s.rooms.on('connection-opened', (_wid: string, conn: Connection) => opened.push(conn.who.linkId))
    const providerClosed = nextEvent<[{ code: number; reason: string }]>(liProvider as unknown as AnyEmitter, 'closed')
    const rawClosed = closed(liRaw.ws)

    const res = await s.api('DELETE', `/api/workbooks/${id}/links/${li.id}`)
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ id: li.id, role: 'editor', name: '小李', self: false })
    expect(typeof res.json.revokedAt).toBe('number')

    const [info] = await providerClosed
    expect(info.code).toBe(4403)
    expect(await rawClosed).toEqual({ code: 4403, reason: 'link revoked' })
    // the stock provider gives up: it does not connect again once its reconnect timer has run
    expect(liProvider.shouldConnect).toBe(false)
    await afterDueTimers()
    expect(liProvider.ws).toBeNull()
    expect(liProvider.wsconnecting).toBe(false)
    expect(opened).toEqual([])
    // and were it to try, the token no longer opens anything
    expect(await refusedUpgradeStatus(socketUrl(s, id, li.token))).toBe(403)
    expect(await status(s, 'GET', `/api/workbooks/${id}`, `Bearer ${li.token}`)).toBe(403)

    // 小张's link was not touched: still connected, still receiving and sending
    expect(zhangClient.provider.wsconnected).toBe(true)
    type(owner.doc, sid, 'A1', 'after the revocation', 'owner')
    await docUntil(zhangClient.doc, '小张 gets the edit', has(sid, 'A1', 'after the revocation'))
    type(zhangClient.doc, sid, 'A2', '小张 still edits', 'zhang')
    await docUntil(owner.doc, 'the owner gets 小张\'s edit', has(sid, 'A2', '小张 still edits'))
    expect(valueAt(liDoc, sid, 'A1')).toBeUndefined()

    // the last owner link cannot be revoked; once there is another, it can (and its token stops working)
    const links = (await s.api('GET', `/api/workbooks/${id}/links`)).json as { id: string; role: string }[]
    const ownerLink = links.find(l => l.role === 'owner')!
    const firstOwnerToken = ownerTokens.get(id)!
    const last = await s.api('DELETE', `/api/workbooks/${id}/links/${ownerLink.id}`)
    expect(last.status).toBe(409)
    expect(last.json.error).toMatch(/last owner/)
    expect(await status(s, 'GET', `/api/workbooks/${id}`, `Bearer ${firstOwnerToken}`)).toBe(200)
    const second = await link(s, id, 'owner', '副经理')
    const ownerClosed = serverClose(owner)
    const bySelf = await s.api('DELETE', `/api/workbooks/${id}/links/${ownerLink.id}`)
    expect(bySelf.status).toBe(200)
    expect(bySelf.json.self).toBe(true)
    expect((await ownerClosed).code).toBe(4403)
    expect(await status(s, 'GET', `/api/workbooks/${id}`, `Bearer ${firstOwnerToken}`)).toBe(403)
    const onlyOwner = await s.api('DELETE', `/api/workbooks/${id}/links/${second.id}`, undefined, { headers: { authorization: `Bearer ${second.token}` } })
    expect(onlyOwner.status).toBe(409)
    expect(zhangClient.provider.wsconnected).toBe(true)
  })
})

// ── protections ───────────────────────────────────────────────────────────────────────────────────

/** The appraisal sheet and its columns by title. */
function appraisal(doc: Y.Doc) {
  const sid = firstSheet(doc)
  const sheet = sheetsOf(doc).get(sid)!
  const cols = visibleColIds(sheet)
  const meta = sheetParts(sheet).colMeta
  const col = (title: string) => {
    const c = cols.find(x => (meta.get(x) as ColumnMeta | undefined)?.title === title)
    if (!c) throw new Error(`no column ${title}`)
    return c
  }
  return { sid, sheet, actual: col('实际值'), score: col('得分'), grade: col('考核等级') }
}
const cellOf = (doc: Y.Doc, sid: string, rowId: string, colId: string) => sheetParts(sheetsOf(doc).get(sid)!).cells.get(cellKey(rowId, colId))

describe('protected cells', () => {
  it('a protected 得分 column: an editor is refused (4409) and nothing of it is kept; the named manager and unprotected cells are accepted', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'performance-appraisal', name: '张总' })
    const owner = await client(s, id)
    const { sid, score, actual } = appraisal(owner.doc)
    const rows = visibleRowIds(sheetsOf(owner.doc).get(sid)!)
    const protection: Protection = { id: 'score', sheet: sid, cols: [score], names: ['王经理'], label: '得分' }
    setProtections(owner.doc, [protection], 'owner')
    await docUntil(serverDoc(s, id), 'the server has the protection', d => readProtections(d).length === 1)
    const li = await link(s, id, 'editor', '小李')
    const wang = await link(s, id, 'editor', '王经理')
    const room = s.rooms.rooms.get(id)!
    const originalScore = cellOf(owner.doc, sid, rows[0]!, score)
    expect(originalScore).toMatchObject({ t: 'f' }) // a calculated column

    // 小李 overwrites a score: refused, the socket closed with 4409, the stock provider stops
    const a = await client(s, id, li.token)
    expect(readProtections(a.doc)).toEqual([protection])
    const refused = serverClose(a)
    const closes: number[] = []
    s.rooms.on('connection-closed', (wid, info) => { if (wid === id) closes.push(info.code) })
    editCells(a.doc, sid, [{ rowId: rows[0]!, colId: score, value: 100 }], 'li')
    expect(await refused).toEqual({ code: 4409, reason: `protected ${protection.id}` })
    expect(closes).toEqual([4409])
    expect(a.provider.shouldConnect).toBe(false)
    expect(cellOf(serverDoc(s, id), sid, rows[0]!, score)).toEqual(originalScore)
    expect(cellOf(owner.doc, sid, rows[0]!, score)).toEqual(originalScore)
    expect(cellOf(await storedDoc(s, id), sid, rows[0]!, score)).toEqual(originalScore)
    expect(s.rooms.rooms.get(id)).toBe(room)

    // what the app does after 4409: a new doc, a new connection; its replica is the server's
    a.destroy()
    const a2 = await client(s, id, li.token)
    expectSameDoc(a2.doc, serverDoc(s, id))
    expect(cellOf(a2.doc, sid, rows[0]!, score)).toEqual(originalScore)

    // 小李 edits an unprotected cell (实际值) of the same row: accepted and seen by others
    editCells(a2.doc, sid, [{ rowId: rows[0]!, colId: actual, value: 99 }], 'li')
    await docUntil(owner.doc, 'the owner sees 小李\'s actual', d => cellOf(d, sid, rows[0]!, actual) === 99)
    // … and adds a row to the table: the calculated 得分 formula it gets and the totals growing are the workbook's own doing
    insertRows(a2.doc, sid, 4, 1, 'li')
    const newRow = visibleRowIds(sheetsOf(a2.doc).get(sid)!)[4]!
    expect(cellOf(a2.doc, sid, newRow, score)).toMatchObject({ t: 'f' })
    await docUntil(owner.doc, 'the owner has the new row', d => visibleRowIds(sheetsOf(d).get(sid)!)[4] === newRow)
    expect(cellOf(owner.doc, sid, newRow, score)).toEqual(cellOf(a2.doc, sid, newRow, score))
    expect(a2.provider.wsconnected).toBe(true)

    // the manager writes the very cell 小李 could not: accepted and seen by 小李 and the owner
    const m = await client(s, id, wang.token)
    editCells(m.doc, sid, [{ rowId: rows[0]!, colId: score, value: 38 }], 'wang')
    await docUntil(owner.doc, 'the owner sees the manager\'s score', d => cellOf(d, sid, rows[0]!, score) === 38)
    await docUntil(a2.doc, '小李 sees the manager\'s score', d => cellOf(d, sid, rows[0]!, score) === 38)
    expect(m.provider.wsconnected).toBe(true)
    expect(cellOf(await storedDoc(s, id), sid, rows[0]!, score)).toBe(38)
    // the calculated column's own formula fills empty cells only: written over the manager's value it is refused
    const reset = serverClose(a2)
    editCells(a2.doc, sid, [{ rowId: rows[0]!, colId: score, value: originalScore! }], 'li')
    expect((await reset).code).toBe(4409)
    expect(cellOf(serverDoc(s, id), sid, rows[0]!, score)).toBe(38)
    const a3 = await client(s, id, li.token)

    // an editor may not change the protections themselves, not even to add themselves
    const again = serverClose(a3)
    setProtections(a3.doc, [{ ...protection, names: ['王经理', '小李'] }], 'li')
    expect((await again).code).toBe(4409)
    expect(readProtections(serverDoc(s, id))).toEqual([protection])
    const b = await client(s, id, li.token)
    const third = serverClose(b)
    setProtections(b.doc, [], 'li')
    expect((await third).code).toBe(4409)
    expect(readProtections(serverDoc(s, id))).toEqual([protection])
    expect(readProtections(await storedDoc(s, id))).toEqual([protection])
    // the owner may
    setProtections(owner.doc, [], 'owner')
    await docUntil(serverDoc(s, id), 'protections cleared', d => readProtections(d).length === 0)
    expect(m.provider.wsconnected && owner.provider.wsconnected).toBe(true)
  })

  it('cell formats over the socket: an editor restyling a protected cell is refused (4409) and nothing of it is kept; free cells and the named manager are accepted', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'performance-appraisal', name: '张总' })
    const owner = await client(s, id)
    const { sid, score, actual } = appraisal(owner.doc)
    const row = visibleRowIds(sheetsOf(owner.doc).get(sid)!)[0]!
    const protection: Protection = { id: 'score', sheet: sid, cols: [score], names: ['王经理'], label: '得分' }
    setProtections(owner.doc, [protection], 'owner')
    await docUntil(serverDoc(s, id), 'the server has the protection', d => readProtections(d).length === 1)
    const li = await link(s, id, 'editor', '小李')
    const wang = await link(s, id, 'editor', '王经理')

    const a = await client(s, id, li.token)
    const refused = serverClose(a)
    setCellStyle(a.doc, sid, [{ rowId: row, colId: actual }, { rowId: row, colId: score }], { bg: '#ff0000' }, 'li')
    expect(await refused).toEqual({ code: 4409, reason: `protected ${protection.id}` })
    // the whole change is refused, the free cell's part too
    expect(cellStyle(serverDoc(s, id), sid, row, actual)).toEqual({})
    expect(cellStyle(await storedDoc(s, id), sid, row, score)).toEqual({})
    a.destroy()

    const a2 = await client(s, id, li.token)
    setCellStyle(a2.doc, sid, [{ rowId: row, colId: actual }], { b: true, fc: '#0070c0' }, 'li')
    await docUntil(owner.doc, 'the owner sees 小李\'s format', d => cellStyle(d, sid, row, actual).b === true)
    const m = await client(s, id, wang.token)
    setCellStyle(m.doc, sid, [{ rowId: row, colId: score }], { bg: '#e2efda' }, 'wang')
    await docUntil(owner.doc, 'the owner sees the manager\'s format', d => cellStyle(d, sid, row, score).bg === '#e2efda')
    expect(a2.provider.wsconnected && m.provider.wsconnected).toBe(true)
    await s.rooms.flushAll()
    expect(cellStyle(await storedDoc(s, id), sid, row, actual)).toEqual({ b: true, fc: '#0070c0' })
  })

  it('per-row ownership: the person named in a row may edit that row\'s covered cells, not another row\'s, nor the person column', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const owner = await client(s, id)
    const sid = firstSheet(owner.doc)
    const person = colId(owner.doc, sid, 'A'), self = colId(owner.doc, sid, 'B')
    type(owner.doc, sid, 'A2', '小李', 'owner')
    type(owner.doc, sid, 'A3', '小张', 'owner')
    const protection: Protection = { id: 'self', sheet: sid, cols: [self], personCol: person, names: ['王经理'], label: '自评' }
    setProtections(owner.doc, [protection], 'owner')
    await docUntil(serverDoc(s, id), 'the server has the rule', d => readProtections(d).length === 1)
    const li = await link(s, id, 'editor', '小李')

    const a = await client(s, id, li.token)
    type(a.doc, sid, 'B2', '我的自评', 'li')
    await docUntil(owner.doc, 'the owner sees 小李\'s own row', has(sid, 'B2', '我的自评'))
    type(a.doc, sid, 'C3', '未保护的列', 'li') // outside the rule's columns: anyone's row
    await docUntil(owner.doc, 'the owner sees C3', has(sid, 'C3', '未保护的列'))
    expect(a.provider.wsconnected).toBe(true)

    const other = serverClose(a)
    type(a.doc, sid, 'B3', '替小张写', 'li')
    expect((await other).code).toBe(4409)
    expect(valueAt(serverDoc(s, id), sid, 'B3')).toBeUndefined()

    // nor can 小李 make another row theirs by writing their name into it
    const b = await client(s, id, li.token)
    expectSameDoc(b.doc, serverDoc(s, id))
    const claim = serverClose(b)
    type(b.doc, sid, 'A3', '小李', 'li')
    expect((await claim).code).toBe(4409)
    expect(valueAt(serverDoc(s, id), sid, 'A3')).toBe('小张')

    // … nor in the same change as writing that row
    const c = await client(s, id, li.token)
    const both = serverClose(c)
    editCells(c.doc, sid, [{ rowId: rowId(c.doc, sid, 3), colId: person, value: '小李' }, { rowId: rowId(c.doc, sid, 3), colId: self, value: '抢' }], 'li')
    expect((await both).code).toBe(4409)
    const stored = await storedDoc(s, id)
    expect(valueAt(stored, sid, 'A3')).toBe('小张')
    expect(valueAt(stored, sid, 'B3')).toBeUndefined()
    expect(valueAt(stored, sid, 'B2')).toBe('我的自评')

    // the person whose row it is, once the owner names them, may
    type(owner.doc, sid, 'A3', '小李', 'owner')
    const d = await client(s, id, li.token)
    expect(valueAt(d.doc, sid, 'A3')).toBe('小李')
    type(d.doc, sid, 'B3', '现在是我的行', 'li')
    await docUntil(owner.doc, 'the owner sees B3', has(sid, 'B3', '现在是我的行'))
  })
})

describe('changes the app never makes', () => {
  it('a client that bypasses the app cannot hide a protected column, row or sheet; undoing its own inserts and moving tabs still work', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const owner = await client(s, id)
    const sid = firstSheet(owner.doc)
    const second = addSheet(owner.doc, { name: '第二页', rows: 5, cols: 3 }, 'owner')
    const b = colId(owner.doc, sid, 'B'), row1 = rowId(owner.doc, sid, 1)
    type(owner.doc, sid, 'B1', '王经理的分', 'owner')
    setProtections(owner.doc, [
      { id: 'col', sheet: sid, cols: [b], names: ['王经理'] },
      { id: 'sheet', sheet: second, names: ['王经理'] },
    ], 'owner')
    await docUntil(serverDoc(s, id), 'the server has the protections', d => readProtections(d).length === 2)
    const li = (await link(s, id, 'editor', '小李')).token
    const orderOf = (d: Y.Doc, axis: 'rows' | 'cols') => sheetParts(sheetsOf(d).get(sid)!)[axis]
    const before = contentOf(serverDoc(s, id))

    const attempts: [string, (d: Y.Doc) => void][] = [
      // deleting makes a tombstone; taking the id out of the order hides the column (or row, or tab) instead
      ['the protected column out of the order', d => { const cols = orderOf(d, 'cols'); cols.delete(cols.toArray().indexOf(b), 1) }],
      ['a row with a protected value out of the order', d => { const rows = orderOf(d, 'rows'); rows.delete(rows.toArray().indexOf(row1), 1) }],
      ['the protected sheet out of the tabs', d => { const order = d.getArray<string>('sheetOrder'); order.delete(order.toArray().indexOf(second), 1) }],
    ]
    for (const [what, change] of attempts) {
      const c = await client(s, id, li)
      const refused = serverClose(c)
      c.doc.transact(() => change(c.doc), 'li')
      expect({ what, code: (await refused).code }).toEqual({ what, code: 4409 })
      c.destroy()
    }
    expect(contentOf(serverDoc(s, id))).toEqual(before)
    expect(visibleColIds(sheetsOf(owner.doc).get(sid)!)).toContain(b)
    expect(visibleRowIds(sheetsOf(owner.doc).get(sid)!)).toContain(row1)
    expect(sheetIds(owner.doc)).toEqual([sid, second])

    // what the app does with the same types is accepted: undoing one's own inserted row and column, moving tabs
    const e = await client(s, id, li)
    const mine = { who: '小李' }
    const undo = new Y.UndoManager([sheetsOf(e.doc), e.doc.getArray('sheetOrder')], { trackedOrigins: new Set([mine]) })
    cleanups.push(() => undo.destroy())
    const [newRow] = insertRows(e.doc, sid, 1, 1, mine)
    await docUntil(owner.doc, 'the owner sees the new row', d => visibleRowIds(sheetsOf(d).get(sid)!).includes(newRow!))
    undo.stopCapturing()
    const [newCol] = insertCols(e.doc, sid, 1, 1, mine)
    await docUntil(owner.doc, 'the owner sees the new column', d => visibleColIds(sheetsOf(d).get(sid)!).includes(newCol!))
    undo.undo()
    undo.undo()
    expect(orderOf(e.doc, 'rows').toArray()).not.toContain(newRow)
    await docUntil(owner.doc, 'both undone at the owner', d => !orderOf(d, 'rows').toArray().includes(newRow!) && !orderOf(d, 'cols').toArray().includes(newCol!))
    moveSheet(e.doc, second, 0, mine)
    await docUntil(owner.doc, 'the tabs moved', d => sheetIds(d)[0] === second)
    expect(e.provider.wsconnected).toBe(true)
    expect(sheetIds(serverDoc(s, id))).toEqual([second, sid])
  })
})

// ── sheet locks ───────────────────────────────────────────────────────────────────────────────────

describe('sheet locks', () => {
  it('a locked sheet refuses everyone\'s edits, the owner\'s too, until the manager or the owner unlocks it; an editor cannot unlock', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const owner = await client(s, id)
    const sid = firstSheet(owner.doc)
    setProtections(owner.doc, [{ id: 'mgr', sheet: sid, cols: [colId(owner.doc, sid, 'B')], names: ['王经理'] }], 'owner')
    await docUntil(serverDoc(s, id), 'the server has the protection', d => readProtections(d).length === 1)
    const li = await link(s, id, 'editor', '小李')
    const wang = await link(s, id, 'editor', '王经理')
    const editor = await client(s, id, li.token)
    const manager = await client(s, id, wang.token)

    // an editor the protection does not name cannot lock
    const cannotLock = serverClose(editor)
    lockSheet(editor.doc, sid, '小李', 'li')
    expect((await cannotLock).code).toBe(4409)
    expect(sheetLock(serverDoc(s, id), sid)).toBeNull()

    // the manager signs the sheet off
    lockSheet(manager.doc, sid, '王经理', 'wang')
    await docUntil(owner.doc, 'the owner sees the lock', d => sheetLock(d, sid)?.by === '王经理')

    const e2 = await client(s, id, li.token)
    const e2Closed = serverClose(e2)
    type(e2.doc, sid, 'A1', 'editor while locked', 'li')
    expect((await e2Closed).code).toBe(4409)

    const ownerClosed = serverClose(owner)
    type(owner.doc, sid, 'A2', 'owner while locked', 'owner')
    expect((await ownerClosed).code).toBe(4409)

    const managerClosed = serverClose(manager)
    type(manager.doc, sid, 'B1', 'manager while locked', 'wang')
    expect((await managerClosed).code).toBe(4409)

    const e3 = await client(s, id, li.token)
    const e3Closed = serverClose(e3)
    unlockSheet(e3.doc, sid, 'li')
    expect((await e3Closed).code).toBe(4409)
    expect(sheetLock(serverDoc(s, id), sid)).not.toBeNull()
    const stored = await storedDoc(s, id)
    for (const addr of ['A1', 'A2', 'B1']) expect(valueAt(stored, sid, addr)).toBeUndefined()
    expect(sheetLock(stored, sid)?.by).toBe('王经理')

    // the manager unlocks; edits go through again
    const m2 = await client(s, id, wang.token)
    const watcher = await client(s, id)
    unlockSheet(m2.doc, sid, 'wang')
    await docUntil(watcher.doc, 'unlocked', d => sheetLock(d, sid) === null)
    const e4 = await client(s, id, li.token)
    type(e4.doc, sid, 'A1', 'editor after unlock', 'li')
    await docUntil(watcher.doc, 'the editor\'s edit arrives', has(sid, 'A1', 'editor after unlock'))

    // locked again, the owner may unlock it too
    lockSheet(m2.doc, sid, '王经理', 'wang')
    await docUntil(watcher.doc, 'locked again', d => sheetLock(d, sid) !== null)
    unlockSheet(watcher.doc, sid, 'owner')
    await docUntil(serverDoc(s, id), 'the owner unlocked', d => sheetLock(d, sid) === null)
    type(watcher.doc, sid, 'A2', 'owner after unlock', 'owner')
    await docUntil(e4.doc, 'the owner\'s edit arrives', has(sid, 'A2', 'owner after unlock'))
    expect(e4.provider.wsconnected && m2.provider.wsconnected && watcher.provider.wsconnected).toBe(true)
  })
})

// ── limits ────────────────────────────────────────────────────────────────────────────────────────

/** An owner client with a marker cell, for checking that a workbook came through intact. */
async function markedWorkbook(s: TestServer) {
  const id = await createWorkbook(s)
  const owner = await client(s, id)
  const sid = firstSheet(owner.doc)
  type(owner.doc, sid, 'A1', 'intact', 'owner')
  await docUntil(serverDoc(s, id), 'the server has the marker', has(sid, 'A1', 'intact'))
  return { id, owner, sid }
}

/** The server still serves, the workbook still has its marker and still takes edits. */
async function expectIntact(s: TestServer, id: string, owner: Client, sid: string, addr: string) {
  expect((await s.api('GET', '/api/health')).status).toBe(200)
  expect(valueAt(serverDoc(s, id), sid, 'A1')).toBe('intact')
  expect(owner.provider.wsconnected).toBe(true)
  const other = await client(s, id)
  expectSameDoc(other.doc, serverDoc(s, id))
  type(owner.doc, sid, addr, 'still editing', 'owner')
  await docUntil(other.doc, 'an edit after it arrives', has(sid, addr, 'still editing'))
}

describe('limits', () => {
  it('closes a socket that sends a message over maxMessageBytes (4413, so the client does not resend it forever; 1009 past twice the limit); the server and the workbook are fine', async () => {
    const s = await server({ maxMessageBytes: 64 * 1024 })
    const { id, owner, sid } = await markedWorkbook(s)
    const p = await peer(socketUrl(s, id))
    await p.sync()
    const small = updateOf(p.doc, () => type(p.doc, sid, 'B1', 'x'.repeat(1000)))
    p.ws.send(updateFrame(small))
    await docUntil(serverDoc(s, id), 'a small message is taken', has(sid, 'B1', 'x'.repeat(1000)))
    const big = updateOf(p.doc, () => type(p.doc, sid, 'B2', 'y'.repeat(100 * 1024)))
    const shut = closed(p.ws)
    p.ws.send(updateFrame(big))
    expect((await shut).code).toBe(4413)
    expect(valueAt(serverDoc(s, id), sid, 'B2')).toBeUndefined()
    // far past the limit the socket layer itself cuts it off, before it is read whole
    const q = await peer(socketUrl(s, id))
    await q.sync()
    const huge = updateOf(q.doc, () => type(q.doc, sid, 'B3', 'z'.repeat(200 * 1024)))
    const shut2 = closed(q.ws)
    q.ws.send(updateFrame(huge))
    expect((await shut2).code).toBe(1009)
    expect(valueAt(serverDoc(s, id), sid, 'B3')).toBeUndefined()
    expect(valueAt(await storedDoc(s, id), sid, 'B2')).toBeUndefined()
    await expectIntact(s, id, owner, sid, 'C1')
  })

  it('closes a connection that floods messages past the rate limit with 1008; others are unaffected', async () => {
    const s = await server({ messagesPerSecond: 1, messageBurst: 20 })
    const { id, owner, sid } = await markedWorkbook(s)
    const p = await peer(socketUrl(s, id))
    await p.barrier()
    const shut = closed(p.ws)
    for (let i = 0; i < 60; i++) p.ws.send(new Uint8Array([MESSAGE_QUERY_AWARENESS]))
    expect(await shut).toEqual({ code: 1008, reason: 'rate limit' })
    const answers = p.received.filter(m => kindOf(m) === 'awareness').length
    // about the burst was answered (a broadcast or two may be among them), not all 60
    expect(answers).toBeGreaterThanOrEqual(15)
    expect(answers).toBeLessThan(30)
    await expectIntact(s, id, owner, sid, 'C1')
  })

  it('answers 429 after too many failed token attempts from one address; the server keeps serving', async () => {
    const s = await server({ maxAuthFailures: 3 })
    const id = await createWorkbook(s)
    const path = `/api/workbooks/${id}`
    const bad = `Bearer ${randomBytes(24).toString('base64url')}`
    expect(await status(s, 'GET', path, bad)).toBe(401)
    expect(await refusedUpgradeStatus(socketUrl(s, id, 'short'))).toBe(401)
    expect(await status(s, 'GET', path, null)).toBe(401)
    const limited = await s.api('GET', path, undefined, { headers: { authorization: bad } })
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('60')
    expect(typeof limited.json.error).toBe('string')
    expect(await refusedUpgradeStatus(socketUrl(s, id, randomBytes(24).toString('base64url')))).toBe(429)
    // a good token still gets in (a shared proxy address locks nobody out), on the API and the socket
    expect(await status(s, 'GET', path, `Bearer ${ownerTokens.get(id)}`)).toBe(200)
    const ok = await syncedClient(s, id)
    ok.destroy()
    expect(await status(s, 'GET', path, null)).toBe(429)
    expect((await s.api('GET', '/api/health')).status).toBe(200)
    expect((await s.api('GET', '/api/templates')).status).toBe(200)
    expect((await s.api('POST', '/api/workbooks', {})).status).toBe(201)
  })

  it('closes a socket that sends garbage after a valid message header (1002), or garbage instead of WebSocket frames', async () => {
    const s = await server()
    const { id, owner, sid } = await markedWorkbook(s)

    // a y-websocket header (sync, update) followed by bytes that are no Yjs update
    const p = await peer(socketUrl(s, id))
    await p.barrier()
    const shut = closed(p.ws)
    p.ws.send(syncMessage(syncProtocol.messageYjsUpdate, new Uint8Array(32).fill(0xff)))
    expect((await shut).code).toBe(1002)

    // a valid upgrade request, then bytes that are no WebSocket frame
    const url = new URL(socketUrl(s, id))
    const tcp = tcpConnect(Number(url.port), url.hostname)
    cleanups.push(() => tcp.destroy())
    let data = Buffer.alloc(0)
    tcp.on('data', (chunk: Buffer) => { data = Buffer.concat([data, chunk]) })
    const ended = new Promise<void>(resolve => tcp.once('close', () => resolve()))
    await new Promise<void>(resolve => tcp.once('connect', () => resolve()))
    tcp.write(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    )
    await until('101 Switching Protocols', () => data.includes('\r\n\r\n') && data.toString('latin1').startsWith('HTTP/1.1 101'), recheck => {
      tcp.on('data', recheck)
      return () => { tcp.off('data', recheck) }
    })
    tcp.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02, 0x03]))
    await until('the server hangs up', () => tcp.destroyed || tcp.readableEnded || undefined, recheck => {
      tcp.on('close', recheck)
      tcp.on('end', recheck)
      return () => { tcp.off('close', recheck); tcp.off('end', recheck) }
    })
    // the server's frames after the upgrade: its sync step 1, …, and a close frame with 1002
    const frames: { opcode: number; payload: Buffer }[] = []
    let at = data.indexOf('\r\n\r\n') + 4
    while (at + 2 <= data.length) {
      const opcode = data[at]! & 0x0f
      let len = data[at + 1]! & 0x7f, start = at + 2
      if (len === 126) { len = data.readUInt16BE(at + 2); start = at + 4 }
      else if (len === 127) { len = Number(data.readBigUInt64BE(at + 2)); start = at + 10 }
      frames.push({ opcode, payload: data.subarray(start, start + len) })
      at = start + len
    }
    const close = frames.find(f => f.opcode === 0x8)
    expect(close?.payload.readUInt16BE(0)).toBe(1002)
    tcp.destroy()
    await ended

    await expectIntact(s, id, owner, sid, 'C1')
  })

  it('refuses a change that would grow the workbook past maxDocBytes (4413); nothing of it is kept', async () => {
    const s = await server({ maxDocBytes: 16 * 1024 })
    const { id, owner, sid } = await markedWorkbook(s)
    const editor = await client(s, id, (await link(s, id, 'editor', '小李')).token)
    type(editor.doc, sid, 'B1', 'z'.repeat(2_000), 'li')
    await docUntil(serverDoc(s, id), 'a small edit fits', has(sid, 'B1', 'z'.repeat(2_000)))
    const refused = serverClose(editor)
    type(editor.doc, sid, 'B2', 'w'.repeat(20 * 1024), 'li')
    expect(await refused).toEqual({ code: 4413, reason: 'too-large' })
    expect(editor.provider.shouldConnect).toBe(false)
    expect(valueAt(serverDoc(s, id), sid, 'B2')).toBeUndefined()
    expect(valueAt(await storedDoc(s, id), sid, 'B2')).toBeUndefined()
    // owners are held to it as well
    const ownerRefused = serverClose(owner)
    type(owner.doc, sid, 'B3', 'v'.repeat(20 * 1024), 'owner')
    expect((await ownerRefused).code).toBe(4413)
    const again = await client(s, id)
    expectSameDoc(again.doc, serverDoc(s, id))
    expect(valueAt(again.doc, sid, 'B1')).toBe('z'.repeat(2_000))
    expect((await s.api('GET', '/api/health')).status).toBe(200)
  })
})


