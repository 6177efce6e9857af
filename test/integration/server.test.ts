// @vitest-environment node
/**
 * The real server, in-process on port 0 with a temp data dir, driven by stock y-websocket clients,
 * raw sockets and fetch. No sleeps: every wait is on an event, with a timeout.
 */
import { describe, it, expect } from 'vitest'
import { request } from 'node:http'
import { copyFileSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import * as Y from 'yjs'
import WebSocket from 'ws'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness'
import {
  cellKey, getTitle, metaOf, sheetIds, sheetName, sheetParts, sheetsOf, visibleColIds, visibleRowIds, type CellInput,
} from '../../src/core/workbook/schema'
import { setCell, setTitle } from '../../src/core/workbook/mutations'
import { SqliteStore } from '../../server/store/sqlite'
import { startServer } from '../../server/index'
import { injectIntoHead, licenseMetaTag } from '../../server/http/static'
import { DEFAULT_LICENSE_KEYS } from '../../src/core/licenses'
import {
  GatedStore, closed, connectClient, createLink, createWorkbook, ownerTokens, socketUrl, docUntil, nextEvent, rawRequest, rawSocket, refusedUpgradeStatus,
  startTestServer, syncedClient, testLogger, until, testScope,
} from '../helpers/server'

// ── bookkeeping: everything a test opens is closed after it, clients before servers ───────────────

const { cleanups, server, dataDir, track, socket } = testScope()
const client = async (s: { url: string }, id: string, opts: { token?: string } = {}) => track(await syncedClient(s, id, opts))


// ── cells of the first sheet by visible position ──────────────────────────────────────────────────

function cellAt(doc: Y.Doc, r: number, c: number) {
  const sheetId = sheetIds(doc)[0]
  const sheet = sheetId === undefined ? undefined : sheetsOf(doc).get(sheetId)
  if (!sheetId || !sheet) return undefined
  const rowId = visibleRowIds(sheet)[r]
  const colId = visibleColIds(sheet)[c]
  if (!rowId || !colId) return undefined
  return { sheetId, rowId, colId, cells: sheetParts(sheet).cells }
}
function write(doc: Y.Doc, r: number, c: number, value: CellInput): void {
  const at = cellAt(doc, r, c)
  if (!at) throw new Error(`no cell ${r},${c}`)
  setCell(doc, at.sheetId, at.rowId, at.colId, value, 'test')
}
function read(doc: Y.Doc, r: number, c: number): CellInput | undefined {
  const at = cellAt(doc, r, c)
  return at?.cells.get(cellKey(at.rowId, at.colId))
}
const cellIs = (r: number, c: number, v: CellInput) => (doc: Y.Doc) => read(doc, r, c) === v

/** Applies the stored updates of a workbook to a fresh doc, reading the SQLite file directly. */
async function storedDoc(dir: string, id: string): Promise<{ doc: Y.Doc; count: number }> {
  const store = new SqliteStore(dir)
  try {
    const updates = await store.loadUpdates(id)
    const doc = new Y.Doc()
    for (const u of updates) Y.applyUpdate(doc, u)
    return { doc, count: updates.length }
  } finally {
    await store.close()
  }
}

function syncStep1(doc: Y.Doc): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  syncProtocol.writeSyncStep1(e, doc)
  return encoding.toUint8Array(e)
}

// ── collaboration ─────────────────────────────────────────────────────────────────────────────────

