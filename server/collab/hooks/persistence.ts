/**
 * Persistence: the doc is loaded from the store before anything is answered; every doc update is
 * queued and written at once (group commit: while one write is in flight, what arrives meanwhile is
 * merged and written together next). An update is relayed to the other connections only after it is
 * stored, and a new client's initial state (SyncStep2) is sent only after everything in it is stored,
 * so whatever reached another client survives a crash. A batch of several senders goes as one message.
 * If the store fails, updates are relayed anyway (live editing goes on) and retried every second.
 * Stored updates are compacted past `compactThreshold`; the title is mirrored into the workbooks row.
 */
import * as Y from 'yjs'
import { getTitle, metaOf } from '../../../src/core/workbook/schema'
import { Connection } from '../connection'
import { encodeUpdateMessage } from '../protocol'
import { MAX_TITLE_LENGTH, WorkbookGoneError } from '../options'
import type { ChangeSource, IncomingChange, RoomContext, RoomHook, StoredBatch } from './types'
import type { Refusal } from '../../../src/core/access/access'

/** a pending update put back after a failed write: relayed already */
const RELAYED = Symbol('relayed')
type From = Connection | null | typeof RELAYED
/** a sender's own edits up to this size come back to it in a merged relay; bigger ones are not echoed */
const MAX_ECHO_BYTES = 16 * 1024

export class PersistenceHook implements RoomHook {
  readonly name = 'persistence'
  private pending: Uint8Array[] = []
  /** where each pending update came from: its connection, null (the server, the API), RELAYED */
  private pendingFrom: From[] = []
  /** when the oldest pending update arrived (performance.now()) */
  private pendingSince = 0
  /** run once the pending updates are stored and relayed (initial states for new clients) */
  private pendingAfter: (() => void)[] = []
  /** run once the write in flight is stored */
  private inflightAfter: (() => void)[] = []
  /** a write of the pending updates is on the chain and has not started yet */
  private writeQueued = false
  private writing = false
  private flushTimer: NodeJS.Timeout | null = null
  /** a flush at the next turn of the event loop is due (flushDelayMs 0) */
  private flushDue = false
  private retryTimer: NodeJS.Timeout | null = null
  private metaTimer: NodeJS.Timeout | null = null
  private lastSeq = 0
  private storedUpdates = 0
  private titleDirty = false
  private touchDirty = false
  private lastMetaWrite = 0
  private compacting = false
  /** bytes of updates the doc is made of, as stored and received (an upper bound of its size) */
  private docBytes = 0
  private observed: Y.Doc | null = null

  /**
   * `flushSoon`: asks for flushIfDue at the next turn of the event loop, together with every other
   * room due then (their writes reach the store in one run of callbacks, which SQLite commits as one).
   * `stored`: tells the hooks that follow a stored batch.
   */
  /**
   * `background`: runs heavy work of this room after that of every other room queued before it;
   * `folder.fold`: merges stored rows into one (in a worker thread, see compactor.ts); `folder.warm`
   * gets that thread ready (called once the room is half-way to its next compaction)
   */
  constructor(
    private readonly ctx: RoomContext, private readonly flushSoon: () => void, private readonly stored: (b: StoredBatch) => void,
    private readonly background: (job: () => Promise<void>) => Promise<void>,
    private readonly folder: { fold(rows: Uint8Array[], full: boolean): Promise<Uint8Array>; warm(): void },
  ) {}

  async onLoad(): Promise<void> {
    const { ctx } = this
    const record = await ctx.store.getWorkbook(ctx.id)
    if (!record) throw new WorkbookGoneError(ctx.id)
    const updates = await ctx.store.loadUpdateRecords(ctx.id)
    if (ctx.state() !== 'loading') return
    const doc = ctx.doc()
    doc.transact(() => {
      for (const u of updates) {
        try {
          Y.applyUpdate(doc, u.data)
        } catch (e) {
          throw new Error(`stored update seq ${u.seq} of workbook ${ctx.id} cannot be applied`, { cause: e })
        }
      }
    })
    this.storedUpdates = updates.length
    this.docBytes = updates.reduce((n, u) => n + u.data.length, 0)
    this.lastSeq = updates.length ? updates[updates.length - 1]!.seq : 0
  }

  onReady(): void {
    this.observe(this.ctx.liveDoc())
    this.compactSoon()
  }

  onWake(doc: Y.Doc): void { this.observe(doc) }
  onRest(): void { this.observe(null) }

