/**
 * Comments: threads anchored to a cell by sheet, row and column id (so they follow inserts, sorts and
 * moves), with replies, a resolved state and, optionally, an assignment with a due date. They live in
 * the doc, so they sync live, go into versions, and every change to them is checked by the server as
 * any other change (check.ts):
 *
 *   comments   Y.Map   t:<id> → thread   { sheet, row, col, by, text, mentions, assignee?, due?, at, edited? }
 *                      r:<id> → reply    { thread, by, text, mentions, at, edited? }
 *                      s:<id> → state    { resolved, by, at }          (the thread's; anyone who comments)
 *                      d:<id> → done     { done, by, at }              (the assignment's; the assignee)
 *
 * The parts a different person writes are different keys, so a reply, a resolve and an edit of the text
 * made at the same time by three people all land. `by` is the author's link name: the server refuses an
 * entry written under another name, so a comment or a mention cannot be forged.
 */
import type * as Y from 'yjs'
import { z } from '../zod'
import { newId } from '../workbook/ids'
import { sheetsOf } from '../workbook/schema'
import { WorkbookLayout } from '../workbook/layout'
import { a1 } from '../formulas/references'

export const COMMENT_LIMITS = {
  /** characters of one comment or reply */
  text: 2000,
  /** entries (threads, replies and their states) in one workbook */
  entries: 20_000,
  /** people named in one comment */
  mentions: 20,
  /** characters of a name */
  name: 80,
} as const

const ID = z.string().check(z.regex(/^[\w-]{1,64}$/))
const NAME = z.string().check(z.minLength(1), z.maxLength(COMMENT_LIMITS.name))
const TEXT = z.string().check(z.minLength(1), z.maxLength(COMMENT_LIMITS.text))
const AT = z.number().check(z.refine(Number.isFinite))
const DAY = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/))

export const threadSchema = z.strictObject({
  sheet: ID, row: ID, col: ID, by: z.string().check(z.maxLength(COMMENT_LIMITS.name)), text: TEXT,
  mentions: z.array(NAME).check(z.maxLength(COMMENT_LIMITS.mentions)),
  assignee: z.optional(NAME), due: z.optional(DAY), at: AT, edited: z.optional(AT),
})
export const replySchema = z.strictObject({
  thread: ID, by: z.string().check(z.maxLength(COMMENT_LIMITS.name)), text: TEXT,
  mentions: z.array(NAME).check(z.maxLength(COMMENT_LIMITS.mentions)), at: AT, edited: z.optional(AT),
})
export const stateSchema = z.strictObject({ resolved: z.boolean(), by: z.string().check(z.maxLength(COMMENT_LIMITS.name)), at: AT })
export const doneSchema = z.strictObject({ done: z.boolean(), by: z.string().check(z.maxLength(COMMENT_LIMITS.name)), at: AT })

export type ThreadEntry = z.infer<typeof threadSchema>
export type ReplyEntry = z.infer<typeof replySchema>
export type StateEntry = z.infer<typeof stateSchema>
export type DoneEntry = z.infer<typeof doneSchema>

export type EntryKind = 't' | 'r' | 's' | 'd'
export const SCHEMAS = { t: threadSchema, r: replySchema, s: stateSchema, d: doneSchema } as const

export function commentsOf(doc: Y.Doc): Y.Map<unknown> { return doc.getMap('comments') }

/** `t:abc` → ['t', 'abc']; null for a key the comments never have. */
export function parseEntryKey(key: string): [EntryKind, string] | null {
  const m = /^([trsd]):([\w-]{1,64})$/.exec(key)
  return m ? [m[1] as EntryKind, m[2]!] : null
}

export function readEntry<K extends EntryKind>(doc: Y.Doc, kind: K, id: string): z.infer<typeof SCHEMAS[K]> | undefined {
  const r = SCHEMAS[kind].safeParse(commentsOf(doc).get(`${kind}:${id}`))
  return r.success ? r.data as z.infer<typeof SCHEMAS[K]> : undefined
}