describe('collaboration', () => {
  it('two stock y-websocket clients on one workbook converge', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const a = await client(s, id)
    const b = await client(s, id)
    // both got the template content from the server
    expect(sheetIds(a.doc)).toHaveLength(1)
    expect(sheetName(b.doc, sheetIds(b.doc)[0]!)).toBe('Sheet1')

    write(a.doc, 0, 0, 42)
    await docUntil(b.doc, 'B sees A1=42', cellIs(0, 0, 42))
    write(b.doc, 1, 1, '你好')
    await docUntil(a.doc, 'A sees B2', cellIs(1, 1, '你好'))

    // concurrent edits of the same cell and of meta: both end in the same state
    write(a.doc, 2, 2, 'from a')
    write(b.doc, 2, 2, 'from b')
    metaOf(a.doc).set('a', 1)
    metaOf(b.doc).set('b', 2)
    await Promise.all([
      docUntil(a.doc, 'A has b', d => metaOf(d).get('b') === 2),
      docUntil(b.doc, 'B has a', d => metaOf(d).get('a') === 1),
    ])
    const sv = (d: Y.Doc) => Array.from(Y.decodeStateVector(Y.encodeStateVector(d)).entries()).sort((x, y) => x[0] - y[0])
    const same = () => JSON.stringify(sv(a.doc)) === JSON.stringify(sv(b.doc))
    await Promise.all([docUntil(a.doc, 'convergence', same), docUntil(b.doc, 'convergence', same)])
    expect(a.doc.toJSON()).toEqual(b.doc.toJSON())
    expect(['from a', 'from b']).toContain(read(a.doc, 2, 2))
    expect(read(a.doc, 2, 2)).toBe(read(b.doc, 2, 2))
  })

  it('first opens share one encoding of the whole state, made again after every change', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const a = await client(s, id)
    write(a.doc, 0, 0, 'one')
    await docUntil(s.rooms.rooms.get(id)!.doc, 'the edit on the server', cellIs(0, 0, 'one'))
    const b = await client(s, id)
    expect(read(b.doc, 0, 0)).toBe('one')
    write(a.doc, 0, 0, 'two')
    await docUntil(s.rooms.rooms.get(id)!.doc, 'the second edit on the server', cellIs(0, 0, 'two'))
    const c = await client(s, id)
    expect(read(c.doc, 0, 0)).toBe('two')
    expect(Y.encodeStateVector(c.doc)).toEqual(Y.encodeStateVector(s.rooms.rooms.get(id)!.doc))
  })

  it('loads the workbook from the store before answering any message', async () => {
    const dir = dataDir()
    const first = await startTestServer({ dataDir: dir })
    const id = await createWorkbook(first)
    const seed = await syncedClient(first, id)
    write(seed.doc, 0, 0, 'stored')
    await nextEvent(first.rooms, 'flushed', (wid: string) => wid === id)
    seed.destroy()
    await first.close()

    const store = new GatedStore(dir)
    store.loadGate.close()
    const s = await server({ dataDir: dir, store })
    const opened = nextEvent(s.rooms, 'connection-opened')
    const ws = socket(await rawSocket(socketUrl(s, id)))
    const received: Uint8Array[] = []
    ws.on('message', (d: Buffer) => received.push(new Uint8Array(d)))
    const [, conn] = (await opened) as [string, { ws: WebSocket }]
    let arrived = 0
    const bothArrived = until('two messages at the server', () => arrived >= 2, recheck => {
      const f = () => { arrived++; recheck() }
      conn.ws.on('message', f)
      return () => { conn.ws.off('message', f) }
    })
    ws.send(syncStep1(new Y.Doc()))
    ws.send(new Uint8Array([3])) // query awareness
    await bothArrived
    expect(store.loadGate.waiters).toBe(1)
    expect(received).toEqual([])

    store.loadGate.open()
    // server sync step 1, then the answer to ours (step 2), then the awareness answer
    await until('three replies', () => received.length >= 3, recheck => {
      ws.on('message', recheck)
      return () => { ws.off('message', recheck) }
    })
    const kinds = received.map(m => { const d = decoding.createDecoder(m); const t = decoding.readVarUint(d); return t === 0 ? `sync${decoding.readVarUint(d)}` : `type${t}` })
    expect(kinds.slice(0, 3)).toEqual(['sync0', 'sync1', 'type1'])
    // the very first step 2 already carries the stored content
    const d = decoding.createDecoder(received[1]!)
    decoding.readVarUint(d); decoding.readVarUint(d)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, decoding.readVarUint8Array(d))
    expect(read(doc, 0, 0)).toBe('stored')
  })

  it('relays awareness under the name of the link (not the one claimed) and removes a connection\'s states when its socket drops', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const a = await client(s, id)

    const peerDoc = new Y.Doc()
    const peer = new Awareness(peerDoc)
    cleanups.push(() => peer.destroy())
    peer.setLocalState({ user: { name: '王经理', color: '#188038' } })
    const ws = socket(await rawSocket(socketUrl(s, id, await createLink(s, id, 'editor', '小王'))))
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 1)
    encoding.writeVarUint8Array(e, encodeAwarenessUpdate(peer, [peerDoc.clientID]))
    ws.send(encoding.toUint8Array(e))

    const states = a.provider.awareness
    const sees = () => states.getStates().get(peerDoc.clientID)?.user?.name === '小王'
      && states.getStates().get(peerDoc.clientID)?.user?.role === 'editor' && states.getStates().get(peerDoc.clientID)?.user?.color === '#188038'
    const subscribe = (recheck: () => void) => { states.on('change', recheck); return () => states.off('change', recheck) }
    await until('A sees the peer', sees, subscribe)
    ws.terminate()
    await until('the peer is gone at A', () => !states.getStates().has(peerDoc.clientID), subscribe)
  })
})

// ── persistence and the room lifecycle ────────────────────────────────────────────────────────────

