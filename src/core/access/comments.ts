/**
 * The check of a change to the comments (src/core/comments/comments.ts). Anyone who may comment
 * (not viewers) starts threads and replies, under their own name only; the text of a thread or reply is
 * its author's to change, and its author's or an owner's to delete; resolving and reopening is anyone's
 * who may comment; an assignment is marked done by its assignee (or the thread's author, or an owner).
 * What is written must be an entry of the kind its key says, anchored to a sheet that exists.
 *
 * It reads the change through a narrow view (entries before and after, the sheets after), so the same
 * rules judge a socket's update (checkChange) and a change the API plans before applying it.
 */
import type * as Y from 'yjs'
import { COMMENT_LIMITS, commentsOf, parseEntryKey, SCHEMAS, mentionsName, type CommentWrites, type ThreadEntry, type ReplyEntry } from '../comments/comments'
import { sheetsOf } from '../workbook/schema'
import { mayComment, type Principal } from './model'
import type { Refusal } from './refusal'

/** A change to the comments as the rules see it. */
export interface CommentChange {
  who: Principal
  was(key: string): unknown
  now(key: string): unknown
  /** entries after the change */
  size(): number
  hasSheet(sheetId: string): boolean
}

/** A change already applied to `after` (the same doc without it: `before`). */
export const appliedChange = (before: Y.Doc, after: Y.Doc, who: Principal): CommentChange => ({
  who, was: k => commentsOf(before).get(k), now: k => commentsOf(after).get(k), size: () => commentsOf(after).size, hasSheet: id => sheetsOf(after).has(id),
})

/** Writes planned on `doc` (comments.ts plan*), not yet applied. */
export function plannedChange(doc: Y.Doc, writes: CommentWrites, who: Principal): CommentChange {
  const map = commentsOf(doc)
  let size = map.size
  for (const [k, v] of writes) size += (v === undefined ? 0 : 1) - (map.has(k) ? 1 : 0)
  return { who, was: k => map.get(k), now: k => writes.has(k) ? writes.get(k) : map.get(k), size: () => size, hasSheet: id => sheetsOf(doc).has(id) }
}

const FIXED_THREAD = ['sheet', 'row', 'col', 'by', 'at', 'assignee', 'due'] as const
const FIXED_REPLY = ['thread', 'by', 'at'] as const

export function commentsRefusal(c: CommentChange, keys: Iterable<string | null>): Refusal | null {
  if (!mayComment(c.who.role)) return { code: 'read-only' }
  const me = c.who.name, owner = c.who.role === 'owner'
  const mine = (by: string) => !me || by === me
  let added = 0
  for (const key of keys) {
    if (key === null) return { code: 'not-a-comment' }
    const k = parseEntryKey(key)
    if (!k) return { code: 'not-a-comment' }
    const [kind, id] = k
    const wasRaw = c.was(key), nowRaw = c.now(key)
    const was = wasRaw === undefined ? undefined : SCHEMAS[kind].safeParse(wasRaw)
    const now = nowRaw === undefined ? undefined : SCHEMAS[kind].safeParse(nowRaw)
    if (now && !now.success) return { code: 'not-a-comment', detail: `${key}: ${now.error.issues[0]?.message ?? 'not valid'}` }
    if (!was && now) added++
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
        if (kind === 't' && !c.hasSheet((n as ThreadEntry).sheet)) return { code: 'not-a-comment', detail: 'no such sheet' }
        if (kind === 'r' && !SCHEMAS.t.safeParse(c.now(`t:${(n as ReplyEntry).thread}`)).success) return { code: 'not-a-comment', detail: 'a reply to no thread' }
      } else if (wasRaw !== undefined) {
        // deleting: one's own, an owner anything; the replies of a thread deleted with them go with it
        const threadGone = kind === 'r' && w !== undefined && c.now(`t:${(w as ReplyEntry).thread}`) === undefined
        if (!owner && !threadGone && (w === undefined || !mine(w.by))) return { code: 'comment-not-yours' }
      }
      continue
    }
    // a thread's state or its assignment's
    const thread = SCHEMAS.t.safeParse(c.now(`t:${id}`))
    if (now) {
      if (!thread.success) return { code: 'not-a-comment', detail: 'the state of no thread' }
      if (!mine((now.data as { by: string }).by)) return { code: 'comment-as-other' }
      if (kind === 'd') {
        const t = thread.data
        if (!t.assignee) return { code: 'not-a-comment', detail: 'the thread assigns nothing' }
        if (!owner && me && me !== t.assignee && me !== t.by) return { code: 'comment-not-yours' }
      }
    } else if (wasRaw !== undefined && thread.success && !owner) {
      // a state goes with its thread; on its own only an owner takes it away
      return { code: 'comment-not-yours' }
    }
  }
  if (added > 0 && c.size() > COMMENT_LIMITS.entries) return { code: 'too-many-comments' }
  return null
}
