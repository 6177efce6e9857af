// @vitest-environment node
/**
 * The review loop against the real server, on SQLite and on PostgreSQL alike, with stock y-websocket
 * clients: versions (named, automatic, at a sign-off lock), the diff between them with who changed each
 * cell, restore (the access rules apply), the audit trail (chained: an edit of a stored entry is found),
 * refused changes in the trail, compaction leaving versions byte for byte, and the bad inputs.
 */
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import * as Y from 'yjs'
import pg from 'pg'
import Database from 'better-sqlite3'
import ExcelJS from 'exceljs'
import { lockSheet, setProtections } from '../../src/core/access/access'
import { sheetIds, sheetParts, sheetsOf, visibleColIds, visibleRowIds } from '../../src/core/workbook/schema'
import { deleteSheet } from '../../src/core/workbook/mutations'
import type { ServerOptions } from '../../server/index'
import { createLink, createWorkbook, docUntil, nextEvent, ownerTokens, syncedClient, testScope, until, type Client, type TestServer } from '../helpers/server'
import { DATABASE_URL, freshPostgres } from '../helpers/services'
import { textAt, type } from '../helpers/workbook'

const { cleanups, server, track } = testScope()

interface Kind {
  name: string
  start(opts?: ServerOptions): Promise<TestServer>
  /** changes one stored audit entry's `after` behind the server's back */
  tamper(s: TestServer, id: string, n: number): Promise<void>
}

const kinds: Kind[] = [
  {
    name: 'SQLite',
    start: opts => server(opts),
    tamper: async (s, id, n) => {
      const db = new Database(join(s.dataDir, 'workbooks.sqlite'))
      try { expect(db.prepare('UPDATE audit SET after = ? WHERE workbook_id = ? AND n = ?').run('"999"', id, n).changes).toBe(1) } finally { db.close() }
    },
  },
  {
    name: 'PostgreSQL',
    start: async opts => {
      const p = await freshPostgres()
      cleanups.push(p.drop)
      const s = await server({ ...opts, store: p.store })
      ;(s as TestServer & { schema?: string }).schema = p.schema
      return s
    },
    tamper: async (s, id, n) => {
      const c = new pg.Client({ connectionString: DATABASE_URL })
      await c.connect()
      try {
        const schema = (s as TestServer & { schema?: string }).schema!
        const r = await c.query(`UPDATE "${schema}".audit SET after = $1 WHERE workbook_id = $2 AND n = $3`, ['"999"', id, n])
        expect(r.rowCount).toBe(1)
      } finally { await c.end() }
    },
  },
]

/** Counts audit entries the server stored; `atLeast(n)` waits on the 'audited' event. */
function auditWatch(s: TestServer) {
  let count = 0
  s.rooms.on('audited', (_id: string, info: { entries: number }) => { count += info.entries })
  return {
    get count() { return count },
    atLeast: (n: number) => until(`${n} audit entries`, () => count >= n, recheck => { s.rooms.on('audited', recheck); return () => { s.rooms.off('audited', recheck) } }),
  }
}

const client = async (s: TestServer, id: string, token?: string): Promise<Client> => track(await syncedClient(s, id, token === undefined ? {} : { token }))
const sheetOf = (c: Client) => sheetIds(c.doc)[0]!
const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

