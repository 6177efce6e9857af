/**
 * The room's notifications: reads each change a person made on this instance (a socket's, or the API's
 * as an ActingOrigin; the bus's are their instance's to tell) for what a webhook tells of, and queues it
 * once the change is stored:
 *
 *   mention     a thread or reply that names people, or an edit naming people it did not before (one
 *               event per comment, all the newly named people in it; the writer naming themself is left out)
 *   assignment  a thread with an assignee (or an assignee changed)
 *   due-soon    an assignment with a due date: queued at once for 24 hours before the end of the due day
 *               in the workbook's time zone (at once if that is already past; not at all when overdue),
 *               and checked against the workbook when it comes due
 *   sign-off    a sheet locked (signing off is locking);   unlock   the lock removed
 *
 * `restore` comes from the restore route (server/http/routes/history.ts).
 */
import type * as Y from 'yjs'
import { commentsOf, SCHEMAS, parseEntryKey, type ReplyEntry, type ThreadEntry } from '../../src/core/comments/comments'
import { accessOf, lockKey } from '../../src/core/access/access'
import { getTitle, sheetName, sheetsOf } from '../../src/core/workbook/schema'
import { workbookLang } from '../../src/core/workbook/mutations'
import { SheetLayout } from '../../src/core/workbook/layout'
import { a1 } from '../../src/core/formulas/references'
import { workbookTimeZone, zonedTime } from '../../src/core/workbook/zone'
import { actorOf } from '../collab/hooks/audit'
import type { RoomContext, RoomHook, StoredBatch } from '../collab/hooks/types'
import type { NotifyEvent } from './messages'
import type { Notifier } from './notifier'

const DAY_MS = 86_400_000

/** Epoch ms of 00:00 of `day` (YYYY-MM-DD) in `zone`. */
export function zonedMidnight(day: string, zone: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  const wanted = Date.UTC(y, m - 1, d)
  let t = wanted
  for (let i = 0; i < 3; i++) {
    const z = zonedTime(zone, new Date(t))
    const shown = Date.UTC(z.year, z.month - 1, z.day, z.hours, z.minutes, z.seconds)
    if (shown === wanted) break
    t += wanted - shown
  }
  return t
}

/** When a due-soon reminder goes: 24 h before the due day ends in `zone`; null when it ended already. */
export function dueSoonAt(due: string, zone: string, now = Date.now()): number | null {
  const [y, m, d] = due.split('-').map(Number) as [number, number, number]
  const next = new Date(Date.UTC(y, m - 1, d + 1))
  // the day after 9999-12-31 (a due date any client may write) has no YYYY-MM-DD: never soon, never a throw
  if (!(next.getUTCFullYear() <= 9999)) return null
  const end = zonedMidnight(next.toISOString().slice(0, 10), zone)
  if (end <= now) return null
  return Math.max(now, end - DAY_MS)
}

interface Pending { event: NotifyEvent; at?: number }
interface Group { update: Uint8Array | null; events: Pending[] }

export class NotifyHook implements RoomHook {
  readonly name = 'notify'
  private observed: Y.Doc | null = null
  private current: Pending[] = []
  private groups: Group[] = []

  constructor(private readonly ctx: RoomContext, private readonly notifier: Notifier) {}

  onReady(): void { this.observe(this.ctx.liveDoc()) }
  onWake(doc: Y.Doc): void { this.observe(doc) }
  onRest(): void { this.observe(null) }
  onClose(): void { this.observe(null) }

  private observe(doc: Y.Doc | null): void {
    if (this.observed) {
      commentsOf(this.observed).unobserve(this.onComments)
      accessOf(this.observed).unobserve(this.onAccess)
    }
    this.observed = doc
    if (doc) {
      commentsOf(doc).observe(this.onComments)
      accessOf(doc).observe(this.onAccess)
    }
  }

  private base(doc: Y.Doc, kind: NotifyEvent['event'], actor: string, sheetId: string | null): NotifyEvent {
    return {
      event: kind, workbook: { id: this.ctx.id, title: getTitle(doc), lang: workbookLang(doc) }, sheet: sheetId ? { id: sheetId, name: sheetName(doc, sheetId) } : null,
      cell: null, actor, text: null, people: [], due: null, thread: null, version: null, at: Date.now(),
    }
  }

