/**
 * One open workbook: a small state machine that runs an ordered list of hooks.
 *
 *   loading ──▶ ready ⇄ resting        (the doc freed to an encoded state while quiet)
 *      │          │  ▲
 *      │          ▼  │ someone arrives
 *      │       unloading ──▶ closed    (nobody left: written, then freed)
 *      └───────────────────▶ closed    (the workbook is gone, or could not be loaded)
 *
 * The doc is fully loaded (every hook's onLoad) before any client message is processed or answered;
 * messages that arrive meanwhile wait in their connection's queue. The room owns the doc, the sockets
 * and the order of things; what happens to a change (checked, stored, relayed, fanned out, rested) is
 * the hooks' (`hooks/`). Until a room is gone from the manager, a new connection joins the very same
 * doc, so a client arriving during an unload sees the latest state.
 */
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import type WebSocket from 'ws'
import { refusalLog, refusalReason, type Refusal } from '../../src/core/access/access'
import type { Store } from '../store/types'
import type { Logger } from '../log'
import type { RoomBus } from './bus'
import { CLOSE, closeReason } from './close'
import { Connection } from './connection'
import { ProtocolError, RefusedUpdate, encodeAwarenessMessage, encodeSyncStep1, handleMessage, type MessageContext } from './protocol'
import { BUS_ORIGIN, WorkbookGoneError, type RoomEvents, type RoomOptions } from './options'
import { FanoutHook } from './hooks/fanout'
import { GuardHook } from './hooks/guard'
import { AuditHook } from './hooks/audit'
import { HistoryHook } from './hooks/history'
import { PersistenceHook } from './hooks/persistence'
import { PresenceHook } from './hooks/presence'
import { RestingHook, newRoomDoc, type ViewEntry } from './hooks/resting'
import type { ChangeSource, RoomContext, RoomHook, RoomState } from './hooks/types'

/** What a room needs from its manager. */
export interface RoomDeps {
  readonly store: Store
  readonly log: Logger
  readonly opts: RoomOptions
  readonly bus: RoomBus | null
  emit<K extends keyof RoomEvents>(event: K, ...args: RoomEvents[K]): void
  /** flush this room at the next turn of the event loop, with every other room due then */
  flushSoon(room: Room): void
  /** the room is gone (unloaded, failed to load, deleted) */
  forget(room: Room): void
  /** another instance deleted the workbook */
  droppedElsewhere(room: Room): void
  /** runs heavy work (compaction) after every other room's queued before it, one at a time */
  background(job: () => Promise<void>): Promise<void>
  /** merges stored rows into one update (`full`: through a doc), off this thread */
  fold(rows: Uint8Array[], full: boolean): Promise<Uint8Array>
  /** a fold is coming: get ready for it */
  warmFold(): void
  /** the server is shutting down: no new unload timers */
  closing(): boolean
  forgetCompressed(buf: Uint8Array): void
  /** hooks beyond the built-in ones, run after them in order */
  extraHooks: ((ctx: RoomContext) => RoomHook)[]
}

const CLOSE_FOR: Partial<Record<Refusal['code'], number>> = { 'too-large': CLOSE.tooLarge }

export class Room {
  /** presence has no doc of its own to speak of: a small one gives it a client id */
  readonly awareness = new Awareness(new Y.Doc())
  readonly conns = new Set<Connection>()
  /** in-process users of the doc (API calls) that keep it loaded */
  holds = 0
  state: RoomState = 'loading'
  deleted = false
  readonly ready: Promise<void>
  private liveDoc: Y.Doc | null = newRoomDoc()
  private writeChain: Promise<void> = Promise.resolve()
  private unloadTimer: NodeJS.Timeout | null = null
  private readonly ctx: RoomContext
  readonly persistence: PersistenceHook
  readonly guard: GuardHook
  readonly presence: PresenceHook
  readonly resting: RestingHook
  readonly fanout: FanoutHook
  readonly audit: AuditHook
  readonly history: HistoryHook
  /** in order: fan-out joins the bus before persistence reads the store; the size limit before the access check */
  private readonly hooks: RoomHook[]