  private observe(doc: Y.Doc | null): void {
    if (this.observed) metaOf(this.observed).unobserve(this.onMetaChange)
    this.observed = doc
    if (doc) metaOf(doc).observe(this.onMetaChange)
  }

  private readonly onMetaChange = (event: Y.YMapEvent<unknown>): void => {
    if (event.keysChanged.has('title')) this.titleDirty = true
  }

  /** A workbook may not grow past its size limit. */
  authorize({ update }: IncomingChange): Refusal | null {
    const max = this.ctx.opts.maxDocBytes
    return this.docBytes + update.length > max ? { code: 'too-large', detail: `workbook would exceed ${max} bytes` } : null
  }

  onChange(update: Uint8Array, source: ChangeSource): void {
    this.docBytes += update.length
    const { ctx } = this
    if (source === 'bus') {
      // stored already (by the instance that took it, or read from the store): relay only
      ctx.broadcast(encodeUpdateMessage(update))
      return
    }
    if (ctx.deleted()) { ctx.broadcast(encodeUpdateMessage(update), source); return }
    if (this.pending.length === 0) this.pendingSince = performance.now()
    this.pending.push(update)
    this.pendingFrom.push(source)
    this.touchDirty = true
    this.scheduleFlush()
  }

  /** nothing waits to be written, nor is being written */
  settled(): boolean { return this.pending.length === 0 && !this.writing }

  onIdle(): boolean {
    return this.pending.length === 0 && !this.writing && !this.writeQueued && !this.compacting && !this.titleDirty
  }

  get pendingCount(): number { return this.pending.length }
  get storedUpdateCount(): number { return this.storedUpdates }

  /** Runs `fn` once every doc update received so far is stored (at once when nothing is waiting). */
  afterStored(fn: () => void): void {
    if (this.pending.length > 0 && !this.ctx.deleted()) this.pendingAfter.push(fn)
    else if (this.writing) this.inflightAfter.push(fn)
    else fn()
  }

  private scheduleFlush(): void {
    if (this.ctx.opts.flushDelayMs <= 0) {
      // one write per turn of the event loop: messages read together are committed together
      if (!this.flushDue) { this.flushDue = true; this.flushSoon() }
      return
    }
    if (!this.flushTimer) this.flushTimer = setTimeout(() => { this.flushTimer = null; void this.flush() }, this.ctx.opts.flushDelayMs)
  }

  /** the flush flushSoon promised, unless one happened meanwhile */
  flushIfDue(): void {
    if (this.flushDue) void this.flush()
  }

  private clearFlushTimer(): void {
    this.flushDue = false
    if (!this.flushTimer) return
    clearTimeout(this.flushTimer)
    this.flushTimer = null
  }

  /**
   * Writes the pending updates (merged into one), then the workbook row, then compacts if needed.
   * Resolves when everything queued so far is written (or has failed and been logged).
   * `final` writes the meta row without throttling (unload, shutdown).
   */
  flush(final = false): Promise<void> {
    const { ctx } = this
    this.clearFlushTimer()
    if (this.pending.length > 0 && !ctx.deleted() && !this.writeQueued) {
      this.writeQueued = true
      // the batch is taken when the task starts: whatever arrives while the previous write is in flight joins it
      void ctx.enqueue(() => this.writeBatch())
    }
    const chain = ctx.enqueue(() => this.writeMeta(final))
    // a final flush (unload, shutdown) also waits for a compaction under way
    return final ? chain.then(() => this.compacted()) : chain
  }

  private async writeBatch(): Promise<void> {
    const { ctx } = this
    this.writeQueued = false
    if (ctx.deleted() || this.pending.length === 0) return
    const batch = this.pending, from = this.pendingFrom, since = this.pendingSince
    this.inflightAfter = this.pendingAfter
    this.pending = []
    this.pendingFrom = []
    this.pendingAfter = []
    this.writing = true
    const merged = batch.length === 1 ? batch[0]! : Y.mergeUpdates(batch)
    let stored = false
    try {
      this.lastSeq = await ctx.store.appendUpdate(ctx.id, merged)
      this.storedUpdates++
      stored = true
    } catch (e) {
      if (ctx.deleted()) return
      // kept for the next attempt; nothing is lost while the process lives
      this.pending.unshift(merged)
      this.pendingFrom.unshift(RELAYED)
      if (this.pending.length === 1) this.pendingSince = since
      if (!this.retryTimer && ctx.state() !== 'closed') {
        this.retryTimer = setTimeout(() => { this.retryTimer = null; void this.flush() }, 1_000)
      }
      throw e
    } finally {
      this.writing = false
      const after = this.inflightAfter
      this.inflightAfter = []
      // relayed even when the write failed: live editing goes on while the store is retried
      if (!ctx.deleted()) {
        this.relay(batch, from, merged)
        for (const fn of after) {
          try { fn() } catch (e) { ctx.log.error(`[collab] ${ctx.id}: error after a store write:`, e) }
        }
      }
    }
    if (stored) {
      this.compactSoon()
      ctx.emit('flushed', ctx.id, { seq: this.lastSeq, storedUpdates: this.storedUpdates, updates: batch.length, waitedMs: performance.now() - since })
      this.stored({ updates: batch, from: from.map(f => (f === RELAYED ? null : f)), merged, seq: this.lastSeq })
    }
  }

