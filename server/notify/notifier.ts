/**
 * The delivery loop: events are queued in the store (one row per target that chose the event, after the
 * change is stored, never in the way of an edit), and sent from here: claimed when due, rendered for the
 * vendor, POSTed, and on failure tried again after an exponentially growing delay (retryBaseMs × 2ⁿ, at
 * most retryMaxMs) until maxAttempts, then dead. The loop wakes when something is queued here, when the
 * earliest pending delivery is due, and every pollMs (deliveries other instances queued, leases of an
 * instance that died). A due-soon reminder is checked against the workbook's current state when it comes
 * due: a task done, resolved, deleted or with another due date meanwhile is dropped.
 */
import { EventEmitter } from 'node:events'
import * as Y from 'yjs'
import { readEntry } from '../../src/core/comments/comments'
import { getTitle, sheetName } from '../../src/core/workbook/schema'
import { workbookLang } from '../../src/core/workbook/mutations'
import { workbookTimeZone, zonedTime } from '../../src/core/workbook/zone'
import type { Store } from '../store/types'
import type { ClaimedDelivery } from '../store/webhooks'
import type { Logger } from '../log'
import { answerProblem, render, subscribed, type NotifyEvent } from './messages'
import { post } from './send'
import type { Resolver } from './urls'

export interface NotifyOptions {
  /** targets on loopback and private addresses are allowed (ALLOW_PRIVATE_WEBHOOKS) */
  allowPrivate: boolean
  /** the server's public address (PUBLIC_URL), for links to the cell; null: messages carry no link */
  publicUrl: string | null
  /** the first retry's delay (WEBHOOK_RETRY_BASE_MS) */
  retryBaseMs: number
  retryMaxMs: number
  /** attempts before a delivery is dead */
  maxAttempts: number
  timeoutMs: number
  maxResponseBytes: number
  /** how often the loop looks for due deliveries it was not told about */
  pollMs: number
  /** how long a claimed delivery is this instance's (more than timeoutMs) */
  leaseMs: number
  /** deliveries claimed at once */
  batch: number
  /**
   * messages queued per target in an hour, at most (a commenter who mentions people over and over
   * would otherwise flood a group chat); past it, a target gets nothing until its hour moves on
   */
  maxPerTargetPerHour: number
  /** host name lookups (tests) */
  resolver?: Resolver
}

export const DEFAULT_NOTIFY_OPTIONS: NotifyOptions = {
  allowPrivate: false, publicUrl: null, retryBaseMs: 5_000, retryMaxMs: 3_600_000, maxAttempts: 8,
  timeoutMs: 10_000, maxResponseBytes: 64 * 1024, pollMs: 5_000, leaseMs: 60_000, batch: 20, maxPerTargetPerHour: 120,
}

const PRUNE_EVERY_MS = 3_600_000
const KEEP_FINISHED_MS = 7 * 86_400_000

export interface SettledEvent { workbookId: string; targetId: string; event: string; ok: boolean; dropped: boolean; error: string | null; attempts: number }

/** The workbook's current state, or null when it is gone. */
export type StateReader = (workbookId: string) => Promise<Uint8Array | null>

export class Notifier extends EventEmitter<{ settled: [SettledEvent]; queued: [{ workbookId: string; event: string; targets: number; at: number }]; limited: [{ workbookId: string; event: string; targets: number }] }> {
  private timer: NodeJS.Timeout | null = null
  private wakeAt = Infinity
  private running: Promise<void> | null = null
  private again = false
  private closed = false
  private lastPrune = 0
  private queueing = new Set<Promise<void>>()
  /** per target: when its messages of the last hour were queued (this instance's count) */
  private readonly sent = new Map<string, number[]>()

  constructor(private readonly store: Store, private readonly log: Logger, readonly opts: NotifyOptions, private readonly state: StateReader) {
    super()
    if (opts.publicUrl !== null && !/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(opts.publicUrl)) throw new Error(`PUBLIC_URL must be an http(s) address such as https://sheets.example.com, got ${JSON.stringify(opts.publicUrl)}`)
  }

