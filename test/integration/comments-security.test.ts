// @vitest-environment node
/**
 * The security review of comments, the inbox and webhooks (issue 20), against the real server with stock
 * y-websocket clients and raw frames, as an attacker holding one link (viewer, commenter, editor), links of
 * two workbooks, or none: nothing read or written across workbooks; the inbox holds only the items of the
 * links sent, and read marks only for items it holds; no author, mention, state or assignment forged
 * through the socket; a viewer's comment never applied; a commenter changes nothing but comments by any
 * path; the limits hold for one huge message too; hostile input (prototype keys and ids, odd unicode,
 * malformed JSON, thousands of tokens, a far due date) never breaks the server; webhook targets on
 * internal addresses in any spelling are refused; user text stays text in webhooks and XLSX notes.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import JSZip from 'jszip'
import ExcelJS from 'exceljs'
import { addComment, applyWrites, COMMENT_LIMITS, readThreads } from '../../src/core/comments/comments'
import { lockSheet, setProtections } from '../../src/core/access/access'
import { insertRows, renameSheet, setTitle } from '../../src/core/workbook/mutations'
import { setCellStyle } from '../../src/core/workbook/styles'
import { setHidden } from '../../src/core/workbook/hidden'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { createLink, createWorkbook, docUntil, ownerTokens, rawSocket, refusedUpgradeStatus, socketUrl, testScope, until, type TestServer } from '../helpers/server'
import { call, probeKit, serverClose, sheetOf, stillServing } from '../helpers/historyProbe'
import { type } from '../helpers/workbook'
import { sendAndFlush, updateFrame } from './hooks/frames'

const scope = testScope()
const { server, socket, cleanups } = scope
const { client } = probeKit(scope)

const roomDoc = (s: TestServer, id: string) => s.rooms.rooms.get(id)!.doc
const entries = (d: Y.Doc) => d.getMap('comments')
const list = async (s: TestServer, id: string, token = ownerTokens.get(id)!) => {
  const r = await call(s, 'GET', `/api/workbooks/${id}/comments`, token)
  expect(r.status).toBe(200)
  return r.json as any[]
}
const inbox = (s: TestServer, tokens: string[], path = '/api/inbox', body?: unknown) =>
  call(s, body === undefined ? 'GET' : 'POST', path, null, { headers: { authorization: `Bearer ${tokens.join(' ')}` }, body })

/** A1-addressed cell ids of the first sheet */
function cellIds(doc: Y.Doc, sid: string, row: number, col: number) {
  const l = new WorkbookLayout(doc).sheet(sid)!
  return { sheet: sid, row: l.rows.ids[row]!, col: l.cols.ids[col]! }
}

/** Workbook A (owner 老板, editor 张三, commenter 李四, viewer 访客, a revoked commenter) and B (owner 外人). */
async function fixture(opts: Parameters<typeof server>[0] = {}) {
  const s = await server({ maxAuthFailures: 1_000_000, ...opts })
  const id = await createWorkbook(s, { name: '老板' })
  const owner = ownerTokens.get(id)!
  const zhang = await createLink(s, id, 'editor', '张三')
  const li = await createLink(s, id, 'commenter', '李四')
  const viewer = await createLink(s, id, 'viewer', '访客')
  const gone = await s.api('POST', `/api/workbooks/${id}/links`, { role: 'commenter', name: '离职的人' })
  expect((await s.api('DELETE', `/api/workbooks/${id}/links/${gone.json.id}`)).status).toBe(200)
  const id2 = await createWorkbook(s, { name: '外人' })
  const sid = await s.rooms.withDoc(id, d => [...d.getMap('sheets').keys()][0]!)
  const post = async (token: string, body: Record<string, unknown>, wb = id) => {
    const r = await call(s, 'POST', `/api/workbooks/${wb}/comments`, token, { body: { sheet: sid, cell: 'B3', ...body } })
    expect(r.status, r.text).toBe(201)
    return r.json.id as string
  }
  return { s, id, id2, sid, owner, zhang, li, viewer, revoked: gone.json.token as string, other: ownerTokens.get(id2)!, post }
}