describe('persistence', () => {
  it('keeps edits across a restart: shutdown waits for the write in flight and writes what queued behind it', async () => {
    const dir = dataDir()
    const store = new GatedStore(dir)
    const s1 = await startTestServer({ dataDir: dir, store, metaThrottleMs: 600_000 })
    let s1Closed = false
    cleanups.push(() => (s1Closed ? undefined : s1.close()))
    const id = await createWorkbook(s1, { title: 'Q3 计划' })
    const a = await syncedClient(s1, id)
    const b = await syncedClient(s1, id)
    store.appendGate.close()
    const held = nextEvent(store.appendGate, 'waiting')
    write(a.doc, 3, 4, 'persist me')
    await held // that write is in flight and held back
    setTitle(a.doc, '改名后的计划', 'test')
    const serverDoc = s1.rooms.rooms.get(id)!.doc
    await docUntil(serverDoc, 'the server has the second edit', d => getTitle(d) === '改名后的计划')
    // nothing is relayed before it is stored
    expect(read(b.doc, 3, 4)).toBeUndefined()
    expect((await storedDoc(dir, id)).count).toBe(1) // only the initial update so far
    const closing = s1.close()
    store.appendGate.open()
    await closing
    s1Closed = true
    a.destroy(); b.destroy()

    const s2 = await server({ dataDir: dir })
    const c = await client(s2, id)
    expect(read(c.doc, 3, 4)).toBe('persist me')
    expect(getTitle(c.doc)).toBe('改名后的计划')
    // the title edited in the doc is mirrored into the workbooks row
    const row = await s2.api('GET', `/api/workbooks/${id}`)
    expect(row.json.title).toBe('改名后的计划')
    expect(row.json.updatedAt).toBeGreaterThanOrEqual(row.json.createdAt)
  })

  it('an update reaches other clients only once it is stored; concurrent ones are written together', async () => {
    const dir = dataDir()
    const s = await server({ dataDir: dir })
    const id = await createWorkbook(s)
    const a = await client(s, id)
    const b = await client(s, id)
    const batches: number[] = []
    s.rooms.on('flushed', (wid, info) => { if (wid === id) batches.push(info.updates) })
    let checked = 0
    const missing: number[] = []
    b.doc.on('update', (_u: Uint8Array, origin: unknown) => {
      if (origin !== b.provider) return
      // whatever B was sent is already in the store (SQLite answers synchronously)
      const stored = new Y.Doc()
      for (const u of (s.store as SqliteStore).db.prepare<[string], { data: Buffer }>('SELECT data FROM updates WHERE workbook_id = ?').all(id)) Y.applyUpdate(stored, u.data)
      for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(b.doc))) {
        if ((Y.decodeStateVector(Y.encodeStateVector(stored)).get(client) ?? 0) < clock) missing.push(checked)
      }
      checked++
    })
    for (let i = 0; i < 40; i++) write(a.doc, i % 10, 1, `v${i}`)
    await docUntil(b.doc, 'B has the last edit', d => read(d, 9, 1) === 'v39')
    expect(checked).toBeGreaterThan(0)
    expect(missing).toEqual([])
    // 40 transactions sent in one burst: fewer rows than updates (group commit)
    expect(batches.reduce((x, y) => x + y, 0)).toBe(40)
  })

  it('edits of several people stored together reach each peer as one message; nobody gets back only their own, nor a big edit of theirs', async () => {
    const dir = dataDir()
    const store = new GatedStore(dir)
    const s = await server({ dataDir: dir, store })
    const id = await createWorkbook(s)
    const [a, b, c] = [await client(s, id), await client(s, id), await client(s, id)]
    // the document updates each one is sent (sync messages of type update), and their bytes
    const received = new Map([a, b, c].map(x => [x, { messages: 0, bytes: 0 }]))
    for (const [x, n] of received) {
      // the provider reads its socket as ArrayBuffers
      ;(x.provider.ws as unknown as WebSocket).on('message', (data: ArrayBuffer) => {
        const m = new Uint8Array(data)
        if (m[0] === 0 && m[1] === syncProtocol.messageYjsUpdate) { n.messages++; n.bytes += m.length }
      })
    }
    const serverDoc = () => s.rooms.rooms.get(id)!.doc
    // C's edit is held in its write; A's and B's wait behind it, to be stored (and relayed) together
    store.appendGate.close()
    const held = nextEvent(store.appendGate, 'waiting')
    write(c.doc, 0, 0, 'from C')
    await held
    write(a.doc, 1, 0, 'from A')
    write(b.doc, 2, 0, 'from B')
    await docUntil(serverDoc(), 'the server has both', d => read(d, 1, 0) === 'from A' && read(d, 2, 0) === 'from B')
    store.appendGate.open()
    await docUntil(c.doc, 'C has both', d => read(d, 1, 0) === 'from A' && read(d, 2, 0) === 'from B')
    await docUntil(a.doc, 'A has B\'s', cellIs(2, 0, 'from B'))
    await docUntil(b.doc, 'B has A\'s', cellIs(1, 0, 'from A'))
    await s.rooms.flushAll()
    // C: nothing of its own alone, then A's and B's as one; A and B: C's, then the pair as one
    expect([a, b, c].map(x => received.get(x)!.messages)).toEqual([2, 2, 1])

    // a big edit is not echoed to its sender: A gets B's small one by itself
    for (const n of received.values()) n.messages = n.bytes = 0
    store.appendGate.close()
    const held2 = nextEvent(store.appendGate, 'waiting')
    write(c.doc, 0, 0, 'again C')
    await held2
    const big = 'x'.repeat(40_000)
    write(a.doc, 3, 0, big)
    write(b.doc, 4, 0, 'small')
    await docUntil(serverDoc(), 'the server has both', d => read(d, 3, 0) === big && read(d, 4, 0) === 'small')
    store.appendGate.open()
    await docUntil(a.doc, 'A has B\'s', cellIs(4, 0, 'small'))
    await docUntil(c.doc, 'C has both', d => read(d, 3, 0) === big && read(d, 4, 0) === 'small')
    await docUntil(b.doc, 'B has A\'s', cellIs(3, 0, big))
    await s.rooms.flushAll()
    expect(received.get(a)!.bytes).toBeLessThan(1_000)
    expect(received.get(b)!.bytes).toBeGreaterThan(40_000)
    expect(received.get(c)!.messages).toBe(1)
    const stored = await storedDoc(dir, id)
    expect(read(stored.doc, 3, 0)).toBe(big)
    expect(read(stored.doc, 4, 0)).toBe('small')
  })

  it('compacts many stored updates into one without losing content', async () => {
    const dir = dataDir()
    const s = await server({ dataDir: dir, compactThreshold: 10 })
    const id = await createWorkbook(s)
    const a = await client(s, id)
    const b = await client(s, id)
    const compactions: number[] = []
    s.rooms.on('compacted', (wid, info) => { if (wid === id) compactions.push(info.removed) })
    // one at a time (each relayed, so stored, before the next): 25 stored updates
    for (let i = 0; i < 25; i++) {
      write(a.doc, i, 0, i * 10)
      await docUntil(b.doc, `B has edit ${i}`, d => read(d, i, 0) === i * 10)
    }
    await s.rooms.flushAll()
    expect(compactions.length).toBeGreaterThan(0)
    // each folds every row past the threshold (a fold of the rows after the last full compaction keeps that row)
    expect(compactions.every(n => n >= 10)).toBe(true)
    const count = await s.store.countUpdates(id)
    expect(count).toBeLessThanOrEqual(11)

    const stored = await storedDoc(dir, id)
    expect(stored.count).toBe(count)
    for (let i = 0; i < 25; i++) expect(read(stored.doc, i, 0)).toBe(i * 10)
    expect(sheetName(stored.doc, sheetIds(stored.doc)[0]!)).toBe('Sheet1')
    expect(stored.doc.toJSON()).toEqual(a.doc.toJSON())
  })

  it('frees a room after its last client leaves; a new client gets the latest state', async () => {
    const s = await server({ unloadDelayMs: 20 })
    const id = await createWorkbook(s)
    const a = await syncedClient(s, id)
    write(a.doc, 0, 1, 'before unload')
    expect(s.rooms.rooms.has(id)).toBe(true)
    const unloaded = nextEvent(s.rooms, 'room-unloaded', (wid: string) => wid === id)
    a.destroy()
    await unloaded
    expect(s.rooms.rooms.has(id)).toBe(false)

    const c = await client(s, id)
    expect(read(c.doc, 0, 1)).toBe('before unload')
    expect(s.rooms.rooms.has(id)).toBe(true)
  })

  it('a client arriving while the room unloads joins the same doc (no stale reload)', async () => {
    const dir = dataDir()
    const store = new GatedStore(dir)
    const s = await server({ dataDir: dir, store, unloadDelayMs: 20 })
    const id = await createWorkbook(s)
    const a = await syncedClient(s, id)
    let unloads = 0
    s.rooms.on('room-unloaded', wid => { if (wid === id) unloads++ })

    store.appendGate.close()
    const blocked = nextEvent(store.appendGate, 'waiting')
    write(a.doc, 0, 0, 'in flight')
    await blocked // the server is writing the edit, and that write is held back
    const unloading = nextEvent(s.rooms, 'room-unloading', (wid: string) => wid === id)
    a.destroy()
    await unloading // the unload now waits on the held-back write

    // B joins during the unload; its initial state waits for the held-back write (then holds it)
    const b = connectClient(s, id)
    cleanups.push(() => b.destroy())
    await nextEvent(s.rooms, 'connection-opened', (wid: string) => wid === id)
    store.appendGate.open()
    await b.synced()
    expect(read(b.doc, 0, 0)).toBe('in flight')
    write(b.doc, 1, 0, 'after')
    await s.rooms.flushAll()
    expect(unloads).toBe(0)
    expect(s.rooms.rooms.get(id)?.state).toBe('ready')

    const gone = nextEvent(s.rooms, 'room-unloaded', (wid: string) => wid === id)
    b.provider.destroy()
    await gone
    const stored = await storedDoc(dir, id)
    expect(read(stored.doc, 0, 0)).toBe('in flight')
    expect(read(stored.doc, 1, 0)).toBe('after')
    const c = await client(s, id)
    expect(read(c.doc, 0, 0)).toBe('in flight')
    expect(read(c.doc, 1, 0)).toBe('after')
  })
})

