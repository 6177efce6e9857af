/**
 * Comments in the doc: mentions found in Chinese text that runs on without spaces, concurrent replies,
 * resolves and edits by different people all landing, and the rules the server applies to a change of
 * the comments (who may write, change and delete which entry, and what an entry must look like).
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { checkChange, type Principal } from '../../src/core/access/access'
import {
  addComment, addReply, COMMENT_LIMITS, commentsOf, deleteComment, editComment, mentionsIn, openThreadCells, readThreads, setDone, setResolved,
} from '../../src/core/comments/comments'
import { deleteRows, insertRows } from '../../src/core/workbook/mutations'
import { makeDoc, layoutOf } from '../helpers/workbook'

const owner: Principal = { role: 'owner', name: '老板' }
const zhang: Principal = { role: 'editor', name: '张三' }
const li: Principal = { role: 'commenter', name: '小李' }
const guest: Principal = { role: 'viewer', name: '访客' }

/** The server's verdict on `change` made to a copy of `doc` by `who`. */
function verdict(doc: Y.Doc, who: Principal, change: (d: Y.Doc) => void) {
  const after = new Y.Doc()
  Y.applyUpdate(after, Y.encodeStateAsUpdate(doc))
  let refusal: ReturnType<typeof checkChange> = null
  after.on('afterTransaction', tr => { if (tr.local) refusal ??= checkChange(doc, after, tr, who) })
  change(after)
  return refusal
}

function fixture() {
  const doc = makeDoc([{ name: '目标', rows: 10, cols: 5 }])
  const l = layoutOf(doc)
  const sid = l.order[0]!
  const sl = l.sheet(sid)!
  const cell = (r: number, c: number) => ({ sheetId: sid, rowId: sl.rows.ids[r]!, colId: sl.cols.ids[c]! })
  return { doc, sid, cell }
}

describe('mentions', () => {
  it('are the known names after @, longest first, in text without spaces', () => {
    const names = ['张三', '张三丰', '李经理']
    expect(mentionsIn('这个目标值偏高，@张三请确认', names)).toEqual(['张三'])
    expect(mentionsIn('@张三丰 和 @李经理 看一下，@张三 也看', names)).toEqual(['张三丰', '李经理', '张三'])
    expect(mentionsIn('邮件 a@b.com 与 @王五', names)).toEqual([])
    expect(mentionsIn('@张三 @张三', names)).toEqual(['张三'])
  })
})

describe('threads in the doc', () => {
  it('follow their cell over inserts, are orphaned when the row goes, and keep every concurrent change', () => {
    const { doc, sid, cell } = fixture()
    const id = addComment(doc, { ...cell(2, 1), text: '偏高 @张三', mentions: ['张三'] }, '老板')
    expect(readThreads(doc)[0]).toMatchObject({ cell: 'B3', mentions: ['张三'], orphaned: false })
    insertRows(doc, sid, 0, 2)
    expect(readThreads(doc)[0]!.cell).toBe('B5')

    // two replicas: a reply, a resolve and an edit of the text at the same time all land
    const a = new Y.Doc(), b = new Y.Doc()
    Y.applyUpdate(a, Y.encodeStateAsUpdate(doc))
    Y.applyUpdate(b, Y.encodeStateAsUpdate(doc))
    addReply(a, id, '收到', [], '张三')
    setResolved(b, id, true, '小李')
    editComment(doc, id, '偏高了 @张三', ['张三'], '老板')
    addReply(b, id, '我也看了', [], '小李')
    for (const d of [a, b, doc]) for (const e of [a, b, doc]) if (d !== e) Y.applyUpdate(e, Y.encodeStateAsUpdate(d))
    const t = readThreads(a)[0]!
    expect(t).toMatchObject({ text: '偏高了 @张三', resolved: true, resolvedBy: '小李' })
    expect(t.replies.map(r => r.text).sort()).toEqual(['我也看了', '收到'])
    expect(readThreads(b)).toEqual(readThreads(a))
    expect(openThreadCells(a, sid).size).toBe(0)

    deleteRows(doc, sid, 4, 1)
    expect(readThreads(doc)[0]).toMatchObject({ cell: null, orphaned: true, text: '偏高了 @张三' })
    deleteComment(doc, id)
    expect(commentsOf(doc).size).toBe(0)
  })
})

