// @vitest-environment node
/**
 * Several server instances on one PostgreSQL and one Redis: clients on different instances converge
 * (edits and presence); an instance killed mid-burst loses nothing that was stored; Redis paused, or its
 * connections cut, and everything converges with one consistent state stored.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import pg from 'pg'
import { Redis } from 'ioredis'
import { DATABASE_URL, REDIS_URL, uniqueName } from '../../helpers/services'
import { closed, connectClient, docUntil, ownerTokens, rawSocket, socketUrl, startTestServer, until, type Client, type TestServer } from '../../helpers/server'
import { parseRefusalReason } from '../../../src/core/access/access'
import { updateFrame } from './frames'
import { killAllServers, serverDirs, spawnServer, type ServerDirs } from '../../helpers/process'
import { PostgresStore } from '../../../server/store/postgres'
import { sheetIds, sheetsOf, visibleColIds, visibleRowIds, cellKey, sheetParts } from '../../../src/core/workbook/schema'
import { setCell } from '../../../src/core/workbook/mutations'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  await killAllServers()
  for (const f of cleanups.splice(0).reverse()) await f()
})

/** A PostgreSQL schema and a Redis prefix of this test's own; the URL selects the schema for child processes too. */
async function cluster() {
  const schema = uniqueName('pw_cluster')
  const admin = new pg.Client({ connectionString: DATABASE_URL })
  await admin.connect()
  await admin.query(`CREATE SCHEMA "${schema}"`)
  await admin.end()
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: DATABASE_URL }); await c.connect()
    try { await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`) } finally { await c.end() }
  })
  const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`
  return { url, schema, prefix: `${uniqueName('pwt')}:` }
}

async function instance(c: { url: string; schema: string; prefix: string }, opts: { busStateIntervalMs?: number; restAfterMs?: number } = {}): Promise<TestServer> {
  const s = await startTestServer({ store: await new PostgresStore(DATABASE_URL, { schema: c.schema }).open(), redisUrl: REDIS_URL, redisPrefix: c.prefix, compactThreshold: 10, ...opts })
  cleanups.push(() => s.close())
  return s
}

function client(s: { url: string }, id: string): Client {
  const c = connectClient(s, id)
  cleanups.push(() => c.destroy())
  return c
}

const cells = (d: Y.Doc) => {
  const sid = sheetIds(d)[0]!
  const sh = sheetsOf(d).get(sid)!
  return { sid, rows: visibleRowIds(sh), cols: visibleColIds(sh), get: (r: string, c: string) => sheetParts(sh).cells.get(cellKey(r, c)) }
}
/** The document's content with map keys sorted (replicas may hold a map's keys in another order). */
const canon = (v: unknown): unknown => Array.isArray(v) ? v.map(canon)
  : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map(k => [k, canon((v as Record<string, unknown>)[k])])) : v
const dump = (d: Y.Doc) => canon({ meta: d.getMap('meta').toJSON(), order: d.getArray('sheetOrder').toJSON(), sheets: sheetsOf(d).toJSON(), access: d.getMap('access').toJSON() })
const same = (a: Y.Doc, b: Y.Doc) => JSON.stringify(dump(a)) === JSON.stringify(dump(b))

/** A blank workbook made on `s1`, with a synced client on each instance. */
async function onBoth(s1: TestServer, s2: TestServer): Promise<{ id: string; a: Client; b: Client }> {
  const created = await s1.api('POST', '/api/workbooks', { template: 'blank' })
  ownerTokens.set(created.json.id, created.json.token)
  const id = created.json.id as string
  const a = client(s1, id), b = client(s2, id)
  await Promise.all([a.synced(), b.synced()])
  return { id, a, b }
}