  private readonly onComments = (ev: Y.YMapEvent<unknown>, tr: Y.Transaction): void => {
    const actor = actorOf(tr.origin)
    if (!actor) return
    const doc = ev.target.doc!
    const map = commentsOf(doc)
    for (const [key, change] of ev.changes.keys) {
      if (change.action === 'delete') continue
      const k = parseEntryKey(key)
      if (!k || (k[0] !== 't' && k[0] !== 'r')) continue
      const [kind, id] = k
      const now = SCHEMAS[kind].safeParse(map.get(key))
      if (!now.success) continue
      const was = change.action === 'update' ? SCHEMAS[kind].safeParse(change.oldValue) : null
      const entry = now.data as ThreadEntry | ReplyEntry
      const threadId = kind === 't' ? id : (entry as ReplyEntry).thread
      const thread = kind === 't' ? entry as ThreadEntry : SCHEMAS.t.safeParse(map.get(`t:${threadId}`)).data as ThreadEntry | undefined
      if (!thread) continue
      const sheet = sheetsOf(doc).get(thread.sheet)
      const sl = sheet ? new SheetLayout(thread.sheet, '', sheet) : null
      const r = sl ? sl.rows.indexOf(thread.row) : -1, c = sl ? sl.cols.indexOf(thread.col) : -1
      const at = (e: NotifyEvent['event']): NotifyEvent => ({
        ...this.base(doc, e, actor.who.name, thread.sheet), cell: r >= 0 && c >= 0 ? a1(r, c) : null, text: entry.text, thread: threadId,
      })
      const before = new Set(was?.success ? (was.data as ThreadEntry | ReplyEntry).mentions : [])
      const assignee = kind === 't' ? (entry as ThreadEntry).assignee : undefined
      const wasAssignee = was?.success ? (was.data as ThreadEntry).assignee : undefined
      const named = entry.mentions.filter(n => !before.has(n) && n !== assignee && n !== actor.who.name)
      if (named.length) this.current.push({ event: { ...at('mention'), people: named } })
      if (assignee && assignee !== wasAssignee) {
        const due = (entry as ThreadEntry).due ?? null
        this.current.push({ event: { ...at('assignment'), people: [assignee], due } })
        const when = due ? dueSoonAt(due, workbookTimeZone(doc)) : null
        if (due && when !== null) this.current.push({ event: { ...at('due-soon'), people: [assignee], due }, at: when })
      }
    }
  }

  private readonly onAccess = (ev: Y.YMapEvent<unknown>, tr: Y.Transaction): void => {
    const actor = actorOf(tr.origin)
    if (!actor) return
    const doc = ev.target.doc!
    for (const [key, change] of ev.changes.keys) {
      if (!key.startsWith('lock:')) continue
      const sheetId = key.slice(5)
      if (lockKey(sheetId) !== key) continue
      const locked = change.action !== 'delete' && !!ev.target.get(key)
      if (change.action === 'update' && locked) continue
      this.current.push({ event: this.base(doc, locked ? 'sign-off' : 'unlock', actor.who.name, sheetId) })
    }
  }

  onChange(update: Uint8Array): void {
    if (!this.current.length) return
    this.groups.push({ update, events: this.current })
    this.current = []
  }

  /** the events of every change up to the newest of the batch are stored: queued now (as the audit hook does) */
  onStored(batch: StoredBatch): void {
    if (!this.groups.length) return
    const inBatch = new Set(batch.updates)
    let last = -1
    for (let i = this.groups.length - 1; i >= 0; i--) if (inBatch.has(this.groups[i]!.update!)) { last = i; break }
    const retried = batch.updates.some(u => !this.groups.some(g => g.update === u))
    if (last < 0 && !retried) return
    const taken = last < 0 ? this.groups.splice(0) : this.groups.splice(0, last + 1)
    this.send(taken.flatMap(g => g.events))
  }

  private send(events: Pending[]): void {
    if (this.ctx.deleted()) return
    for (const p of events) void this.notifier.publish(this.ctx.id, p.event, p.at)
  }

  async onUnload(): Promise<void> {
    this.send(this.groups.splice(0).flatMap(g => g.events))
  }
}
