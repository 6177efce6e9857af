// @vitest-environment node
/**
 * GET /api/workbooks/:id/state: the doc's whole state over HTTP, which the workbook page fetches
 * while its scripts load. The real server in-process (port 0, temp data dir), stock y-websocket
 * clients and raw sockets; no mocks, no sleeps: every wait is on an event, with a timeout.
 */
import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import { cellKey, getTitle, sheetIds, sheetParts, sheetsOf, visibleColIds, visibleRowIds } from '../../src/core/workbook/schema'
import { setCell, setTitle } from '../../src/core/workbook/mutations'
import { connectClient, createLink, createWorkbook, docUntil, nextEvent, ownerTokens, rawRequest, rawSocket, socketUrl, syncedClient, testScope, type TestServer } from '../helpers/server'
import { FIRST_SCREEN_ROWS, viewMatches, viewOf, type WorkbookView } from '../../src/core/workbook/view'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'

const { server, track, socket } = testScope()

interface StateAnswer { status: number; type: string | null; cache: string | null; bytes: Uint8Array; json: unknown }

/** The state endpoint, with an explicit Authorization header (or none) and an optional ?token=. */
async function fetchState(s: TestServer, id: string, auth: string | null, query = ''): Promise<StateAnswer> {
  const res = await fetch(`${s.url}/api/workbooks/${encodeURIComponent(id)}/state${query ? `?token=${encodeURIComponent(query)}` : ''}`, {
    headers: auth === null ? {} : { authorization: auth },
  })
  const bytes = new Uint8Array(await res.arrayBuffer())
  let json: unknown
  if (!res.ok) json = JSON.parse(new TextDecoder().decode(bytes))
  return { status: res.status, type: res.headers.get('content-type'), cache: res.headers.get('cache-control'), bytes, json }
}

function docOf(bytes: Uint8Array): Y.Doc {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, bytes)
  return doc
}

/** The server's SyncStep2 answer to a SyncStep1 carrying `doc`'s state vector, on a raw socket. */
async function syncStep2For(s: TestServer, id: string, doc: Y.Doc): Promise<Uint8Array> {
  const ws = socket(await rawSocket(socketUrl(s, id)))
  const reply = new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for SyncStep2')), 4_000)
    ws.on('message', (data: Buffer) => {
      const d = decoding.createDecoder(new Uint8Array(data))
      if (decoding.readVarUint(d) !== 0) return // not a sync message (awareness)
      if (decoding.readVarUint(d) !== syncProtocol.messageYjsSyncStep2) return
      clearTimeout(timer)
      resolve(decoding.readVarUint8Array(d))
    })
  })
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  syncProtocol.writeSyncStep1(e, doc)
  ws.send(encoding.toUint8Array(e))
  return reply
}

