// @vitest-environment node
/**
 * Fill-in rounds against the real server: a weekly round for three people (the API's shapes and form
 * links), two submit through the form endpoints and the status board says 2 submitted, 1 not yet, then
 * late after the due time; a person cannot write another person's row, a column outside the round or a
 * protected column (nothing of the submission is applied); values are checked per field; bad input and
 * wrong tokens are clear 4xx; at the period's close a named version is saved once; remind goes through
 * the webhook targets without any token, or hands the links back.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { setProtections } from '../../src/core/access/access'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { cellKey, sheetIds, sheetName, sheetParts, sheetsOf } from '../../src/core/workbook/schema'
import { setCell, setColumnMeta } from '../../src/core/workbook/mutations'
import { GRACE_MS, parseDue } from '../../src/core/rounds/periods'
import { createLink, createWorkbook, ownerTokens, testScope, until, type TestServer } from '../helpers/server'
import { auditWatch, call } from '../helpers/historyProbe'
import { freshPostgres } from '../helpers/services'

const { cleanups, server } = testScope()
const PUBLIC = 'https://sheets.example.com'
const DUE = '2026-03-06T18:00'
const dueAt = parseDue(DUE, 'Asia/Shanghai')!

/** A server whose clock the test moves, and a workbook: 姓名 (person) · 销售额 (number ≥ 0) · 自评 · 经理评分 (protected for 王经理). */
async function setup(opts: Parameters<typeof server>[0] = {}) {
  const clock = { now: dueAt - 4 * 86_400_000 }
  const s = await server({ ...opts, roundOptions: { now: () => clock.now, pollMs: 3_600_000 }, allowPrivateWebhooks: true, publicUrl: PUBLIC, webhookOptions: { pollMs: 200 }, maxAuthFailures: 1_000_000 })
  const id = await createWorkbook(s, { name: '老板' })
  const ids = await s.rooms.withDoc(id, doc => {
    const sid = sheetIds(doc)[0]!
    const l = new WorkbookLayout(doc).sheet(sid)!
    const [a, b, c, d] = l.cols.ids as [string, string, string, string]
    setColumnMeta(doc, sid, a, { title: '姓名', type: 'person' })
    setColumnMeta(doc, sid, b, { title: '销售额', type: 'number', validation: { min: 0 }, help: '本周销售额（元）' })
    setColumnMeta(doc, sid, c, { title: '自评', type: 'text' })
    setColumnMeta(doc, sid, d, { title: '经理评分', type: 'number' })
    ;['张三', '李四', '王五'].forEach((n, i) => setCell(doc, sid, l.rows.ids[i]!, a, n))
    setProtections(doc, [{ id: 'p1', sheet: sid, cols: [d], names: ['王经理'] }])
    return { sid, name: sheetName(doc, sid), rows: l.rows.ids.slice(0, 3), cols: { a, b, c, d } }
  })
  return { s, id, clock, ...ids }
}

const cell = (s: TestServer, id: string, sid: string, rowId: string, colId: string) =>
  s.rooms.withDoc(id, doc => sheetParts(sheetsOf(doc).get(sid)!).cells.get(cellKey(rowId, colId)) ?? null)
const tokenOf = (url: string) => new URL(url, 'http://x').searchParams.get('token')!

async function weekly(w: Awaited<ReturnType<typeof setup>>) {
  const made = await w.s.api('POST', `/api/workbooks/${w.id}/rounds`, { sheet: w.name, columns: ['销售额', '自评', '经理评分'], people: ['张三', '李四', '王五'], due: DUE, repeat: 'weekly' })
  expect(made.status, made.text).toBe(201)
  const tokens = Object.fromEntries((made.json.links as { name: string; url: string }[]).map(l => [l.name, tokenOf(l.url)]))
  return { rid: made.json.id as string, made: made.json, tokens }
}
const submit = (w: { s: TestServer; id: string }, rid: string, token: string, rows: unknown) => call(w.s, 'POST', `/api/workbooks/${w.id}/rounds/${rid}/submit`, token, { body: { rows } })
const status = async (w: { s: TestServer; id: string }, rid: string) => {
  const r = await w.s.api('GET', `/api/workbooks/${w.id}/rounds/${rid}`)
  expect(r.status, r.text).toBe(200)
  return r.json
}

