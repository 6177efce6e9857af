/**
 * A person's inbox across workbooks: the browser sends every link token it holds (`Authorization:
 * Bearer <t1> <t2> …`, spaces or commas between them) and gets, for each link, the comments that
 * mention its name, the assignments given to it, and the replies to the threads it started, each with
 * whether that link has read it. Marking read is per link (a browser holding two links of one workbook
 * is two people to it).
 */
import * as Y from 'yjs'
import { z } from 'zod'
import { readThreads, type CommentThread } from '../../../src/core/comments/comments'
import { sheetName } from '../../../src/core/workbook/schema'
import type { LinkRecord } from '../../store/types'
import { hashToken, remoteAddress } from '../../auth'
import { currentState, type ApiContext, type Route } from '../context'
import { body } from '../fields'
import { HttpError, readBody, sendJson, sendNoContent } from '../util'
import type { IncomingMessage } from 'node:http'

export const MAX_INBOX_TOKENS = 200
export const MAX_INBOX_ITEMS = 1000

const TOKEN = /^[A-Za-z0-9_-]{16,128}$/

export type InboxKind = 'mention' | 'assignment' | 'reply'

export interface InboxItem {
  workbookId: string
  workbookTitle: string
  linkId: string
  commentId: string
  replyId?: string
  kind: InboxKind
  sheetId: string
  sheetName: string | null
  cell: string | null
  text: string
  author: string
  at: number
  due?: string
  done?: boolean
  resolved: boolean
  read: boolean
}

/** The key an item is marked read under (per link). */
export const itemKey = (i: { commentId: string; replyId?: string; kind: InboxKind }): string => `${i.replyId ?? i.commentId}:${i.kind}`

/** The tokens of the Authorization header (one or many). */
export function inboxTokens(req: IncomingMessage): string[] {
  const h = req.headers.authorization
  if (typeof h !== 'string') return []
  const parts = h.split(/[\s,]+/).filter(p => p && !/^bearer$/i.test(p))
  return [...new Set(parts)].slice(0, MAX_INBOX_TOKENS + 1)
}

/** The live links behind the request's tokens; tokens that are not (any more) one are counted. */
async function linksOf(req: IncomingMessage, ctx: ApiContext): Promise<{ links: LinkRecord[]; invalid: number }> {
  const tokens = inboxTokens(req)
  if (tokens.length === 0) throw new HttpError(401, 'send the link tokens as Authorization: Bearer <token> <token> …', { 'WWW-Authenticate': 'Bearer' })
  if (tokens.length > MAX_INBOX_TOKENS) throw new HttpError(400, `at most ${MAX_INBOX_TOKENS} tokens at once`)
  const addr = remoteAddress(req)
  const links: LinkRecord[] = []
  let invalid = 0
  for (const t of tokens) {
    const link = TOKEN.test(t) ? await ctx.store.findLink(hashToken(t)) : null
    if (link && link.revokedAt === null) { links.push(link); continue }
    invalid++
    // an unknown token is a guess like any other: it spends the address's budget
    if (!link) {
      if (ctx.failures.exhausted(addr)) throw new HttpError(429, 'too many failed attempts; try again in a minute', { 'Retry-After': '60' })
      ctx.failures.fail(addr)
    }
  }
  if (links.length === 0) throw new HttpError(401, 'none of these tokens is a live link', { 'WWW-Authenticate': 'Bearer' })
  return { links, invalid }
}

interface WorkbookThreads { threads: CommentThread[]; sheetNames: Map<string, string> }

// one reading per encoded state: the same state (a room that has not changed) is not decoded twice
const read = new WeakMap<Uint8Array, WorkbookThreads>()
/**
 * Workbooks no room holds, by their stored content's newest sequence number: an inbox asked every
 * half minute does not load a room whose workbook has not changed since it was read.
 */
const stored = new Map<string, { seq: number; threads: WorkbookThreads }>()
const MAX_STORED = 2000

async function threadsOf(ctx: ApiContext, id: string): Promise<WorkbookThreads | null> {
  const idle = ctx.rooms.state(id) === null
  const seq = idle ? await ctx.store.lastSeq(id) : -1
  const kept = idle ? stored.get(id) : undefined
  if (kept && kept.seq === seq) return kept.threads
  let state: Uint8Array
  try { state = await currentState(ctx, id) } catch (e) { if (e instanceof HttpError && e.status === 404) return null; throw e }
  const known = read.get(state)
  if (known) return known
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, state)
    const threads = readThreads(doc)
    const sheetNames = new Map<string, string>()
    for (const t of threads) if (!sheetNames.has(t.sheetId)) sheetNames.set(t.sheetId, sheetName(doc, t.sheetId))
    const out = { threads, sheetNames }
    read.set(state, out)
    if (idle) {
      stored.delete(id)
      if (stored.size >= MAX_STORED) stored.delete(stored.keys().next().value!)
      stored.set(id, { seq, threads: out })
    }
    return out
  } finally {
    doc.destroy()
  }
}

