/**
 * Comments through the API: list a workbook's threads (cells as their current A1 addresses), start one
 * on a cell, reply, edit, resolve or reopen, mark an assignment done, delete. A change is planned on the
 * live doc, judged by the same rules as a socket's (src/core/access/comments.ts), and applied as the
 * person (ActingOrigin): it is stored, relayed to everyone and notified like one typed in the grid. The
 * author is always the link's name; mentions are the link names the text names.
 */
import type * as Y from 'yjs'
import { z } from 'zod'
import { commentsRefusal, mayComment, plannedChange, ROLES, type Principal, type Refusal } from '../../../src/core/access/access'
import {
  applyWrites, COMMENT_LIMITS, CommentError, mentionsIn, planComment, planDelete, planDone, planEdit, planReply, planResolved, readThreads,
  type CommentThread, type CommentWrites,
} from '../../../src/core/comments/comments'
import { WorkbookLayout } from '../../../src/core/workbook/layout'
import { sheetIds, sheetName } from '../../../src/core/workbook/schema'
import { parseA1 } from '../../../src/core/formulas/references'
import { ActingOrigin } from '../../collab/rooms'
import type { LinkRecord } from '../../store/types'
import { authorize } from '../../auth'
import { ALL, orGone, snapshot, type ApiContext, type Route } from '../context'
import { body } from '../fields'
import { HttpError, readBody, readQuery, sendJson, sendNoContent } from '../util'

/** Every role that may write comments (viewers read them). */
export const COMMENTERS = ROLES.filter(mayComment)

const text = z.string({ error: 'must be a string' }).max(COMMENT_LIMITS.text * 2, { error: `must be at most ${COMMENT_LIMITS.text} characters` })
const personName = z.string({ error: 'must be a string' }).overwrite(v => v.replace(/[\u0000-\u001f\u007f]/g, '').trim())
  .min(1, { error: 'must not be empty' }).max(COMMENT_LIMITS.name, { error: `must be at most ${COMMENT_LIMITS.name} characters` })
const day = z.string({ error: 'must be a date' }).regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date as YYYY-MM-DD' })
const newThread = body({
  sheet: z.string({ error: 'is required: a sheet id or name' }).min(1).max(200),
  cell: z.string({ error: 'is required: an address such as B3' }).regex(/^[A-Za-z]{1,3}[1-9][0-9]{0,6}$/, { error: 'must be an address such as B3' }),
  text: z.string({ error: 'is required' }).max(COMMENT_LIMITS.text * 2, { error: `must be at most ${COMMENT_LIMITS.text} characters` }),
  assignee: personName.optional(),
  due: day.optional(),
}).refine(b => !b.due || b.assignee, { error: 'a due date needs an assignee' })
const newReply = body({ text: z.string({ error: 'is required' }).max(COMMENT_LIMITS.text * 2) })
const patch = body({ text: text.optional(), resolved: z.boolean({ error: 'must be true or false' }).optional(), done: z.boolean({ error: 'must be true or false' }).optional() })
  .refine(b => b.text !== undefined || b.resolved !== undefined || b.done !== undefined, { error: 'give text, resolved or done' })
const listQuery = z.object({ sheet: z.string().max(200).optional(), open: z.enum(['0', '1']).optional() })

const principal = (l: LinkRecord): Principal & { linkId: string } => ({ role: l.role, name: l.name, linkId: l.id })

/** A thread as the API gives it. */
export const threadJson = (t: CommentThread, doc: Y.Doc) => ({
  id: t.id, sheetId: t.sheetId, sheetName: sheetName(doc, t.sheetId) ?? null, rowId: t.rowId, colId: t.colId, cell: t.cell, orphaned: t.orphaned,
  author: t.author, text: t.text, mentions: t.mentions, ...(t.assignee ? { assignee: t.assignee, done: t.done } : {}), ...(t.due ? { due: t.due } : {}),
  resolved: t.resolved, ...(t.resolvedBy ? { resolvedBy: t.resolvedBy, resolvedAt: t.resolvedAt } : {}), at: t.at, ...(t.edited ? { edited: t.edited } : {}),
  replies: t.replies,
})

/** The names people hold links under: who a mention can name. */
export async function peopleOf(ctx: ApiContext, id: string): Promise<{ name: string; role: string }[]> {
  const seen = new Map<string, string>()
  for (const l of await ctx.store.listLinks(id)) if (l.revokedAt === null && l.name && !seen.has(l.name)) seen.set(l.name, l.role)
  return [...seen].map(([name, role]) => ({ name, role }))
}

const REFUSED_STATUS: Partial<Record<Refusal['code'], number>> = { 'read-only': 403, 'comment-only': 403, 'comment-as-other': 403, 'comment-not-yours': 403, 'too-many-comments': 409 }
const ERROR_STATUS: Record<CommentError['code'], number> = {
  'no-such-sheet': 404, 'no-such-cell': 404, 'no-such-comment': 404, 'empty-text': 400, 'text-too-long': 400, 'not-yours': 403, 'too-many-comments': 409, 'no-assignee': 400, 'bad-due': 400,
}

/**
 * Plans a change on the live doc, checks it with the rules of every change, applies it as `me`.
 * `plan` may throw CommentError (a 4xx) or HttpError.
 */