  constructor(readonly id: string, private readonly deps: RoomDeps) {
    this.awareness.setLocalState(null)
    this.ctx = this.context()
    const ctx = this.ctx
    this.resting = new RestingHook(ctx, () => this.rest())
    this.persistence = new PersistenceHook(ctx, () => deps.flushSoon(this), batch => this.each('onStored', h => h.onStored?.(batch)), job => deps.background(job), { fold: (rows, full) => deps.fold(rows, full), warm: () => deps.warmFold() })
    this.guard = new GuardHook(ctx, () => this.resting.encodedState())
    this.presence = new PresenceHook(ctx, (conn, client) => this.guard.claimAnnounced(conn, client))
    this.fanout = new FanoutHook(ctx, {
      settled: () => this.persistence.settled(),
      dropped: () => deps.droppedElsewhere(this),
      claims: payload => this.guard.applyRemoteClaims(payload),
    })
    this.history = new HistoryHook(ctx, job => deps.background(job))
    this.audit = new AuditHook(ctx, entries => this.history.recorded(entries))
    // the audit trail writes after the changes it records are stored; history after the trail
    this.hooks = [this.fanout, this.persistence, this.guard, this.resting, this.presence, this.audit, this.history, ...deps.extraHooks.map(make => make(ctx))]
    this.ready = this.load()
    // failures are handled in load(); this keeps the promise from being reported as unhandled
    this.ready.catch(() => {})
  }

  private context(): RoomContext {
    const room = this, deps = this.deps
    return {
      id: this.id, opts: deps.opts, store: deps.store, log: deps.log, bus: deps.bus, awareness: this.awareness, conns: this.conns,
      doc: why => room.docFor(why ?? 'doc'),
      liveDoc: () => room.liveDoc,
      state: () => room.state,
      deleted: () => room.deleted,
      idle: () => room.idle(),
      send: (conn, message) => room.send(conn, message),
      broadcast: (message, except) => { for (const c of room.conns) if (c !== except && c.started) room.send(c, message) },
      closeConnection: (conn, code, reason) => room.closeConnection(conn, code, reason),
      emit: (event, ...args) => deps.emit(event, ...args),
      enqueue: task => room.enqueue(task),
      forgetCompressed: buf => deps.forgetCompressed(buf),
      publish: (kind, payload) => deps.bus?.publish(room.id, kind, payload),
      encodedState: () => room.resting.encodedState(),
      stateVector: () => room.resting.stateVector(),
      holdsAll: (update, thorough) => room.resting.holdsAll(update, thorough),
    }
  }

  /** Runs one hook method on every hook; a hook that throws is logged and does not stop the others. */
  private each(what: string, fn: (h: RoomHook) => void): void {
    for (const h of this.hooks) {
      try { fn(h) } catch (e) { this.deps.log.error(`[collab] ${this.id}: hook ${h.name} failed in ${what}:`, e) }
    }
  }

  // ── loading ─────────────────────────────────────────────────────────────────────────────────

  private async load(): Promise<void> {
    try {
      for (const h of this.hooks) {
        if (!h.onLoad) continue
        await h.onLoad()
        if (this.state !== 'loading') return
      }
    } catch (e) {
      if (this.state === 'loading') {
        const gone = e instanceof WorkbookGoneError
        if (!gone) this.deps.log.error(`[collab] loading workbook ${this.id} failed:`, e)
        this.state = 'closed'
        this.deps.forget(this)
        for (const c of this.conns) this.closeConnection(c, gone ? CLOSE.notFound : CLOSE.internalError, gone ? 'workbook not found' : 'workbook could not be loaded')
        this.destroyDoc()
      }
      throw e
    }
    if (this.state !== 'loading') return
    // the doc is listened to only now: loading itself is never broadcast nor written back
    this.liveDoc!.on('update', this.onDocUpdate)
    this.awareness.on('change', this.onAwarenessChange)
    this.state = 'ready'
    this.each('onReady', h => h.onReady?.())
    this.deps.emit('room-loaded', this.id)
    for (const c of this.conns) this.start(c)
    if (this.idle()) this.scheduleUnload()
  }

  // ── the doc ─────────────────────────────────────────────────────────────────────────────────

  /** The live doc, made again from the resting state when the room rests (an empty one once the room is closed). */
  get doc(): Y.Doc { return this.docFor('doc') }

  private docFor(why: string): Y.Doc {
    if (this.liveDoc) return this.liveDoc
    const doc = this.resting.thaw(why)
    this.liveDoc = doc
    if (this.state === 'closed') return doc
    doc.on('update', this.onDocUpdate)
    if (this.state === 'resting') this.state = 'ready'
    this.each('onWake', h => h.onWake?.(doc))
    return doc
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    const source: ChangeSource = origin === BUS_ORIGIN ? 'bus' : origin instanceof Connection ? origin : null
    this.each('onChange', h => h.onChange?.(update, source, origin))
  }