/**
 * The names a text mentions: `@name` for each of `known` (longest first, so "@张三丰" is not "@张三"),
 * followed by the end, a space or punctuation (Chinese runs on without spaces: "@张三请确认" names 张三).
 */
export function mentionsIn(text: string, known: Iterable<string>): string[] {
  const names = [...new Set([...known].filter(n => n.length > 0))].sort((a, b) => b.length - a.length)
  const found: string[] = []
  for (let i = text.indexOf('@'); i >= 0; i = text.indexOf('@', i + 1)) {
    const name = names.find(n => text.startsWith(n, i + 1))
    if (name && !found.includes(name)) found.push(name)
    if (found.length >= COMMENT_LIMITS.mentions) break
  }
  return found
}

/** Whether `text` names `name` as a mention at all (what the server asks of a mention list). */
export const mentionsName = (text: string, name: string): boolean => text.includes(`@${name}`)

// ── reading ──────────────────────────────────────────────────────────────────────────────────────

export interface Reply { id: string; author: string; text: string; mentions: string[]; at: number; edited?: number }

export interface CommentThread {
  id: string
  sheetId: string
  rowId: string
  colId: string
  /** the cell's current A1 address, or null when its row, column or sheet was deleted */
  cell: string | null
  orphaned: boolean
  author: string
  text: string
  mentions: string[]
  assignee?: string
  due?: string
  at: number
  edited?: number
  resolved: boolean
  resolvedBy?: string
  resolvedAt?: number
  /** the assignment marked done by the assignee (only with an assignee) */
  done: boolean
  replies: Reply[]
}

/** Every thread of the workbook with its replies, oldest first; cells are their current addresses. */
export function readThreads(doc: Y.Doc, layout = new WorkbookLayout(doc)): CommentThread[] {
  const threads = new Map<string, CommentThread>()
  const replies: [string, ReplyEntry][] = []
  const states = new Map<string, StateEntry>(), dones = new Map<string, DoneEntry>()
  commentsOf(doc).forEach((v, key) => {
    const k = parseEntryKey(key)
    if (!k) return
    const [kind, id] = k
    const r = SCHEMAS[kind].safeParse(v)
    if (!r.success) return
    if (kind === 'r') replies.push([id, r.data as ReplyEntry])
    else if (kind === 's') states.set(id, r.data as StateEntry)
    else if (kind === 'd') dones.set(id, r.data as DoneEntry)
    else {
      const t = r.data as ThreadEntry
      const sl = layout.sheet(t.sheet)
      const row = sl ? sl.rows.indexOf(t.row) : -1, col = sl ? sl.cols.indexOf(t.col) : -1
      const cell = row >= 0 && col >= 0 ? a1(row, col) : null
      threads.set(id, {
        id, sheetId: t.sheet, rowId: t.row, colId: t.col, cell, orphaned: cell === null, author: t.by, text: t.text,
        mentions: t.mentions, ...(t.assignee ? { assignee: t.assignee } : {}), ...(t.due ? { due: t.due } : {}),
        at: t.at, ...(t.edited ? { edited: t.edited } : {}), resolved: false, done: false, replies: [],
      })
    }
  })
  for (const [id, s] of states) {
    const t = threads.get(id)
    if (t) Object.assign(t, { resolved: s.resolved, resolvedBy: s.by, resolvedAt: s.at })
  }
  for (const [id, d] of dones) {
    const t = threads.get(id)
    if (t?.assignee) t.done = d.done
  }
  for (const [id, r] of replies.sort((a, b) => a[1].at - b[1].at || (a[0] < b[0] ? -1 : 1))) {
    threads.get(r.thread)?.replies.push({ id, author: r.by, text: r.text, mentions: r.mentions, at: r.at, ...(r.edited ? { edited: r.edited } : {}) })
  }
  return [...threads.values()].sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1))
}