/** What a link's person finds in one workbook's comments. */
function itemsFor(link: LinkRecord, title: string, wb: WorkbookThreads): Omit<InboxItem, 'read'>[] {
  const me = link.name
  const out: Omit<InboxItem, 'read'>[] = []
  if (!me) return out
  for (const t of wb.threads) {
    const base = { workbookId: link.workbookId, workbookTitle: title, linkId: link.id, commentId: t.id, sheetId: t.sheetId, sheetName: wb.sheetNames.get(t.sheetId) ?? null, cell: t.cell, resolved: t.resolved }
    if (t.assignee === me) out.push({ ...base, kind: 'assignment', text: t.text, author: t.author, at: t.at, ...(t.due ? { due: t.due } : {}), done: t.done })
    else if (t.author !== me && t.mentions.includes(me)) out.push({ ...base, kind: 'mention', text: t.text, author: t.author, at: t.at })
    for (const r of t.replies) {
      if (r.author === me) continue
      if (r.mentions.includes(me)) out.push({ ...base, replyId: r.id, kind: 'mention', text: r.text, author: r.author, at: r.at })
      else if (t.author === me) out.push({ ...base, replyId: r.id, kind: 'reply', text: r.text, author: r.author, at: r.at })
    }
  }
  return out
}

async function inbox(ctx: ApiContext, links: LinkRecord[]): Promise<InboxItem[]> {
  const items: Omit<InboxItem, 'read'>[] = []
  const byWorkbook = new Map<string, LinkRecord[]>()
  for (const l of links) (byWorkbook.get(l.workbookId) ?? byWorkbook.set(l.workbookId, []).get(l.workbookId)!).push(l)
  for (const [id, ls] of byWorkbook) {
    const record = await ctx.store.getWorkbook(id)
    const wb = record ? await threadsOf(ctx, id) : null
    if (!record || !wb) continue
    for (const l of ls) items.push(...itemsFor(l, record.title, wb))
  }
  const read = await ctx.store.readItems(links.map(l => l.id))
  return items
    .map(i => ({ ...i, read: read.has(`${i.linkId} ${itemKey(i)}`) }))
    .sort((a, b) => b.at - a.at)
    .slice(0, MAX_INBOX_ITEMS)
}

const ID = z.string().regex(/^[\w-]{1,64}$/, { error: 'must be an id' })
const readBodySchema = z.union([
  body({ all: z.literal(true) }),
  body({ items: z.array(z.object({ workbookId: ID, commentId: ID, replyId: ID.optional(), kind: z.enum(['mention', 'assignment', 'reply']) }), { error: 'must be a list of items' }).max(MAX_INBOX_ITEMS) }),
], { error: 'give {all: true} or {items: [...]}' })

export const inboxRoutes: Route[] = [
  {
    pattern: /^\/api\/inbox$/,
    methods: {
      GET: async (req, res, _url, ctx) => {
        const { links, invalid } = await linksOf(req, ctx)
        const items = await inbox(ctx, links)
        sendJson(res, 200, { items, unread: items.filter(i => !i.read).length, invalid }, { 'Cache-Control': 'no-store' })
      },
    },
  },
  {
    pattern: /^\/api\/inbox\/read$/,
    methods: {
      POST: async (req, res, _url, ctx) => {
        const { links } = await linksOf(req, ctx)
        const given = await readBody(req, ctx.maxBodyBytes, readBodySchema)
        // only items these links' inbox holds are marked: made-up ones would be rows stored without end
        const held = await inbox(ctx, links)
        const wanted = 'items' in given ? new Set(given.items.map(i => `${i.workbookId} ${itemKey(i)}`)) : null
        const marks = new Map<LinkRecord, string[]>()
        const add = (l: LinkRecord, key: string) => (marks.get(l) ?? marks.set(l, []).get(l)!).push(key)
        for (const i of held) {
          if (!i.read && (!wanted || wanted.has(`${i.workbookId} ${itemKey(i)}`))) add(links.find(l => l.id === i.linkId)!, itemKey(i))
        }
        const now = Date.now()
        for (const [l, keys] of marks) await ctx.store.markRead(l.workbookId, l.id, keys, now)
        sendNoContent(res)
      },
    },
  },
]