describe('comments of a workbook one holds no link to', () => {
  it('no token, a token of another workbook, a revoked or guessed one: nothing read, nothing written; ids are per workbook', async () => {
    const { s, id, id2, owner, other, revoked, post } = await fixture()
    const cid = await post(owner, { text: '只给本工作簿的人看' })
    const before = await list(s, id)
    for (const token of [null, other, revoked, 'A'.repeat(32), 'short', '../../etc']) {
      const got = await call(s, 'GET', `/api/workbooks/${id}/comments`, token)
      expect([401, 403], `${token}`).toContain(got.status)
      expect(got.text).not.toContain('只给本工作簿的人看')
      expect([401, 403]).toContain((await call(s, 'GET', `/api/workbooks/${id}/people`, token)).status)
      expect([401, 403]).toContain((await call(s, 'POST', `/api/workbooks/${id}/comments`, token, { body: { sheet: before[0].sheetId, cell: 'A1', text: 'x' } })).status)
      expect([401, 403]).toContain((await call(s, 'POST', `/api/workbooks/${id}/comments/${cid}/replies`, token, { body: { text: 'x' } })).status)
      expect([401, 403]).toContain((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${cid}`, token, { body: { resolved: true } })).status)
      expect([401, 403]).toContain((await call(s, 'DELETE', `/api/workbooks/${id}/comments/${cid}`, token)).status)
    }
    // B's owner names A's comment on B's own address: no such comment there
    for (const [m, p, body] of [['PATCH', '', { text: '改' }], ['DELETE', '', undefined], ['POST', '/replies', { text: '回' }]] as const) {
      expect((await call(s, m, `/api/workbooks/${id2}/comments/${cid}${p}`, other, body ? { body } : {})).status).toBe(404)
    }
    expect(await list(s, id)).toEqual(before)
    expect(await refusedUpgradeStatus(socketUrl(s, id, other))).toBe(403)
    expect(await refusedUpgradeStatus(socketUrl(s, id, revoked))).toBe(403)
    await stillServing(s, id)
  })
})

describe('the inbox', () => {
  it('holds only the items of the links sent, each of its own workbook; read marks only for items it holds', async () => {
    const { s, id, id2, owner, zhang, li, revoked, post } = await fixture()
    const zhangOnB = await createLink(s, id2, 'editor', '张三')
    const forZhang = await post(owner, { text: '@张三 私下确认预算' })
    const forLi = await post(owner, { text: '@李四 请评审', assignee: '李四' })
    await post(ownerTokens.get(id2)!, { text: '@张三 B 的事', sheet: await s.rooms.withDoc(id2, d => [...d.getMap('sheets').keys()][0]!) }, id2)

    const of = async (tokens: string[]) => { const r = await inbox(s, tokens); expect(r.status, r.text).toBe(200); return r.json }
    const liBox = await of([li])
    expect(liBox.items.map((i: any) => [i.commentId, i.kind])).toEqual([[forLi, 'assignment']])
    expect(JSON.stringify(liBox)).not.toContain('私下确认预算')
    // the same name on B sees B's item only; both links at once, each item under its own link
    expect((await of([zhangOnB])).items.map((i: any) => i.text)).toEqual(['@张三 B 的事'])
    const both = await of([zhang, zhangOnB, revoked])
    expect(both.items.map((i: any) => [i.workbookId, i.text]).sort()).toEqual([[id, '@张三 私下确认预算'], [id2, '@张三 B 的事']].sort())
    expect(both.invalid).toBe(1)
    expect((await inbox(s, [revoked])).status).toBe(401)

    // 李四 marks 张三's item and 999 made-up ones: 张三's stays unread, and nothing is stored for what 李四's inbox lacks
    const liLink = liBox.items[0].linkId as string
    const made = Array.from({ length: 999 }, (_, i) => ({ workbookId: id, commentId: `fake${i}`, kind: 'mention' }))
    expect((await inbox(s, [li], '/api/inbox/read', { items: [{ workbookId: id, commentId: forZhang, kind: 'mention' }, ...made] })).status).toBe(204)
    expect((await of([zhang])).items[0]).toMatchObject({ commentId: forZhang, read: false })
    expect(await s.store.readItems([liLink])).toEqual(new Set())
    expect((await inbox(s, [li], '/api/inbox/read', { items: [{ workbookId: id, commentId: forLi, kind: 'assignment' }] })).status).toBe(204)
    expect(await s.store.readItems([liLink])).toEqual(new Set([`${liLink} ${forLi}:assignment`]))
    expect((await of([li])).unread).toBe(0)
    await stillServing(s, id)
  })

  it('thousands of tokens are refused before any lookup; guesses spend the address\'s budget; a live link alone still gets in', async () => {
    const { s, id, li } = await fixture({ maxAuthFailures: 5 })
    const guess = (i: number) => `guess${String(i).padStart(20, '0')}`
    const many = await inbox(s, Array.from({ length: 700 }, (_, i) => guess(i)))
    expect(many.status).toBe(400)
    const huge = await call(s, 'GET', '/api/inbox', null, { headers: { authorization: `Bearer ${Array.from({ length: 4000 }, (_, i) => guess(i)).join(' ')}` } })
    expect([400, 431]).toContain(huge.status) // the HTTP parser's own answer: the header is over its limit
    // neither spent anything: five guesses are answered 401, the sixth 429, through either route
    expect((await inbox(s, [1, 2, 3, 4, 5].map(guess))).status).toBe(401)
    expect((await inbox(s, [guess(6)])).status).toBe(429)
    expect((await inbox(s, [li, guess(7)], '/api/inbox/read', { all: true })).status).toBe(429)
    expect((await call(s, 'GET', `/api/workbooks/${id}/comments`, guess(8))).status).toBe(429)
    expect((await inbox(s, [li])).status).toBe(200)
    await stillServing(s, id)
  })
})

describe('through the socket', () => {
  it('a viewer\'s comment never reaches the server, nor through the API', async () => {
    const { s, id, sid, viewer } = await fixture()
    const v = await client(s, id, viewer)
    const d = new Y.Doc()
    Y.applyUpdate(d, Y.encodeStateAsUpdate(v.doc))
    const sv = Y.encodeStateVector(d)
    addComment(d, { sheetId: sid, rowId: cellIds(d, sid, 0, 0).row, colId: cellIds(d, sid, 0, 0).col, text: '访客的评论' }, '访客')
    const ws = socket(await rawSocket(socketUrl(s, id, viewer)))
    await sendAndFlush(ws, updateFrame(Y.encodeStateAsUpdate(d, sv)))
    expect(entries(roomDoc(s, id)).size).toBe(0)
    expect((await call(s, 'POST', `/api/workbooks/${id}/comments`, viewer, { body: { sheet: sid, cell: 'A1', text: 'x' } })).status).toBe(403)
    expect(await list(s, id)).toEqual([])
  })

  it('a commenter changes no cell, structure, protection, lock, setting or root by any path; nothing of a mixed change is kept', async () => {
    const { s, id, sid, li, post, owner } = await fixture()
    await post(owner, { text: '原有的评论' })
    const before = Y.encodeStateVector(roomDoc(s, id))
    const tries: [string, (d: Y.Doc) => void][] = [
      ['cell', d => type(d, sid, 'C3', '123')],
      ['cell and comment at once', d => d.transact(() => { addComment(d, { sheetId: sid, rowId: cellIds(d, sid, 0, 0).row, colId: cellIds(d, sid, 0, 0).col, text: '顺便' }, '李四'); type(d, sid, 'A1', '9') })],
      ['rows', d => insertRows(d, sid, 0, 1)],
      ['sheet name', d => renameSheet(d, sid, '改名')],
      ['title', d => setTitle(d, '改标题')],
      ['protections', d => setProtections(d, [{ id: 'p1', sheet: sid }])],
      ['lock', d => lockSheet(d, sid, '李四')],
      ['style', d => setCellStyle(d, sid, [{ rowId: cellIds(d, sid, 0, 0).row, colId: cellIds(d, sid, 0, 0).col }], { b: true })],
      ['hidden', d => setHidden(d, sid, 'rows', [cellIds(d, sid, 0, 0).row], true)],
      ['merge', d => d.getMap('merges').set(`${sid}/${cellIds(d, sid, 0, 0).row}:${cellIds(d, sid, 0, 0).col}`, { r: cellIds(d, sid, 1, 1).row, c: cellIds(d, sid, 1, 1).col })],
      ['chart', d => d.getMap('charts').set('ch1', { kind: 'bar', sheet: sid })],
      ['filter view', d => d.getMap('filterViews').set('fv1', { by: '李四', sheet: sid, name: 'x', filter: {} })],
      ['sheet order', d => d.getArray('sheetOrder').delete(0, 1)],
      ['a root of its own', d => d.getMap('evil').set('x', 1)],
    ]
    for (const [what, change] of tries) {
      const c = await client(s, id, li)
      const closed = serverClose(c)
      change(c.doc)
      expect(await closed, what).toMatchObject({ code: 4409, reason: 'comment-only' })
    }
    expect(Y.encodeStateVector(roomDoc(s, id))).toEqual(before)
    // nor through the API: versions, restore, title, links, webhooks, templates
    const v = await call(s, 'POST', `/api/workbooks/${id}/versions`, owner, { body: { name: 'v' } })
    for (const [m, p, body] of [['POST', '/versions', { name: 'x' }], ['POST', `/versions/${v.json.id}/restore`, {}], ['PATCH', '', { title: 'x' }],
      ['POST', '/links', { role: 'owner', name: 'x' }], ['PUT', '/webhooks', []], ['POST', '/template', { name: 'x' }]] as const) {
      expect((await call(s, m, `/api/workbooks/${id}${p}`, li, { body })).status, `${m} ${p}`).toBe(403)
    }
    await stillServing(s, id)
  })

  it('no author, mention, state or assignment is forged; nobody changes or deletes what is not theirs; what is not a comment is refused', async () => {
    const { s, id, sid, owner, zhang, li, post } = await fixture()
    const t = await post(owner, { text: '@张三 请更新', assignee: '张三' })
    const r = (await call(s, 'POST', `/api/workbooks/${id}/comments/${t}/replies`, owner, { body: { text: '补充一句' } })).json.id as string
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${t}`, owner, { body: { resolved: true } })).status).toBe(200)
    const mine = await post(li, { text: '李四自己的' })
    const at = Date.now()
    const base = (d: Y.Doc) => ({ ...cellIds(d, sid, 0, 0), text: 'hi', mentions: [] as string[], at })
    const set = (key: string, v: (d: Y.Doc) => unknown) => (d: Y.Doc) => entries(d).set(key, v(d))
    const cases: [string, string, (d: Y.Doc) => void][] = [
      ['a thread under another name', 'comment-as-other', set('t:f1', d => ({ ...base(d), by: '老板' }))],
      ['a thread under no name', 'comment-as-other', set('t:f2', d => ({ ...base(d), by: '' }))],
      ['a reply under another name', 'comment-as-other', set('r:f3', () => ({ thread: t, by: '张三', text: '好', mentions: [], at }))],
      ['a state under another name', 'comment-as-other', set(`s:${t}`, () => ({ resolved: false, by: '老板', at }))],
      ['the assignee\'s done', 'comment-not-yours', set(`d:${t}`, () => ({ done: true, by: '李四', at }))],
      ['another\'s text', 'comment-not-yours', d => entries(d).set(`t:${t}`, { ...(entries(d).get(`t:${t}`) as object), by: '李四', text: '改了' })],
      ['another\'s thread deleted', 'comment-not-yours', d => entries(d).delete(`t:${t}`)],
      ['another\'s reply deleted', 'comment-not-yours', d => entries(d).delete(`r:${r}`)],
      ['a thread\'s state taken away', 'comment-not-yours', d => entries(d).delete(`s:${t}`)],
      ['one\'s own thread moved', 'not-a-comment', d => entries(d).set(`t:${mine}`, { ...(entries(d).get(`t:${mine}`) as object), row: cellIds(d, sid, 5, 5).row })],
      ['one\'s own thread backdated', 'not-a-comment', d => entries(d).set(`t:${mine}`, { ...(entries(d).get(`t:${mine}`) as object), at: 1 })],
      ['a mention the text does not make', 'not-a-comment', set('t:f4', d => ({ ...base(d), by: '李四', mentions: ['老板'] }))],
      ['a due date that is none', 'not-a-comment', set('t:f5', d => ({ ...base(d), by: '李四', due: 'soon' }))],
      ['a thread on no sheet', 'not-a-comment', set('t:f6', d => ({ ...base(d), sheet: 'nosuch', by: '李四' }))],
      ['a reply to no thread', 'not-a-comment', set('r:f7', () => ({ thread: 'nosuch', by: '李四', text: '好', mentions: [], at }))],
      ['text too long', 'not-a-comment', set('t:f8', d => ({ ...base(d), by: '李四', text: 'x'.repeat(COMMENT_LIMITS.text + 1) }))],
      ['too many mentions', 'not-a-comment', set('t:f9', d => ({ ...base(d), by: '李四', text: Array.from({ length: 21 }, (_, i) => `@p${i}`).join(' '), mentions: Array.from({ length: 21 }, (_, i) => `p${i}`) }))],
      ['a field of its own', 'not-a-comment', set('t:f10', d => ({ ...base(d), by: '李四', admin: true }))],
      ['a time that is none', 'not-a-comment', set('t:f11', d => ({ ...base(d), by: '李四', at: NaN }))],
      ['a nested type', 'not-a-comment', set('t:f12', () => new Y.Map())],
      ['a key that is none', 'not-a-comment', set('__proto__', d => ({ ...base(d), by: '李四' }))],
      ['an id that is none', 'not-a-comment', set('t:a b', d => ({ ...base(d), by: '李四' }))],
    ]
    const kept = JSON.stringify(readThreads(roomDoc(s, id)))
    for (const [what, reason, change] of cases) {
      const c = await client(s, id, li)
      const closed = serverClose(c)
      c.doc.transact(() => change(c.doc))
      expect(await closed, what).toMatchObject({ code: 4409, reason })
    }
    expect(JSON.stringify(readThreads(roomDoc(s, id)))).toBe(kept)
    // what is theirs is taken: 李四 reopens the thread, 张三 (its assignee) marks it done
    const c = await client(s, id, li)
    c.doc.transact(() => entries(c.doc).set(`s:${t}`, { resolved: false, by: '李四', at }))
    const z = await client(s, id, zhang)
    z.doc.transact(() => entries(z.doc).set(`d:${t}`, { done: true, by: '张三', at }))
    await docUntil(roomDoc(s, id), 'both landed', d => { const x = readThreads(d).find(y => y.id === t); return x?.resolved === false && x.done })
    await stillServing(s, id)
  })
})