// ── HTTP API ──────────────────────────────────────────────────────────────────────────────────────

describe('API', () => {
  it('health and localized templates', async () => {
    const s = await server()
    const health = await s.api('GET', '/api/health')
    expect(health.status).toBe(200)
    expect(health.json).toMatchObject({ ok: true, store: 'up', redis: 'off' })

    const zh = await s.api('GET', '/api/templates')
    expect(zh.status).toBe(200)
    const blankZh = zh.json.find((t: { id: string }) => t.id === 'blank')
    expect(blankZh).toEqual({ id: 'blank', custom: false, title: '空白工作簿', description: expect.any(String), sheets: ['Sheet1'], preview: { sheet: 'Sheet1', columns: ['A'], rows: [] } })
    const en = await s.api('GET', '/api/templates?lang=en')
    expect(en.json.find((t: { id: string }) => t.id === 'blank').title).toBe('Blank workbook')
    const bad = await s.api('GET', '/api/templates?lang=fr')
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatch(/lang/)
  })

  it('creates, lists, reads, renames and deletes workbooks', async () => {
    const secret = 'a-create-secret-for-this-test'
    const s = await server({ createSecret: secret })
    const admin = { authorization: `Bearer ${secret}` }
    const created = await s.api('POST', '/api/workbooks', { template: 'blank', title: '  双十一备货  ', lang: 'en' }, { headers: admin })
    expect(created.status).toBe(201)
    const wb = created.json
    expect(wb.id).toMatch(/^[A-Za-z0-9_-]{16,}$/)
    expect(wb.token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    // the url opens the workbook as its owner
    expect(wb).toMatchObject({ title: '双十一备货', template: 'blank', url: `/w/${wb.id}?token=${wb.token}`, you: { role: 'owner', name: 'Owner' } })
    expect(created.headers.get('location')).toBe(`/api/workbooks/${wb.id}`)
    const owner = { authorization: `Bearer ${wb.token}` }

    // without the secret nobody creates or lists
    expect((await s.api('POST', '/api/workbooks', {})).status).toBe(401)
    expect((await s.api('POST', '/api/workbooks', {}, { headers: { authorization: 'Bearer wrong-secret-wrong-secret' } })).status).toBe(403)
    expect((await s.api('GET', '/api/workbooks')).status).toBe(401)

    const plain = await s.api('POST', '/api/workbooks', undefined, { rawBody: '', headers: admin })
    expect(plain.status).toBe(201)
    expect(plain.json.title).toBe('空白工作簿') // template title, default language zh-CN
    expect(plain.json.you.name).toBe('所有者')
    const english = await s.api('POST', '/api/workbooks', { lang: 'en', title: '   ', name: '  Ana  ' }, { headers: admin })
    expect(english.json.title).toBe('Blank workbook')
    expect(english.json.you).toMatchObject({ role: 'owner', name: 'Ana' })
    expect(english.json.id).not.toBe(plain.json.id)

    // the stored doc is the template's
    const c = await client(s, wb.id, { token: wb.token })
    expect(getTitle(c.doc)).toBe('双十一备货')
    expect(metaOf(c.doc).get('templateId')).toBe('blank')
    expect(visibleRowIds(sheetsOf(c.doc).get(sheetIds(c.doc)[0]!)!)).toHaveLength(100)

    const list = await s.api('GET', '/api/workbooks', undefined, { headers: admin })
    expect(list.status).toBe(200)
    expect(list.json.map((w: { id: string }) => w.id).sort()).toEqual([wb.id, plain.json.id, english.json.id].sort())
    for (const w of list.json) expect(Object.keys(w).sort()).toEqual(['createdAt', 'id', 'template', 'title', 'updatedAt', 'url'])

    const one = await s.api('GET', `/api/workbooks/${wb.id}`, undefined, { headers: owner })
    expect(one.json).toEqual({ ...wb, url: `/w/${wb.id}`, token: undefined, you: { ...wb.you } })
    // another workbook's token does not open this one
    expect((await s.api('GET', `/api/workbooks/${plain.json.id}`, undefined, { headers: owner })).status).toBe(403)

    const renamed = await s.api('PATCH', `/api/workbooks/${plain.json.id}`, { title: '新名字' }, { headers: { authorization: `Bearer ${plain.json.token}` } })
    expect(renamed.status).toBe(200)
    expect(renamed.json.title).toBe('新名字')
    const list2 = await s.api('GET', '/api/workbooks', undefined, { headers: admin })
    expect(list2.json[0].id).toBe(plain.json.id) // most recently updated first

    const del = await s.api('DELETE', `/api/workbooks/${english.json.id}`, undefined, { headers: { authorization: `Bearer ${english.json.token}` } })
    expect(del.status).toBe(204)
    // its links went with it
    expect((await s.api('GET', `/api/workbooks/${english.json.id}`, undefined, { headers: { authorization: `Bearer ${english.json.token}` } })).status).toBe(401)
    expect((await s.api('GET', '/api/workbooks', undefined, { headers: admin })).json).toHaveLength(2)
  })

  it('answers bad input with JSON errors and fitting statuses', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const cases: [string, string, number, { body?: unknown; rawBody?: string }][] = [
      ['POST', '/api/workbooks', 400, { rawBody: '{"template": "blank",' }],
      ['POST', '/api/workbooks', 400, { rawBody: '[1,2]' }],
      ['POST', '/api/workbooks', 400, { body: { template: 'no-such-template' } }],
      ['POST', '/api/workbooks', 400, { body: { template: 7 } }],
      ['POST', '/api/workbooks', 400, { body: { title: 123 } }],
      ['POST', '/api/workbooks', 400, { body: { title: 'x'.repeat(201) } }],
      ['POST', '/api/workbooks', 400, { body: { lang: 'fr' } }],
      ['PATCH', `/api/workbooks/${id}`, 400, { body: { title: '' } }],
      ['PATCH', `/api/workbooks/${id}`, 400, { body: {} }],
      ['PATCH', `/api/workbooks/${id}`, 400, { rawBody: 'not json' }],
      ['GET', '/api/workbooks/AAAAAAAAAAAAAAAAAAAAAA', 401, {}],
      ['PATCH', '/api/workbooks/AAAAAAAAAAAAAAAAAAAAAA', 401, { body: { title: 'x' } }],
      ['DELETE', '/api/workbooks/AAAAAAAAAAAAAAAAAAAAAA', 401, {}],
      ['GET', '/api/workbooks', 403, {}],
      ['GET', '/api/workbooks/..%2F..%2Fetc', 404, {}],
      ['GET', '/api/nothing-here', 404, {}],
      ['GET', '/api', 404, {}],
      ['PUT', '/api/workbooks', 405, { body: {} }],
      ['POST', `/api/workbooks/${id}`, 405, { body: {} }],
      ['DELETE', '/api/health', 405, {}],
    ]
    for (const [method, path, status, { body, rawBody }] of cases) {
      const res = await s.api(method, path, body, { rawBody })
      expect({ method, path, status: res.status }).toEqual({ method, path, status })
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      expect(typeof res.json?.error).toBe('string')
    }
    const wrongMethod = await s.api('PUT', '/api/workbooks', {})
    expect(wrongMethod.headers.get('allow')).toContain('POST')

    // over 1 MB
    const big = JSON.stringify({ title: 'x', pad: 'y'.repeat(1024 * 1024 + 10) })
    const tooBig = await s.api('POST', '/api/workbooks', undefined, { rawBody: big })
    expect(tooBig.status).toBe(413)
    expect(tooBig.json.error).toMatch(/larger/)
    // nothing was created by any of it, and the workbook is untouched
    expect(await s.store.listWorkbooks()).toHaveLength(1)
    expect((await s.api('GET', '/api/health')).status).toBe(200)
  })

  it('a 400 names the field of the body or query option that is wrong', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const cases: [string, string, { body?: unknown; rawBody?: string }, RegExp][] = [
      ['POST', '/api/workbooks', { body: { template: 5 } }, /^template must be a string$/],
      ['POST', '/api/workbooks', { body: { title: 123 } }, /^title must be a string$/],
      ['POST', '/api/workbooks', { body: { title: 'x'.repeat(201) } }, /^title must be at most 200 characters$/],
      ['POST', '/api/workbooks', { body: { lang: 'fr' } }, /^lang must be one of zh-CN, en$/],
      ['POST', '/api/workbooks', { body: { name: ['a'] } }, /^name must be a string$/],
      ['POST', '/api/workbooks', { body: { timeZone: 'Mars/Olympus' } }, /^timeZone must be a time zone such as Asia\/Shanghai$/],
      ['POST', '/api/workbooks/import?timeZone=Asia%2FNowhere', { rawBody: 'PK' }, /^timeZone must be a time zone/],
      ['POST', '/api/workbooks', { rawBody: '{"template": "blank",' }, /^malformed JSON body$/],
      ['POST', '/api/workbooks', { rawBody: '[1,2]' }, /^request body must be a JSON object$/],
      ['PATCH', `/api/workbooks/${id}`, { body: {} }, /^title is required$/],
      ['PATCH', `/api/workbooks/${id}`, { body: { title: ' \u0007 ' } }, /^title must not be empty$/],
      ['POST', `/api/workbooks/${id}/links`, { body: { role: 'admin', name: 'x' } }, /^role must be one of owner, editor, commenter, viewer$/],
      ['POST', `/api/workbooks/${id}/links`, { body: { role: 'viewer' } }, /^name is required$/],
      ['POST', `/api/workbooks/${id}/links`, { body: { role: 'viewer', name: '  ' } }, /^name must not be empty$/],
      ['POST', `/api/workbooks/${id}/template`, { body: { description: 7 } }, /^description must be a string$/],
      ['POST', `/api/workbooks/${id}/export.xlsx`, { body: { images: 'all' } }, /^images must be a list/],
      ['POST', `/api/workbooks/${id}/export.xlsx`, { body: { images: [{ chartId: 'a b', png: 'iVBO' }] } }, /^images\[0\]\.chartId must be a chart id$/],
      ['POST', '/api/templates', { body: [] }, /^request body must be a JSON object$/],
      ['POST', '/api/workbooks/import?lang=xx', { rawBody: 'PK' }, /^lang must be one of zh-CN, en$/],
      ['POST', `/api/workbooks/import?title=${'t'.repeat(201)}`, { rawBody: 'PK' }, /^title must be at most 200 characters$/],
    ]
    for (const [method, path, { body, rawBody }, message] of cases) {
      const res = await s.api(method, path, body, { rawBody })
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 400 })
      expect(res.json.error).toMatch(message)
    }
    // nothing was made by any of it
    expect(await s.store.listWorkbooks()).toHaveLength(1)
    expect(await s.store.listLinks(id)).toHaveLength(1)
  })

  it('a new workbook is on its creator\'s time zone, and on Asia/Shanghai without one', async () => {
    const s = await server()
    const berlin = await s.api('POST', '/api/workbooks', { template: 'blank', timeZone: 'Europe/Berlin' })
    expect(berlin.status).toBe(201)
    const a = track(await syncedClient(s, berlin.json.id, { token: berlin.json.token }))
    expect(a.doc.getMap('meta').get('timeZone')).toBe('Europe/Berlin')
    const plain = await s.api('POST', '/api/workbooks', { template: 'blank' })
    const b = track(await syncedClient(s, plain.json.id, { token: plain.json.token }))
    expect(b.doc.getMap('meta').get('timeZone')).toBeUndefined()
  })

  it('PATCH title reaches connected clients and the list', async () => {
    const s = await server()
    const id = await createWorkbook(s, { title: '旧名字' })
    const a = await client(s, id)
    expect(getTitle(a.doc)).toBe('旧名字')
    const res = await s.api('PATCH', `/api/workbooks/${id}`, { title: '  新名字\n  ' })
    expect(res.status).toBe(200)
    expect(res.json.title).toBe('新名字')
    await docUntil(a.doc, 'client sees the new title', d => getTitle(d) === '新名字')
    expect((await s.api('GET', `/api/workbooks/${id}`)).json.title).toBe('新名字')
  })

  it('DELETE closes live sockets with 4404 and removes the stored data', async () => {
    const dir = dataDir()
    const s = await server({ dataDir: dir })
    const id = await createWorkbook(s)
    const keep = await createWorkbook(s)
    const a = await client(s, id)
    const k = await client(s, keep)
    write(a.doc, 0, 0, 'doomed')
    await s.rooms.flushAll()
    const closedEvt = nextEvent<[{ code: number; reason: string }]>(a.provider as never, 'closed')
    expect((await s.api('DELETE', `/api/workbooks/${id}`)).status).toBe(204)
    const [info] = await closedEvt
    expect(info.code).toBe(4404)
    expect(s.rooms.rooms.has(id)).toBe(false)
    expect(await s.store.countUpdates(id)).toBe(0)
    // the owner link went with the workbook
    expect(await refusedUpgradeStatus(socketUrl(s, id))).toBe(401)
    expect((await s.api('DELETE', `/api/workbooks/${id}`)).status).toBe(401)
    // the other workbook is unaffected
    expect(k.provider.wsconnected).toBe(true)
    expect((await storedDoc(dir, keep)).count).toBe(1)
  })
})

