// @vitest-environment node
/**
 * Security review of the history/audit feature against the real server, as an attacker holding each
 * kind of link: owner, editor, viewer, a revoked link, another workbook's owner, a made-up token and
 * none; hostile ids, query values and bodies (SQLite, and the PostgreSQL probes at the end). Each
 * finding of the first probe that was a bug is a test of the fixed behaviour. The rest of the review is
 * history-privacy.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { createWorkbook, ownerTokens, testScope } from '../helpers/server'
import { freshPostgres } from '../helpers/services'
import { type } from '../helpers/workbook'
import { auditWatch, call, probeKit, sheetOf, stillServing } from '../helpers/historyProbe'

const scope = testScope()
const { cleanups, server } = scope
const { client, fixture } = probeKit(scope)

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