describe('limits', () => {
  it('entries, text and mentions hold through the API and the socket, one huge message included', async () => {
    const { s, id, id2, sid, li, other, post } = await fixture()
    // one message of more entries than a workbook may hold, from an owner
    const o = await client(s, id2, other)
    const sid2 = sheetOf(o)
    const closed = serverClose(o)
    o.doc.transact(() => { for (let i = 0; i <= COMMENT_LIMITS.entries; i++) entries(o.doc).set(`t:m${i}`, { ...cellIds(o.doc, sid2, 0, 0), by: '外人', text: 'x', mentions: [], at: i }) })
    expect(await closed).toMatchObject({ code: 4409, reason: 'too-many-comments' })
    expect(entries(roomDoc(s, id2)).size).toBe(0)

    // a workbook one short of full: one more, then none, by either path
    await s.rooms.withDoc(id, d => applyWrites(d, new Map(Array.from({ length: COMMENT_LIMITS.entries - 1 }, (_, i) => [`t:f${i}`, { ...cellIds(d, sid, 1, 1), by: '老板', text: 'x', mentions: [], at: i }]))))
    await post(li, { text: '最后一条' })
    expect((await call(s, 'POST', `/api/workbooks/${id}/comments`, li, { body: { sheet: sid, cell: 'A1', text: '再来一条' } })).status).toBe(409)
    const c = await client(s, id, li)
    const refused = serverClose(c)
    entries(c.doc).set('t:over', { ...cellIds(c.doc, sid, 0, 0), by: '李四', text: '从表格里再来', mentions: [], at: 1 })
    expect(await refused).toMatchObject({ code: 4409, reason: 'too-many-comments' })
    expect(entries(roomDoc(s, id)).size).toBe(COMMENT_LIMITS.entries)

    // text over the limit, and a body over the server's: refused; more mentions than a comment keeps: cut
    const w = await fixture()
    expect((await call(w.s, 'POST', `/api/workbooks/${w.id}/comments`, w.li, { body: { sheet: w.sid, cell: 'A1', text: 'x'.repeat(COMMENT_LIMITS.text + 1) } })).status).toBe(400)
    expect((await call(w.s, 'POST', `/api/workbooks/${w.id}/comments`, w.li, { raw: JSON.stringify({ sheet: w.sid, cell: 'A1', text: 'x'.repeat(2_000_000) }) })).status).toBe(413)
    for (let i = 0; i < 25; i++) await createLink(w.s, w.id, 'viewer', `人${i}号`)
    const many = await w.post(w.li, { text: Array.from({ length: 25 }, (_, i) => `@人${i}号`).join(' ') })
    expect((await list(w.s, w.id)).find(t => t.id === many).mentions).toHaveLength(COMMENT_LIMITS.mentions)
    await stillServing(s, id)
  })
})