// ── WebSocket robustness ──────────────────────────────────────────────────────────────────────────

describe('WebSocket endpoint', () => {
  it('refuses upgrades without a token for the workbook (401/403) and to other paths (400)', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    expect(await refusedUpgradeStatus(`${s.wsUrl}/collab/AAAAAAAAAAAAAAAAAAAAAA`)).toBe(401)
    expect(await refusedUpgradeStatus(`${s.wsUrl}/collab/AAAAAAAAAAAAAAAAAAAAAA?token=${ownerTokens.get(id)}`)).toBe(403)
    expect(await refusedUpgradeStatus(`${s.wsUrl}/collab/not%20an%20id`)).toBe(401)
    expect(await refusedUpgradeStatus(`${s.wsUrl}/collab/`)).toBe(400)
    expect(await refusedUpgradeStatus(`${s.wsUrl}/somewhere/else`)).toBe(400)
    expect(await refusedUpgradeStatus(`${s.wsUrl}/api/health`)).toBe(400)
  })

  it('closes a socket that sends garbage, and only that socket', async () => {
    const s = await server({ maxMessageBytes: 64 * 1024 })
    const id = await createWorkbook(s)
    const a = await client(s, id)
    const b = await client(s, id)
    write(a.doc, 0, 0, 'before')
    await docUntil(b.doc, 'B synced', cellIs(0, 0, 'before'))

    const bad: [string, Uint8Array | string, number, string][] = [
      ['unknown message type', new Uint8Array([7, 1, 2]), 1002, 'unknown-message'],
      ['unterminated varint', new Uint8Array([0xff, 0xff, 0xff]), 1002, 'truncated'],
      ['empty message', new Uint8Array([]), 1002, 'empty'],
      ['unknown sync type', new Uint8Array([0, 9, 0]), 1002, 'unknown-sync-message'],
      ['update longer than the message', new Uint8Array([0, 2, 50, 1, 2, 3]), 1002, 'truncated'],
      ['malformed update', new Uint8Array([0, 2, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), 1002, 'bad-update'],
      ['malformed sync step 2', new Uint8Array([0, 1, 4, 9, 0xc8, 0xff, 0x05]), 1002, 'bad-update'],
      ['malformed awareness', new Uint8Array([1, 4, 1, 5, 1, 0xff]), 1002, 'bad-awareness'],
      ['text frame', 'hello', 1003, 'binary messages only'],
      ['too large', new Uint8Array(65 * 1024), 4413, 'message too large'],
      ['far too large', new Uint8Array(129 * 1024), 1009, ''],
    ]
    for (const [what, bytes, code, reason] of bad) {
      const ws = socket(await rawSocket(socketUrl(s, id)))
      const closing = closed(ws)
      ws.send(bytes)
      const info = await closing
      expect({ what, ...info }).toEqual({ what, code, reason })
    }
    // none of it reached the document
    expect(a.doc.toJSON()).toEqual(b.doc.toJSON())
    expect(Array.from(Y.decodeStateVector(Y.encodeStateVector(a.doc)).keys()).sort()).toEqual(
      Array.from(Y.decodeStateVector(Y.encodeStateVector(s.rooms.rooms.get(id)!.doc)).keys()).sort())

    expect((await s.api('GET', '/api/health')).status).toBe(200)
    expect(a.provider.wsconnected && b.provider.wsconnected).toBe(true)
    write(b.doc, 0, 1, 'after')
    await docUntil(a.doc, 'A still gets edits', cellIs(0, 1, 'after'))
    expect(read(a.doc, 0, 0)).toBe('before')
    const fresh = await client(s, id)
    expect(read(fresh.doc, 0, 1)).toBe('after')
  })
})