  private readonly onAwarenessChange = (change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void => {
    this.each('onAwareness', h => h.onAwareness?.(change, origin))
  }

  /** the whole state as one update (at rest: the encoded state itself) */
  encodedState(): Uint8Array { return this.resting.encodedState() }
  /** true while the room keeps its state encoded, with no live doc */
  get isResting(): boolean { return this.state === 'resting' }
  cachedView(state: Uint8Array): ViewEntry | null { return this.resting.cachedView(state) }
  keepView(state: Uint8Array, json: Buffer, complete: boolean): boolean { return this.resting.keepView(state, json, complete) }

  /**
   * Frees the doc when it has been quiet long enough and no hook has work in flight; otherwise tries
   * again later. Returns true when the room rests now. `now`: without waiting for the quiet period.
   */
  rest(now = false): boolean {
    if (this.state === 'resting') return true
    const doc = this.liveDoc
    if (this.state !== 'ready' || !doc) return false
    let busy = this.holds > 0
    for (const h of this.hooks) if (!busy && h.onIdle && !h.onIdle()) busy = true
    if (!this.resting.mayRest(doc, busy, now)) return false
    const bytes = this.resting.freeze(doc)
    this.liveDoc = null
    doc.off('update', this.onDocUpdate)
    this.state = 'resting'
    this.each('onRest', h => h.onRest?.())
    doc.destroy()
    this.deps.emit('room-resting', this.id, { bytes })
    return true
  }

  // ── connections ─────────────────────────────────────────────────────────────────────────────

  addConnection(conn: Connection): void {
    this.cancelUnload()
    if (this.deleted || this.state === 'closed') {
      this.closeConnection(conn, CLOSE.notFound, 'workbook not found')
      return
    }
    this.conns.add(conn)
    // 'unloading' is fine: unload() sees the connection after its flush and keeps the room
    if (this.state !== 'loading') this.start(conn)
  }

  private start(conn: Connection): void {
    if (conn.closed || conn.started) return
    conn.started = true
    this.send(conn, encodeSyncStep1(this.liveDoc ?? this.resting.stateVector()))
    if (this.awareness.getStates().size > 0) this.send(conn, encodeAwarenessMessage(this.awareness))
    this.each('onConnect', h => h.onConnect?.(conn))
    for (const m of conn.takeQueue()) {
      if (conn.closed) break
      this.process(conn, m)
    }
  }

  receive(conn: Connection, data: WebSocket.RawData, isBinary: boolean): void {
    if (conn.closed) return
    try {
      const a = conn.admit(data, isBinary, this.deps.opts)
      if (!a.ok) {
        if (a.warn) this.deps.log.warn(`[collab] ${this.id}: ${a.warn}`)
        this.closeConnection(conn, a.code, a.reason)
      } else if (!a.queued) this.process(conn, a.message)
    } catch (e) {
      this.deps.log.error(`[collab] ${this.id}: unexpected error receiving a message:`, e)
      this.closeConnection(conn, CLOSE.internalError, 'internal error')
    }
  }

  /**
   * What handleMessage needs for messages of `conn`, made once per connection: made per message, its
   * closures were a tenth of the server's time in the fan-out benchmark.
   */
  private contextFor(conn: Connection): MessageContext {
    return conn.context ??= {
      doc: () => this.docFor('doc'), awareness: this.awareness, origin: conn, readOnly: conn.readOnly,
      authorize: (update, decoded) => {
        for (const h of this.hooks) {
          const r = h.authorize?.({ conn, update, decoded })
          if (r) this.refuse(conn, r)
        }
      },
      fullState: () => this.resting.encodedState(),
      diffFor: sv => this.resting.diffFor(sv),
      holds: (u, syncType) => this.resting.holdsAll(u, syncType === 1),
      filterAwareness: u => this.presence.filter(conn, u),
    }
  }

  private refuse(conn: Connection, r: Refusal): never {
    const who = conn.who
    this.each('onRefused', h => h.onRefused?.(conn, r))
    this.deps.log.info(`[collab] ${this.id}: refused a change by ${who.role} ${JSON.stringify(who.name)}: ${refusalLog(r)}`)
    throw new RefusedUpdate(CLOSE_FOR[r.code] ?? CLOSE.refused, refusalReason(r))
  }

  private process(conn: Connection, message: Uint8Array): void {
    let failed = true
    try {
      const { reply, syncType } = handleMessage(message, this.contextFor(conn))
      failed = false
      // a SyncStep2 reply carries the doc's state: it leaves only once all of that is stored
      if (reply) {
        if (syncType === 0) this.persistence.afterStored(() => this.send(conn, reply))
        else this.send(conn, reply)
      }
    } catch (e) {
      if (e instanceof RefusedUpdate) {
        this.closeConnection(conn, e.closeCode, closeReason(e.message))
      } else if (e instanceof ProtocolError) {
        this.deps.log.warn(`[collab] ${this.id}: closing a connection after a bad message (${e.code}): ${e.message}`)
        this.closeConnection(conn, CLOSE.protocolError, e.code)
      } else {
        this.deps.log.error(`[collab] ${this.id}: error handling a message:`, e)
        this.closeConnection(conn, CLOSE.internalError, 'internal error')
      }
    } finally {
      this.each('afterMessage', h => h.afterMessage?.(failed))
    }
  }

  removeConnection(conn: Connection): void {
    conn.closed = true
    conn.queue = []
    if (!this.conns.delete(conn)) return
    this.each('onDisconnect', h => h.onDisconnect?.(conn))
    if (this.idle() && (this.state === 'ready' || this.state === 'resting')) this.scheduleUnload()
  }

  send(conn: Connection, message: Uint8Array): void {
    conn.send(message, this.deps.opts.maxBufferedBytes, (code, reason) => {
      if (reason === 'too slow') this.deps.log.warn(`[collab] ${this.id}: closing a connection that does not keep up`)
      this.closeConnection(conn, code, reason)
    })
  }

  closeConnection(conn: Connection, code: number, reason: string): void {
    if (!conn.closed) this.deps.emit('connection-closed', this.id, { code, reason })
    conn.shut(code, reason)
    this.removeConnection(conn)
  }

  closeAll(code: number, reason: string): void {
    for (const c of Array.from(this.conns)) this.closeConnection(c, code, reason)
  }

  // ── store ───────────────────────────────────────────────────────────────────────────────────

  /** Runs store work one task at a time, in order; a failing task never breaks the chain. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    this.writeChain = this.writeChain.then(async () => {
      try {
        await task()
      } catch (e) {
        this.deps.emit('store-error', this.id, e)
        this.deps.log.error(`[collab] ${this.id}: store write failed:`, e)
      }
    })
    return this.writeChain
  }

  /** Writes what is pending; resolves when everything queued so far is written (see PersistenceHook.flush). */
  flush(final = false): Promise<void> { return this.persistence.flush(final) }
  flushIfDue(): void { this.persistence.flushIfDue() }
  /** for tests and diagnostics */
  get storedUpdateCount(): number { return this.persistence.storedUpdateCount }
  resyncFromStore(): Promise<void> { return this.fanout.resync() }

  // ── unloading ───────────────────────────────────────────────────────────────────────────────

  private idle(): boolean { return this.conns.size === 0 && this.holds === 0 }

  scheduleUnload(): void {
    this.cancelUnload()
    if (this.deps.closing()) return
    this.unloadTimer = setTimeout(() => { this.unloadTimer = null; void this.unload() }, this.deps.opts.unloadDelayMs)
    this.unloadTimer.unref()
  }

  cancelUnload(): void {
    if (this.unloadTimer) { clearTimeout(this.unloadTimer); this.unloadTimer = null }
  }

  async unload(): Promise<void> {
    if ((this.state !== 'ready' && this.state !== 'resting') || !this.idle()) return
    const was = this.state
    this.state = 'unloading'
    this.deps.emit('room-unloading', this.id)
    for (const h of this.hooks) {
      if (!h.onUnload) continue
      try { await h.onUnload() } catch (e) { this.deps.log.error(`[collab] ${this.id}: ${h.name} before unload failed:`, e) }
    }
    if (this.state !== 'unloading') return
    if (!this.idle() || this.persistence.pendingCount > 0) {
      // someone came meanwhile: the room stays (a wake meanwhile made the doc again)
      this.state = was === 'resting' && !this.liveDoc ? 'resting' : 'ready'
      if (this.idle()) this.scheduleUnload()
      this.resting.schedule()
      return
    }
    this.state = 'closed'
    this.deps.forget(this)
    this.destroyDoc()
    this.deps.emit('room-unloaded', this.id)
  }

  /** Workbook deleted: stop writing, wait for the write in progress. */
  async drop(): Promise<void> {
    this.deleted = true
    this.persistence.discard()
    this.cancelUnload()
    await this.writeChain
  }

  destroyDoc(): void {
    this.state = 'closed'
    this.cancelUnload()
    this.each('onClose', h => h.onClose?.())
    const doc = this.liveDoc
    if (doc) {
      doc.off('update', this.onDocUpdate)
      doc.destroy()
    }
    // a closed room can outlive this a while (its sockets' close handshakes hold it): not its content
    this.liveDoc = null
    this.awareness.off('change', this.onAwarenessChange)
    this.awareness.destroy()
    this.awareness.doc.destroy()
  }
}