describe('fill-in rounds', () => {
  it('a weekly round for three people: two submit, the board shows who has not, late after the due time', async () => {
    const w = await setup()
    const audit = auditWatch(w.s)
    const { rid, made, tokens } = await weekly(w)
    expect(made.links.map((l: { name: string }) => l.name)).toEqual(['张三', '李四', '王五'])
    for (const l of made.links) expect(l.url).toMatch(new RegExp(`^/f/${w.id}/${rid}\\?token=[A-Za-z0-9_-]{32}$`))

    // 张三's form: their row, the round's columns with type, rules and help; the manager's score read-only for them
    const form = await call(w.s, 'GET', `/api/workbooks/${w.id}/rounds/${rid}/form`, tokens['张三']!)
    expect(form.status, form.text).toBe(200)
    expect(form.json).toMatchObject({ person: '张三', period: 0, label: '2026-03-06', dueText: '2026-03-06 18:00', state: 'not-yet', submitted: false })
    expect(form.json.columns).toEqual([
      { id: w.cols.b, title: '销售额', type: 'number', help: '本周销售额（元）', validation: { min: 0 } },
      { id: w.cols.c, title: '自评', type: 'text' },
      { id: w.cols.d, title: '经理评分', type: 'number' },
    ])
    expect(form.json.rows).toEqual([{ id: w.rows[0], number: 1, label: '张三', values: { [w.cols.b]: '', [w.cols.c]: '', [w.cols.d]: '' }, readOnly: { [w.cols.d]: 'protected' } }])

    const a = await submit(w, rid, tokens['张三']!, { [w.rows[0]!]: { [w.cols.b]: '1,200', [w.cols.c]: '完成目标' } })
    expect(a.status, a.text).toBe(200)
    expect(a.json).toMatchObject({ submitted: true, period: 0, changed: 2 })
    w.clock.now += 60_000
    expect((await submit(w, rid, tokens['李四']!, { [w.rows[1]!]: { [w.cols.b]: 800 } })).status).toBe(200)
    expect(await cell(w.s, w.id, w.sid, w.rows[0]!, w.cols.b)).toBe(1200)
    expect(await cell(w.s, w.id, w.sid, w.rows[0]!, w.cols.c)).toBe('完成目标')
    expect(await cell(w.s, w.id, w.sid, w.rows[1]!, w.cols.b)).toBe(800)

    let board = await status(w, rid)
    expect(board.status).toEqual([
      { name: '张三', submitted: true, at: expect.any(Number), state: 'submitted' },
      { name: '李四', submitted: true, at: expect.any(Number), state: 'submitted' },
      { name: '王五', submitted: false, state: 'not-yet' },
    ])
    expect(board).toMatchObject({ repeat: 'weekly', period: 0, due: dueAt, sheetName: w.name, closed: [] })

    // after the due time 王五 is late; a late submission counts, marked late
    w.clock.now = dueAt + 3_600_000
    board = await status(w, rid)
    expect(board.status[2]).toEqual({ name: '王五', submitted: false, state: 'late' })
    // the audit trail names the person who filled, not the owner (its entries are written just after the change)
    await audit.atLeast(3)
    const trail = await w.s.api('GET', `/api/workbooks/${w.id}/audit?by=${encodeURIComponent('张三')}`)
    expect(trail.status).toBe(200)
    expect(JSON.stringify(trail.json)).toContain('1200')
  })

  it('refuses another person\'s row, a column outside the round and a protected cell, applying nothing; checks each field', async () => {
    const w = await setup()
    const { rid, tokens } = await weekly(w)
    const zs = tokens['张三']!
    const other = await submit(w, rid, zs, { [w.rows[1]!]: { [w.cols.b]: '5' } })
    expect(other.status).toBe(403)
    expect(other.json.error).toMatch(/row 2 is not 张三's: B2/)
    const outside = await submit(w, rid, zs, { [w.rows[0]!]: { [w.cols.a]: '李四' } })
    expect(outside.status).toBe(403)
    expect(outside.json.error).toMatch(/A1 is not in one of this round's columns/)
    // the manager's score is protected: refused whole, the sales figure of the same submission is not written
    const prot = await submit(w, rid, zs, { [w.rows[0]!]: { [w.cols.b]: '1300', [w.cols.d]: '95' } })
    expect(prot.status).toBe(409)
    expect(prot.json).toMatchObject({ code: 'protected', cell: 'D1' })
    expect(prot.json.error).toMatch(/D1 is protected/)
    expect(await cell(w.s, w.id, w.sid, w.rows[0]!, w.cols.b)).toBeNull()
    expect(await cell(w.s, w.id, w.sid, w.rows[0]!, w.cols.d)).toBeNull()
    // fields that do not hold: every one named, nothing written
    const bad = await submit(w, rid, zs, { [w.rows[0]!]: { [w.cols.b]: '-5', [w.cols.c]: '=1+1' } })
    expect(bad.status).toBe(400)
    expect(bad.json.fields).toEqual([
      { rowId: w.rows[0], colId: w.cols.b, cell: 'B1', code: 'below-min', message: 'must be at least 0', min: 0 },
      { rowId: w.rows[0], colId: w.cols.c, cell: 'C1', code: 'formula', message: 'a form takes values, not formulas' },
    ])
    const nan = await submit(w, rid, zs, { [w.rows[0]!]: { [w.cols.b]: 'abc' } })
    expect(nan.json.fields[0]).toMatchObject({ cell: 'B1', code: 'not-number' })
    expect(await cell(w.s, w.id, w.sid, w.rows[0]!, w.cols.c)).toBeNull()
    expect((await status(w, rid)).status.every((p: { submitted: boolean }) => !p.submitted)).toBe(true)
    expect(w.s.log.lines.filter(l => l.startsWith('error'))).toEqual([])
  })

  it('answers bad input and wrong tokens with clear 4xx', async () => {
    const w = await setup()
    const path = `/api/workbooks/${w.id}/rounds`
    const good = { sheet: w.name, columns: ['销售额'], people: ['张三'], due: DUE, repeat: 'weekly' }
    const cases: [unknown, number, RegExp][] = [
      [{ ...good, sheet: '没有这张表' }, 404, /no sheet "没有这张表"/],
      [{ ...good, columns: ['销售额', '利润'] }, 400, /columns\[1\]: no column "利润"/],
      [{ ...good, columns: [] }, 400, /columns/],
      [{ ...good, due: 'next friday' }, 400, /due: must be an ISO date-time/],
      [{ ...good, due: '2020-01-01T10:00' }, 400, /due: must be in the future/],
      [{ ...good, repeat: 'daily' }, 400, /repeat/],
      [{ ...good, people: [] }, 400, /people/],
      [{ ...good, people: { personColumn: '不存在' } }, 400, /people.personColumn: no column/],
      [{ ...good, people: 'everyone' }, 400, /people/],
    ]
    for (const [body, code, msg] of cases) {
      const r = await w.s.api('POST', path, body)
      expect(r.status, JSON.stringify(body)).toBe(code)
      expect(r.json.error).toMatch(msg)
    }
    const editor = await createLink(w.s, w.id, 'editor', '小李')
    expect((await call(w.s, 'POST', path, editor, { body: good })).status).toBe(403)
    expect((await w.s.api('GET', `${path}/nosuchround`)).status).toBe(404)
    // people from the person column: one per name in it
    const byCol = await w.s.api('POST', path, { ...good, people: { personColumn: '姓名' }, repeat: 'monthly' })
    expect(byCol.status, byCol.text).toBe(201)
    expect(byCol.json.links.map((l: { name: string }) => l.name)).toEqual(['张三', '李四', '王五'])
    const { rid, tokens } = await weekly(w)
    const form = `${path}/${rid}/form`
    expect((await call(w.s, 'GET', form, null)).status).toBe(401)
    expect((await call(w.s, 'GET', form, 'x'.repeat(32))).status).toBe(401)
    // a form link opens its own round's form only, and nothing else of the workbook
    expect((await call(w.s, 'GET', `${path}/${byCol.json.id}/form`, tokens['张三']!)).status).toBe(403)
    expect((await call(w.s, 'GET', `/api/workbooks/${w.id}`, tokens['张三']!)).status).toBe(401)
    expect((await call(w.s, 'GET', path, tokens['张三']!)).status).toBe(401)
    expect((await call(w.s, 'GET', `/api/workbooks/zzz/rounds/${rid}/form`, tokens['张三']!)).status).toBe(403)
    const junk = await call(w.s, 'POST', `${path}/${rid}/submit`, tokens['张三']!, { raw: '{"rows": [1, 2]}' })
    expect(junk.status).toBe(400)
    expect(junk.json.error).toMatch(/rows/)
    // a new link for a person: the one before stops working
    const again = await w.s.api('POST', `${path}/${rid}/links`, { name: '张三' })
    expect(again.status).toBe(200)
    expect((await call(w.s, 'GET', form, tokens['张三']!)).status).toBe(401)
    expect((await call(w.s, 'GET', form, tokenOf(again.json.url))).status).toBe(200)
    expect(w.s.log.lines.filter(l => l.startsWith('error'))).toEqual([])
  })

  it('saves the period\'s submissions as a named version at its close, once, and the next period starts empty', async () => {
    const w = await setup()
    const { rid, tokens } = await weekly(w)
    expect((await submit(w, rid, tokens['张三']!, { [w.rows[0]!]: { [w.cols.b]: '1200' } })).status).toBe(200)
    w.clock.now = dueAt + GRACE_MS
    await w.s.rounds.tick()
    await w.s.rounds.tick()
    const board = await status(w, rid)
    expect(board).toMatchObject({ period: 1, label: '2026-03-13' })
    expect(board.status.map((p: { state: string }) => p.state)).toEqual(['not-yet', 'not-yet', 'not-yet'])
    expect(board.closed).toEqual([{ period: 0, versionId: expect.any(String), at: dueAt + GRACE_MS }])
    const versions = (await w.s.api('GET', `/api/workbooks/${w.id}/versions`)).json as { id: string; name: string; by: string[]; auto: boolean }[]
    const named = versions.filter(v => v.name?.startsWith('收集：'))
    expect(named).toEqual([expect.objectContaining({ id: board.closed[0].versionId, name: `收集：${w.name} 2026-03-06`, by: ['张三'], auto: false })])
    // the version holds what was submitted
    const state = await call(w.s, 'GET', `/api/workbooks/${w.id}/versions/${named[0]!.id}/state`, ownerTokens.get(w.id)!)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, new Uint8Array(state.buf))
    expect(sheetParts(sheetsOf(doc).get(w.sid)!).cells.get(cellKey(w.rows[0]!, w.cols.b))).toBe(1200)
    // after a restart (same data), nothing is saved twice
    await w.s.close()
    const again = await server({ dataDir: w.s.dataDir, roundOptions: { now: () => dueAt + GRACE_MS + 1000, pollMs: 3_600_000 } })
    await again.rounds.tick()
    const after = await call(again, 'GET', `/api/workbooks/${w.id}/versions`, ownerTokens.get(w.id)!)
    expect((after.json as { name: string }[]).filter(v => v.name?.startsWith('收集：'))).toHaveLength(1)
  })

  it('reminds through the webhook targets, naming the round and the people, never a token; else hands back the links', async () => {
    const w = await setup()
    const { rid, tokens } = await weekly(w)
    expect((await submit(w, rid, tokens['张三']!, { [w.rows[0]!]: { [w.cols.c]: '好' } })).status).toBe(200)
    const none = await w.s.api('POST', `/api/workbooks/${w.id}/rounds/${rid}/remind`)
    expect(none.status).toBe(200)
    expect(none.json).toMatchObject({ targets: 0, people: ['李四', '王五'] })
    expect(none.json.links.map((l: { name: string }) => l.name)).toEqual(['李四', '王五'])

    const got: { body: any }[] = []
    let arrived: () => void = () => {}
    const http = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = []
      req.on('data', c => chunks.push(c))
      req.on('end', () => { got.push({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }); res.writeHead(200); res.end('{"errcode":0}'); arrived() })
    })
    await new Promise<void>(r => http.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>(r => { http.closeAllConnections(); http.close(() => r()) }))
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook`
    // the target chose other events: a reminder is the owner's own act and goes to every target
    expect((await w.s.api('PUT', `/api/workbooks/${w.id}/webhooks`, [{ kind: 'wecom', url, events: ['mention'] }])).status).toBe(200)
    const sent = await w.s.api('POST', `/api/workbooks/${w.id}/rounds/${rid}/remind`)
    expect(sent.json).toMatchObject({ targets: 1, people: ['李四', '王五'], links: [] })
    await until('the reminder arrived', () => got.length > 0 || undefined, recheck => { arrived = recheck; return () => { arrived = () => {} } })
    const text = got[0]!.body.text.content as string
    expect(text).toContain('李四、王五')
    expect(text).toContain(`「${w.name}」`)
    expect(text).toContain(`${PUBLIC}/f/${w.id}/${rid}`)
    for (const t of Object.values(tokens)) expect(text).not.toContain(t)
    expect(text).not.toContain('token')
  })

  it('keeps rounds in PostgreSQL the same way, and deleting the workbook takes its rounds', async () => {
    const pg = await freshPostgres()
    cleanups.push(pg.drop)
    const w = await setup({ store: pg.store })
    const { rid, tokens } = await weekly(w)
    expect((await submit(w, rid, tokens['李四']!, { [w.rows[1]!]: { [w.cols.b]: '99' } })).status).toBe(200)
    expect((await status(w, rid)).status.map((p: { state: string }) => p.state)).toEqual(['not-yet', 'submitted', 'not-yet'])
    w.clock.now = dueAt + GRACE_MS
    const board = await status(w, rid)
    expect(board.closed).toHaveLength(1)
    expect(await pg.store.rounds.claimClose({ roundId: rid, period: 0, versionId: null, at: 0 })).toBe(false)
    expect((await w.s.api('DELETE', `/api/workbooks/${w.id}`)).status).toBeLessThan(300)
    expect(await pg.store.rounds.allRounds()).toEqual([])
    expect(await pg.store.rounds.personByToken('x')).toBeNull()
  })
})