  start(): void { this.wake(Date.now()) }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await Promise.allSettled([...this.queueing])
    await this.running?.catch(() => {})
  }

  /**
   * Queues `event` for each target of the workbook that chose it, to be sent at `at` (now by default).
   * Never throws: a failure is logged (an edit is never held up or undone by its notification).
   */
  publish(workbookId: string, event: NotifyEvent, at = Date.now(), only?: readonly string[]): Promise<void> {
    if (this.closed) return Promise.resolve()
    const run = (async () => {
      try {
        const chosen = (await this.store.webhooks.listTargets(workbookId)).filter(t => subscribed(t.events, event.event) && (!only || only.includes(t.id)))
        const targets = chosen.filter(t => this.withinBudget(t.id, Date.now()))
        if (targets.length < chosen.length) {
          this.log.warn(`[notify] ${workbookId}: a ${event.event} notification skipped for ${chosen.length - targets.length} target(s) past ${this.opts.maxPerTargetPerHour} messages this hour`)
          this.emit('limited', { workbookId, event: event.event, targets: chosen.length - targets.length })
        }
        if (!targets.length) return
        const payload = JSON.stringify(event)
        await this.store.webhooks.enqueue(workbookId, targets.map(t => ({ targetId: t.id, event: event.event, payload, nextAt: at })), Date.now())
        this.emit('queued', { workbookId, event: event.event, targets: targets.length, at })
        this.wake(at)
      } catch (e) {
        if (!this.closed) this.log.error(`[notify] ${workbookId}: a ${event.event} notification could not be queued:`, e)
      }
    })()
    this.queueing.add(run)
    void run.finally(() => this.queueing.delete(run))
    return run
  }

  /**
   * A version restored (the restore route, after the change is applied): `version` is the restored
   * version's doc, for the title and the sheet's name; `label` the version's name, or null (its time is used).
   */
  restored(workbookId: string, version: Y.Doc, r: { actor: string; label: string | null; versionAt: number; sheetId: string | null; cell: string | null }): void {
    try {
      const t = zonedTime(workbookTimeZone(version), new Date(r.versionAt))
      const two = (n: number) => String(n).padStart(2, '0')
      const label = r.label ?? `${t.year}-${two(t.month)}-${two(t.day)} ${two(t.hours)}:${two(t.minutes)}`
      void this.publish(workbookId, {
        event: 'restore', workbook: { id: workbookId, title: getTitle(version), lang: workbookLang(version) },
        sheet: r.sheetId ? { id: r.sheetId, name: sheetName(version, r.sheetId) } : null, cell: r.cell ? r.cell.toUpperCase() : null,
        actor: r.actor, text: null, people: [], due: null, thread: null, version: label, at: Date.now(),
      })
    } catch (e) {
      this.log.error(`[notify] ${workbookId}: a restore notification could not be made:`, e)
    }
  }

  /** Whether the target may have one more message this hour (and counts it when it may). */
  private withinBudget(targetId: string, now: number): boolean {
    const hour = (this.sent.get(targetId) ?? []).filter(t => now - t < 3_600_000)
    if (hour.length >= this.opts.maxPerTargetPerHour) { this.sent.set(targetId, hour); return false }
    hour.push(now)
    this.sent.set(targetId, hour)
    if (this.sent.size > 10_000) for (const [k, v] of this.sent) if (!v.some(t => now - t < 3_600_000)) this.sent.delete(k)
    return true
  }

  /** Runs the loop at `at` (or sooner, if it was to run sooner). */
  private wake(at: number): void {
    if (this.closed) return
    if (this.running) { if (at <= Date.now()) this.again = true; else this.later(at); return }
    this.later(at)
  }

  private later(at: number): void {
    if (this.closed || at >= this.wakeAt) return
    if (this.timer) clearTimeout(this.timer)
    this.wakeAt = at
    this.timer = setTimeout(() => { this.timer = null; this.wakeAt = Infinity; this.run() }, Math.max(0, at - Date.now()))
    this.timer.unref()
  }

  private run(): void {
    if (this.closed) return
    if (this.running) { this.again = true; return }
    const loop = async () => {
      do {
        this.again = false
        const claimed = await this.store.webhooks.claim(Date.now(), this.opts.batch, this.opts.leaseMs)
        await Promise.all(claimed.map(d => this.deliver(d)))
        if (claimed.length === this.opts.batch) this.again = true
      } while (this.again && !this.closed)
      if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
        this.lastPrune = Date.now()
        await this.store.webhooks.prune(Date.now() - KEEP_FINISHED_MS)
      }
      const next = await this.store.webhooks.nextDue()
      return next
    }
    const run = loop().then(
      next => { this.running = null; this.later(Math.min(next ?? Infinity, Date.now() + this.opts.pollMs)) },
      e => {
        this.running = null
        if (this.closed) return
        this.log.error('[notify] the delivery loop failed:', e)
        this.later(Date.now() + this.opts.pollMs)
      },
    )
    this.running = run
  }

  /** the delay before attempt n + 1 after n failed */
  backoff(attempts: number): number {
    return Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** Math.max(0, attempts - 1))
  }

  private async deliver(d: ClaimedDelivery): Promise<void> {
    const settled = (ok: boolean, dropped: boolean, error: string | null) =>
      this.emit('settled', { workbookId: d.workbookId, targetId: d.target.id, event: d.event, ok, dropped, error, attempts: d.attempts })
    let event: NotifyEvent
    try {
      event = JSON.parse(d.payload) as NotifyEvent
      if (event.event === 'due-soon' && !(await this.stillDue(d.workbookId, event))) {
        await this.store.webhooks.settle(d, { dropped: true }, Date.now())
        settled(false, true, null)
        return
      }
    } catch (e) {
      this.log.error(`[notify] ${d.workbookId}: delivery ${d.id} could not be read:`, e)
      await this.store.webhooks.settle(d, { ok: false, error: 'unreadable delivery', retryAt: null }, Date.now()).catch(() => {})
      return
    }
    let error: string | null
    try {
      const req = render(event, d.target, this.opts.publicUrl)
      const answer = await post(req.url, req.body, req.headers, { allowPrivate: this.opts.allowPrivate, timeoutMs: this.opts.timeoutMs, maxResponseBytes: this.opts.maxResponseBytes, resolver: this.opts.resolver })
      error = answerProblem(d.target.kind, answer.status, answer.body)
    } catch (e) {
      error = (e as Error).message || String(e)
    }
    if (this.closed && error) return // the lease runs out, and the next start sends it again
    const now = Date.now()
    if (error === null) {
      await this.store.webhooks.settle(d, { ok: true }, now)
    } else {
      const retryAt = d.attempts >= this.opts.maxAttempts ? null : now + this.backoff(d.attempts)
      this.log.warn(`[notify] ${d.workbookId}: ${d.target.kind} target ${d.target.id}, attempt ${d.attempts}: ${error}${retryAt === null ? ' (given up)' : ''}`)
      await this.store.webhooks.settle(d, { ok: false, error, retryAt }, now)
    }
    settled(error === null, false, error)
  }

  /** whether a due-soon reminder still stands: the task open, for the same person, due the same day */
  private async stillDue(workbookId: string, e: NotifyEvent): Promise<boolean> {
    if (!e.thread) return false
    const state = await this.state(workbookId)
    if (!state) return false
    const doc = new Y.Doc()
    try {
      Y.applyUpdate(doc, state)
      const t = readEntry(doc, 't', e.thread)
      if (!t || t.due !== e.due || t.assignee !== e.people[0]) return false
      return readEntry(doc, 's', e.thread)?.resolved !== true && readEntry(doc, 'd', e.thread)?.done !== true
    } finally {
      doc.destroy()
    }
  }
}

/**
 * The state a due-soon check reads: a room this instance holds answers (a resting one without waking);
 * otherwise the stored updates are merged, with no room made (nothing is kept awake for a reminder).
 */
export function stateReader(store: Store, rooms: { rooms: ReadonlyMap<string, unknown>; encodedState(id: string): Promise<Uint8Array> }): StateReader {
  return async id => {
    try {
      if (rooms.rooms.has(id)) return await rooms.encodedState(id)
      if (!(await store.getWorkbook(id))) return null
      const updates = await store.loadUpdates(id)
      return updates.length ? Y.mergeUpdates(updates) : null
    } catch {
      return null
    }
  }
}
