// @vitest-environment node
/**
 * Comments against the real server with stock y-websocket clients: a thread stays on its cell when
 * another person inserts rows above it, is orphaned (and still listed) when its row goes; who may
 * comment, edit, resolve, mark done and delete, through the API and through the socket alike; mentions
 * and assignments in the inbox of the person named, with read marks; bad input answered clearly.
 */
import { describe, expect, it } from 'vitest'
import { addComment, readThreads, setResolved } from '../../src/core/comments/comments'
import { deleteRows, insertRows } from '../../src/core/workbook/mutations'
import { createLink, createWorkbook, docUntil, nextEvent, ownerTokens, syncedClient, testScope, type TestServer } from '../helpers/server'
import { auditWatch, call, probeKit, serverClose, sheetOf, stillServing } from '../helpers/historyProbe'
import { type } from '../helpers/workbook'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import ExcelJS from 'exceljs'
import JSZip from 'jszip'
import { throughLibreOffice } from '../helpers/libreoffice'

const scope = testScope()
const { server } = scope
const { client } = probeKit(scope)

const comments = async (s: TestServer, id: string, token = ownerTokens.get(id)!) => {
  const r = await call(s, 'GET', `/api/workbooks/${id}/comments`, token)
  expect(r.status).toBe(200)
  return r.json as any[]
}
const roomDoc = (s: TestServer, id: string) => s.rooms.rooms.get(id)!.doc
const threadOf = (doc: import('yjs').Doc, cid: string) => readThreads(doc).find(t => t.id === cid)
const inbox = async (s: TestServer, ...tokens: string[]) => {
  const r = await call(s, 'GET', '/api/inbox', null, { headers: { authorization: `Bearer ${tokens.join(' ')}` } })
  expect(r.status).toBe(200)
  return r.json as { items: any[]; unread: number; invalid: number }
}