describe('keep-alive and startup', () => {
  it('closes sockets that stop answering pings and keeps the live ones', async () => {
    const s = await server({ pingIntervalMs: 50 })
    const id = await createWorkbook(s)
    const live = await client(s, id)
    const dead = socket(new WebSocket(socketUrl(s, id), { autoPong: false }))
    const deadClosed = closed(dead, 2_000)
    const info = await deadClosed
    expect(info.code).toBe(1006) // terminated, no close frame
    expect(live.provider.wsconnected).toBe(true)
    write(live.doc, 0, 0, 'still here')
    const other = await client(s, id)
    expect(read(other.doc, 0, 0)).toBe('still here')
  })

  it('refuses to start with a broken template, naming the file', async () => {
    const dir = dataDir()
    const templates = join(dir, 'templates')
    const repoTemplates = fileURLToPath(new URL('../../templates', import.meta.url))
    mkdirSync(templates)
    copyFileSync(join(repoTemplates, 'blank.json'), join(templates, 'blank.json'))
    writeFileSync(join(templates, 'broken-plan.json'), JSON.stringify({ schemaVersion: 1, id: 'broken-plan', title: 'x', sheets: [] }))
    const opts = { port: 0, dataDir: join(dir, 'db'), templatesDir: templates, logger: testLogger() }
    await expect(startServer(opts)).rejects.toThrow(/broken-plan\.json: sheets/)
    writeFileSync(join(templates, 'broken-plan.json'), '{ not json')
    await expect(startServer(opts)).rejects.toThrow(/broken-plan\.json.*not valid JSON/)
    writeFileSync(join(templates, 'broken-plan.json'), JSON.stringify({ schemaVersion: 1, id: 'blank', title: 'x', sheets: [{ name: 'a' }] }))
    await expect(startServer(opts)).rejects.toThrow(/broken-plan\.json: id.*already used/)
    // a valid second template is listed; the JSON Schema beside them is not a template
    copyFileSync(join(repoTemplates, 'template.schema.json'), join(templates, 'template.schema.json'))
    writeFileSync(join(templates, 'broken-plan.json'), JSON.stringify({ schemaVersion: 1, id: 'okr', title: { 'zh-CN': '目标', en: 'Goals' }, sheets: [{ name: { 'zh-CN': '目标', en: 'Goals' } }] }))
    const s = await server({ dataDir: join(dir, 'db'), templatesDir: templates })
    const list = await s.api('GET', '/api/templates?lang=en')
    expect(list.json.map((t: { id: string }) => t.id)).toEqual(['blank', 'okr'])
    const made = await s.api('POST', '/api/workbooks', { template: 'okr' })
    expect(made.json).toMatchObject({ title: '目标', template: 'okr' })
  })
})

