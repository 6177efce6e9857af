/**
 * The check of a change to the comments (src/core/comments/comments.ts). Anyone who may comment
 * (not viewers) starts threads and replies, under their own name only; the text of a thread or reply is
 * its author's to change, and its author's or an owner's to delete; resolving and reopening is anyone's
 * who may comment; an assignment is marked done by its assignee (or the thread's author, or an owner).
 * What is written must be an entry of the kind its key says, anchored to a sheet that exists.
 */
import { COMMENT_LIMITS, commentsOf, parseEntryKey, SCHEMAS, mentionsName, type ThreadEntry, type ReplyEntry } from '../comments/comments'
import { sheetsOf } from '../workbook/schema'
import type { ChangeContext } from './context'
import { mayComment } from './model'
import type { Refusal } from './refusal'

type Keys = ReadonlySet<string | null>

const FIXED_THREAD = ['sheet', 'row', 'col', 'by', 'at', 'assignee', 'due'] as const
const FIXED_REPLY = ['thread', 'by', 'at'] as const

export function commentsRefusal(ctx: ChangeContext, keys: Keys): Refusal | null {
  if (!mayComment(ctx.who.role)) return { code: 'read-only' }
  const before = commentsOf(ctx.before), after = commentsOf(ctx.after)
  const me = ctx.who.name
  const mine = (by: string) => !me || by === me
  let added = 0
  for (const key of keys) {
    if (key === null) return { code: 'not-a-comment' }
    const k = parseEntryKey(key)
    if (!k) return { code: 'not-a-comment' }
    const [kind, id] = k
    const wasRaw = before.get(key), nowRaw = after.get(key)
    const was = wasRaw === undefined ? undefined : SCHEMAS[kind].safeParse(wasRaw)
    const now = nowRaw === undefined ? undefined : SCHEMAS[kind].safeParse(nowRaw)
    if (now && !now.success) return { code: 'not-a-comment', detail: `${key}: ${now.error.issues[0]?.message ?? 'not valid'}` }
    if (!was && now) added++
    const threadNow = () => SCHEMAS.t.safeParse(after.get(`t:${kind === 'r' ? (now?.data as ReplyEntry | undefined)?.thread : id}`))
    if (kind === 't' || kind === 'r') {
      const w = was?.success ? was.data as ThreadEntry | ReplyEntry : undefined
      const n = now?.data as ThreadEntry | ReplyEntry | undefined
      if (n) {
        if (!mine(n.by)) return { code: 'comment-as-other' }
        if (n.mentions.some(m => !mentionsName(n.text, m) && m !== (n as ThreadEntry).assignee)) return { code: 'not-a-comment', detail: 'a mention the text does not make' }
        if (w) {
          if (!mine(w.by)) return { code: 'comment-not-yours' }
          const fixed: readonly string[] = kind === 't' ? FIXED_THREAD : FIXED_REPLY
          for (const f of fixed) if (JSON.stringify((w as Record<string, unknown>)[f]) !== JSON.stringify((n as Record<string, unknown>)[f])) return { code: 'not-a-comment', detail: `${f} of a comment does not change` }
        } else if (wasRaw !== undefined) return { code: 'comment-not-yours' }
        if (kind === 't' && !sheetsOf(ctx.after).has((n as ThreadEntry).sheet)) return { code: 'not-a-comment', detail: 'no such sheet' }
        if (kind === 'r' && !threadNow().success) return { code: 'not-a-comment', detail: 'a reply to no thread' }
      } else if (wasRaw !== undefined) {
        // deleting: one's own, an owner anything; the replies of a thread deleted with them go with it
        const by = w?.by
        const threadGone = kind === 'r' && w && !after.has(`t:${(w as ReplyEntry).thread}`)
        if (!ctx.owner && !threadGone && (by === undefined || !mine(by))) return { code: 'comment-not-yours' }
      }
      continue
    }
    // a thread's state or its assignment's
    const thread = SCHEMAS.t.safeParse(after.get(`t:${id}`))
    if (now) {
      if (!thread.success) return { code: 'not-a-comment', detail: 'the state of no thread' }
      const n = now.data as { by: string }
      if (!mine(n.by)) return { code: 'comment-as-other' }
      if (kind === 'd') {
        const t = thread.data
        if (!t.assignee) return { code: 'not-a-comment', detail: 'the thread assigns nothing' }
        if (!ctx.owner && me && me !== t.assignee && me !== t.by) return { code: 'comment-not-yours' }
      }
    } else if (wasRaw !== undefined && thread.success && !ctx.owner) {
      // a state goes with its thread; on its own only an owner takes it away
      return { code: 'comment-not-yours' }
    }
  }
  if (added > 0 && after.size > COMMENT_LIMITS.entries) return { code: 'too-many-comments' }
  return null
}