  /** One update to every started connection but its sender, and to the other instances. */
  private relayOne(update: Uint8Array, from: Connection | null): void {
    this.ctx.broadcast(encodeUpdateMessage(update), from)
    this.ctx.publish('update', update)
  }

  /**
   * A stored batch to the peers and the other instances. Updates of several senders go as one message,
   * the merged update the store took: a client then applies one update per write instead of one per
   * edit of each of the others (in a room of 50 people typing, 50 frames to each instead of 2,450 in
   * all). A sender gets its own edits back in it (Yjs skips what it holds) unless they are the whole
   * batch, or too big to echo: then it gets the others' updates one by one.
   */
  private relay(batch: Uint8Array[], from: From[], merged: Uint8Array): void {
    const { ctx } = this
    try {
      if (from.some(f => f === RELAYED)) {
        // after a failed write: what went out then is not sent again
        from.forEach((f, i) => { if (f !== RELAYED) this.relayOne(batch[i]!, f) })
        return
      }
      if (batch.length === 1) { this.relayOne(batch[0]!, from[0] as Connection | null); return }
      const own = new Map<Connection, { count: number; bytes: number }>()
      from.forEach((f, i) => {
        if (!(f instanceof Connection)) return
        const o = own.get(f) ?? { count: 0, bytes: 0 }
        o.count++
        o.bytes += batch[i]!.length
        own.set(f, o)
      })
      const whole = encodeUpdateMessage(merged)
      let singles: Uint8Array[] | null = null
      for (const c of ctx.conns) {
        if (!c.started) continue
        const mine = own.get(c)
        if (!mine || mine.bytes <= MAX_ECHO_BYTES) {
          if (mine?.count !== batch.length) ctx.send(c, whole)
          continue
        }
        singles ??= batch.map(u => encodeUpdateMessage(u))
        for (let i = 0; i < batch.length; i++) if (from[i] !== c) ctx.send(c, singles[i]!)
      }
      ctx.publish('update', merged)
    } catch (e) {
      ctx.log.error(`[collab] ${ctx.id}: error distributing updates:`, e)
    }
  }

  private async writeMeta(force: boolean): Promise<void> {
    const { ctx } = this
    if (ctx.deleted() || (!this.titleDirty && !this.touchDirty)) return
    const now = Date.now()
    if (!this.titleDirty && !force) {
      const wait = this.lastMetaWrite + ctx.opts.metaThrottleMs - now
      if (wait > 0) {
        if (!this.metaTimer) {
          this.metaTimer = setTimeout(() => { this.metaTimer = null; void ctx.enqueue(() => this.writeMeta(false)) }, wait)
        }
        return
      }
    }
    const patch: { title?: string; updatedAt: number } = { updatedAt: now }
    if (this.titleDirty) patch.title = getTitle(ctx.doc()).trim().slice(0, MAX_TITLE_LENGTH)
    this.titleDirty = false
    this.touchDirty = false
    this.lastMetaWrite = now
    if (this.metaTimer) { clearTimeout(this.metaTimer); this.metaTimer = null }
    await ctx.store.updateWorkbookMeta(ctx.id, patch)
  }

  /** a compaction under way (beside the write chain: the rows it replaces are fixed, appends go on meanwhile) */
  private compaction: Promise<void> | null = null

  /** resolves when no compaction is under way (one may follow another) */
  private async compacted(): Promise<void> {
    while (this.compaction) await this.compaction
  }

  private compactedOnce = false