describe('GET /api/workbooks/:id/state', () => {
  it('gives a holder of a live link the whole doc, live edits included, and the socket then sends only the rest', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'blank', title: '季度计划' })
    const viewer = await createLink(s, id, 'viewer', '小赵')
    // an edit through the socket: the state over HTTP has it
    const editor = track(await syncedClient(s, id))
    setTitle(editor.doc, '季度计划 v2')
    const sheetId = sheetIds(editor.doc)[0]!
    const sheet = sheetsOf(editor.doc).get(sheetId)!
    const [rowId, colId] = [visibleRowIds(sheet)[1]!, visibleColIds(sheet)[2]!]
    setCell(editor.doc, sheetId, rowId, colId, 42)

    const waitForServer = async () => {
      // the server has both edits once a fresh socket client sees them
      const probe = track(await syncedClient(s, id))
      await docUntil(probe.doc, 'the edits on the server', d => getTitle(d) === '季度计划 v2' && sheetParts(sheetsOf(d).get(sheetId)!).cells.get(cellKey(rowId, colId)) === 42)
    }
    await waitForServer()

    for (const [auth, query] of [[`Bearer ${ownerTokens.get(id)}`, ''], [`Bearer ${viewer}`, ''], [null, viewer]] as const) {
      const got = await fetchState(s, id, auth, query)
      expect(got.status).toBe(200)
      expect(got.type).toBe('application/octet-stream')
      expect(got.cache).toBe('no-store')
      const doc = docOf(got.bytes)
      expect(getTitle(doc)).toBe('季度计划 v2')
      expect(sheetParts(sheetsOf(doc).get(sheetId)!).cells.get(cellKey(rowId, colId))).toBe(42)
      expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(editor.doc))
      doc.destroy()
    }

    // a doc that starts from the fetched state needs nothing more from the socket sync
    const fetched = docOf((await fetchState(s, id, `Bearer ${viewer}`)).bytes)
    const rest = await syncStep2For(s, id, fetched)
    const empty = Y.encodeStateAsUpdate(new Y.Doc())
    expect(rest.length).toBeLessThanOrEqual(empty.length + 8)
    // and the stock provider on such a doc syncs and keeps up with live edits
    const late = track(connectClient(s, id, fetched))
    await late.synced()
    setTitle(editor.doc, '季度计划 v3')
    await docUntil(fetched, 'the live edit after the fetched state', d => getTitle(d) === '季度计划 v3')
    // the server keeps one encoding of the state until the doc changes: a later fetch has the later edit
    const after = docOf((await fetchState(s, id, `Bearer ${viewer}`)).bytes)
    expect(getTitle(after)).toBe('季度计划 v3')
    after.destroy()
  })

  it('refuses missing, bad, other-workbook and revoked tokens, and unknown or deleted workbooks, as the socket does', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const other = await createWorkbook(s)
    const revoked = await s.api('POST', `/api/workbooks/${id}/links`, { role: 'editor', name: '离职的人' })
    expect(revoked.status).toBe(201)
    expect((await s.api('DELETE', `/api/workbooks/${id}/links/${revoked.json.id}`)).status).toBe(200)
    const unknown = randomBytes(24).toString('base64url') // the shape of a real token

    const refused: [string, string | null, string, number][] = [
      ['missing', null, '', 401],
      ['malformed', 'Bearer !!not-a-token!!', '!!not-a-token!!', 401],
      ['unknown', `Bearer ${unknown}`, unknown, 401],
      ['other workbook', `Bearer ${ownerTokens.get(other)}`, ownerTokens.get(other)!, 403],
      ['revoked', `Bearer ${revoked.json.token}`, revoked.json.token, 403],
    ]
    for (const [what, auth, query, code] of refused) {
      const byHeader = await fetchState(s, id, auth)
      expect({ what, status: byHeader.status }).toEqual({ what, status: code })
      expect(byHeader.bytes.length).toBeLessThan(200) // an error message, none of the doc
      expect(typeof (byHeader.json as { error?: unknown }).error).toBe('string')
      if (query) expect({ what, query: (await fetchState(s, id, null, query)).status }).toEqual({ what, query: code })
    }

    // an id no workbook has: no link is for it (403), as on the socket; a malformed id is 404
    expect((await fetchState(s, 'no-such-workbook', `Bearer ${ownerTokens.get(id)}`)).status).toBe(403)
    expect((await fetchState(s, 'bad id!', `Bearer ${ownerTokens.get(id)}`)).status).toBe(404)

    // a deleted workbook: its links go with it
    const token = ownerTokens.get(other)!
    expect((await fetchState(s, other, `Bearer ${token}`)).status).toBe(200)
    expect((await s.api('DELETE', `/api/workbooks/${other}`)).status).toBe(204)
    const gone = await fetchState(s, other, `Bearer ${token}`)
    expect(gone.status).toBe(401)
    expect(gone.bytes.length).toBeLessThan(200)
  })
})