describe('hostile input', () => {
  it('malformed JSON, prototype keys, odd unicode and made-up ids are answered 4xx or taken as text, never a 500', async () => {
    const { s, id, sid, li, zhang } = await fixture()
    const posted = (raw: string, token = li) => call(s, 'POST', `/api/workbooks/${id}/comments`, token, { raw })
    for (const raw of ['{"sheet": ', '[]', 'null', '"x"', '123', '['.repeat(200_000), `{"__proto__": {"text": "x"}, "sheet": "${sid}", "cell": "A1"}`, '\u0000', '{"sheet": {"$ne": 1}}']) {
      expect((await posted(raw)).status, raw.slice(0, 30)).toBe(400)
    }
    const sneaky = await posted(`{"sheet": "${sid}", "cell": "A1", "text": "原型", "__proto__": {"assignee": "老板", "due": "2026-01-01"}, "constructor": {"prototype": {"x": 1}}}`)
    expect(sneaky.status).toBe(201)
    expect((await list(s, id)).find(t => t.id === sneaky.json.id)).not.toHaveProperty('assignee')
    for (const cid of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
      expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${cid}`, li, { body: { resolved: true } })).status).toBe(404)
      expect((await call(s, 'DELETE', `/api/workbooks/${id}/comments/${cid}`, li)).status).toBe(404)
      expect((await call(s, 'POST', `/api/workbooks/${id}/comments/${cid}/replies`, li, { body: { text: 'x' } })).status).toBe(404)
      expect((await call(s, 'POST', `/api/workbooks/${id}/comments`, li, { body: { sheet: cid, cell: 'A1', text: 'x' } })).status).toBe(404)
      expect((await call(s, 'GET', `/api/workbooks/${id}/comments?sheet=${cid}`, li)).status).toBe(404)
    }
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${sneaky.json.id}`, li, { body: {} })).status).toBe(400)
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${sneaky.json.id}`, li, { body: { resolved: 'yes' } })).status).toBe(400)
    expect((await call(s, 'GET', `/api/workbooks/${id}/comments?open=2`, li)).status).toBe(400)
    for (const body of [{}, { items: 'all' }, { all: 'yes' }, { items: [{ workbookId: '../x', commentId: 'c', kind: 'mention' }] }]) {
      expect((await inbox(s, [li], '/api/inbox/read', body)).status).toBe(400)
    }
    expect((await call(s, 'GET', '/api/inbox', null, { headers: { authorization: 'Bearer' } })).status).toBe(401)
    expect((await call(s, 'GET', '/api/inbox', null, { headers: { authorization: ',,, ,,' } })).status).toBe(401)
    // text is text: zero-width, right-to-left overrides, a lone surrogate, emoji, control characters (dropped)
    for (const text of ['\u200b', '\u202egnp.exe', 'a\ud800b', '👨‍👩‍👧 𠀀', 'x\u0000\u0007y', '@张三\u202e']) {
      const r = await call(s, 'POST', `/api/workbooks/${id}/comments`, zhang, { body: { sheet: sid, cell: 'C3', text } })
      expect(r.status, JSON.stringify(text)).toBe(201)
    }
    expect((await list(s, id)).map(t => t.text)).toContain('xy')
    expect((await inbox(s, [zhang])).status).toBe(200)
    await stillServing(s, id)
  })

  it('threads whose ids are Object\'s own names work like any other, in the list, the inbox, the exports and the trail', async () => {
    const { s, id, sid, owner, zhang } = await fixture()
    const c = await client(s, id, owner)
    const at = Date.now()
    c.doc.transact(() => {
      entries(c.doc).set('t:__proto__', { ...cellIds(c.doc, sid, 0, 0), by: '老板', text: '@张三 原型', mentions: ['张三'], at })
      entries(c.doc).set('t:constructor', { ...cellIds(c.doc, sid, 1, 1), by: '老板', text: '构造', mentions: [], assignee: '张三', at: at + 1 })
      entries(c.doc).set('r:toString', { thread: '__proto__', by: '老板', text: '回复', mentions: [], at: at + 2 })
      entries(c.doc).set('s:__proto__', { resolved: false, by: '老板', at })
    })
    await docUntil(roomDoc(s, id), 'the server has them', d => readThreads(d).length === 2)
    expect((await list(s, id)).map(t => [t.id, t.cell, t.replies.map((r: any) => r.id)])).toEqual([['__proto__', 'A1', ['toString']], ['constructor', 'B2', []]])
    const box = await inbox(s, [zhang])
    expect(box.json.items.map((i: any) => [i.commentId, i.kind]).sort()).toEqual([['__proto__', 'mention'], ['constructor', 'assignment']])
    expect((await inbox(s, [zhang], '/api/inbox/read', { items: [{ workbookId: id, commentId: '__proto__', kind: 'mention' }] })).status).toBe(204)
    expect((await inbox(s, [zhang])).json.unread).toBe(1)
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/__proto__`, zhang, { body: { resolved: true } })).json).toMatchObject({ id: '__proto__', resolved: true })
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/constructor`, zhang, { body: { done: true } })).json).toMatchObject({ done: true })
    expect((await call(s, 'GET', `/api/workbooks/${id}/export.xlsx`, owner)).status).toBe(200)
    expect((await call(s, 'GET', `/api/workbooks/${id}/export.json`, owner)).status).toBe(200)
    expect((await call(s, 'DELETE', `/api/workbooks/${id}/comments/__proto__`, owner)).status).toBe(204)
    expect((await list(s, id)).map(t => t.id)).toEqual(['constructor'])
    expect((await call(s, 'GET', `/api/workbooks/${id}/audit`, owner)).status).toBe(200)
    await stillServing(s, id)
  })

  it('a due date at the end of time is taken without an error, from the API and the socket', async () => {
    const { s, id, sid, owner, li } = await fixture()
    const r = await call(s, 'POST', `/api/workbooks/${id}/comments`, li, { body: { sheet: sid, cell: 'A1', text: '@张三 慢慢来', assignee: '张三', due: '9999-12-31' } })
    expect(r.status, r.text).toBe(201)
    const c = await client(s, id, owner)
    const ws = c.provider.ws!
    entries(c.doc).set('t:far', { ...cellIds(c.doc, sid, 2, 2), by: '老板', text: '很久以后', mentions: [], assignee: '张三', due: '9999-99-99', at: Date.now() })
    await docUntil(roomDoc(s, id), 'the server has it', d => entries(d).has('t:far'))
    expect(c.provider.ws).toBe(ws)
    expect(c.provider.wsconnected).toBe(true)
    await stillServing(s, id)
  })
})

describe('webhooks', () => {
  it('refuse internal addresses in every spelling (decimal, hex, octal, short, IPv6, mapped, NAT64) and names that resolve to one; owners of this workbook only', async () => {
    const names: Record<string, string[]> = { 'mapped.example': ['::ffff:127.0.0.1'], 'any.example': ['0.0.0.0'], 'multi.example': ['93.184.216.34', '10.0.0.7'], 'v6.example': ['fe80::1'], '127.0.0.1.nip.io': ['127.0.0.1'], 'meta.example': ['::ffff:a9fe:a9fe'] }
    const { s, id, zhang, li, viewer, other } = await fixture({ webhookOptions: { resolver: async h => (names[h] ?? ['93.184.216.34']).map(address => ({ address, family: address.includes(':') ? 6 : 4 })) } })
    const put = (url: string, token = ownerTokens.get(id)!, wb = id) => call(s, 'PUT', `/api/workbooks/${wb}/webhooks`, token, { body: [{ kind: 'json', url, events: ['mention'] }] })
    const bad = ['http://2130706433/', 'http://0x7f.1/', 'http://0177.0.0.1/', 'http://127.1:8080/', 'http://0/', 'http://0x7f000001/', 'http://[::]/', 'http://[::1]:3000/',
      'http://[::ffff:127.0.0.1]/', 'http://[0:0:0:0:0:ffff:7f00:1]/', 'http://[::127.0.0.1]/', 'http://[64:ff9b::10.0.0.1]/', 'http://[fe80::1]/', 'http://[fc00::1]/',
      'http://169.254.169.254/latest/meta-data/', 'http://0xa9fea9fe/', 'http://192.168.1.1:22/', 'http://172.16.0.1/', 'http://224.0.0.1/', 'http://255.255.255.255/',
      'http://100.64.0.1/', 'http://198.18.0.1/', 'https://127.0.0.1.:443/', ...Object.keys(names).map(h => `http://${h}/hook`)]
    for (const url of bad) {
      const r = await put(url)
      expect(r.status, url).toBe(400)
      expect(r.json.error, url).toMatch(/^targets\[0\]\.url: .* is an? (loopback|private|link-local|carrier-grade NAT|unique-local|unspecified|multicast|reserved) address$/)
    }
    expect((await call(s, 'GET', `/api/workbooks/${id}/webhooks`, ownerTokens.get(id)!)).json).toEqual([])
    expect((await put('https://hooks.example.com/x')).status).toBe(200)
    // nobody else sets or reads them: not another workbook's owner, nor any other role
    for (const token of [other, zhang, li, viewer]) {
      expect((await put('https://evil.example.com/', token)).status).toBe(403)
      expect((await call(s, 'GET', `/api/workbooks/${id}/webhooks`, token)).status).toBe(403)
      expect((await call(s, 'POST', `/api/workbooks/${id}/webhooks/test`, token, { body: {} })).status).toBe(403)
    }
    expect((await call(s, 'GET', `/api/workbooks/${id}/webhooks`, ownerTokens.get(id)!)).json.map((t: any) => t.url)).toEqual(['https://hooks.example.com/x'])
  })

  it('carry user text as text: no @everyone smuggled into a Feishu message, no token or secret in any message or log line', async () => {
    const got: { path: string; raw: string }[] = []
    const listeners = new Set<() => void>()
    const rx = createServer((req: IncomingMessage, res) => {
      let raw = ''
      req.on('data', c => { raw += c })
      req.on('end', () => { got.push({ path: req.url ?? '', raw }); res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"code":0}'); for (const l of listeners) l() })
    })
    await new Promise<void>(r => rx.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>(r => { rx.closeAllConnections(); rx.close(() => r()) }))
    const base = `http://127.0.0.1:${(rx.address() as AddressInfo).port}`
    const { s, id, sid, owner, zhang, li, viewer } = await fixture({ allowPrivateWebhooks: true, publicUrl: 'https://sheets.example.com', webhookOptions: { retryBaseMs: 20, pollMs: 200 } })
    const saved = await call(s, 'PUT', `/api/workbooks/${id}/webhooks`, owner, { body: [
      { kind: 'feishu', url: `${base}/feishu`, secret: 'FS-SECRET-1', events: ['mention'] },
      { kind: 'json', url: `${base}/json`, secret: 'JS-SECRET-2', events: ['mention'] },
    ] })
    expect(saved.status, saved.text).toBe(200)
    expect(saved.text).not.toMatch(/SECRET/)
    await s.rooms.withDoc(id, d => setTitle(d, '<at user_id="all"></at>预算'))
    const text = '<at user_id="all">所有人</at> @张三 < AT user_id = "all" ></at> <img src=x onerror=alert(1)>'
    await call(s, 'POST', `/api/workbooks/${id}/comments`, li, { body: { sheet: sid, cell: 'B3', text } })
    await until('both messages', () => got.length >= 2, r => { listeners.add(r); return () => listeners.delete(r) })
    const feishu = JSON.parse(got.find(g => g.path === '/feishu')!.raw)
    expect(feishu.content.text).toContain('@张三')
    expect(feishu.content.text).not.toMatch(/<\s*\/?\s*at\b/i)
    const json = JSON.parse(got.find(g => g.path === '/json')!.raw)
    expect(json).toMatchObject({ comment: text, workbook: { title: '<at user_id="all"></at>预算' }, actor: '李四' })
    for (const g of got) for (const secret of [owner, zhang, li, viewer, 'FS-SECRET-1', 'JS-SECRET-2']) expect(g.raw).not.toContain(secret)
    for (const secret of [owner, zhang, li, viewer, 'FS-SECRET-1', 'JS-SECRET-2']) expect(s.log.lines.join('\n')).not.toContain(secret)
    expect((await call(s, 'GET', `/api/workbooks/${id}/webhooks`, owner)).text).not.toMatch(/SECRET/)
  })
})