describe('the server\'s rules for comments', () => {
  it('take comments from commenters and editors under their own name, none from viewers', () => {
    const { doc, cell } = fixture()
    expect(verdict(doc, li, d => addComment(d, { ...cell(0, 0), text: '请补充' }, '小李'))).toBeNull()
    expect(verdict(doc, zhang, d => addComment(d, { ...cell(0, 0), text: '好' }, '张三'))).toBeNull()
    expect(verdict(doc, guest, d => addComment(d, { ...cell(0, 0), text: '看看' }, '访客'))).toEqual({ code: 'read-only' })
    expect(verdict(doc, zhang, d => addComment(d, { ...cell(0, 0), text: '冒名' }, '老板'))).toEqual({ code: 'comment-as-other' })
    // a commenter's cell edit is not a comment
    expect(verdict(doc, li, d => d.transact(() => { const s = d.getMap('sheets').get(cell(0, 0).sheetId) as Y.Map<Y.Map<unknown>>; s.get('cells')!.set(`${cell(0, 0).rowId}:${cell(0, 0).colId}`, 5) }))).toMatchObject({ code: 'comment-only' })
  })

  it('leave text to its author, deleting to the author or an owner, done to the assignee', () => {
    const { doc, cell } = fixture()
    const id = addComment(doc, { ...cell(1, 1), text: '@张三 请在周五前更新', assignee: '张三', due: '2026-07-05' }, '老板')
    const reply = addReply(doc, id, '好的', [], '张三')
    expect(verdict(doc, li, d => editComment(d, id, '改掉', [], '老板'))).toEqual({ code: 'comment-as-other' })
    expect(verdict(doc, zhang, d => commentsOf(d).set(`t:${id}`, { ...(commentsOf(d).get(`t:${id}`) as object), text: '改掉', by: '张三' }))).toMatchObject({ code: 'comment-not-yours' })
    expect(verdict(doc, li, d => setResolved(d, id, true, '小李'))).toBeNull()
    expect(verdict(doc, li, d => setDone(d, id, true, '小李'))).toEqual({ code: 'comment-not-yours' })
    expect(verdict(doc, zhang, d => setDone(d, id, true, '张三'))).toBeNull()
    expect(verdict(doc, li, d => deleteComment(d, reply))).toEqual({ code: 'comment-not-yours' })
    expect(verdict(doc, zhang, d => deleteComment(d, reply))).toBeNull()
    expect(verdict(doc, zhang, d => deleteComment(d, id))).toEqual({ code: 'comment-not-yours' })
    expect(verdict(doc, owner, d => deleteComment(d, id))).toBeNull()
    // the anchor and the assignment of a thread are not rewritten afterwards
    expect(verdict(doc, owner, d => commentsOf(d).set(`t:${id}`, { ...(commentsOf(d).get(`t:${id}`) as object), assignee: '老板' }))).toMatchObject({ code: 'not-a-comment' })
  })

  it('refuse what is not a comment: unknown keys, nested types, replies to nothing, mentions the text does not make, too many', () => {
    const { doc, cell } = fixture()
    const at = Date.now()
    expect(verdict(doc, zhang, d => commentsOf(d).set('x:1', 1))).toMatchObject({ code: 'not-a-comment' })
    expect(verdict(doc, zhang, d => commentsOf(d).set('t:a', new Y.Map()))).toMatchObject({ code: 'not-a-comment' })
    expect(verdict(doc, zhang, d => commentsOf(d).set('r:a', { thread: 'nope', by: '张三', text: 'hi', mentions: [], at }))).toMatchObject({ code: 'not-a-comment' })
    expect(verdict(doc, zhang, d => commentsOf(d).set('t:a', { sheet: cell(0, 0).sheetId, row: cell(0, 0).rowId, col: cell(0, 0).colId, by: '张三', text: 'hi', mentions: ['老板'], at }))).toMatchObject({ code: 'not-a-comment' })
    expect(verdict(doc, zhang, d => commentsOf(d).set('t:a', { sheet: 'gone', row: 'r', col: 'c', by: '张三', text: 'hi', mentions: [], at }))).toMatchObject({ code: 'not-a-comment' })
    expect(verdict(doc, zhang, d => commentsOf(d).set('t:a', { sheet: cell(0, 0).sheetId, row: 'r', col: 'c', by: '张三', text: 'x'.repeat(COMMENT_LIMITS.text + 1), mentions: [], at }))).toMatchObject({ code: 'not-a-comment' })
    const full = fixture()
    full.doc.transact(() => { for (let i = 0; i < COMMENT_LIMITS.entries; i++) commentsOf(full.doc).set(`s:n${i}`, { resolved: false, by: 'x', at }) })
    expect(() => addComment(full.doc, { ...full.cell(0, 0), text: 'one more' }, '张三')).toThrow(/at most/)
    expect(verdict(full.doc, zhang, d => commentsOf(d).set('t:more', { sheet: full.cell(0, 0).sheetId, row: 'r', col: 'c', by: '张三', text: 'hi', mentions: [], at }))).toEqual({ code: 'too-many-comments' })
  })
})