async function change<T>(ctx: ApiContext, id: string, me: LinkRecord, plan: (doc: Y.Doc, who: Principal) => { writes: CommentWrites; result: T }): Promise<T> {
  const who = principal(me)
  try {
    return await orGone(() => ctx.rooms.withDoc(id, doc => {
      const { writes, result } = plan(doc, who)
      const refusal = commentsRefusal(plannedChange(doc, writes, who), writes.keys())
      if (refusal) throw new HttpError(REFUSED_STATUS[refusal.code] ?? 400, `the change was refused: ${refusal.code}${refusal.detail ? ` (${refusal.detail})` : ''}`)
      applyWrites(doc, writes, new ActingOrigin(who, 'edit', 'comment'))
      return result
    }))
  } catch (e) {
    if (e instanceof CommentError) throw new HttpError(ERROR_STATUS[e.code], e.message)
    throw e
  }
}

/** The sheet a request names, by id or by name. */
function sheetNamed(doc: Y.Doc, given: string): string {
  const ids = sheetIds(doc)
  const found = ids.includes(given) ? given : ids.find(s => sheetName(doc, s) === given)
  if (!found) throw new HttpError(404, `no sheet ${JSON.stringify(given.slice(0, 60))}`)
  return found
}

async function commenter(req: Parameters<typeof authorize>[0], url: URL, ctx: ApiContext, id: string): Promise<LinkRecord> {
  return authorize(req, url, ctx, id, COMMENTERS)
}

export const commentRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/comments$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, ALL)
        const q = readQuery(url, listQuery)
        const doc = await snapshot(ctx, id)
        try {
          let threads = readThreads(doc)
          if (q.sheet) { const sid = sheetNamed(doc, q.sheet); threads = threads.filter(t => t.sheetId === sid) }
          if (q.open === '1') threads = threads.filter(t => !t.resolved)
          sendJson(res, 200, threads.map(t => threadJson(t, doc)), { 'Cache-Control': 'no-store' })
        } finally {
          doc.destroy()
        }
      },
      POST: async (req, res, url, ctx, id) => {
        const me = await commenter(req, url, ctx, id)
        const given = await readBody(req, ctx.maxBodyBytes, newThread)
        const names = (await peopleOf(ctx, id)).map(p => p.name)
        const made = await change(ctx, id, me, doc => {
          const sheetId = sheetNamed(doc, given.sheet)
          const at = parseA1(given.cell.toUpperCase())
          const sl = new WorkbookLayout(doc).sheet(sheetId)
          const rowId = at && sl?.rows.ids[at.row], colId = at && sl?.cols.ids[at.col]
          if (!rowId || !colId) throw new HttpError(404, `no cell ${given.cell} on that sheet`)
          const p = planComment(doc, { sheetId, rowId, colId, text: given.text, mentions: mentionsIn(given.text, names), assignee: given.assignee, due: given.due }, me.name)
          return { writes: p.writes, result: p.id }
        })
        sendJson(res, 201, { id: made })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/comments\/([\w-]{1,64})\/replies$/,
    methods: {
      POST: async (req, res, url, ctx, id, cid) => {
        const me = await commenter(req, url, ctx, id)
        const given = await readBody(req, ctx.maxBodyBytes, newReply)
        const names = (await peopleOf(ctx, id)).map(p => p.name)
        const made = await change(ctx, id, me, doc => {
          const p = planReply(doc, cid, given.text, mentionsIn(given.text, names), me.name)
          return { writes: p.writes, result: p.id }
        })
        sendJson(res, 201, { id: made })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/comments\/([\w-]{1,64})$/,
    methods: {
      PATCH: async (req, res, url, ctx, id, cid) => {
        const me = await commenter(req, url, ctx, id)
        const given = await readBody(req, ctx.maxBodyBytes, patch)
        const names = given.text !== undefined ? (await peopleOf(ctx, id)).map(p => p.name) : []
        await change(ctx, id, me, doc => {
          const writes: CommentWrites = new Map()
          if (given.text !== undefined) for (const [k, v] of planEdit(doc, cid, given.text, mentionsIn(given.text, names), me.name)) writes.set(k, v)
          if (given.resolved !== undefined) for (const [k, v] of planResolved(doc, cid, given.resolved, me.name)) writes.set(k, v)
          if (given.done !== undefined) for (const [k, v] of planDone(doc, cid, given.done, me.name)) writes.set(k, v)
          return { writes, result: null }
        })
        const doc = await snapshot(ctx, id)
        try {
          const t = readThreads(doc).find(x => x.id === cid || x.replies.some(r => r.id === cid))
          sendJson(res, 200, t ? threadJson(t, doc) : null)
        } finally {
          doc.destroy()
        }
      },
      DELETE: async (req, res, url, ctx, id, cid) => {
        const me = await commenter(req, url, ctx, id)
        await change(ctx, id, me, doc => ({ writes: planDelete(doc, cid), result: null }))
        sendNoContent(res)
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/people$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, ALL)
        sendJson(res, 200, { people: await peopleOf(ctx, id) }, { 'Cache-Control': 'no-store' })
      },
    },
  },
]