/** The open threads by cell (`rowId:colId`) of one sheet: what the grid marks. */
export function openThreadCells(doc: Y.Doc, sheetId: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const map = commentsOf(doc)
  map.forEach((v, key) => {
    if (!key.startsWith('t:')) return
    const t = v as Partial<ThreadEntry>
    if (t?.sheet !== sheetId || typeof t.row !== 'string' || typeof t.col !== 'string') return
    const id = key.slice(2)
    if ((map.get(`s:${id}`) as Partial<StateEntry> | undefined)?.resolved === true) return
    const k = `${t.row}:${t.col}`
    ;(out.get(k) ?? out.set(k, []).get(k)!).push(id)
  })
  return out
}

// ── changing (each a named mutation: one transaction, with the caller's origin) ─────────────────

export class CommentError extends Error {
  constructor(readonly code: 'no-such-sheet' | 'no-such-cell' | 'no-such-comment' | 'empty-text' | 'text-too-long' | 'not-yours' | 'too-many-comments' | 'no-assignee' | 'bad-due', message: string) {
    super(message)
  }
}

const cleanText = (text: string): string => {
  const t = text.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').trim()
  if (!t) throw new CommentError('empty-text', 'a comment needs text')
  if (t.length > COMMENT_LIMITS.text) throw new CommentError('text-too-long', `a comment is at most ${COMMENT_LIMITS.text} characters`)
  return t
}

function roomFor(doc: Y.Doc, entries: number): void {
  if (commentsOf(doc).size + entries > COMMENT_LIMITS.entries) throw new CommentError('too-many-comments', `a workbook holds at most ${COMMENT_LIMITS.entries} comment entries`)
}

export interface NewComment {
  sheetId: string
  rowId: string
  colId: string
  text: string
  /** names the text mentions (mentionsIn with the names the writer knows) */
  mentions?: string[]
  assignee?: string
  due?: string
}

/**
 * What a change to the comments writes: key → entry, or undefined to delete it. Planned first, so the
 * server can check it (check.ts) before anything is applied; applied as one transaction.
 */
export type CommentWrites = Map<string, unknown>

export function applyWrites(doc: Y.Doc, writes: CommentWrites, origin: unknown = null): void {
  const map = commentsOf(doc)
  doc.transact(() => { for (const [k, v] of writes) v === undefined ? map.delete(k) : map.set(k, v) }, origin)
}

const named = (text: string, names: readonly string[], keep: readonly string[] = []) =>
  [...new Set([...names, ...keep])].filter(n => mentionsName(text, n) || keep.includes(n)).slice(0, COMMENT_LIMITS.mentions)

export function planComment(doc: Y.Doc, c: NewComment, by: string, at = Date.now()): { id: string; writes: CommentWrites } {
  const text = cleanText(c.text)
  if (!sheetsOf(doc).has(c.sheetId)) throw new CommentError('no-such-sheet', 'no such sheet')
  if (c.due !== undefined && !DAY.safeParse(c.due).success) throw new CommentError('bad-due', 'a due date is YYYY-MM-DD')
  if (c.due !== undefined && !c.assignee) throw new CommentError('no-assignee', 'a due date belongs to an assignment')
  roomFor(doc, 1)
  const assignee = c.assignee?.slice(0, COMMENT_LIMITS.name)
  const id = newId('c')
  const entry: ThreadEntry = {
    sheet: c.sheetId, row: c.rowId, col: c.colId, by, text, mentions: named(text, c.mentions ?? [], assignee ? [assignee] : []),
    ...(assignee ? { assignee } : {}), ...(c.due ? { due: c.due } : {}), at,
  }
  return { id, writes: new Map([[`t:${id}`, entry]]) }
}

export function planReply(doc: Y.Doc, threadId: string, text: string, mentions: readonly string[], by: string, at = Date.now()): { id: string; writes: CommentWrites } {
  const t = cleanText(text)
  if (!readEntry(doc, 't', threadId)) throw new CommentError('no-such-comment', 'no such comment')
  roomFor(doc, 1)
  const id = newId('r')
  const entry: ReplyEntry = { thread: threadId, by, text: t, mentions: named(t, mentions), at }
  return { id, writes: new Map([[`r:${id}`, entry]]) }
}