describe('several instances', () => {
  it('a client id bound on one instance is bound on the others: an editor on another instance cannot write under it', async () => {
    const c = await cluster()
    const s1 = await instance(c), s2 = await instance(c)
    const { id, a, b } = await onBoth(s1, s2)
    const { sid, rows, cols } = cells(a.doc)
    a.provider.awareness.setLocalStateField('user', { name: 'Owner', color: '#1a73e8' })
    await until('b sees a', () => b.provider.awareness.getStates().has(a.doc.clientID) || undefined,
      r => { b.provider.awareness.on('change', r); return () => b.provider.awareness.off('change', r) }, 10_000)
    // Eve, on the other instance, continues the owner's client id
    const token = (await s1.api('POST', `/api/workbooks/${id}/links`, { role: 'editor', name: 'Eve' })).json.token as string
    const forged = new Y.Doc()
    Y.applyUpdate(forged, Y.encodeStateAsUpdate(b.doc))
    forged.clientID = a.doc.clientID
    const sv = Y.encodeStateVector(forged)
    setCell(forged, sid, rows[0]!, cols[0]!, 'forged')
    const ws = await rawSocket(socketUrl(s2, id, token))
    cleanups.push(() => ws.terminate())
    const shut = closed(ws, 10_000)
    ws.send(updateFrame(Y.encodeStateAsUpdate(forged, sv)))
    const info = await shut
    expect(info.code).toBe(4409)
    expect(parseRefusalReason(info.reason).code).toBe('foreign-client')
    // positive control: the owner's own edit under that id goes through both instances
    setCell(a.doc, sid, rows[1]!, cols[0]!, 'owner')
    await docUntil(b.doc, 'the owner\'s edit at b', d => cells(d).get(rows[1]!, cols[0]!) === 'owner', 10_000)
    expect(cells(b.doc).get(rows[0]!, cols[0]!)).toBeUndefined()
  })

  it('clients on two instances converge, edits and presence alike; compaction runs on one of them', async () => {
    const c = await cluster()
    const s1 = await instance(c), s2 = await instance(c)
    const { id, a, b } = await onBoth(s1, s2)
    const { sid, rows, cols } = cells(a.doc)
    for (let i = 0; i < 30; i++) {
      setCell(a.doc, sid, rows[i]!, cols[0]!, `a${i}`)
      setCell(b.doc, sid, rows[i]!, cols[1]!, `b${i}`)
    }
    await docUntil(a.doc, 'b\'s edits at a', d => cells(d).get(rows[29]!, cols[1]!) === 'b29', 10_000)
    await docUntil(b.doc, 'a\'s edits at b', d => cells(d).get(rows[29]!, cols[0]!) === 'a29', 10_000)
    await until('a and b alike', () => same(a.doc, b.doc) || undefined, r => { a.doc.on('update', r); b.doc.on('update', r); return () => { a.doc.off('update', r); b.doc.off('update', r) } }, 10_000)
    // presence crosses instances
    b.provider.awareness.setLocalStateField('cursor', null)
    await until('a sees b', () => a.provider.awareness.getStates().has(b.doc.clientID) || undefined,
      r => { a.provider.awareness.on('change', r); return () => a.provider.awareness.off('change', r) }, 10_000)
    expect((await s1.api('GET', '/api/health')).json).toMatchObject({ ok: true, store: 'up', redis: 'up' })
    // a client arriving at either instance later gets everything from the store
    await Promise.all([s1.rooms.flushAll(), s2.rooms.flushAll()])
    const late = client(s2, id)
    await late.synced()
    expect(same(late.doc, a.doc)).toBe(true)
    // 60 edits were stored; compaction (one instance at a time) folded them
    await Promise.all([s1.rooms.flushAll(), s2.rooms.flushAll()])
    expect(await s1.store.countUpdates(id)).toBeLessThan(30)
    const fresh = new Y.Doc()
    for (const u of await s1.store.loadUpdates(id)) Y.applyUpdate(fresh, u)
    expect(same(fresh, a.doc)).toBe(true)
    // deleted on one instance: clients of the other are told too (4404), and nothing is written for it
    const shut = new Promise<number>(r => b.provider.once('connection-close', (e: CloseEvent | null) => r(e?.code ?? 0)))
    expect((await s1.api('DELETE', `/api/workbooks/${id}`)).status).toBe(204)
    expect(await shut).toBe(4404)
    await until('instance 2 freed the room', () => !s2.rooms.rooms.has(id) || undefined, r => { s2.rooms.on('room-dropped', r); return () => s2.rooms.off('room-dropped', r) }, 5_000)
  })

  it('an instance whose room rests takes another instance\'s edit (waking for it) and relays it to its clients', async () => {
    const c = await cluster()
    const s1 = await instance(c), s2 = await instance(c, { restAfterMs: 50 })
    const { id, a, b } = await onBoth(s1, s2)
    const { sid, rows, cols } = cells(a.doc)
    await until('instance 2 resting', () => s2.rooms.rooms.get(id)?.isResting || undefined, r => { s2.rooms.on('room-resting', r); return () => s2.rooms.off('room-resting', r) }, 10_000)
    const woke = new Promise<string>(r => s2.rooms.once('room-woke', (_x: string, info: { why: string }) => r(info.why)))
    setCell(a.doc, sid, rows[0]!, cols[0]!, '来自实例一')
    await docUntil(b.doc, 'instance 2\'s client sees the edit', d => cells(d).get(rows[0]!, cols[0]!) === '来自实例一', 10_000)
    expect(await woke).toBe('doc')
    // and once it rests again, a newcomer there gets it from the encoded state
    await until('instance 2 resting again', () => s2.rooms.rooms.get(id)?.isResting || undefined, r => { s2.rooms.on('room-resting', r); return () => s2.rooms.off('room-resting', r) }, 10_000)
    const late = client(s2, id)
    await late.synced()
    expect(cells(late.doc).get(rows[0]!, cols[0]!)).toBe('来自实例一')
    expect(same(late.doc, a.doc)).toBe(true)
  })

  it('an edit whose publication was lost still reaches the other instance (state vectors compared, the store re-read)', async () => {
    const c = await cluster()
    const s1 = await instance(c, { busStateIntervalMs: 200 }), s2 = await instance(c, { busStateIntervalMs: 200 })
    const { a, b } = await onBoth(s1, s2)
    const { sid, rows, cols } = cells(a.doc)
    // cut instance 1's publishing connection: what it stores now is not published
    const redis = new Redis(REDIS_URL)
    cleanups.push(() => redis.disconnect())
    const list = String(await redis.call('CLIENT', 'LIST'))
    const line = list.split('\n').find(l => l.includes(`name=pw-pub-${s1.bus!.instanceId}`))!
    await redis.call('CLIENT', 'KILL', 'ID', /id=(\d+)/.exec(line)![1]!)
    setCell(a.doc, sid, rows[0]!, cols[0]!, 'published into the void')
    await docUntil(b.doc, 'the edit at instance 2 anyway', d => cells(d).get(rows[0]!, cols[0]!) === 'published into the void', 15_000)
  })

  it('kill -9 of one instance mid-burst: everything another client saw is stored; Redis paused, all converge', async () => {
    const c = await cluster()
    const dirs: ServerDirs = serverDirs()
    cleanups.push(() => dirs.remove())
    const env = { DATABASE_URL: c.url, REDIS_URL, REDIS_PREFIX: c.prefix, UNLOAD_DELAY_MS: '60000' }
    const p1 = await spawnServer(dirs, { env }), p2 = await spawnServer(dirs, { env })
    const id = await p1.createWorkbook()
    const writer = client({ url: p1.url }, id), observer = client({ url: p2.url }, id)
    await Promise.all([writer.synced(), observer.synced()])
    const { sid, rows, cols } = cells(writer.doc)
    // a burst on instance 1; instance 1 is killed after the observer (on instance 2) saw some of it
    let n = 0
    const burst = setInterval(() => { if (n < 200) setCell(writer.doc, sid, rows[n % 100]!, cols[n % 5]!, `w${n++}`) }, 2)
    await until('the observer saw part of the burst', () => {
      let seen = 0
      for (let i = 0; i < 100; i++) for (let j = 0; j < 5; j++) if (cells(observer.doc).get(rows[i]!, cols[j]!)) seen++
      return seen >= 20 || undefined
    }, r => { observer.doc.on('update', r); return () => observer.doc.off('update', r) }, 15_000)
    await p1.stop('SIGKILL')
    clearInterval(burst)
    const sawAtKill = JSON.stringify(sheetsOf(observer.doc).toJSON())
    // the store holds at least what the observer saw (it was relayed only once stored)
    const store = await new PostgresStore(DATABASE_URL, { schema: c.schema }).open()
    cleanups.push(() => store.close())
    const stored = new Y.Doc()
    for (const u of await store.loadUpdates(id)) Y.applyUpdate(stored, u)
    const observed = JSON.parse(sawAtKill)
    const inStore = sheetsOf(stored).toJSON()
    const seenCells = Object.entries(observed[sid].cells as Record<string, unknown>)
    expect(seenCells.length).toBeGreaterThanOrEqual(20)
    for (const [key, v] of seenCells) expect(inStore[sid].cells[key], key).toEqual(v)

    // Redis paused: both sides edit, then it resumes; everyone converges, the store holds one state
    const p3 = await spawnServer(dirs, { env })
    const w2 = client({ url: p3.url }, id)
    await w2.synced()
    const redis = new Redis(REDIS_URL)
    cleanups.push(() => redis.disconnect())
    await redis.call('CLIENT', 'PAUSE', '1500', 'ALL')
    setCell(w2.doc, sid, rows[0]!, cols[7]!, 'during pause, instance 3')
    setCell(observer.doc, sid, rows[1]!, cols[7]!, 'during pause, instance 2')
    await until('both sides converge after the pause', () => (same(w2.doc, observer.doc)
      && cells(w2.doc).get(rows[1]!, cols[7]!) === 'during pause, instance 2'
      && cells(observer.doc).get(rows[0]!, cols[7]!) === 'during pause, instance 3') || undefined,
    r => { w2.doc.on('update', r); observer.doc.on('update', r); return () => { w2.doc.off('update', r); observer.doc.off('update', r) } }, 20_000)
    // subscriptions cut: the instances resync from the store
    await redis.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
    setCell(w2.doc, sid, rows[2]!, cols[7]!, 'after the cut')
    await docUntil(observer.doc, 'the edit after the cut at the observer', d => cells(d).get(rows[2]!, cols[7]!) === 'after the cut', 20_000)
    await until('alike', () => same(w2.doc, observer.doc) || undefined, r => { w2.doc.on('update', r); observer.doc.on('update', r); return () => { w2.doc.off('update', r); observer.doc.off('update', r) } }, 20_000)
    const final = new Y.Doc()
    for (const u of await store.loadUpdates(id)) Y.applyUpdate(final, u)
    expect(sheetsOf(final).toJSON()[sid].cells[cellKey(rows[2]!, cols[7]!)]).toBe('after the cut')
  })
})