describe('the state, compressed', () => {
  it('goes brotli or gzip to a client that takes it, the same bytes once unpacked, and plain otherwise', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan' })
    const auth = { authorization: `Bearer ${ownerTokens.get(id)}` }
    const path = `/api/workbooks/${id}/state`
    const plain = await rawRequest(s.url, path, auth)
    expect(plain.status).toBe(200)
    expect(plain.headers['content-encoding']).toBeUndefined()
    expect(plain.headers.vary).toBe('Accept-Encoding')
    expect(getTitle(docOf(new Uint8Array(plain.body)))).not.toBe('')
    const br = await rawRequest(s.url, path, { ...auth, 'accept-encoding': 'gzip, br' })
    expect(br.headers['content-encoding']).toBe('br')
    expect(Number(br.headers['content-length'])).toBe(br.body.length)
    expect(br.body.length).toBeLessThan(plain.body.length / 2)
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true)
    const gz = await rawRequest(s.url, path, { ...auth, 'accept-encoding': 'gzip' })
    expect(gz.headers['content-encoding']).toBe('gzip')
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true)
    // the same version again: the same compressed bytes
    expect((await rawRequest(s.url, path, { ...auth, 'accept-encoding': 'br' })).body.equals(br.body)).toBe(true)
    // a refused request is refused before anything is compressed
    const refused = await rawRequest(s.url, path, { 'accept-encoding': 'br' })
    expect(refused.status).toBe(401)
    expect(refused.headers['content-encoding']).toBeUndefined()
  })

  it('a change makes a new version: the compressed state follows it', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan' })
    const c = track(await syncedClient(s, id))
    const auth = { authorization: `Bearer ${ownerTokens.get(id)}`, 'accept-encoding': 'br' }
    const path = `/api/workbooks/${id}/state`
    const before = brotliDecompressSync((await rawRequest(s.url, path, auth)).body)
    setTitle(c.doc, '压缩之后')
    await s.rooms.flushAll()
    const after = docOf(new Uint8Array(brotliDecompressSync((await rawRequest(s.url, path, auth)).body)))
    expect(getTitle(after)).toBe('压缩之后')
    expect(getTitle(docOf(new Uint8Array(before)))).not.toBe('压缩之后')
  })
})