describe('comments', () => {
  it('stay on their cell while another person inserts rows above, and are orphaned but listed when the row goes', async () => {
    const s = await server()
    const id = await createWorkbook(s, { name: '老板' })
    const owner = ownerTokens.get(id)!
    const li = await createLink(s, id, 'editor', '小李')
    const b = await client(s, id, li)
    const sid = sheetOf(b)
    const made = await call(s, 'POST', `/api/workbooks/${id}/comments`, owner, { body: { sheet: sid, cell: 'B3', text: '这个目标值偏高' } })
    expect(made.status).toBe(201)
    const cid = made.json.id as string
    let list = await comments(s, id)
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ id: cid, sheetId: sid, cell: 'B3', author: '老板', text: '这个目标值偏高', mentions: [], resolved: false, orphaned: false, replies: [] })

    // 小李 inserts two rows above: the comment is on B5 now, for the API and in 小李's replica
    await docUntil(b.doc, 'the comment reached 小李', d => d.getMap('comments').has(`t:${cid}`))
    insertRows(b.doc, sid, 0, 2)
    await docUntil(roomDoc(s, id), 'the server has the rows', d => threadOf(d, cid)?.cell === 'B5')
    list = await comments(s, id)
    expect(list[0]).toMatchObject({ cell: 'B5', rowId: list[0].rowId })

    // the row goes: orphaned, still listed with its text
    deleteRows(b.doc, sid, 4, 1)
    await docUntil(roomDoc(s, id), 'the server has the row deleted', d => threadOf(d, cid)?.orphaned === true)
    expect((await comments(s, id))[0]).toMatchObject({ id: cid, cell: null, orphaned: true, text: '这个目标值偏高' })
    await stillServing(s, id)
  })

  it('are refused to viewers, taken from commenters, whose cell edits are refused', async () => {
    const s = await server()
    const id = await createWorkbook(s, { name: '老板' })
    const viewer = await createLink(s, id, 'viewer', '访客')
    const commenter = await createLink(s, id, 'commenter', '评审')
    const v = await call(s, 'POST', `/api/workbooks/${id}/comments`, viewer, { body: { sheet: 'x', cell: 'B3', text: 'hi' } })
    expect(v.status).toBe(403)

    const c = await client(s, id, commenter)
    const sid = sheetOf(c)
    const ok = await call(s, 'POST', `/api/workbooks/${id}/comments`, commenter, { body: { sheet: sid, cell: 'A1', text: '请补充数据' } })
    expect(ok.status).toBe(201)
    // through the socket as well: a comment under its own name is taken
    const l = new WorkbookLayout(c.doc).sheet(sid)!
    const viaSocket = addComment(c.doc, { sheetId: sid, rowId: l.rows.ids[1]!, colId: l.cols.ids[1]! , text: '从表格里评论' }, '评审')
    await docUntil(roomDoc(s, id), 'the server has the socket comment', d => threadOf(d, viaSocket)?.cell === 'B2')
    expect((await comments(s, id)).map(t => [t.author, t.cell])).toEqual([['评审', 'A1'], ['评审', 'B2']])

    // a cell edit is not: the socket is closed with comment-only, and nothing of it is kept
    const closed = serverClose(c)
    type(c.doc, sid, 'C3', '123')
    expect(await closed).toMatchObject({ code: 4409, reason: 'comment-only' })
    const again = await client(s, id, ownerTokens.get(id)!)
    expect(new WorkbookLayout(again.doc).sheet(sid)).toBeDefined()
    await stillServing(s, id)
  })

  it('cannot be written under another name, nor changed by someone they are not for', async () => {
    const s = await server()
    const id = await createWorkbook(s, { name: '老板' })
    const owner = ownerTokens.get(id)!
    const zhang = await createLink(s, id, 'editor', '张三')
    const li = await createLink(s, id, 'editor', '小李')
    const audit = auditWatch(s)
    const before = audit.count
    const z = await client(s, id, zhang)
    const sid = sheetOf(z)
    const l = new WorkbookLayout(z.doc).sheet(sid)!
    const closed = serverClose(z)
    addComment(z.doc, { sheetId: sid, rowId: l.rows.ids[0]!, colId: l.cols.ids[0]!, text: '我是老板' }, '老板')
    expect(await closed).toMatchObject({ code: 4409, reason: 'comment-as-other' })
    expect(await comments(s, id)).toEqual([])

    const cid = (await call(s, 'POST', `/api/workbooks/${id}/comments`, zhang, { body: { sheet: sid, cell: 'A1', text: '张三的评论' } })).json.id
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${cid}`, li, { body: { text: '改掉' } })).status).toBe(403)
    expect((await call(s, 'DELETE', `/api/workbooks/${id}/comments/${cid}`, li)).status).toBe(403)
    // anyone who comments resolves and reopens
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${cid}`, li, { body: { resolved: true } })).json).toMatchObject({ resolved: true, resolvedBy: '小李' })
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${cid}`, zhang, { body: { resolved: false, text: '张三改过的评论' } })).json).toMatchObject({ resolved: false, text: '张三改过的评论' })
    const reply = await call(s, 'POST', `/api/workbooks/${id}/comments/${cid}/replies`, li, { body: { text: '收到' } })
    expect(reply.status).toBe(201)
    // an owner deletes anyone's thread, its replies with it
    expect((await call(s, 'DELETE', `/api/workbooks/${id}/comments/${cid}`, owner)).status).toBe(204)
    expect(await comments(s, id)).toEqual([])

    // the audit trail tells who did what to the conversation (a refused one included)
    await audit.atLeast(before + 7)
    const trail = (await call(s, 'GET', `/api/workbooks/${id}/audit`, owner)).json as any[]
    expect(trail.filter(e => e.action === 'comment' || e.action === 'refused').map(e => [e.by, e.action, e.detail, e.cell])).toEqual([
      ['张三', 'refused', 'comment-as-other', null],
      ['张三', 'comment', 'added', 'A1'],
      ['小李', 'comment', 'resolved', 'A1'],
      ['张三', 'comment', 'edited', 'A1'],
      ['张三', 'comment', 'reopened', 'A1'],
      ['小李', 'comment', 'replied', 'A1'],
      ['老板', 'comment', 'deleted', 'A1'],
      ['老板', 'comment', 'deleted', 'A1'],
    ])
    await stillServing(s, id)
  })

  it('put mentions, assignments and replies into the inbox of the person named, with read marks', async () => {
    const s = await server()
    const id = await createWorkbook(s, { name: '李经理' })
    const owner = ownerTokens.get(id)!
    const zhang = await createLink(s, id, 'editor', '张三')
    const zhangsanfeng = await createLink(s, id, 'editor', '张三丰')
    const c = await client(s, id, owner)
    const sid = sheetOf(c)
    const m = await call(s, 'POST', `/api/workbooks/${id}/comments`, owner, { body: { sheet: sid, cell: 'B3', text: '这个目标值偏高，@张三 请确认' } })
    const a = await call(s, 'POST', `/api/workbooks/${id}/comments`, owner, { body: { sheet: sid, cell: 'C4', text: '@张三丰 请在7月5日前更新实际值', assignee: '张三丰', due: '2026-07-05' } })
    expect([m.status, a.status]).toEqual([201, 201])
    expect((await comments(s, id)).map(t => t.mentions)).toEqual([['张三'], ['张三丰']])

    let box = await inbox(s, zhang)
    expect(box.items).toHaveLength(1)
    expect(box.items[0]).toMatchObject({ workbookId: id, commentId: m.json.id, kind: 'mention', cell: 'B3', text: '这个目标值偏高，@张三 请确认', author: '李经理', read: false })
    expect(box.unread).toBe(1)
    const feng = await inbox(s, zhangsanfeng)
    expect(feng.items.map(i => [i.kind, i.cell, i.due, i.done])).toEqual([['assignment', 'C4', '2026-07-05', false]])

    // several tokens at once (one unknown among them), read marks per item
    box = await inbox(s, zhang, zhangsanfeng, 'A'.repeat(32))
    expect(box.items).toHaveLength(2)
    expect(box.invalid).toBe(1)
    const read = await call(s, 'POST', '/api/inbox/read', null, { headers: { authorization: `Bearer ${zhang}` }, body: { items: [{ workbookId: id, commentId: m.json.id, kind: 'mention' }] } })
    expect(read.status).toBe(204)
    expect((await inbox(s, zhang)).items[0]).toMatchObject({ read: true })
    expect((await inbox(s, zhang)).unread).toBe(0)

    // 张三 answers: a reply to 李经理's thread in 李经理's inbox; the assignee marks done, nobody else may
    expect((await call(s, 'POST', `/api/workbooks/${id}/comments/${m.json.id}/replies`, zhang, { body: { text: '已确认，按 12 万' } })).status).toBe(201)
    const mine = await inbox(s, owner)
    expect(mine.items.map(i => [i.kind, i.author, i.text])).toEqual([['reply', '张三', '已确认，按 12 万']])
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${a.json.id}`, zhang, { body: { done: true } })).status).toBe(403)
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${a.json.id}`, zhangsanfeng, { body: { done: true } })).json).toMatchObject({ done: true })
    expect((await inbox(s, zhangsanfeng)).items[0]).toMatchObject({ kind: 'assignment', done: true })
    await call(s, 'POST', '/api/inbox/read', null, { headers: { authorization: `Bearer ${owner}` }, body: { all: true } })
    expect((await inbox(s, owner)).unread).toBe(0)

    // resolved in the doc by a socket client: the inbox says so
    setResolved(c.doc, m.json.id, true, '李经理')
    await docUntil(roomDoc(s, id), 'the server has it resolved', d => threadOf(d, m.json.id)?.resolved === true)
    expect((await inbox(s, zhang)).items[0]).toMatchObject({ resolved: true })
    await stillServing(s, id)
  })

  it('are read for the inbox without loading a workbook that has not changed since', async () => {
    const s = await server({ unloadDelayMs: 50 })
    const id = await createWorkbook(s, { name: '老板' })
    const owner = ownerTokens.get(id)!
    const zhang = await createLink(s, id, 'editor', '张三')
    // (each unload is waited for from before what lets the room go: it goes 50 ms after)
    const unloaded = () => nextEvent(s.rooms, 'room-unloaded', (wid: string) => wid === id)
    const peek = await syncedClient(s, id, { token: owner })
    const sid = sheetOf(peek)
    const peekGone = unloaded()
    peek.destroy()
    await peekGone
    let loads = 0
    s.rooms.on('room-loaded', wid => { if (wid === id) loads++ })
    let gone = unloaded()
    const first = await call(s, 'POST', `/api/workbooks/${id}/comments`, owner, { body: { sheet: sid, cell: 'A1', text: '@张三 看一下' } })
    expect(first.status).toBe(201)
    await gone
    loads = 0
    gone = unloaded()
    expect((await inbox(s, zhang)).items).toHaveLength(1) // read from the store: the room is loaded once
    expect(loads).toBe(1)
    await gone
    expect((await inbox(s, zhang)).items).toHaveLength(1) // nothing changed: no room
    expect(loads).toBe(1)
    expect(s.rooms.state(id)).toBeNull()
    gone = unloaded()
    const second = await call(s, 'POST', `/api/workbooks/${id}/comments`, owner, { body: { sheet: sid, cell: 'B2', text: '@张三 还有这个' } })
    expect(second.status).toBe(201)
    await gone
    expect((await inbox(s, zhang)).items.map(i => i.cell)).toEqual(['B2', 'A1'])
  })

  it('answer bad input clearly and lose nothing', async () => {
    const s = await server()
    const id = await createWorkbook(s, { name: '老板' })
    const owner = ownerTokens.get(id)!
    const c = await client(s, id, owner)
    const sid = sheetOf(c)
    const post = (body: unknown) => call(s, 'POST', `/api/workbooks/${id}/comments`, owner, { body })
    expect((await post({ sheet: sid, cell: 'B3', text: '   ' })).status).toBe(400)
    expect((await post({ sheet: sid, cell: 'B3', text: 'x'.repeat(2001) })).status).toBe(400)
    expect((await post({ sheet: sid, cell: 'ZZ99999', text: 'far away' })).status).toBe(404)
    expect((await post({ sheet: '没有这个表', cell: 'B3', text: 'hi' })).status).toBe(404)
    expect((await post({ sheet: sid, cell: 'B3', text: 'hi', due: '2026-07-05' })).status).toBe(400)
    expect((await post({ sheet: sid, cell: 'not a cell', text: 'hi' })).status).toBe(400)
    expect((await call(s, 'POST', `/api/workbooks/${id}/comments`, owner, { raw: '{"sheet": ' })).status).toBe(400)
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/nope`, owner, { body: { resolved: true } })).status).toBe(404)
    expect((await call(s, 'POST', `/api/workbooks/${id}/comments/nope/replies`, owner, { body: { text: 'hi' } })).status).toBe(404)
    expect((await call(s, 'GET', `/api/workbooks/${id}/comments`, 'x'.repeat(30))).status).toBe(401)
    expect((await call(s, 'GET', '/api/inbox', null)).status).toBe(401)
    expect((await call(s, 'GET', '/api/inbox', 'B'.repeat(30))).status).toBe(401)
    // by sheet name, and text as text
    const xss = '<img src=x onerror=alert(1)>'
    const ok = await post({ sheet: new WorkbookLayout(c.doc).sheet(sid)!.name, cell: 'b3', text: xss })
    expect(ok.status).toBe(201)
    expect((await comments(s, id))[0]).toMatchObject({ text: xss, cell: 'B3' })
    expect((await call(s, 'GET', `/api/workbooks/${id}/people`, owner)).json).toEqual({ people: [{ name: '老板', role: 'owner' }] })
    await stillServing(s, id)
  })

  it('go into the XLSX export as cell notes with author and time (read back by ExcelJS and LibreOffice) and, open ones, into the review pack', async () => {
    const s = await server()
    const id = await createWorkbook(s, { name: '李经理' })
    const owner = ownerTokens.get(id)!
    const zhang = await createLink(s, id, 'editor', '张三')
    const c = await client(s, id, owner)
    const sid = sheetOf(c)
    type(c.doc, sid, 'B3', '120000')
    const post = (token: string, body: unknown) => call(s, 'POST', `/api/workbooks/${id}/comments`, token, { body })
    const first = await post(owner, { sheet: sid, cell: 'B3', text: '目标值偏高，@张三 请确认' })
    await call(s, 'POST', `/api/workbooks/${id}/comments/${first.json.id}/replies`, zhang, { body: { text: '已确认' } })
    await post(zhang, { sheet: sid, cell: 'B3', text: '第二个讨论' })
    await post(owner, { sheet: sid, cell: 'D7', text: '<b>请在周五前评分</b>', assignee: '张三', due: '2026-07-05' })
    const gone = await post(owner, { sheet: sid, cell: 'A9', text: '会被删掉的行' })
    expect(gone.status).toBe(201)
    deleteRows(c.doc, sid, 8, 1)
    await docUntil(roomDoc(s, id), 'the row is gone on the server', d => threadOf(d, gone.json.id)?.orphaned === true)

    const file = await call(s, 'GET', `/api/workbooks/${id}/export.xlsx`, owner)
    expect(file.status).toBe(200)
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(file.buf as unknown as ArrayBuffer)
    const ws = wb.worksheets[0]!
    const header = ws.getCell('B1').value === null || ws.getCell('B1').value === '' ? 0 : 1
    const noteText = (ref: string): string => {
      const n = ws.getCell(ref).note as unknown
      if (!n) return ''
      if (typeof n === 'string') return n
      return ((n as { texts?: { text: string }[] }).texts ?? []).map(t => t.text).join('')
    }
    const b3 = noteText(`B${3 + header}`)
    expect(b3).toMatch(/^李经理 \d{4}-\d{2}-\d{2} \d{2}:\d{2}\n目标值偏高，@张三 请确认\n  ↳ 张三 \d{4}-\d{2}-\d{2} \d{2}:\d{2}\n    已确认\n\n张三 .*\n第二个讨论$/)
    // the cell's value is still there
    expect(ws.getCell(`B${3 + header}`).value).toBe(120000)

    // the file's notes part holds both commented cells (ExcelJS's reader drops a note on a cell without
    // a value, Excel and LibreOffice show it), the orphaned thread nowhere
    const zip = await JSZip.loadAsync(file.buf)
    const part = await zip.file('xl/comments1.xml')!.async('string')
    expect([...part.matchAll(/<comment ref="([A-Z]+\d+)"/g)].map(m => m[1])).toEqual([`B${3 + header}`, `D${7 + header}`])
    expect(part).toContain('&lt;b&gt;请在周五前评分&lt;/b&gt;\n→ 张三 · 2026-07-05')
    expect(part).not.toContain('会被删掉的行')

    // the review pack lists the open ones per sheet; a resolved one (here the orphaned) is not
    expect((await call(s, 'PATCH', `/api/workbooks/${id}/comments/${gone.json.id}`, owner, { body: { resolved: true } })).status).toBe(200)
    const pack = await call(s, 'GET', `/api/workbooks/${id}/export.json`, owner)
    const listed = pack.json.sheets.find((x: { id: string }) => x.id === sid).comments
    expect(listed.map((x: any) => [x.cell, x.author, x.text, x.replies, x.assignee ?? null, x.due ?? null])).toEqual([
      ['B3', '李经理', '目标值偏高，@张三 请确认', 1, null, null],
      ['B3', '张三', '第二个讨论', 0, null, null],
      ['D7', '李经理', '<b>请在周五前评分</b>', 0, '张三', '2026-07-05'],
    ])
    expect(listed[0].last).toMatchObject({ author: '张三', text: '已确认' })

    // the file comes back in: the values are there (the notes are Excel's, not threads of ours)
    const res = await fetch(`${s.url}/api/workbooks/import`, { method: 'POST', body: new Uint8Array(file.buf), headers: { 'content-type': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' } })
    expect(res.status).toBe(201)

    // LibreOffice opens the file and saves the note with the cell's value
    const back = (await throughLibreOffice(new Map([['notes', file.buf]]))).get('notes')!
    const lo = back.worksheets[0]!
    const loNote = lo.getCell(`B${3 + header}`).note as unknown
    const loText = typeof loNote === 'string' ? loNote : ((loNote as { texts?: { text: string }[] } | undefined)?.texts ?? []).map(t => t.text).join('')
    expect(loText).toContain('目标值偏高，@张三 请确认')
    expect(lo.getCell(`B${3 + header}`).value).toBe(120000)
  })
})