// ── the SPA ───────────────────────────────────────────────────────────────────────────────────────

function rawGet(url: string, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', c => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('static files', () => {
  it('serves the built app with SPA fallback, content types and cache headers', async () => {
    const s = await server()
    const root = await rawGet(s.url, '/')
    expect(root.status).toBe(200)
    expect(root.headers['content-type']).toMatch(/^text\/html/)
    expect(root.headers['cache-control']).toBe('no-cache')
    expect(root.body).toContain('<div id="app">')

    const route = await rawGet(s.url, '/w/some-workbook?x=1')
    expect(route.status).toBe(200)
    expect(route.body).toBe(root.body)

    const asset = await rawGet(s.url, '/assets/app-abc123.js')
    expect(asset.status).toBe(200)
    expect(asset.headers['content-type']).toMatch(/^text\/javascript/)
    expect(asset.headers['cache-control']).toContain('immutable')
    expect(asset.body).toContain('console.log')

    expect((await rawGet(s.url, '/favicon.svg')).headers['content-type']).toBe('image/svg+xml')
    expect((await rawGet(s.url, '/assets/missing-123.js')).status).toBe(404)

    expect(readFileSync(join(s.staticDir, '..', 'secret.txt'), 'utf8')).toBe('TOP SECRET')
    for (const path of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%2e%2e%5csecret.txt', '/assets/..%5c..%5csecret.txt']) {
      const res = await rawGet(s.url, path)
      expect(res.body, path).not.toContain('TOP SECRET')
      if (res.status === 200) expect(res.body, path).toBe(root.body)
    }

    const apiMiss = await rawGet(s.url, '/api/nope')
    expect(apiMiss.status).toBe(404)
    expect(apiMiss.headers['content-type']).toMatch(/^application\/json/)
  })
  it('sends the precompressed copy a browser takes (brotli, else gzip), and the file itself otherwise', async () => {
    const s = await server()
    const text = `console.log(${JSON.stringify('计划'.repeat(3000))})\n`
    const file = join(s.staticDir, 'assets', 'big-abc123.js')
    writeFileSync(file, text)
    writeFileSync(`${file}.br`, brotliCompressSync(text))
    writeFileSync(`${file}.gz`, gzipSync(text))
    const path = '/assets/big-abc123.js'
    const br = await rawRequest(s.url, path, { 'accept-encoding': 'gzip, deflate, br' })
    expect(br.status).toBe(200)
    expect(br.headers['content-encoding']).toBe('br')
    expect(br.headers['content-type']).toMatch(/^text\/javascript/)
    expect(br.headers.vary).toBe('Accept-Encoding')
    expect(Number(br.headers['content-length'])).toBe(br.body.length)
    expect(br.body.length).toBeLessThan(Buffer.byteLength(text) / 10)
    expect(brotliDecompressSync(br.body).toString('utf8')).toBe(text)
    for (const accept of ['gzip', 'br;q=0, gzip;q=0.8', 'GZIP, identity']) {
      const gz = await rawRequest(s.url, path, { 'accept-encoding': accept })
      expect(gz.headers['content-encoding'], accept).toBe('gzip')
      expect(gunzipSync(gz.body).toString('utf8')).toBe(text)
    }
    for (const accept of ['', 'identity', 'br;q=0, gzip;q=0', 'deflate']) {
      const plain = await rawRequest(s.url, path, accept ? { 'accept-encoding': accept } : {})
      expect(plain.headers['content-encoding'], accept).toBeUndefined()
      expect(plain.body.toString('utf8')).toBe(text)
    }
    // each encoding is its own version for caches
    expect((await rawRequest(s.url, path, { 'accept-encoding': 'br', 'if-none-match': String(br.headers.etag) })).status).toBe(304)
    const other = await rawRequest(s.url, path, { 'accept-encoding': 'gzip', 'if-none-match': String(br.headers.etag) })
    expect(other.status).toBe(200)
    expect(other.headers['content-encoding']).toBe('gzip')
    // a copy older than its file (the file was replaced without a build) is not sent
    const past = new Date(Date.now() - 3_600_000)
    utimesSync(`${file}.br`, past, past)
    const stale = await rawRequest(s.url, path, { 'accept-encoding': 'br' })
    expect(stale.headers['content-encoding']).toBeUndefined()
    expect(stale.body.toString('utf8')).toBe(text)
  })

  it('a workbook page asks for the workbook page\'s scripts and styles at once; other pages do not', async () => {
    const dist = fileURLToPath(new URL('../../dist', import.meta.url))
    const s = await server({ staticDir: dist })
    const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8')) as Record<string, { file: string; css?: string[] }>
    const page = manifest['src/pages/WorkbookPage.vue']!
    const home = (await rawRequest(s.url, '/')).body.toString('utf8')
    // the page as built, with the licence keys (see licenses.test.ts)
    expect(home).toBe(injectIntoHead(readFileSync(join(dist, 'index.html'), 'utf8'), licenseMetaTag(DEFAULT_LICENSE_KEYS)))
    expect(home).not.toContain(`/${page.file}"`)
    for (const accept of ['', 'br', 'gzip']) {
      const res = await rawRequest(s.url, '/w/some-workbook', accept ? { 'accept-encoding': accept } : {})
      expect(res.status).toBe(200)
      expect(res.headers['content-type']).toMatch(/^text\/html/)
      expect(res.headers['cache-control']).toBe('no-cache')
      expect(res.headers['content-security-policy']).toContain("script-src 'self'")
      const html = (accept === 'br' ? brotliDecompressSync(res.body) : accept === 'gzip' ? gunzipSync(res.body) : res.body).toString('utf8')
      expect(html).toContain(`<link rel="modulepreload" crossorigin href="/${page.file}">`)
      for (const css of page.css ?? []) expect(html).toContain(`<link rel="preload" as="style" crossorigin href="/${css}">`)
      // the same page otherwise
      expect(html.replace(/\s*<link rel="(modulepreload|preload)"[^>]*>/g, '')).toBe(home.replace(/\s*<link rel="(modulepreload|preload)"[^>]*>/g, ''))
    }
    const etag = String((await rawRequest(s.url, '/w/some-workbook', { 'accept-encoding': 'br' })).headers.etag)
    expect((await rawRequest(s.url, '/w/some-workbook', { 'accept-encoding': 'br', 'if-none-match': etag })).status).toBe(304)
    // the print view and other routes get the plain page
    expect((await rawRequest(s.url, '/w/some-workbook/print')).body.toString('utf8')).toBe(home)
  })

  it('the build writes brotli and gzip copies of the app, and the server sends them', async () => {
    const dist = fileURLToPath(new URL('../../dist', import.meta.url))
    const s = await server({ staticDir: dist })
    const page = await rawRequest(s.url, '/', { 'accept-encoding': 'br' })
    expect(page.headers['content-encoding']).toBe('br')
    const html = brotliDecompressSync(page.body).toString('utf8')
    expect(html).toBe(injectIntoHead(readFileSync(join(dist, 'index.html'), 'utf8'), licenseMetaTag(DEFAULT_LICENSE_KEYS)))
    // every script and style the page names; those under 1 KB have no copies and go as they are
    const files = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map(m => m[1]!)
    expect(files.filter(f => statSync(join(dist, f)).size >= 1024).length).toBeGreaterThan(2)
    for (const src of files) {
      const res = await rawRequest(s.url, src, { 'accept-encoding': 'gzip' })
      const raw = readFileSync(join(dist, src))
      if (raw.length < 1024) {
        expect(res.headers['content-encoding'], src).toBeUndefined()
        expect(res.body.equals(raw), src).toBe(true)
      } else {
        expect(res.headers['content-encoding'], src).toBe('gzip')
        expect(gunzipSync(res.body).equals(raw), src).toBe(true)
      }
    }
  })
})