  /**
   * Stored rows past which the room compacts. Rooms loaded together and edited at one pace (a team
   * opening the week's workbooks, the benchmark's fifty rooms) would all reach the threshold in the
   * same second; the first compaction of each is put off by up to half the threshold, by its id, and
   * the later ones keep that spread.
   */
  private compactAt(): number {
    const t = this.ctx.opts.compactThreshold
    if (this.compactedOnce || !Number.isFinite(t) || t < 4) return t
    let h = 0
    for (let i = 0; i < this.ctx.id.length; i++) h = (h * 31 + this.ctx.id.charCodeAt(i)) >>> 0
    return t + (h % Math.floor(t / 2))
  }

  private compactSoon(): void {
    const { ctx } = this
    if (this.compaction || ctx.deleted() || this.lastSeq === 0) return
    const at = this.compactAt()
    if (this.storedUpdates * 2 > at) this.folder.warm()
    if (this.storedUpdates <= at) return
    // rooms due together must not hold up every socket at once: compactions of all rooms go one at a
    // time, with the sockets served between (the merging itself is in a worker thread)
    let failed = false
    this.compaction = this.background(() => this.maybeCompact()).catch(e => {
      failed = true
      ctx.emit('store-error', ctx.id, e)
      ctx.log.error(`[collab] ${ctx.id}: compaction failed:`, e)
    }).finally(() => {
      this.compaction = null
      // what was stored meanwhile may be past the threshold again (after a failure: with the next write)
      if (!failed && ctx.state() !== 'closed') this.compactSoon()
    })
  }

  private async maybeCompact(): Promise<void> {
    const { ctx } = this
    if (ctx.deleted() || this.compacting || this.storedUpdates <= this.compactAt() || this.lastSeq === 0) return
    const bus = ctx.bus
    // one instance compacts a workbook at a time (the lock expires if that instance dies midway)
    if (bus && !(await bus.lock(`compact:${ctx.id}`, 30_000))) return
    this.compacting = true
    try {
      // The stored rows themselves are merged (never this doc's state): with several instances on one
      // store, rows up to lastSeq may hold another instance's edits this doc has not received yet.
      const upto = this.lastSeq
      const all = await ctx.store.loadUpdateRecords(ctx.id)
      const rows = all.filter(r => r.seq <= upto)
      const { replaced, full } = foldPlan(rows)
      const merged = await this.folder.fold(replaced.map(r => r.data), full)
      if (ctx.deleted()) return
      const removed = await ctx.store.compact(ctx.id, merged, replaced.map(r => r.seq))
      if (removed > 0) {
        const stored = all.reduce((n, u) => n + u.data.length, 0) - replaced.reduce((n, u) => n + u.data.length, 0) + merged.length
        this.docBytes = Math.min(this.docBytes, stored + this.pending.reduce((n, u) => n + u.length, 0))
      }
      this.storedUpdates = await ctx.store.countUpdates(ctx.id)
      this.compactedOnce = true
      ctx.emit('compacted', ctx.id, { removed, storedUpdates: this.storedUpdates })
    } finally {
      this.compacting = false
      if (bus) await bus.unlock(`compact:${ctx.id}`)
    }
  }

  /** Writes everything pending before the room leaves memory (someone may edit and leave meanwhile). */
  async onUnload(): Promise<void> {
    const { ctx } = this
    do { await this.flush(true) } while (ctx.state() === 'unloading' && ctx.idle() && this.pending.length > 0)
  }

  /** Workbook deleted: nothing more is written. */
  discard(): void {
    this.pending = []
    this.pendingFrom = []
    this.pendingAfter = []
    this.onClose()
  }

  onClose(): void {
    this.clearFlushTimer()
    for (const t of [this.retryTimer, this.metaTimer]) if (t) clearTimeout(t)
    this.retryTimer = this.metaTimer = null
    this.observe(null)
  }
}

/**
 * Which rows a compaction replaces, and how. The small updates after the first row (the last full
 * compaction, usually most of the workbook) are only merged, which costs what they weigh, not what the
 * workbook weighs; once they weigh half as much as that row, every row is folded through a doc (deleted
 * content goes, the row is as small as it gets).
 */
export function foldPlan<R extends { data: Uint8Array }>(rows: R[]): { replaced: R[]; full: boolean } {
  const tail = rows.slice(1)
  const tailBytes = tail.reduce((n, r) => n + r.data.length, 0)
  return rows.length > 2 && tailBytes * 2 < rows[0]!.data.length ? { replaced: tail, full: false } : { replaced: rows, full: true }
}
