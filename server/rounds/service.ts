/**
 * Fill-in rounds over time: each round's current period, who submitted in it, and closing periods. A
 * period that closed (see src/core/rounds/periods.ts) is kept as a named version of the workbook,
 * “收集：<sheet> <due day>” (numbered when the name is taken), once: the close is claimed in the store
 * before the version is saved, so another instance, or this one after a restart, never saves it twice.
 * When several periods closed while the server was down, the last of them gets the version (they would
 * all be the same state) and the others are recorded without one.
 *
 * Closing runs from a timer (every `pollMs`, and at the next close time it knows of) and whenever a
 * round's status is read, so a board read after the due time shows the version at once. `now` is
 * injectable: tests move time instead of waiting.
 */
import * as Y from 'yjs'
import { getTitle, sheetName } from '../../src/core/workbook/schema'
import { closedSince, closeOf, dueOf, periodAt, periodLabel, personState, zonedText, type PersonState, type RoundTiming } from '../../src/core/rounds/periods'
import { newVersionId } from '../collab/hooks/history'
import type { Store } from '../store/types'
import type { RoundPerson, RoundRecord } from '../store/rounds'
import type { VersionRecord } from '../store/history'
import type { Logger } from '../log'
import type { Notifier } from '../notify/notifier'
import type { StateReader } from '../notify/notifier'

export interface RoundOptions {
  /** the clock (tests move it) */
  now: () => number
  /** how often the timer looks for periods to close */
  pollMs: number
}
export const DEFAULT_ROUND_OPTIONS: RoundOptions = { now: () => Date.now(), pollMs: 60_000 }

export interface PersonStatus { name: string; submitted: boolean; at?: number; state: PersonState; late?: true }

export interface RoundStatus {
  id: string; sheetId: string; sheetName: string; columns: string[]; personCol: string | null; repeat: RoundRecord['repeat']
  period: number; label: string; due: number; dueText: string; zone: string; createdAt: number
  status: PersonStatus[]
  closed: { period: number; versionId: string | null; at: number }[]
}

export const timingOf = (r: RoundRecord): RoundTiming => ({ firstDue: r.firstDue, repeat: r.repeat, zone: r.zone })

export class RoundService {
  private timer: NodeJS.Timeout | null = null
  private closing = new Map<string, Promise<void>>()
  private closed = false

  constructor(private readonly store: Store, private readonly state: StateReader, private readonly log: Logger, readonly opts: RoundOptions, private readonly notify?: Notifier) {}

  now(): number { return this.opts.now() }

  start(): void {
    if (this.closed) return
    this.timer = setTimeout(() => { void this.tick().finally(() => { if (!this.closed) this.start() }) }, this.opts.pollMs)
    this.timer.unref()
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    await Promise.allSettled([...this.closing.values()])
  }

  /** Closes every period of every round that is due to close. Never throws. */
  async tick(): Promise<void> {
    try {
      for (const r of await this.store.rounds.allRounds()) await this.closeDue(r)
    } catch (e) {
      if (!this.closed) this.log.error('[rounds] closing periods failed:', e)
    }
  }

  /** Closes the round's periods that closed by now and are not recorded yet (one run per round at a time). */
  closeDue(r: RoundRecord): Promise<void> {
    const running = this.closing.get(r.id)
    if (running) return running
    const run = this.closeNow(r).catch(e => { this.log.error(`[rounds] ${r.workbookId}/${r.id}: closing a period failed:`, e) })
      .finally(() => this.closing.delete(r.id))
    this.closing.set(r.id, run)
    return run
  }

  private async closeNow(r: RoundRecord): Promise<void> {
    const t = timingOf(r), now = this.now()
    const done = await this.store.rounds.closedPeriods(r.id)
    const last = done.reduce((m, c) => Math.max(m, c.period), -1)
    const due = closedSince(t, last, now)
    if (!due.length) return
    for (const k of due.slice(0, -1)) await this.store.rounds.claimClose({ roundId: r.id, period: k, versionId: null, at: now })
    const k = due[due.length - 1]!
    if (!await this.store.rounds.claimClose({ roundId: r.id, period: k, versionId: null, at: now })) return
    const state = await this.state(r.workbookId)
    if (!state) return
    const doc = new Y.Doc()
    try {
      Y.applyUpdate(doc, state)
      const base = `收集：${sheetName(doc, r.sheetId) || getTitle(doc)} ${periodLabel(t, k)}`.slice(0, 100)
      const named = new Set((await this.store.history.listVersions(r.workbookId)).filter(v => !v.auto).map(v => v.name))
      let name = base
      for (let i = 2; named.has(name); i++) name = `${base}（${i}）`
      const by = (await this.store.rounds.submissions(r.id, k)).map(s => s.name)
      const v: VersionRecord = { id: newVersionId(), workbookId: r.workbookId, name, at: now, by, auto: false, lock: null, summary: {}, size: state.byteLength }
      await this.store.history.saveVersion(v, state)
      await this.store.rounds.setCloseVersion(r.id, k, v.id)
      await this.store.history.appendAudit(r.workbookId, [{ at: now, linkId: '', by: r.createdBy, role: 'owner', action: 'version', sheet: r.sheetId, cell: null, rowId: null, colId: null, before: null, after: name, detail: v.id }])
    } finally {
      doc.destroy()
    }
  }

  /** The round's current period and each person's state in it (closing what is due first). */
  async status(r: RoundRecord, people?: RoundPerson[], sheet?: string): Promise<RoundStatus> {
    await this.closeDue(r)
    const t = timingOf(r), now = this.now()
    const k = periodAt(t, now), due = dueOf(t, k)
    const subs = new Map((await this.store.rounds.submissions(r.id, k)).map(s => [s.name, s.at]))
    const list = people ?? await this.store.rounds.people(r.id)
    return {
      id: r.id, sheetId: r.sheetId, sheetName: sheet ?? '', columns: r.columns, personCol: r.personCol, repeat: r.repeat,
      period: k, label: periodLabel(t, k), due, dueText: zonedText(r.zone, due), zone: r.zone, createdAt: r.createdAt,
      status: list.map(p => {
        const at = subs.get(p.name)
        const s: PersonStatus = { name: p.name, submitted: at !== undefined, state: personState(due, now, at) }
        if (at !== undefined) { s.at = at; if (at > due) s.late = true }
        return s
      }),
      closed: (await this.store.rounds.closedPeriods(r.id)).map(c => ({ period: c.period, versionId: c.versionId, at: c.at })),
    }
  }

  /** When the round's current period closes. */
  nextClose(r: RoundRecord): number { return closeOf(timingOf(r), periodAt(timingOf(r), this.now())) }

  /**
   * Tells the workbook's webhook targets who has not submitted yet: the message names the round and
   * the people, with the form page's address without any token (each person opens their own link).
   * Returns how many targets it went to (0: the board shows the links to send instead).
   */
  async remind(r: RoundRecord, title: string, sheet: string, missing: string[], actor: string): Promise<number> {
    if (!this.notify || !missing.length) return 0
    const targets = await this.store.webhooks.listTargets(r.workbookId)
    if (!targets.length) return 0
    const t = timingOf(r), k = periodAt(t, this.now())
    await this.notify.publish(r.workbookId, {
      event: 'remind', workbook: { id: r.workbookId, title }, sheet: { id: r.sheetId, name: sheet }, cell: null, actor,
      text: null, people: missing, due: zonedText(r.zone, dueOf(t, k)), thread: null, version: null, round: r.id, at: this.now(),
    })
    return targets.length
  }
}