describe('exports', () => {
  it('a note holds hostile text as text: escaped, without the characters XML cannot carry, and the file opens', async () => {
    const { s, id, sid, owner } = await fixture()
    const c = await client(s, id, owner)
    type(c.doc, sid, 'B2', '5')
    const text = '<script>alert(1)</script> ]]> &amp; "q" \u0001\u0008\u000b\u001f\ufffe\uffff end'
    entries(c.doc).set('t:x1', { ...cellIds(c.doc, sid, 1, 1), by: '老板', text, mentions: [], at: Date.now() })
    await docUntil(roomDoc(s, id), 'the server has it', d => entries(d).has('t:x1'))
    const file = await call(s, 'GET', `/api/workbooks/${id}/export.xlsx`, owner)
    expect(file.status).toBe(200)
    const zip = await JSZip.loadAsync(file.buf)
    const part = await zip.file('xl/comments1.xml')!.async('string')
    expect(part).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(part).not.toContain('<script')
    expect([...part.matchAll(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g)].map(m => m[0]!.charCodeAt(0).toString(16))).toEqual([])
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(file.buf as unknown as ArrayBuffer)
    expect(wb.worksheets.length).toBeGreaterThan(0)
    const pack = await call(s, 'GET', `/api/workbooks/${id}/export.json`, owner)
    expect(pack.json.sheets[0].comments[0].text).toBe(text)
    await stillServing(s, id)
  })
})