for (const kind of kinds) {
  describe(`history and audit on ${kind.name}`, () => {
    it('diffs a named version against later edits of two people, restores it for a third client, and records who did what', async () => {
      const s = await kind.start()
      const audit = auditWatch(s)
      const id = await createWorkbook(s, { name: '老板' })
      const editorToken = await createLink(s, id, 'editor', '小李')
      const owner = await client(s, id)
      const editor = await client(s, id, editorToken)
      const sid = sheetOf(owner)
      type(owner.doc, sid, 'A1', '100')
      await docUntil(editor.doc, 'A1 reaches the editor', d => textAt(d, sid, 'A1') === '100')
      type(editor.doc, sid, 'B1', '目标')
      await audit.atLeast(2)

      const saved = await s.api('POST', `/api/workbooks/${id}/versions`, { name: 'Q3 计划（已审批）' })
      expect(saved.status).toBe(201)
      expect(saved.json).toMatchObject({ name: 'Q3 计划（已审批）' })
      const vid = saved.json.id as string

      type(owner.doc, sid, 'A1', '120')
      type(editor.doc, sid, 'C2', '=A1*2')
      await audit.atLeast(4)

      const list = await s.api('GET', `/api/workbooks/${id}/versions`)
      expect(list.json[0]).toMatchObject({ id: vid, name: 'Q3 计划（已审批）', auto: false, by: ['老板'] })

      const diff = await s.api('GET', `/api/workbooks/${id}/diff?from=${vid}&to=current`)
      expect(diff.status).toBe(200)
      const cells = diff.json.sheets[0].cells as { cell: string; before: unknown; after: unknown; afterValue: unknown; by: string[] }[]
      expect(cells.map(c => c.cell).sort()).toEqual(['A1', 'C2'])
      expect(cells.find(c => c.cell === 'A1')).toMatchObject({ before: 100, after: 120, by: ['老板'] })
      expect(cells.find(c => c.cell === 'C2')).toMatchObject({ before: null, afterValue: 240, by: ['小李'] })

      // compared again after another edit: the worker's kept copy of now follows it, values too
      type(owner.doc, sid, 'A1', '125')
      await audit.atLeast(5)
      const again = (await s.api('GET', `/api/workbooks/${id}/diff?from=${vid}&to=current`)).json.sheets[0].cells as typeof cells
      expect(again.find(c => c.cell === 'A1')).toMatchObject({ before: 100, after: 125 })
      expect(again.find(c => c.cell === 'C2')).toMatchObject({ afterValue: 250 })
      type(owner.doc, sid, 'A1', '120')
      await audit.atLeast(6)

      // the editor's write is in the trail with its author, role, old and new input
      const trail = await s.api('GET', `/api/workbooks/${id}/audit?sheet=${sid}&cell=A1`)
      expect(trail.json.map((e: { by: string; before: unknown; after: unknown }) => [e.by, e.before, e.after])).toEqual([['老板', null, 100], ['老板', 100, 120], ['老板', 120, 125], ['老板', 125, 120]])
      const byEditor = await s.api('GET', `/api/workbooks/${id}/audit?by=${encodeURIComponent('小李')}`)
      expect(byEditor.json.every((e: { role: string }) => e.role === 'editor')).toBe(true)
      expect(byEditor.json.map((e: { cell: string }) => e.cell)).toEqual(['B1', 'C2'])

      const seen = audit.count
      const restored = await s.api('POST', `/api/workbooks/${id}/versions/${vid}/restore`, {}, auth(editorToken))
      expect(restored.status).toBe(200)
      expect(restored.json.skipped).toEqual([])
      const third = await client(s, id)
      expect(textAt(third.doc, sid, 'A1')).toBe('100')
      expect(textAt(third.doc, sid, 'C2')).toBe('')
      await docUntil(owner.doc, 'the restore reaches the owner', d => textAt(d, sid, 'A1') === '100')
      await audit.atLeast(seen + 2)
      const restoreEntries = (await s.api('GET', `/api/workbooks/${id}/audit?sheet=${sid}`)).json
      expect(restoreEntries.filter((e: { action: string }) => e.action === 'restore').map((e: { by: string; cell: string }) => [e.by, e.cell]).sort()).toEqual([['小李', 'A1'], ['小李', 'C2']])

      const verify = await s.api('GET', `/api/workbooks/${id}/audit/verify`)
      expect(verify.json.ok).toBe(true)
      expect(verify.json.entries).toBeGreaterThan(6)
    })

    it('finds an edited audit entry, logs refused protected writes with their author and none for a viewer', async () => {
      const s = await kind.start()
      const audit = auditWatch(s)
      const id = await createWorkbook(s, { name: '老板' })
      const owner = await client(s, id)
      const sid = sheetOf(owner)
      const rows = visibleRowIds(sheetsOf(owner.doc).get(sid)!)
      setProtections(owner.doc, [{ id: 'p1', sheet: sid, rows: [rows[0]!] }])
      type(owner.doc, sid, 'B2', '1')
      type(owner.doc, sid, 'B3', '2')
      await audit.atLeast(3)

      const editor = await client(s, id, await createLink(s, id, 'editor', '小王'))
      const refusedEditor = nextEvent(editor.provider as never, 'connection-close')
      type(editor.doc, sid, 'A1', 'x')
      await refusedEditor
      await audit.atLeast(4)
      const viewer = await client(s, id, await createLink(s, id, 'viewer', '访客'))
      // a viewer's changes are dropped without a word: an owner's edit after it shows the server went on
      type(viewer.doc, sid, 'B2', 'v')
      type(owner.doc, sid, 'B4', '4')
      await audit.atLeast(5)

      const all = (await s.api('GET', `/api/workbooks/${id}/audit`)).json as { n: number; action: string; by: string; cell: string; detail: string }[]
      const refused = all.filter(e => e.action === 'refused')
      expect(refused).toHaveLength(1)
      expect(refused[0]).toMatchObject({ by: '小王', cell: 'A1', detail: 'protected' })
      expect(all.some(e => e.by === '访客' && e.action !== 'link-create')).toBe(false)

      // newest first, a page below an entry number
      const newest = (await s.api('GET', `/api/workbooks/${id}/audit?order=desc&limit=2`)).json as { n: number }[]
      expect(newest.map(e => e.n)).toEqual([all[all.length - 1]!.n, all[all.length - 2]!.n])
      const older = (await s.api('GET', `/api/workbooks/${id}/audit?order=desc&before=${newest[1]!.n}&limit=1`)).json as { n: number }[]
      expect(older.map(e => e.n)).toEqual([all[all.length - 3]!.n])
      expect((await s.api('GET', `/api/workbooks/${id}/audit?order=sideways`)).status).toBe(400)
      const csv = await s.api('GET', `/api/workbooks/${id}/audit?format=csv`)
      expect(csv.text.trim().split('\r\n')).toHaveLength(all.length + 1)

      expect((await s.api('GET', `/api/workbooks/${id}/audit/verify`)).json).toMatchObject({ ok: true })
      const b3 = all.find(e => e.cell === 'B3')!
      await kind.tamper(s, id, b3.n)
      expect((await s.api('GET', `/api/workbooks/${id}/audit/verify`)).json).toMatchObject({ ok: false, brokenAt: b3.n })
    })

    it('saves automatic versions with their editors, a named one at a sign-off lock, and keeps versions byte for byte through compaction', async () => {
      const s = await kind.start({ historyEveryUpdates: 3, compactThreshold: 5 })
      const id = await createWorkbook(s, { name: '老板' })
      const owner = await client(s, id)
      const sid = sheetOf(owner)
      const auto = nextEvent(s.rooms, 'versioned', (_id: unknown, info: { auto: boolean }) => info.auto)
      for (let i = 1; i <= 3; i++) type(owner.doc, sid, `A${i}`, String(i))
      await auto
      const versions = (await s.api('GET', `/api/workbooks/${id}/versions`)).json
      expect(versions[0]).toMatchObject({ auto: true, name: null, by: ['老板'], summary: { [sid]: 3 } })
      const autoState = await s.store.history.loadVersionState(id, versions[0].id)

      const locked = nextEvent(s.rooms, 'versioned', (_id: unknown, info: { auto: boolean }) => !info.auto)
      lockSheet(owner.doc, sid, '老板')
      await locked
      const withLock = (await s.api('GET', `/api/workbooks/${id}/versions`)).json
      expect(withLock[0]).toMatchObject({ auto: false, lock: { sheetId: sid }, by: ['老板'] })
      expect(withLock[0].name).toContain('签核')
      const lockState = await s.store.history.loadVersionState(id, withLock[0].id)

      // many more stored updates: compaction runs; every version's state stays as it was stored
      const { unlockSheet } = await import('../../src/core/access/access')
      unlockSheet(owner.doc, sid)
      const compacted = nextEvent(s.rooms, 'compacted')
      for (let i = 4; i <= 14; i++) {
        const flushed = nextEvent(s.rooms, 'flushed')
        type(owner.doc, sid, `B${i}`, String(i))
        await flushed
      }
      await compacted
      const again = await s.store.history.loadVersionState(id, versions[0].id)
      expect(Buffer.from(again!).equals(Buffer.from(autoState!))).toBe(true)
      // the named one too, and re-encoded it is the same bytes
      const named = await s.store.history.loadVersionState(id, withLock[0].id)
      expect(Buffer.from(named!).equals(Buffer.from(lockState!))).toBe(true)
      const reencoded = new Y.Doc()
      Y.applyUpdate(reencoded, named!)
      expect(Buffer.from(Y.encodeStateAsUpdate(reencoded)).equals(Buffer.from(lockState!))).toBe(true)
      const doc = new Y.Doc()
      Y.applyUpdate(doc, again!)
      expect(textAt(doc, sid, 'A3')).toBe('3')
      expect(textAt(doc, sid, 'B4')).toBe('')
    })

    it('converges when a restore races live edits', async () => {
      const s = await kind.start()
      const id = await createWorkbook(s, { name: '老板' })
      const editorToken = await createLink(s, id, 'editor', '小李')
      const owner = await client(s, id)
      const editor = await client(s, id, editorToken)
      const sid = sheetOf(owner)
      for (let i = 1; i <= 5; i++) type(owner.doc, sid, `A${i}`, String(i))
      await docUntil(editor.doc, 'the first edits', d => textAt(d, sid, 'A5') === '5')
      await s.rooms.flushAll()
      const vid = (await s.api('POST', `/api/workbooks/${id}/versions`, { name: 'base' })).json.id
      for (let i = 1; i <= 5; i++) type(owner.doc, sid, `A${i}`, String(i * 10))
      await docUntil(editor.doc, "the owner's later edits", d => textAt(d, sid, 'A5') === '50')
      // the editor types while the restore runs: whichever reaches the room first, everyone ends alike
      const restoring = s.api('POST', `/api/workbooks/${id}/versions/${vid}/restore`, {})
      for (let i = 1; i <= 20; i++) type(editor.doc, sid, `B${i}`, `e${i}`)
      expect((await restoring).status).toBe(200)
      let editorEntries = 0
      const refresh = async () => { editorEntries = (await s.api('GET', `/api/workbooks/${id}/audit?by=${encodeURIComponent('小李')}`)).json.length }
      await until('the editor\'s edits in the trail', () => editorEntries >= 20, recheck => {
        const on = () => { void refresh().then(recheck) }
        s.rooms.on('audited', on)
        on()
        return () => { s.rooms.off('audited', on) }
      })
      await s.rooms.flushAll()
      const third = await client(s, id)
      const content = (d: Y.Doc) => JSON.stringify([1, 2, 3, 4, 5].map(i => textAt(d, sid, `A${i}`)).concat(Array.from({ length: 20 }, (_, i) => textAt(d, sid, `B${i + 1}`))))
      const expected = content(third.doc)
      expect(JSON.parse(expected).slice(0, 5)).toEqual(['1', '2', '3', '4', '5'])
      await docUntil(owner.doc, 'the owner converges', d => content(d) === expected)
      await docUntil(editor.doc, 'the editor converges', d => content(d) === expected)
    })

    it('puts the changes since a version and who entered each appraisal score into the review pack', async () => {
      const s = await kind.start()
      const audit = auditWatch(s)
      const id = await createWorkbook(s, { template: 'performance-appraisal', name: '老板' })
      const editorToken = await createLink(s, id, 'editor', '小李')
      const editor = await client(s, id, editorToken)
      const sheets = sheetIds(editor.doc)
      const appraisal = sheets.find(x => sheetsOf(editor.doc).get(x)!.get('key') === 'appraisal')!
      const pack0 = (await s.api('GET', `/api/workbooks/${id}/export.json`)).json
      const sheet0 = pack0.sheets.find((x: { id: string }) => x.id === appraisal)
      const v = (await s.api('POST', `/api/workbooks/${id}/versions`, { name: '考核开始' })).json.id
      // the manual score column (a person types it), found by its key
      const parts = sheetParts(sheetsOf(editor.doc).get(appraisal)!)
      const colIndex = visibleColIds(sheetsOf(editor.doc).get(appraisal)!).findIndex(c => parts.colMeta.get(c)?.key === 'manual')
      expect(colIndex).toBeGreaterThanOrEqual(0)
      const lastCol = String.fromCharCode(65 + colIndex)
      const seen = audit.count
      type(editor.doc, appraisal, `${lastCol}2`, '已确认')
      await audit.atLeast(seen + 1)
      const pack = (await s.api('GET', `/api/workbooks/${id}/export.json?since=${v}`)).json
      expect(pack.changes.version).toMatchObject({ id: v, name: '考核开始' })
      const changed = pack.changes.sheets.find((x: { sheetId: string }) => x.sheetId === appraisal)
      expect(changed.cells).toEqual([expect.objectContaining({ cell: `${lastCol}2`, before: '', after: '已确认', by: ['小李'] })])
      const entered = pack.sheets.find((x: { id: string }) => x.id === appraisal).entered
      expect(entered[`1:${colIndex}`]).toMatchObject({ by: '小李' })
      expect(sheet0.columns.length).toBeGreaterThan(colIndex)
      expect((await s.api('GET', `/api/workbooks/${id}/export.json?since=nope123`)).status).toBe(404)
    })

    it('computes BASELINE() from a named version in the review pack and writes its value into the .xlsx', async () => {
      const s = await kind.start()
      const id = await createWorkbook(s, { name: '老板' })
      const owner = await client(s, id)
      const sid = sheetOf(owner)
      type(owner.doc, sid, 'A1', '100')
      await s.rooms.flushAll()
      expect((await s.api('POST', `/api/workbooks/${id}/versions`, { name: 'Q3 计划' })).status).toBe(201)
      type(owner.doc, sid, 'A1', '130')
      type(owner.doc, sid, 'B1', '=BASELINE("Q3 计划", A1)')
      type(owner.doc, sid, 'C1', '=A1-B1')
      await s.rooms.flushAll()
      const pack = (await s.api('GET', `/api/workbooks/${id}/export.json`)).json
      expect(pack.sheets.find((x: { id: string }) => x.id === sid).rows[0].slice(0, 3)).toEqual(['130', '100', '30'])
      const res = await fetch(`${s.url}/api/workbooks/${id}/export.xlsx`, { headers: { authorization: `Bearer ${ownerTokens.get(id)}` } })
      expect(res.status).toBe(200)
      const wb = new ExcelJS.Workbook()
      await wb.xlsx.load(Buffer.from(await res.arrayBuffer()) as never)
      const ws = wb.worksheets[0]!
      // the first row holding A1's value (a header row of column titles may come first)
      let row = ws.getRow(1)
      ws.eachRow(r => { if (r.getCell(1).value === 130 && row.getCell(1).value !== 130) row = r })
      expect(row.getCell(1).value).toBe(130)
      expect(row.getCell(2).value).toBe(100)
      expect(JSON.parse(decodeURIComponent(res.headers.get('x-export-notes') ?? '[]')).some((n: string) => n.includes('BASELINE'))).toBe(true)
    })

    it('answers unknown versions with 404, viewers with 403 on writes, and diffs across a deleted sheet', async () => {
      const s = await kind.start()
      const id = await createWorkbook(s, { name: '老板' })
      const owner = await client(s, id)
      const viewerToken = await createLink(s, id, 'viewer', '访客')
      expect((await s.api('GET', `/api/workbooks/${id}/diff?from=nope123&to=current`)).status).toBe(404)
      expect((await s.api('POST', `/api/workbooks/${id}/versions/nope123/restore`, {})).status).toBe(404)
      expect((await s.api('GET', `/api/workbooks/${id}/diff`)).status).toBe(400)
      expect((await s.api('POST', `/api/workbooks/${id}/versions`, { name: '' })).status).toBe(400)
      expect((await s.api('POST', `/api/workbooks/${id}/versions`, { name: 'x' }, auth(viewerToken))).status).toBe(403)
      expect((await s.api('GET', `/api/workbooks/${id}/versions`, undefined, auth(viewerToken))).status).toBe(200)
      // a name is one version's: BASELINE() and the review pack find versions by it
      expect((await s.api('POST', `/api/workbooks/${id}/versions`, { name: '已审批' })).status).toBe(201)
      expect((await s.api('POST', `/api/workbooks/${id}/versions`, { name: '已审批' })).status).toBe(409)

      const sid = sheetOf(owner)
      type(owner.doc, sid, 'A1', '7')
      const { addSheet } = await import('../../src/core/workbook/mutations')
      const second = addSheet(owner.doc, { name: '预算' })
      await s.rooms.flushAll()
      const v = (await s.api('POST', `/api/workbooks/${id}/versions`, { name: 'before' })).json.id
      deleteSheet(owner.doc, second)
      await s.rooms.flushAll()
      const diff = await s.api('GET', `/api/workbooks/${id}/diff?from=${v}&to=current`)
      expect(diff.status).toBe(200)
      expect(diff.json.sheets.find((x: { sheetId: string }) => x.sheetId === second)).toMatchObject({ status: 'removed', name: '预算' })
      expect(diff.json.counts.sheetsRemoved).toBe(1)
    })
  })
}
