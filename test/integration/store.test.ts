// @vitest-environment node
/**
 * The store interface, one suite, run on the embedded SQLite store and on a real PostgreSQL: workbooks,
 * updates (append, load, compact), links, client ids, templates, and a real workbook through the
 * server on each.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteStore } from '../../server/store/sqlite'
import type { LinkRecord, Store } from '../../server/store/types'
import { freshPostgres } from '../helpers/services'
import { connectClient, createWorkbook, docUntil, startTestServer, tempDir } from '../helpers/server'
import { sheetIds } from '../../src/core/workbook/schema'
import { textAt, type } from '../helpers/workbook'

const cleanups: (() => unknown)[] = []
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f() })

const kinds: [string, () => Promise<{ store: Store; reopen: () => Promise<Store> }>][] = [
  ['sqlite', async () => {
    const t = tempDir('pw-store-')
    cleanups.push(t.remove)
    const store = new SqliteStore(t.dir)
    return { store, reopen: async () => new SqliteStore(t.dir) }
  }],
  ['postgres', async () => {
    const pg = await freshPostgres()
    cleanups.push(pg.drop)
    const { PostgresStore } = await import('../../server/store/postgres')
    const { DATABASE_URL } = await import('../helpers/services')
    return { store: pg.store, reopen: async () => new PostgresStore(DATABASE_URL, { schema: pg.schema }).open() }
  }],
]

const wb = (id: string, at = 1000) => ({ id, title: `t ${id}`, template: 'blank', createdAt: at, updatedAt: at })
const link = (id: string, workbookId: string, role: LinkRecord['role'] = 'editor'): LinkRecord => ({ id, workbookId, role, name: `n-${id}`, createdAt: 5, revokedAt: null })

describe.each(kinds)('%s store', (_name, make) => {
  it('workbooks: create with a first update and owner link, get, list by recency, meta, delete with everything', async () => {
    const { store, reopen } = await make()
    cleanups.push(() => store.close())
    await store.createWorkbook(wb('a', 1000), new Uint8Array([1, 2, 3]), { link: link('la', 'a', 'owner'), tokenHash: 'ha' })
    await store.createWorkbook(wb('b', 2000))
    expect(await store.getWorkbook('a')).toEqual(wb('a', 1000))
    expect(await store.getWorkbook('nope')).toBeNull()
    expect((await store.listWorkbooks()).map(w => w.id)).toEqual(['b', 'a'])
    expect(await store.updateWorkbookMeta('a', { title: '新标题', updatedAt: 3000 })).toBe(true)
    expect(await store.updateWorkbookMeta('a', { updatedAt: 10 })).toBe(true) // never moves back
    expect(await store.getWorkbook('a')).toMatchObject({ title: '新标题', updatedAt: 3000 })
    expect(await store.updateWorkbookMeta('nope', { title: 'x' })).toBe(false)
    expect((await store.listWorkbooks()).map(w => w.id)).toEqual(['a', 'b'])
    await expect(store.createWorkbook(wb('a'))).rejects.toThrow()
    expect(await store.loadUpdates('a')).toEqual([new Uint8Array([1, 2, 3])])
    expect(await store.findLink('ha')).toEqual(link('la', 'a', 'owner'))
    await store.saveClientLinks('a', [[42, 'la']])
    expect(await store.deleteWorkbook('a')).toBe(true)
    expect(await store.deleteWorkbook('a')).toBe(false)
    expect(await store.loadUpdates('a')).toEqual([])
    expect(await store.findLink('ha')).toBeNull()
    expect((await store.loadClientLinks('a')).size).toBe(0)
    // what was written is there after reopening
    const again = await reopen()
    cleanups.push(() => again.close())
    expect((await again.listWorkbooks()).map(w => w.id)).toEqual(['b'])
    await again.ping()
  })

  it('updates: append in order, compact named rows into one, keep the others; a compaction that lost the race does nothing', async () => {
    const { store } = await make()
    cleanups.push(() => store.close())
    await store.createWorkbook(wb('w'))
    await expect(store.appendUpdate('missing', new Uint8Array([1]))).rejects.toThrow()
    const seqs: number[] = []
    for (let i = 0; i < 5; i++) seqs.push(await store.appendUpdate('w', new Uint8Array([i])))
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs)
    expect(await store.countUpdates('w')).toBe(5)
    expect(await store.compact('w', new Uint8Array([9, 9]), seqs.slice(0, 3))).toBe(3)
    const records = await store.loadUpdateRecords('w')
    expect(records.map(r => [...r.data])).toEqual([[9, 9], [3], [4]])
    expect(records[0]!.seq).toBe(seqs[2])
    const next = await store.appendUpdate('w', new Uint8Array([5]))
    expect(next).toBeGreaterThan(seqs[4]!)
    // rows another compaction took already: nothing happens
    expect(await store.compact('w', new Uint8Array([1]), [seqs[0]!, seqs[3]!])).toBe(0)
    expect((await store.loadUpdateRecords('w')).map(r => [...r.data])).toEqual([[9, 9], [3], [4], [5]])
    expect(await store.compact('w', new Uint8Array([1]), [])).toBe(0)
  })

  it('updates appended at once (rooms flushing together) are all stored, in order; one for a missing workbook fails alone', async () => {
    const { store } = await make()
    cleanups.push(() => store.close())
    await store.createWorkbook(wb('p'))
    await store.createWorkbook(wb('q'))
    const results = await Promise.allSettled([
      store.appendUpdate('p', new Uint8Array([1])), store.appendUpdate('q', new Uint8Array([2])),
      store.appendUpdate('gone', new Uint8Array([3])), store.appendUpdate('p', new Uint8Array([4])),
    ])
    expect(results.map(r => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
    const seqs = results.flatMap(r => r.status === 'fulfilled' ? [r.value] : [])
    expect(new Set(seqs).size).toBe(3)
    expect((await store.loadUpdateRecords('p')).map(r => [r.seq, [...r.data]])).toEqual([[seqs[0], [1]], [seqs[2], [4]]])
    expect((await store.loadUpdateRecords('q')).map(r => [...r.data])).toEqual([[2]])
    // and after the store is closed, an append fails instead of waiting
    await store.close()
    await expect(store.appendUpdate('p', new Uint8Array([5]))).rejects.toThrow()
  })

  it('a batch that falls back to one by one (one workbook gone) keeps the other workbook\'s order, 50 times over', async () => {
    const { store } = await make()
    cleanups.push(() => store.close())
    await store.createWorkbook(wb('good'))
    await store.createWorkbook(wb('other'))
    const expected: number[][] = []
    for (let round = 0; round < 50; round++) {
      const good = (i: number) => new Uint8Array([round, i])
      // one turn: appends to `good` around one whose insert violates the foreign key
      const first = [
        store.appendUpdate('good', good(0)), store.appendUpdate('other', new Uint8Array([round])),
        store.appendUpdate(`gone-${round}`, new Uint8Array([0])), store.appendUpdate('good', good(1)),
        store.appendUpdate('good', good(2)), store.appendUpdate('good', good(3)),
      ]
      // and more made while that batch is being written (they go after it)
      const later = new Promise<PromiseSettledResult<number>[]>(resolve => queueMicrotask(() => {
        void Promise.allSettled([store.appendUpdate('good', good(4)), store.appendUpdate(`gone-${round}`, new Uint8Array([1])), store.appendUpdate('good', good(5))]).then(resolve)
      }))
      const results = [...await Promise.allSettled(first), ...await later]
      expect(results.map(r => r.status), `round ${round}`).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
      const goodSeqs = [0, 3, 4, 5, 6, 8].map(i => (results[i] as PromiseFulfilledResult<number>).value)
      for (let i = 0; i < 6; i++) expected.push([goodSeqs[i]!, round, i])
      const stored = (await store.loadUpdateRecords('good')).map(r => [r.seq, ...r.data])
      expect(stored, `round ${round}`).toEqual(expected)
    }
    expect((await store.loadUpdateRecords('other')).map(r => r.data[0])).toEqual(Array.from({ length: 50 }, (_v, i) => i))
  })

  it('many appends at once to several workbooks: each gets the seq of its own row, in the order made', async () => {
    const { store } = await make()
    cleanups.push(() => store.close())
    for (const id of ['a', 'b', 'c']) await store.createWorkbook(wb(id))
    const made = Array.from({ length: 60 }, (_v, i) => ({ id: ['a', 'b', 'c'][(i * 7) % 3]!, data: new Uint8Array([i, i >> 1]) }))
    const seqs = await Promise.all(made.map(m => store.appendUpdate(m.id, m.data)))
    expect(new Set(seqs).size).toBe(made.length)
    for (const id of ['a', 'b', 'c']) {
      const mine = made.map((m, i) => ({ ...m, seq: seqs[i]! })).filter(m => m.id === id)
      expect((await store.loadUpdateRecords(id)).map(r => [r.seq, [...r.data]])).toEqual(mine.map(m => [m.seq, [...m.data]]))
    }
  })

  it('links, client ids and templates', async () => {
    const { store } = await make()
    cleanups.push(() => store.close())
    await store.createWorkbook(wb('w'))
    await store.createLink(link('l1', 'w'), 'h1')
    await store.createLink({ ...link('l2', 'w', 'viewer'), createdAt: 6 }, 'h2')
    await expect(store.createLink(link('l3', 'nope'), 'h3')).rejects.toThrow()
    await expect(store.createLink(link('l4', 'w'), 'h1')).rejects.toThrow() // a token hash is unique
    expect((await store.listLinks('w')).map(l => l.id)).toEqual(['l1', 'l2'])
    expect(await store.revokeLink('w', 'l1', 77)).toMatchObject({ id: 'l1', revokedAt: 77 })
    expect(await store.revokeLink('w', 'l1', 99)).toMatchObject({ revokedAt: 77 }) // the first revocation stands
    expect(await store.revokeLink('w', 'zz', 1)).toBeNull()
    expect((await store.findLink('h1'))!.revokedAt).toBe(77)
    await store.saveClientLinks('w', [[1, 'l1'], [2_000_000_000, 'l2']])
    await store.saveClientLinks('w', [[1, 'l2']]) // the first writer keeps it
    expect([...(await store.loadClientLinks('w')).entries()].sort()).toEqual([[1, 'l1'], [2_000_000_000, 'l2']])
    await store.saveTemplate({ id: 'u-1', json: '{"a":1}', createdAt: 1 })
    await store.saveTemplate({ id: 'u-2', json: '{}', createdAt: 2 })
    expect(await store.listTemplates()).toEqual([{ id: 'u-1', json: '{"a":1}', createdAt: 1 }, { id: 'u-2', json: '{}', createdAt: 2 }])
    expect(await store.deleteTemplate('u-1')).toBe(true)
    expect(await store.deleteTemplate('u-1')).toBe(false)
  })

  it('the newest sequence number grows with appends and stays through a compaction', async () => {
    const { store } = await make()
    cleanups.push(() => store.close())
    await store.createWorkbook(wb('w'))
    expect(await store.lastSeq('w')).toBe(0)
    const a = await store.appendUpdate('w', new Uint8Array([0, 0]))
    const b = await store.appendUpdate('w', new Uint8Array([0, 0]))
    expect(await store.lastSeq('w')).toBe(b)
    expect(b).toBeGreaterThan(a)
    expect(await store.compact('w', new Uint8Array([0, 0]), [a, b])).toBe(2)
    expect(await store.lastSeq('w')).toBe(b)
    expect(await store.lastSeq('nope')).toBe(0)
  })

  it('commenter links, inbox read marks per link (gone with their workbook)', async () => {
    const { store } = await make()
    cleanups.push(() => store.close())
    await store.createWorkbook(wb('w'))
    await store.createLink(link('c1', 'w', 'commenter'), 'hc')
    expect(await store.findLink('hc')).toMatchObject({ role: 'commenter' })
    await store.markRead('w', 'c1', ['a:mention', 'b:reply'], 10)
    await store.markRead('w', 'c1', ['a:mention'], 20)
    await store.markRead('w', 'c2', ['a:mention'], 20)
    expect([...await store.readItems(['c1'])].sort()).toEqual(['c1 a:mention', 'c1 b:reply'])
    expect((await store.readItems(['c1', 'c2'])).size).toBe(3)
    expect(await store.deleteWorkbook('w')).toBe(true)
    expect((await store.readItems(['c1', 'c2'])).size).toBe(0)
  })

  it('a real workbook through the server: edits stored, compacted, and there after a restart', async () => {
    const { store, reopen } = await make()
    const s = await startTestServer({ store, compactThreshold: 5 })
    const id = await createWorkbook(s)
    const c = connectClient(s, id)
    await c.synced()
    const sheet = sheetIds(c.doc)[0]!
    for (let i = 1; i <= 20; i++) type(c.doc, sheet, `A${i}`, String(i * 10))
    await docUntil(s.rooms.rooms.get(id)!.doc, 'every edit on the server', d => textAt(d, sheet, 'A20') === '200')
    await s.rooms.flushAll()
    c.destroy()
    await s.close()
    const s2 = await startTestServer({ store: await reopen() })
    cleanups.push(() => s2.close())
    const d = connectClient(s2, id)
    cleanups.push(() => d.destroy())
    await d.synced()
    expect(Array.from({ length: 20 }, (_, i) => textAt(d.doc, sheet, `A${i + 1}`))).toEqual(Array.from({ length: 20 }, (_, i) => String((i + 1) * 10)))
    expect(await s2.store.countUpdates(id)).toBeLessThan(20)
  })
})

describe('sqlite store: the write-ahead log', () => {
  it('is copied into the database file by its own thread, not by a commit of the serving thread', async () => {
    const t = tempDir('pw-wal-')
    cleanups.push(t.remove)
    const store = new SqliteStore(t.dir)
    cleanups.push(() => store.close())
    await store.createWorkbook(wb('w'))
    const file = `${t.dir}/workbooks.sqlite`
    const before = statSync(file).size
    // 2 MB of updates: under the 4 MB at which a commit would checkpoint by itself
    const chunk = new Uint8Array(64 * 1024).fill(7)
    for (let i = 0; i < 32; i++) await store.appendUpdate('w', chunk)
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBeGreaterThan(1000)
    const deadline = Date.now() + 10_000
    while (statSync(file).size < before + 2 * 1024 * 1024) {
      if (Date.now() > deadline) throw new Error(`database file still ${statSync(file).size} bytes: the log was not checkpointed`)
      await new Promise(r => setTimeout(r, 50))
    }
    expect((await store.loadUpdates('w')).length).toBe(32)
    // closing stops the thread and loses nothing
    await store.close()
    const again = new SqliteStore(t.dir)
    cleanups.push(() => again.close())
    expect((await again.loadUpdates('w')).length).toBe(32)
  })
})

describe('a database made before commenters', () => {
  it('SQLite: keeps its links and takes commenter links after the migration', async () => {
    const t = tempDir('pw-store-')
    cleanups.push(t.remove)
    const first = new SqliteStore(t.dir)
    await first.createWorkbook(wb('w'))
    await first.createLink(link('l1', 'w', 'viewer'), 'h1')
    await first.close()
    // put the database back to schema 5: the links table with the CHECK of three roles
    const db = new Database(join(t.dir, 'workbooks.sqlite'))
    db.exec(`
      CREATE TABLE links_old (id TEXT PRIMARY KEY, workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')), name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL, revoked_at INTEGER);
      INSERT INTO links_old SELECT * FROM links; DROP TABLE links; ALTER TABLE links_old RENAME TO links; DROP TABLE inbox_reads;
      PRAGMA user_version = 5;`)
    expect(() => db.prepare("INSERT INTO links VALUES ('x', 'w', 'commenter', 'n', 'hx', 1, NULL)").run()).toThrow(/CHECK/)
    db.close()
    const again = new SqliteStore(t.dir)
    cleanups.push(() => again.close())
    expect(await again.findLink('h1')).toMatchObject({ id: 'l1', role: 'viewer' })
    await again.createLink(link('l2', 'w', 'commenter'), 'h2')
    expect((await again.listLinks('w')).map(l => [l.id, l.role])).toEqual([['l1', 'viewer'], ['l2', 'commenter']])
    await again.markRead('w', 'l2', ['a:mention'], 1)
    expect(await again.readItems(['l2'])).toEqual(new Set(['l2 a:mention']))
  })

  it('PostgreSQL: the same', async () => {
    const p = await freshPostgres()
    cleanups.push(p.drop)
    await p.store.createWorkbook(wb('w'))
    await p.store.createLink(link('l1', 'w', 'viewer'), 'h1')
    await p.store.close()
    const { DATABASE_URL } = await import('../helpers/services')
    const c = new pg.Client({ connectionString: DATABASE_URL })
    await c.connect()
    try {
      await c.query(`SET search_path TO "${p.schema}"`)
      await c.query("ALTER TABLE links DROP CONSTRAINT links_role_check; ALTER TABLE links ADD CONSTRAINT links_role_check CHECK (role IN ('owner', 'editor', 'viewer')); DROP TABLE inbox_reads; UPDATE pw_schema SET version = 2")
    } finally { await c.end() }
    const { PostgresStore } = await import('../../server/store/postgres')
    const again = await new PostgresStore(DATABASE_URL, { schema: p.schema }).open()
    cleanups.push(() => again.close())
    await again.createLink(link('l2', 'w', 'commenter'), 'h2')
    expect((await again.listLinks('w')).map(l => [l.id, l.role])).toEqual([['l1', 'viewer'], ['l2', 'commenter']])
    await again.markRead('w', 'l2', ['a:mention'], 1)
    expect(await again.readItems(['l2'])).toEqual(new Set(['l2 a:mention']))
  })
})