/** The text of one's own thread or reply (`id` of either). */
export function planEdit(doc: Y.Doc, id: string, text: string, mentions: readonly string[], by: string, at = Date.now()): CommentWrites {
  const t = cleanText(text)
  const kind = readEntry(doc, 't', id) ? 't' : readEntry(doc, 'r', id) ? 'r' : null
  if (!kind) throw new CommentError('no-such-comment', 'no such comment')
  const was = readEntry(doc, kind, id)!
  if (by && was.by !== by) throw new CommentError('not-yours', 'only its author edits a comment')
  const assignee = kind === 't' ? (was as ThreadEntry).assignee : undefined
  return new Map([[`${kind}:${id}`, { ...was, text: t, mentions: named(t, mentions, assignee ? [assignee] : []), edited: at }]])
}

export function planResolved(doc: Y.Doc, threadId: string, resolved: boolean, by: string, at = Date.now()): CommentWrites {
  if (!readEntry(doc, 't', threadId)) throw new CommentError('no-such-comment', 'no such comment')
  roomFor(doc, commentsOf(doc).has(`s:${threadId}`) ? 0 : 1)
  return new Map([[`s:${threadId}`, { resolved, by, at } satisfies StateEntry]])
}

export function planDone(doc: Y.Doc, threadId: string, done: boolean, by: string, at = Date.now()): CommentWrites {
  const t = readEntry(doc, 't', threadId)
  if (!t) throw new CommentError('no-such-comment', 'no such comment')
  if (!t.assignee) throw new CommentError('no-assignee', 'the comment assigns nothing')
  roomFor(doc, commentsOf(doc).has(`d:${threadId}`) ? 0 : 1)
  return new Map([[`d:${threadId}`, { done, by, at } satisfies DoneEntry]])
}

/** A thread (with its replies and states) or one reply. */
export function planDelete(doc: Y.Doc, id: string): CommentWrites {
  const map = commentsOf(doc)
  if (map.has(`r:${id}`)) return new Map([[`r:${id}`, undefined]])
  if (!map.has(`t:${id}`)) throw new CommentError('no-such-comment', 'no such comment')
  const keys = [`t:${id}`]
  for (const k of [`s:${id}`, `d:${id}`]) if (map.has(k)) keys.push(k)
  map.forEach((v, k) => { if (k.startsWith('r:') && (v as Partial<ReplyEntry>)?.thread === id) keys.push(k) })
  return new Map(keys.map(k => [k, undefined]))
}

// the same as named mutations of the doc (one transaction each, with the caller's origin)

/** Starts a thread on a cell; returns its id. */
export function addComment(doc: Y.Doc, c: NewComment, by: string, origin: unknown = null, at = Date.now()): string {
  const p = planComment(doc, c, by, at)
  applyWrites(doc, p.writes, origin)
  return p.id
}

export function addReply(doc: Y.Doc, threadId: string, text: string, mentions: string[], by: string, origin: unknown = null, at = Date.now()): string {
  const p = planReply(doc, threadId, text, mentions, by, at)
  applyWrites(doc, p.writes, origin)
  return p.id
}

export const editComment = (doc: Y.Doc, id: string, text: string, mentions: string[], by: string, origin: unknown = null, at = Date.now()): void =>
  applyWrites(doc, planEdit(doc, id, text, mentions, by, at), origin)

export const setResolved = (doc: Y.Doc, threadId: string, resolved: boolean, by: string, origin: unknown = null, at = Date.now()): void =>
  applyWrites(doc, planResolved(doc, threadId, resolved, by, at), origin)

export const setDone = (doc: Y.Doc, threadId: string, done: boolean, by: string, origin: unknown = null, at = Date.now()): void =>
  applyWrites(doc, planDone(doc, threadId, done, by, at), origin)

export const deleteComment = (doc: Y.Doc, id: string, origin: unknown = null): void => applyWrites(doc, planDelete(doc, id), origin)