describe('GET /api/workbooks/:id/view', () => {
  it('is what the formula engine computes from, for any link of the workbook, compressed, of the current version', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan', title: '运营计划' })
    const c = track(await syncedClient(s, id))
    const viewer = await createLink(s, id, 'viewer', '评审')
    const firstScreen = nextEvent(s.rooms, 'view-kept', (rid: string, complete: boolean) => rid === id && complete, 10_000)
    const res = await fetch(`${s.url}/api/workbooks/${id}/view`, { headers: { authorization: `Bearer ${viewer}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const view = await res.json() as WorkbookView
    // the server's doc and this client's are in step: the view is of this very version
    expect(viewMatches(view, c.doc)).toBe(true)
    // the first request at a version gets it as soon as it is made …
    expect(view).toEqual(JSON.parse(JSON.stringify(viewOf(c.doc))))
    expect(view.first).toBeUndefined()
    // … the ones after it with the first sheet's first screen computed, as this client's own engine computes it
    await firstScreen
    const { first, ...rest } = await (await fetch(`${s.url}/api/workbooks/${id}/view`, { headers: { authorization: `Bearer ${viewer}` } })).json() as WorkbookView
    expect(rest).toEqual(view)
    const engine = new FormulaEngine(c.doc)
    try {
      const sheet = view.sheets[0]!
      expect(first!.rows).toBe(Math.min(sheet.content.length, FIRST_SCREEN_ROWS))
      const expected = Array.from({ length: first!.rows }, (_v, r) => sheet.cols.map((_c, col) => {
        const v = engine.getValue(sheet.id, r, col)
        return typeof v === 'object' && v !== null ? { error: v.error } : v
      }))
      expect(first!.values).toEqual(expected)
      expect(expected.flat().filter(v => v !== null && v !== '').length).toBeGreaterThan(10)
    } finally {
      engine.destroy()
    }
    expect(view.title).toBe('运营计划')
    expect(view.sheets.map(x => x.id)).toEqual(sheetIds(c.doc))
    // compressed for clients that take it
    const br = await rawRequest(s.url, `/api/workbooks/${id}/view`, { authorization: `Bearer ${viewer}`, 'accept-encoding': 'br' })
    expect(br.headers['content-encoding']).toBe('br')
    expect(JSON.parse(brotliDecompressSync(br.body).toString('utf8'))).toEqual({ ...rest, first })
    // a change: a new version
    setTitle(c.doc, '新标题')
    await s.rooms.flushAll()
    const next = await (await fetch(`${s.url}/api/workbooks/${id}/view`, { headers: { authorization: `Bearer ${viewer}` } })).json() as WorkbookView
    expect(next.title).toBe('新标题')
    expect(next.vector).not.toBe(view.vector)
    expect(viewMatches(next, c.doc)).toBe(true)
  })

  it('refuses without a live link of the workbook, as the state does; a deleted workbook\'s links go with it', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan' })
    const other = await createWorkbook(s)
    const get = (auth?: string) => fetch(`${s.url}/api/workbooks/${id}/view`, { headers: auth ? { authorization: auth } : {} })
    expect((await get()).status).toBe(401)
    expect((await get('Bearer nope')).status).toBe(401)
    expect((await get(`Bearer ${ownerTokens.get(other)}`)).status).toBe(403)
    expect((await s.api('DELETE', `/api/workbooks/${id}`)).status).toBe(204)
    const gone = await fetch(`${s.url}/api/workbooks/${id}/view`, { headers: { authorization: `Bearer ${ownerTokens.get(id)}` } })
    expect(gone.status).toBe(401)
    expect((await gone.text()).length).toBeLessThan(200)
  })

  it('a view made with its first screen while the room was live is still given once it rests, without waking it', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan' })
    const c = track(await syncedClient(s, id))
    const get = async () => await (await fetch(`${s.url}/api/workbooks/${id}/view`, { headers: { authorization: `Bearer ${ownerTokens.get(id)}` } })).json() as WorkbookView
    const firstScreen = nextEvent(s.rooms, 'view-kept', (rid: string, complete: boolean) => rid === id && complete, 10_000)
    expect((await get()).first).toBeUndefined()
    await firstScreen
    const live = await get()
    expect(live.first?.rows).toBeGreaterThan(0)
    expect(s.rooms.restNow(id)).toBe(true)
    expect(s.rooms.isResting(id)).toBe(true)
    let woke = false
    s.rooms.on('room-woke', (rid: string) => { if (rid === id) woke = true })
    expect(await get()).toEqual(live)
    expect(woke).toBe(false)
    // a change wakes it and makes a new version: the view of that has no first screen yet
    setTitle(c.doc, '改名')
    await nextEvent(s.rooms, 'flushed', (rid: string) => rid === id, 10_000)
    const next = await get()
    expect(next.title).toBe('改名')
    expect(next.first).toBeUndefined()
  })

  it('a resting room answers from its encoded state and stays at rest', async () => {
    const s = await server({ restAfterMs: 100 })
    const id = await createWorkbook(s, { template: 'operations-plan' })
    const c = track(await syncedClient(s, id))
    const expected = JSON.parse(JSON.stringify(viewOf(c.doc)))
    await nextEvent(s.rooms, 'room-resting', (rid: string) => rid === id, 10_000)
    let woke = false
    s.rooms.on('room-woke', (rid: string) => { if (rid === id) woke = true })
    let kept = false
    s.rooms.on('view-kept', (rid: string) => { if (rid === id) kept = true })
    const view = await (await fetch(`${s.url}/api/workbooks/${id}/view`, { headers: { authorization: `Bearer ${ownerTokens.get(id)}` } })).json()
    expect(view).toEqual(expected)
    // a resting room keeps no view (and so has none made with its first screen)
    expect(kept).toBe(false)
    expect(woke).toBe(false)
  })
})
