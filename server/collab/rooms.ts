/**
 * Document lifecycle: one Room per open workbook.
 *
 *  - The doc is fully loaded from the store before any client message is processed or answered;
 *    messages that arrive meanwhile are queued per connection.
 *  - Every doc update is queued for the store and written at once (group commit: while one write is
 *    in flight, the updates that arrive meanwhile are merged and written together next). An update is
 *    relayed to the other connections only after it is stored, and a new client's initial state
 *    (SyncStep2) is sent only after everything in it is stored: whatever reached another client
 *    survives a crash of this process. Store writes run one at a time in order (the write chain).
 *    A batch from several senders is relayed as one message (see relayStored), and the rooms due in
 *    one turn of the event loop write together (the SQLite store commits them as one transaction).
 *  - Changes that only set or clear cells are checked against the access rules on the doc as it
 *    stands (quickCellCheck); any other change is tried on a mirror doc first (authorizeUpdate).
 *    If the store fails, updates are relayed anyway (live editing goes on) and retried every second.
 *  - When a workbook has more than `compactThreshold` stored updates they are replaced by one.
 *  - The meta title is mirrored into the workbooks row; updated_at is bumped (throttled).
 *  - A room is unloaded `unloadDelayMs` after its last connection left, after its writes are flushed.
 *    Until it is gone from the map, a new connection joins the very same in-memory doc, so a client
 *    arriving during the unload sees the latest state.
 *  - A room whose doc has not changed for `restAfterMs` rests: it keeps its state as one encoded update
 *    (about a tenth of a live Y.Doc's heap) and frees the doc. At rest it still answers sync requests,
 *    relays presence and drops repeats of what it holds; the first real change makes the doc again.
 */
import { EventEmitter } from 'node:events'
import * as Y from 'yjs'
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'
import WebSocket from 'ws'
import { getTitle, metaOf } from '../../src/core/workbook/schema'
import { forgetCompressed } from '../http/encoding'
import type { Store } from '../store/types'
import type { Logger } from '../log'
import {
  ProtocolError, RefusedUpdate, decodeAwarenessUpdate, encodeAwarenessEntries, encodeAwarenessMessage, encodeSyncStep1,
  encodeUpdateMessage, handleMessage, type DecodedUpdate, type MessageContext,
} from './protocol'
import { checkChange, defineRoots, quickCellCheck, refusalLog, refusalReason, type Principal, type Refusal } from '../../src/core/access/access'
import type { BusKind, RoomBus } from './bus'

export interface RoomOptions {
  /** ms after the last connection leaves before the room is freed (default 30 000) */
  unloadDelayMs: number
  /** extra ms to gather doc updates before writing them (and relaying them); 0 writes at once (default 0) */
  flushDelayMs: number
  /** compact when a workbook has more stored updates than this (default 200) */
  compactThreshold: number
  /** minimum ms between updated_at bumps (default 2 000); title changes are written with the next flush */
  metaThrottleMs: number
  /** ping every connection this often; one that did not answer the previous ping is closed (default 30 000) */
  pingIntervalMs: number
  /** a connection whose unsent data exceeds this is closed as too slow (default 64 MiB) */
  maxBufferedBytes: number
  /** with a bus: how often a room publishes its state vector so that instances notice missed edits (default 5 000) */
  busStateIntervalMs: number
  /** messages a connection may send while its room loads (default 256) */
  maxQueuedMessages: number
  /** bytes a connection may send while its room loads (default 8 MiB) */
  maxQueuedBytes: number
  /** messages per second a connection may send on average (default 100) … */
  messagesPerSecond: number
  /** … and at once (default 400) */
  messageBurst: number
  /** a document may not grow past this many bytes of updates (default 100 MiB) */
  maxDocBytes: number
  /** a larger message closes its socket with 4413 (default 10 MiB; the socket layer cuts off at twice this) */
  maxMessageBytes: number
  /** a loaded room whose doc did not change for this long rests (default 60 000; 0: never) */
  restAfterMs: number
}

export const DEFAULT_ROOM_OPTIONS: RoomOptions = {
  unloadDelayMs: 30_000,
  flushDelayMs: 0,
  compactThreshold: 200,
  metaThrottleMs: 2_000,
  pingIntervalMs: 30_000,
  maxBufferedBytes: 64 * 1024 * 1024,
  busStateIntervalMs: 5_000,
  maxQueuedMessages: 256,
  maxQueuedBytes: 8 * 1024 * 1024,
  messagesPerSecond: 100,
  messageBurst: 400,
  maxDocBytes: 100 * 1024 * 1024,
  maxMessageBytes: 10 * 1024 * 1024,
  restAfterMs: 60_000,
}

export { CLOSE, closeReason } from './close'
import { CLOSE, closeReason } from './close'

export const MAX_TITLE_LENGTH = 200

/** client ids one connection may announce presence for */
export const MAX_AWARENESS_CLIENTS = 4

export interface RoomEvents {
  'room-loaded': [id: string]
  'room-unloading': [id: string]
  'room-unloaded': [id: string]
  'room-dropped': [id: string]
  /** the room keeps its state encoded and freed its doc; `bytes`: the encoded state's size */
  'room-resting': [id: string, info: { bytes: number }]
  /** the room made its doc again; `ms`: how long that took */
  'room-woke': [id: string, info: { ms: number; why: string }]
  /** `updates` doc updates written as one row; `waitedMs`: from the oldest one's arrival to its commit */
  flushed: [id: string, info: { seq: number; storedUpdates: number; updates: number; waitedMs: number }]
  compacted: [id: string, info: { removed: number; storedUpdates: number }]
  'store-error': [id: string, error: unknown]
  'connection-opened': [id: string, conn: Connection]
  'connection-closed': [id: string, info: { code: number; reason: string }]
  /** a view of the workbook's current version was kept for the pages that open it; `complete`: with its first screen */
  'view-kept': [id: string, complete: boolean]
}

export class WorkbookGoneError extends Error {
  constructor(id: string) { super(`workbook ${id} does not exist`); this.name = 'WorkbookGoneError' }
}

/** origin of server-side changes (API rename etc.) */
export const SERVER_ORIGIN = 'server'

/** origin of changes another instance made (through the bus) or the store holds: relayed, not stored again */
export const BUS_ORIGIN = 'bus'
/** a pending update put back after a failed write: relayed already */
const RELAYED = Symbol('relayed')
/** a sender's own edits up to this size come back to it in a merged relay; bigger ones are not echoed */
const MAX_ECHO_BYTES = 16 * 1024

/** Who is on a connection: the share link it was opened with. */
export interface ConnectionIdentity extends Principal { linkId: string }

/** Anyone: for in-process use and tests that open rooms without links. */
export const LOCAL_OWNER: ConnectionIdentity = { role: 'owner', name: '', linkId: '' }

export class Connection {
  /** awareness client ids this connection has announced */
  readonly awarenessClients = new Set<number>()
  alive = true
  /** ready for messages: the room is loaded and the server's sync step 1 went out */
  started = false
  closed = false
  queue: Uint8Array[] = []
  queuedBytes = 0
  /** token bucket of the message rate limit */
  tokens: number
  lastRefill = performance.now()
  readonly readOnly: boolean
  /** the room's message context for this connection (see Room.contextFor) */
  context: MessageContext | null = null
  constructor(readonly ws: WebSocket, readonly room: Room, readonly who: ConnectionIdentity = LOCAL_OWNER, burst = 400) {
    this.readOnly = who.role === 'viewer'
    this.tokens = burst
  }
}

type RoomState = 'loading' | 'ready' | 'unloading' | 'closed'

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data))
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

function newRoomDoc(): Y.Doc {
  const d = new Y.Doc()
  defineRoots(d)
  return d
}

/** A resting room's state: the doc encoded, its state vector, and what it holds (for repeats), encoded too. */
interface RestingState {
  update: Uint8Array
  vector: Uint8Array
  /** `Y.encodeSnapshot`: a decoded delete set is an object per deleted range, as big as the state for a much-edited sheet */
  snapshot: Uint8Array
  /** the doc's client id, kept for the next doc: server-side edits go on under one id, not a new one per wake */
  clientID: number
}

export class Room {
  private liveDoc: Y.Doc | null = newRoomDoc()
  private resting: RestingState | null = null
  /** performance.now() of the doc's last change (or of its making) */
  private lastChange = performance.now()
  private restTimer: NodeJS.Timeout | null = null
  /** performance.now() of the last presence change of someone who may edit (a cursor moving) */
  private lastActivity = 0
  private warmTimer: NodeJS.Immediate | null = null
  /** what the live doc holds, until it changes (for telling repeats from changes) */
  private liveSnapshot: Y.Snapshot | null = null
  /** presence has no doc of its own to speak of: a small one gives it a client id */
  readonly awareness = new Awareness(new Y.Doc())
  readonly conns = new Set<Connection>()
  /** in-process users of the doc (API calls) that keep it loaded */
  holds = 0
  state: RoomState = 'loading'
  deleted = false
  readonly ready: Promise<void>

  private pending: Uint8Array[] = []
  /** where each pending update came from: its connection, null (the server, the API), RELAYED (put back after a failed write) */
  private pendingFrom: (Connection | null | typeof RELAYED)[] = []
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
  private unloadTimer: NodeJS.Timeout | null = null
  private writeChain: Promise<void> = Promise.resolve()
  private lastSeq = 0
  private storedUpdates = 0
  private titleDirty = false
  private touchDirty = false
  private lastMetaWrite = 0
  private compacting = false
  /**
   * The doc as it will be if the update being checked is applied: updates are tried here first and
   * checked against the access rules; a refused one never reaches `doc`. Made when first needed, and
   * again after a refusal (the refused update is in it).
   */
  private mirror: Y.Doc | null = null
  /** the mirror already holds the update `doc` is applying now */
  private mirrorAhead = false
  /** bytes of updates the doc is made of, as stored and received (an upper bound of its size) */
  private docBytes = 0
  /** which link first wrote with each client id (kept in the store) */
  private clientLinks = new Map<number, string>()
  /** the doc's whole state as an update, until the doc changes: first opens of a workbook share it */
  private fullStateCache: Uint8Array | null = null
  /** the workbook view (JSON) of the doc's current version, once made, with the encoded state it is of */
  private viewCache: { state: Uint8Array; json: Buffer; complete: boolean } | null = null
  /** what other instances published while this room was loading */
  private busQueue: [BusKind, Uint8Array][] = []

  constructor(readonly id: string, private readonly manager: RoomManager) {
    this.awareness.setLocalState(null)
    this.ready = this.load()
    // failures are handled in load(); this keeps the promise from being reported as unhandled
    this.ready.catch(() => {})
  }

  private get store(): Store { return this.manager.store }
  private get opts(): RoomOptions { return this.manager.opts }
  private get log(): Logger { return this.manager.log }

  // ── loading ─────────────────────────────────────────────────────────────────────────────────

  private async load(): Promise<void> {
    try {
      // listen before reading the store: what another instance stores meanwhile comes one way or the other
      if (this.manager.bus) await this.manager.bus.join(this.id, (kind, payload) => this.fromBus(kind, payload))
      const record = await this.store.getWorkbook(this.id)
      if (!record) throw new WorkbookGoneError(this.id)
      const updates = await this.store.loadUpdateRecords(this.id)
      this.clientLinks = await this.store.loadClientLinks(this.id)
      if (this.state !== 'loading') return
      this.doc.transact(() => {
        for (const u of updates) {
          try {
            Y.applyUpdate(this.doc, u.data)
          } catch (e) {
            throw new Error(`stored update seq ${u.seq} of workbook ${this.id} cannot be applied`, { cause: e })
          }
        }
      })
      this.storedUpdates = updates.length
      this.docBytes = updates.reduce((n, u) => n + u.data.length, 0)
      this.lastSeq = updates.length ? updates[updates.length - 1]!.seq : 0
    } catch (e) {
      if (this.state === 'loading') {
        const gone = e instanceof WorkbookGoneError
        if (!gone) this.log.error(`[collab] loading workbook ${this.id} failed:`, e)
        this.state = 'closed'
        this.manager.forget(this)
        for (const c of this.conns) this.closeConnection(c, gone ? CLOSE.notFound : CLOSE.internalError, gone ? 'workbook not found' : 'workbook could not be loaded')
        this.destroyDoc()
      }
      throw e
    }
    if (this.state !== 'loading') return
    // Listeners go on only now: loading itself is never broadcast nor written back.
    this.listen(this.doc)
    this.awareness.on('update', this.onAwarenessUpdate)
    this.awareness.on('change', this.onAwarenessChange)
    this.state = 'ready'
    this.lastChange = performance.now()
    this.scheduleRest()
    const bus = this.manager.bus
    if (bus) {
      // only a state that is stored: others compare it with theirs and re-read the store when behind
      this.busStateTimer = setInterval(() => { if (this.pending.length === 0 && !this.writing) bus.publish(this.id, 'state', this.stateVector()) }, this.opts.busStateIntervalMs)
      this.busStateTimer.unref()
    }
    const early = this.busQueue
    this.busQueue = []
    for (const [kind, payload] of early) this.fromBus(kind, payload)
    this.manager.emit('room-loaded', this.id)
    for (const c of this.conns) this.start(c)
    if (this.conns.size === 0 && this.holds === 0) this.scheduleUnload()
    if (this.storedUpdates > this.opts.compactThreshold) this.enqueue(() => this.maybeCompact())
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
    this.send(conn, encodeSyncStep1(this.resting ? this.resting.vector : this.doc))
    if (this.awareness.getStates().size > 0) this.send(conn, encodeAwarenessMessage(this.awareness))
    const queued = conn.queue
    conn.queue = []
    for (const m of queued) {
      if (conn.closed) break
      this.process(conn, m)
    }
  }

  receive(conn: Connection, data: WebSocket.RawData, isBinary: boolean): void {
    if (conn.closed) return
    try {
      if (!isBinary) {
        this.closeConnection(conn, CLOSE.unsupportedData, 'binary messages only')
        return
      }
      const message = toBytes(data)
      if (message.length > this.opts.maxMessageBytes) {
        // 44xx: the stock client does not reconnect to send the same message again
        this.log.warn(`[collab] ${this.id}: closing a connection that sent ${message.length} bytes at once`)
        this.closeConnection(conn, CLOSE.tooLarge, 'message too large')
        return
      }
      if (!this.takeToken(conn)) {
        this.log.warn(`[collab] ${this.id}: closing a connection that sends too many messages`)
        this.closeConnection(conn, CLOSE.policy, 'rate limit')
        return
      }
      if (!conn.started) {
        if (conn.queue.length >= this.opts.maxQueuedMessages || conn.queuedBytes + message.length > this.opts.maxQueuedBytes) {
          this.closeConnection(conn, CLOSE.policy, 'too many messages')
          return
        }
        conn.queue.push(message)
        conn.queuedBytes += message.length
        return
      }
      this.process(conn, message)
    } catch (e) {
      this.log.error(`[collab] ${this.id}: unexpected error receiving a message:`, e)
      this.closeConnection(conn, CLOSE.internalError, 'internal error')
    }
  }

  private takeToken(conn: Connection): boolean {
    const now = performance.now()
    conn.tokens = Math.min(this.opts.messageBurst, conn.tokens + (now - conn.lastRefill) * this.opts.messagesPerSecond / 1000)
    conn.lastRefill = now
    if (conn.tokens < 1) return false
    conn.tokens -= 1
    return true
  }

  /** A change or presence another instance published: applied here and relayed to this instance's clients. */
  fromBus(kind: BusKind, payload: Uint8Array): void {
    if (this.state === 'loading') { if (kind !== 'state') this.busQueue.push([kind, payload]); return }
    if (this.state === 'closed' || this.deleted) return
    try {
      if (kind === 'update') { if (!this.holdsAll(payload)) Y.applyUpdate(this.doc, payload, BUS_ORIGIN) }
      else if (kind === 'awareness') applyAwarenessUpdate(this.awareness, payload, BUS_ORIGIN)
      else if (kind === 'dropped') this.manager.droppedElsewhere(this)
      else {
        // another instance holds edits this one never received: they are in the store
        const mine = Y.decodeStateVector(this.stateVector())
        for (const [client, clock] of Y.decodeStateVector(payload)) {
          if ((mine.get(client) ?? 0) < clock) { this.resyncSoon(); break }
        }
      }
    } catch (e) {
      this.log.warn(`[collab] ${this.id}: a message from another instance could not be applied: ${(e as Error).message}`)
    }
  }

  private resyncTimer: NodeJS.Timeout | null = null
  private busStateTimer: NodeJS.Timeout | null = null

  /** A resync shortly (edits another instance has may still be on their way to the store). */
  private resyncSoon(): void {
    if (this.resyncTimer) return
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null
      this.resyncFromStore().catch(e => this.log.error(`[collab] ${this.id}: resync failed:`, e))
    }, 500)
    this.resyncTimer.unref()
  }

  /** After the bus was away: whatever other instances stored meanwhile, from the store. */
  async resyncFromStore(): Promise<void> {
    if (this.state !== 'ready' && this.state !== 'unloading') return
    const rows = (await this.store.loadUpdateRecords(this.id)).filter(r => !this.holdsAll(r.data))
    if ((this.state as RoomState) === 'closed' || rows.length === 0) return
    this.doc.transact(() => { for (const r of rows) Y.applyUpdate(this.doc, r.data) }, BUS_ORIGIN)
  }

  // ── resting ─────────────────────────────────────────────────────────────────────────────────

  /** The live doc, made again from the resting state when the room rests (an empty one once the room is closed). */
  get doc(): Y.Doc {
    return this.liveDoc ?? this.wake('doc')
  }

  /** the whole state as one update (at rest: the encoded state itself) */
  encodedState(): Uint8Array {
    return this.resting ? this.resting.update : (this.fullStateCache ??= Y.encodeStateAsUpdate(this.doc))
  }

  /** true while the room keeps its state encoded, with no live doc */
  get isResting(): boolean { return this.resting !== null }

  /**
   * The workbook view (core/workbook/view.ts, as JSON) of the doc's version whose encoded state is
   * `state` (an encodedState() of this room), when one was kept for it.
   */
  /** the view kept for `state` (a resting room's is of its resting state) */
  cachedView(state: Uint8Array): { json: Buffer; complete: boolean } | null {
    return this.viewCache && this.viewCache.state === state ? this.viewCache : null
  }

  /**
   * Keeps the view made from `state`, while that is still the live doc's version (a resting room keeps
   * none); `complete`: with its first screen computed, which replaces one without. Returns whether it was kept.
   */
  keepView(state: Uint8Array, json: Buffer, complete: boolean): boolean {
    if (this.resting || state !== this.fullStateCache) return false
    if (this.viewCache?.state === state && this.viewCache.complete && !complete) return false
    if (this.viewCache && this.viewCache.json !== json) forgetCompressed(this.viewCache.json)
    this.viewCache = { state, json, complete }
    return true
  }

  private listen(doc: Y.Doc): void {
    doc.on('update', this.onDocUpdate)
    metaOf(doc).observe(this.onMetaChange)
  }

  private stateVector(): Uint8Array {
    return this.resting ? this.resting.vector : Y.encodeStateVector(this.doc)
  }

  /**
   * true when the room holds every change of `update` already. At rest always asked; a live doc is
   * asked for a step 2 (`thorough`: once a connection; it repeats every deletion the client knows of),
   * which would otherwise make the mirror just to find nothing new, not for every keystroke.
   */
  private holdsAll(update: Uint8Array, thorough = false): boolean {
    if (this.resting) return Y.snapshotContainsUpdate(Y.decodeSnapshot(this.resting.snapshot), update)
    if (!thorough || !this.liveDoc) return false
    this.liveSnapshot ??= Y.snapshot(this.liveDoc)
    return Y.snapshotContainsUpdate(this.liveSnapshot, update)
  }

  /** `wait`: ms from now (default: when the quiet period since the last change ends) */
  private scheduleRest(wait?: number): void {
    if (this.restTimer || this.opts.restAfterMs <= 0 || this.resting || this.state !== 'ready') return
    wait ??= Math.max(0, Math.max(this.lastChange, this.lastActivity) + this.opts.restAfterMs - performance.now())
    this.restTimer = setTimeout(() => { this.restTimer = null; this.rest() }, wait)
    this.restTimer.unref()
  }

  /**
   * Frees the doc when it has been quiet long enough and nothing is on its way to the store; otherwise
   * tries again later. Returns true when the room rests now. `now`: without waiting for the quiet
   * period (what is on its way to the store is still waited for).
   */
  rest(now = false): boolean {
    if (this.resting || !this.liveDoc || this.state !== 'ready') return this.resting !== null
    // quiet: no change, and nobody who may edit moving about (who is likely to change something soon)
    const quietFor = performance.now() - Math.max(this.lastChange, this.lastActivity)
    const doc = this.liveDoc
    // pending: changes waiting for ones this instance has not received (they arrive through the bus or a
    // resync) are in no event and no cached encoding: the doc keeps them until they apply
    const waiting = doc.store.pendingStructs !== null || doc.store.pendingDs !== null
    const busy = this.holds > 0 || this.pending.length > 0 || this.writing || this.writeQueued || this.compacting || this.titleDirty || waiting
    if (busy || (quietFor < this.opts.restAfterMs && !now)) {
      // busy (a write in flight or failing, an API call holding the doc): ask again a quiet period later
      this.scheduleRest(busy ? this.opts.restAfterMs : undefined)
      return false
    }
    // the view with its first screen stays when it is of this version and no larger than the state
    // (and 64 KiB): the next page shows a quiet workbook's values at once (what a manager opens to
    // review). A 10,000-row sheet's is 1.2 MB beside a 6.4 MB state.
    const view = this.viewCache
    const keptView = view && view.complete && this.fullStateCache !== null && view.state === this.fullStateCache &&
      view.json.length <= this.fullStateCache.length + 65_536 ? view : null
    this.resting = {
      update: this.fullStateCache ?? Y.encodeStateAsUpdate(doc),
      vector: Y.encodeStateVector(doc),
      snapshot: Y.encodeSnapshot(this.liveSnapshot ?? Y.snapshot(doc)),
      clientID: doc.clientID,
    }
    this.fullStateCache = null
    this.liveSnapshot = null
    // anything else made for pages that opened it goes: a resting room keeps little more than it must
    if (view && !keptView) forgetCompressed(view.json)
    this.viewCache = keptView
    forgetCompressed(this.resting.update)
    this.liveDoc = null
    doc.off('update', this.onDocUpdate)
    metaOf(doc).unobserve(this.onMetaChange)
    doc.destroy()
    this.mirror?.destroy()
    this.mirror = null
    this.manager.emit('room-resting', this.id, { bytes: this.resting.update.length })
    return true
  }

  /** Makes the live doc again from the resting state (synchronously: the caller needs it now). */
  private wake(why: string): Y.Doc {
    const t0 = performance.now()
    const doc = newRoomDoc()
    const resting = this.resting
    if (resting) {
      doc.clientID = resting.clientID
      Y.applyUpdate(doc, resting.update)
    }
    this.resting = null
    this.liveDoc = doc
    if (this.state !== 'closed') this.listen(doc)
    this.lastChange = performance.now()
    this.scheduleRest()
    if (resting) this.manager.emit('room-woke', this.id, { ms: performance.now() - t0, why })
    return doc
  }

  /**
   * Tries a received update on the mirror and checks it against the access rules as they stand in
   * `doc`. Throws RefusedUpdate (nothing applied anywhere that matters) when it may not be made.
   */
  private authorizeUpdate(conn: Connection, update: Uint8Array, decoded: DecodedUpdate): void {
    if (this.docBytes + update.length > this.opts.maxDocBytes) {
      throw new RefusedUpdate(CLOSE.tooLarge, refusalReason({ code: 'too-large' }))
    }
    const who = conn.who
    // changes under a client id another link has written with are someone else's (a forged continuation
    // of their edits would make the server drop theirs as duplicates)
    // waking: the mirror is made from the same encoded state, not encoded again
    const restingUpdate = this.resting?.update ?? null
    if (restingUpdate) this.wake('a change')
    const claims = this.clientClaims(conn, decoded)
    // cells set or cleared (nearly every change) are checked on the doc as it stands; a mirror there
    // is, is kept in step as the doc changes
    const quick = quickCellCheck(this.doc, update, decoded, who)
    if (quick !== undefined) {
      const refusal: Refusal | null = quick ?? (claims.foreign ? { code: 'foreign-client' } : null)
      if (refusal) this.refuse(who, refusal)
      if (claims.fresh.length) this.claimClients(conn, claims.fresh)
      return
    }
    if (!this.mirror) {
      this.mirror = new Y.Doc({ gc: this.doc.gc })
      defineRoots(this.mirror)
      Y.applyUpdate(this.mirror, restingUpdate ?? Y.encodeStateAsUpdate(this.doc))
    }
    const mirror = this.mirror
    const hadPending = mirror.store.pendingStructs !== null || mirror.store.pendingDs !== null
    let refusal: Refusal | null = null
    try {
      mirror.transact(tr => {
        Y.applyUpdate(mirror, update)
        try {
          refusal = checkChange(this.doc, mirror, tr, who)
        } catch (e) {
          // a change the rules cannot even read is not one the app makes
          this.log.warn(`[collab] ${this.id}: a change could not be checked: ${(e as Error).message}`)
          refusal = { code: 'malformed', detail: (e as Error).message }
        }
      })
      // held back until edits nobody sent arrive, it would be applied later unchecked, in someone else's change
      // (a doc already waiting for another instance's edits, which the bus brings, is not this sender's doing)
      if (!refusal && !hadPending && (mirror.store.pendingStructs !== null || mirror.store.pendingDs !== null)) {
        refusal = { code: 'unknown-base' }
      }
      if (!refusal && claims.foreign) refusal = { code: 'foreign-client' }
    } catch (e) {
      this.mirror = null
      mirror.destroy()
      throw e
    }
    if (refusal) {
      this.mirror = null
      mirror.destroy()
      this.refuse(who, refusal)
    }
    this.mirrorAhead = true
    if (claims.fresh.length) this.claimClients(conn, claims.fresh)
  }

  private refuse(who: Principal, r: Refusal): never {
    this.log.info(`[collab] ${this.id}: refused a change by ${who.role} ${JSON.stringify(who.name)}: ${refusalLog(r)}`)
    throw new RefusedUpdate(CLOSE.refused, refusalReason(r))
  }

  /**
   * The client ids of the new structs in `update` (ones the doc does not have yet): `foreign` when one
   * was written with by another link; `fresh` ids no link has claimed.
   */
  private clientClaims(conn: Connection, decoded: DecodedUpdate): { foreign: boolean; fresh: number[] } {
    const linkId = conn.who.linkId
    if (!linkId) return { foreign: false, fresh: [] }
    const store = this.doc.store
    const fresh = new Set<number>()
    let foreign = false
    for (const s of decoded.structs) {
      const client = s.id.client
      if (s.id.clock + s.length <= Y.getState(store, client)) continue
      const owner = this.clientLinks.get(client)
      if (owner === undefined) fresh.add(client)
      else if (owner !== linkId) foreign = true
    }
    return { foreign, fresh: [...fresh] }
  }

  private claimClients(conn: Connection, clients: number[]): void {
    const linkId = conn.who.linkId
    for (const c of clients) this.clientLinks.set(c, linkId)
    void this.enqueue(() => this.store.saveClientLinks(this.id, clients.map(c => [c, linkId] as [number, string])))
  }

  /**
   * Awareness as the server knows the person: the name (and role) of their link, whatever the state
   * claims; entries for client ids another connection announced are dropped.
   */
  private filterAwareness(conn: Connection, update: Uint8Array): Uint8Array | null {
    const entries = decodeAwarenessUpdate(update)
    const mine = new Set(conn.awarenessClients)
    const kept = entries.filter(e => {
      for (const other of this.conns) if (other !== conn && other.awarenessClients.has(e.clientID)) return false
      // a person is one or two tabs: a connection speaks for a few client ids, not thousands
      if (mine.has(e.clientID)) return true
      if (mine.size >= MAX_AWARENESS_CLIENTS) return false
      mine.add(e.clientID)
      return true
    })
    for (const e of kept) {
      if (e.state === null) continue
      if (typeof e.state !== 'object' || Array.isArray(e.state)) { e.state = {}; continue }
      const st = e.state as Record<string, unknown>
      const claimed = st.user && typeof st.user === 'object' ? st.user as Record<string, unknown> : {}
      const color = typeof claimed.color === 'string' && /^#[0-9a-f]{6}$/i.test(claimed.color) ? claimed.color : '#5f6368'
      // in-process owners without a link keep the name they chose
      const name = conn.who.linkId ? conn.who.name : (typeof claimed.name === 'string' ? claimed.name.slice(0, 80) : '')
      // only what presence uses, and small: the rest is dropped
      const cursor = st.cursor !== undefined && JSON.stringify(st.cursor).length <= 512 ? st.cursor : null
      e.state = { user: { name, color, role: conn.who.role }, cursor }
    }
    return kept.length ? encodeAwarenessEntries(kept) : null
  }

  /**
   * What handleMessage needs for messages of `conn`, made once per connection: made per message, its
   * closures were a tenth of the server's time in the fan-out benchmark (each also gets its name set,
   * as tsx keeps function names).
   */
  private contextFor(conn: Connection): MessageContext {
    return conn.context ??= {
      doc: () => this.doc, awareness: this.awareness, origin: conn, readOnly: conn.readOnly,
      authorize: (u, decoded) => this.authorizeUpdate(conn, u, decoded),
      fullState: () => this.encodedState(),
      diffFor: sv => this.resting ? Y.diffUpdate(this.resting.update, sv) : null,
      holds: (u, syncType) => this.holdsAll(u, syncType === 1),
      filterAwareness: u => this.filterAwareness(conn, u),
    }
  }

  private process(conn: Connection, message: Uint8Array): void {
    try {
      const { reply, syncType } = handleMessage(message, this.contextFor(conn))
      // a SyncStep2 reply carries the doc's state: it leaves only once all of that is stored
      if (reply) {
        if (syncType === 0) this.afterStored(() => this.send(conn, reply))
        else this.send(conn, reply)
      }
    } catch (e) {
      if (this.mirrorAhead && this.mirror) { this.mirror.destroy(); this.mirror = null }
      if (e instanceof RefusedUpdate) {
        this.closeConnection(conn, e.closeCode, closeReason(e.message))
      } else if (e instanceof ProtocolError) {
        this.log.warn(`[collab] ${this.id}: closing a connection after a bad message (${e.code}): ${e.message}`)
        this.closeConnection(conn, CLOSE.protocolError, e.code)
      } else {
        this.log.error(`[collab] ${this.id}: error handling a message:`, e)
        this.closeConnection(conn, CLOSE.internalError, 'internal error')
      }
    } finally {
      this.mirrorAhead = false
    }
  }

  removeConnection(conn: Connection): void {
    conn.closed = true
    conn.queue = []
    if (!this.conns.delete(conn)) return
    try {
      if (conn.awarenessClients.size > 0 && this.state !== 'closed') {
        removeAwarenessStates(this.awareness, Array.from(conn.awarenessClients), null)
      }
    } catch (e) {
      this.log.error(`[collab] ${this.id}: removing awareness states failed:`, e)
    }
    if (this.conns.size === 0 && this.holds === 0 && this.state === 'ready') this.scheduleUnload()
  }

  send(conn: Connection, message: Uint8Array): void {
    const ws = conn.ws
    if (conn.closed || ws.readyState !== WebSocket.OPEN) return
    if (ws.bufferedAmount > this.opts.maxBufferedBytes) {
      this.log.warn(`[collab] ${this.id}: closing a connection that does not keep up`)
      this.closeConnection(conn, CLOSE.policy, 'too slow')
      return
    }
    try {
      ws.send(message, err => { if (err) this.closeConnection(conn, CLOSE.internalError, 'send failed') })
    } catch (e) {
      this.log.warn(`[collab] ${this.id}: send failed:`, e)
      this.closeConnection(conn, CLOSE.internalError, 'send failed')
    }
  }

  closeConnection(conn: Connection, code: number, reason: string): void {
    if (!conn.closed) this.manager.emit('connection-closed', this.id, { code, reason })
    conn.closed = true
    conn.queue = []
    const ws = conn.ws
    try {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        ws.close(code, reason)
        // a peer that never answers the close handshake is cut off
        setTimeout(() => { if (ws.readyState !== WebSocket.CLOSED) ws.terminate() }, 2_000).unref()
      }
    } catch {
      ws.terminate()
    }
    this.removeConnection(conn)
  }

  // ── doc → peers and store ───────────────────────────────────────────────────────────────────

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    this.docBytes += update.length
    this.fullStateCache = null
    this.viewCache = null
    this.liveSnapshot = null
    this.lastChange = performance.now()
    if (this.mirror && !this.mirrorAhead) {
      try { Y.applyUpdate(this.mirror, update) } catch { this.mirror.destroy(); this.mirror = null }
    }
    try {
      if (origin === BUS_ORIGIN) {
        // stored already (by the instance that took it, or read from the store): relay only
        const message = encodeUpdateMessage(update)
        for (const c of this.conns) if (c.started) this.send(c, message)
        return
      }
      const from = origin instanceof Connection ? origin : null
      if (this.deleted) { this.relayOne(update, from); return }
      if (this.pending.length === 0) this.pendingSince = performance.now()
      this.pending.push(update)
      this.pendingFrom.push(from)
      this.touchDirty = true
      this.scheduleFlush()
    } catch (e) {
      this.log.error(`[collab] ${this.id}: error distributing an update:`, e)
    }
  }

  /** One update to every started connection but its sender, and to the other instances. */
  private relayOne(update: Uint8Array, from: Connection | null): void {
    const message = encodeUpdateMessage(update)
    for (const c of this.conns) if (c !== from && c.started) this.send(c, message)
    this.manager.bus?.publish(this.id, 'update', update)
  }

  /**
   * A stored batch to the peers and the other instances. Updates of several senders go as one message,
   * the merged update the store took: a client then applies one update per write instead of one per
   * edit of each of the others (in a room of 50 people typing, 50 frames to each instead of 2,450 in
   * all). A sender gets its own edits back in it (Yjs skips what it holds) unless they are the whole
   * batch, or too big to echo: then it gets the others' updates one by one.
   */
  private relayStored(batch: Uint8Array[], from: (Connection | null | typeof RELAYED)[], merged: Uint8Array): void {
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
      for (const c of this.conns) {
        if (!c.started) continue
        const mine = own.get(c)
        if (!mine || mine.bytes <= MAX_ECHO_BYTES) {
          if (mine?.count !== batch.length) this.send(c, whole)
          continue
        }
        singles ??= batch.map(u => encodeUpdateMessage(u))
        for (let i = 0; i < batch.length; i++) if (from[i] !== c) this.send(c, singles[i]!)
      }
      this.manager.bus?.publish(this.id, 'update', merged)
    } catch (e) {
      this.log.error(`[collab] ${this.id}: error distributing updates:`, e)
    }
  }

  /** Runs `fn` once every doc update received so far is stored (at once when nothing is waiting). */
  private afterStored(fn: () => void): void {
    if (this.pending.length > 0 && !this.deleted) this.pendingAfter.push(fn)
    else if (this.writing) this.inflightAfter.push(fn)
    else fn()
  }

  private runAll(fns: (() => void)[]): void {
    for (const fn of fns) {
      try { fn() } catch (e) { this.log.error(`[collab] ${this.id}: error after a store write:`, e) }
    }
  }

  private readonly onMetaChange = (event: Y.YMapEvent<unknown>): void => {
    if (event.keysChanged.has('title')) this.titleDirty = true
  }

  /**
   * Someone who may edit moved their cursor (a state of theirs that changed, not the periodic renewal
   * of an idle client): the room stays awake, and a resting one wakes now, after this message is relayed, so that
   * their first change does not wait for the doc to be made.
   */
  private readonly onAwarenessChange = ({ updated }: { updated: number[] }, origin: unknown): void => {
    // arriving (added) is not moving about: opening a workbook is often only reading it
    if (!(origin instanceof Connection) || origin.readOnly || updated.length === 0) return
    this.lastActivity = performance.now()
    if (this.resting && !this.warmTimer) {
      this.warmTimer = setImmediate(() => {
        this.warmTimer = null
        if (this.resting && this.state === 'ready') this.wake('presence')
      })
    }
  }

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    try {
      if (origin instanceof Connection && this.conns.has(origin)) {
        for (const id of added) origin.awarenessClients.add(id)
        for (const id of updated) origin.awarenessClients.add(id)
        for (const id of removed) origin.awarenessClients.delete(id)
      }
      const changed = added.concat(updated, removed)
      if (changed.length === 0) return
      // to everyone, the sender too: the stock client's idle watchdog relies on its own renewals echoing
      const message = encodeAwarenessMessage(this.awareness, changed)
      for (const c of this.conns) if (c.started) this.send(c, message)
      if (origin !== BUS_ORIGIN) this.manager.bus?.publish(this.id, 'awareness', encodeAwarenessUpdate(this.awareness, changed))
    } catch (e) {
      this.log.error(`[collab] ${this.id}: error distributing awareness:`, e)
    }
  }

  private scheduleFlush(): void {
    if (this.opts.flushDelayMs <= 0) {
      // one write per turn of the event loop: messages read together are committed together, those of
      // every room in one go (see RoomManager.flushSoon)
      if (!this.flushDue) { this.flushDue = true; this.manager.flushSoon(this) }
      return
    }
    if (!this.flushTimer) this.flushTimer = setTimeout(() => { this.flushTimer = null; void this.flush() }, this.opts.flushDelayMs)
  }

  /** Runs store work one task at a time, in order; a failing task never breaks the chain. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    this.writeChain = this.writeChain.then(async () => {
      try {
        await task()
      } catch (e) {
        this.manager.emit('store-error', this.id, e)
        this.log.error(`[collab] ${this.id}: store write failed:`, e)
      }
    })
    return this.writeChain
  }

  /**
   * Writes the pending updates (merged into one), then the workbook row, then compacts if needed.
   * Resolves when everything queued so far is written (or has failed and been logged).
   * `final` writes the meta row without throttling (unload, shutdown).
   */
  flush(final = false): Promise<void> {
    this.clearFlushTimer()
    if (this.pending.length > 0 && !this.deleted && !this.writeQueued) {
      this.writeQueued = true
      // the batch is taken when the task starts: whatever arrives while the previous write is in
      // flight joins it (group commit)
      this.enqueue(async () => {
        this.writeQueued = false
        if (this.deleted || this.pending.length === 0) return
        const batch = this.pending
        const from = this.pendingFrom
        const since = this.pendingSince
        this.inflightAfter = this.pendingAfter
        this.pending = []
        this.pendingFrom = []
        this.pendingAfter = []
        this.writing = true
        const merged = batch.length === 1 ? batch[0]! : Y.mergeUpdates(batch)
        try {
          this.lastSeq = await this.store.appendUpdate(this.id, merged)
          this.storedUpdates++
        } catch (e) {
          if (this.deleted) return
          // keep it for the next attempt; nothing is lost while the process lives
          this.pending.unshift(merged)
          this.pendingFrom.unshift(RELAYED)
          if (this.pending.length === 1) this.pendingSince = since
          if (!this.retryTimer && this.state !== 'closed') {
            this.retryTimer = setTimeout(() => { this.retryTimer = null; void this.flush() }, 1_000)
          }
          throw e
        } finally {
          this.writing = false
          const after = this.inflightAfter
          this.inflightAfter = []
          // relayed even when the write failed: live editing goes on while the store is retried
          if (!this.deleted) {
            this.relayStored(batch, from, merged)
            this.runAll(after)
          }
        }
        this.manager.emit('flushed', this.id, { seq: this.lastSeq, storedUpdates: this.storedUpdates, updates: batch.length, waitedMs: performance.now() - since })
      })
      this.enqueue(() => this.maybeCompact())
    }
    this.enqueue(() => this.writeMeta(final))
    return this.writeChain
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

  private async writeMeta(force: boolean): Promise<void> {
    if (this.deleted || (!this.titleDirty && !this.touchDirty)) return
    const now = Date.now()
    if (!this.titleDirty && !force) {
      const wait = this.lastMetaWrite + this.opts.metaThrottleMs - now
      if (wait > 0) {
        if (!this.metaTimer) {
          this.metaTimer = setTimeout(() => { this.metaTimer = null; void this.enqueue(() => this.writeMeta(false)) }, wait)
        }
        return
      }
    }
    const patch: { title?: string; updatedAt: number } = { updatedAt: now }
    if (this.titleDirty) patch.title = getTitle(this.doc).trim().slice(0, MAX_TITLE_LENGTH)
    this.titleDirty = false
    this.touchDirty = false
    this.lastMetaWrite = now
    if (this.metaTimer) { clearTimeout(this.metaTimer); this.metaTimer = null }
    await this.store.updateWorkbookMeta(this.id, patch)
  }

  private async maybeCompact(): Promise<void> {
    if (this.deleted || this.compacting || this.storedUpdates <= this.opts.compactThreshold || this.lastSeq === 0) return
    const bus = this.manager.bus
    // one instance compacts a workbook at a time (the lock expires if that instance dies midway)
    if (bus && !(await bus.lock(`compact:${this.id}`, 30_000))) return
    this.compacting = true
    try {
      // The stored rows themselves are merged (never this doc's state): with several instances on one
      // store, rows up to lastSeq may hold another instance's edits this doc has not received yet.
      const upto = this.lastSeq
      const rows = (await this.store.loadUpdateRecords(this.id)).filter(r => r.seq <= upto)
      const scratch = new Y.Doc()
      try {
        for (const r of rows) Y.applyUpdate(scratch, r.data)
      } catch (e) {
        scratch.destroy()
        throw e
      }
      const merged = Y.encodeStateAsUpdate(scratch)
      scratch.destroy()
      const removed = await this.store.compact(this.id, merged, rows.map(r => r.seq))
      if (removed > 0) this.docBytes = Math.min(this.docBytes, (await this.store.loadUpdateRecords(this.id)).reduce((n, u) => n + u.data.length, 0) + this.pending.reduce((n, u) => n + u.length, 0))
      this.storedUpdates = await this.store.countUpdates(this.id)
      this.manager.emit('compacted', this.id, { removed, storedUpdates: this.storedUpdates })
    } finally {
      this.compacting = false
      if (bus) await bus.unlock(`compact:${this.id}`)
    }
  }

  // ── unloading ───────────────────────────────────────────────────────────────────────────────

  scheduleUnload(): void {
    this.cancelUnload()
    if (this.manager.closing) return
    this.unloadTimer = setTimeout(() => { this.unloadTimer = null; void this.unload() }, this.opts.unloadDelayMs)
    this.unloadTimer.unref()
  }

  cancelUnload(): void {
    if (this.unloadTimer) { clearTimeout(this.unloadTimer); this.unloadTimer = null }
  }

  private idle(): boolean { return this.conns.size === 0 && this.holds === 0 }

  async unload(): Promise<void> {
    if (this.state !== 'ready' || !this.idle()) return
    this.state = 'unloading'
    this.manager.emit('room-unloading', this.id)
    try {
      // loop: someone may join, edit and leave while a flush is being written
      do { await this.flush(true) } while (this.state === 'unloading' && this.idle() && this.pending.length > 0)
    } catch (e) {
      this.log.error(`[collab] ${this.id}: flush before unload failed:`, e)
    }
    if (this.state !== 'unloading') return
    if (!this.idle() || this.pending.length > 0) {
      this.state = 'ready'
      if (this.idle()) this.scheduleUnload()
      // a rest or a wake meanwhile found the room unloading and set no timer
      this.scheduleRest()
      return
    }
    this.state = 'closed'
    this.manager.forget(this)
    this.destroyDoc()
    this.manager.emit('room-unloaded', this.id)
  }

  /** Workbook deleted: stop writing, wait for the write in progress, close every connection. */
  async drop(): Promise<void> {
    this.deleted = true
    this.pending = []
    this.pendingFrom = []
    this.pendingAfter = []
    this.clearTimers()
    await this.writeChain
  }

  closeAll(code: number, reason: string): void {
    for (const c of Array.from(this.conns)) this.closeConnection(c, code, reason)
  }

  private clearTimers(): void {
    this.cancelUnload()
    this.clearFlushTimer()
    for (const t of [this.retryTimer, this.metaTimer, this.resyncTimer, this.restTimer]) if (t) clearTimeout(t)
    if (this.warmTimer) clearImmediate(this.warmTimer)
    this.warmTimer = null
    if (this.busStateTimer) clearInterval(this.busStateTimer)
    this.retryTimer = this.metaTimer = this.resyncTimer = this.busStateTimer = this.restTimer = null
  }

  destroyDoc(): void {
    this.manager.bus?.leave(this.id)
    this.mirror?.destroy()
    this.mirror = null
    this.state = 'closed'
    this.clearTimers()
    this.resting = null
    const doc = this.liveDoc
    if (doc) {
      doc.off('update', this.onDocUpdate)
      doc.destroy()
    }
    // a closed room can outlive this a while (its sockets' close handshakes hold it): not its content
    this.liveDoc = null
    this.mirror = null
    this.fullStateCache = null
    this.viewCache = null
    this.liveSnapshot = null
    this.awareness.off('update', this.onAwarenessUpdate)
    this.awareness.off('change', this.onAwarenessChange)
    this.awareness.destroy()
    this.awareness.doc.destroy()
  }

  /** for tests and diagnostics */
  get storedUpdateCount(): number { return this.storedUpdates }
}

export class RoomManager extends EventEmitter<RoomEvents> {
  readonly rooms = new Map<string, Room>()
  readonly opts: RoomOptions
  closing = false
  private readonly pingTimer: NodeJS.Timeout

  constructor(readonly store: Store, readonly log: Logger, opts: Partial<RoomOptions> = {}, readonly bus: RoomBus | null = null) {
    super()
    this.opts = { ...DEFAULT_ROOM_OPTIONS, ...opts }
    bus?.onReconnect(() => {
      for (const room of this.rooms.values()) room.resyncFromStore().catch(e => this.log.error(`[collab] ${room.id}: resync failed:`, e))
    })
    this.pingTimer = setInterval(() => this.ping(), this.opts.pingIntervalMs)
    this.pingTimer.unref()
  }

  private dueRooms = new Set<Room>()
  private dueTimer: NodeJS.Immediate | null = null

  /**
   * Flushes `room` at the next turn of the event loop, with every other room due then: their writes
   * reach the store in the same run of callbacks, which the SQLite store commits as one.
   */
  flushSoon(room: Room): void {
    this.dueRooms.add(room)
    this.dueTimer ??= setImmediate(() => {
      this.dueTimer = null
      const due = [...this.dueRooms]
      this.dueRooms.clear()
      for (const r of due) r.flushIfDue()
    })
  }

  private getOrCreate(id: string): Room {
    let room = this.rooms.get(id)
    if (!room) {
      room = new Room(id, this)
      this.rooms.set(id, room)
    }
    return room
  }

  /** called by a room that is gone (unloaded, failed to load, deleted) */
  forget(room: Room): void {
    if (this.rooms.get(room.id) === room) this.rooms.delete(room.id)
  }

  /** Attaches an upgraded socket to the workbook's room, as the person of the link it was opened with. */
  connect(id: string, ws: WebSocket, who: ConnectionIdentity = LOCAL_OWNER): Connection {
    const room = this.getOrCreate(id)
    const conn = new Connection(ws, room, who, this.opts.messageBurst)
    ws.on('error', err => this.log.warn(`[collab] ${id}: socket error: ${err.message}`))
    ws.on('pong', () => { conn.alive = true })
    ws.on('message', (data, isBinary) => room.receive(conn, data, isBinary))
    ws.on('close', () => {
      try { room.removeConnection(conn) } catch (e) { this.log.error(`[collab] ${id}: error on close:`, e) }
    })
    this.emit('connection-opened', id, conn)
    if (this.closing) room.closeConnection(conn, CLOSE.goingAway, 'server shutting down')
    else room.addConnection(conn)
    return conn
  }

  /**
   * Runs `fn` on the loaded doc of a workbook, keeping the room loaded meanwhile. Changes made with
   * SERVER_ORIGIN reach live clients and the store like any other update. Resolves after they are
   * written. Throws WorkbookGoneError for an unknown or deleted workbook.
   */
  async withDoc<T>(id: string, fn: (doc: Y.Doc) => T): Promise<T> {
    return this.withRoom(id, room => fn(room.doc))
  }

  /**
   * The workbook's whole state as one update, live edits included (for exports and copies). A resting
   * room answers from its encoded state without making the doc.
   */
  async encodedState(id: string): Promise<Uint8Array> {
    return this.withRoom(id, room => room.encodedState())
  }

  /** The view kept for this version of the workbook's encoded state, if any (see Room.cachedView). */
  cachedView(id: string, state: Uint8Array): { json: Buffer; complete: boolean } | null {
    return this.rooms.get(id)?.cachedView(state) ?? null
  }

  /** Keeps a view of `state` (see Room.keepView); 'view-kept' (id, complete) when it was. Returns whether it was. */
  keepView(id: string, state: Uint8Array, json: Buffer, complete: boolean): boolean {
    const kept = this.rooms.get(id)?.keepView(state, json, complete) ?? false
    if (kept) this.emit('view-kept', id, complete)
    return kept
  }

  /** Lets a loaded workbook's room rest at once if nothing is on its way to the store (tests, operators); returns whether it rests. */
  restNow(id: string): boolean {
    return this.rooms.get(id)?.rest(true) ?? false
  }

  /** how many workbooks are loaded, and how many of them rest (health) */
  stats(): { rooms: number; resting: number } {
    let resting = 0
    for (const room of this.rooms.values()) if (room.isResting) resting++
    return { rooms: this.rooms.size, resting }
  }

  /** true when the workbook is loaded and at rest (what is made for it then is not kept) */
  isResting(id: string): boolean {
    return this.rooms.get(id)?.isResting ?? false
  }

  private async withRoom<T>(id: string, fn: (room: Room) => T): Promise<T> {
    if (this.closing) throw new Error('server is shutting down')
    const room = this.getOrCreate(id)
    room.holds++
    room.cancelUnload()
    try {
      await room.ready
      if (room.deleted || room.state === 'closed') throw new WorkbookGoneError(id)
      const result = fn(room)
      await room.flush()
      return result
    } finally {
      room.holds--
      if (room.conns.size === 0 && room.holds === 0 && room.state === 'ready') room.scheduleUnload()
    }
  }

  /** Another instance deleted the workbook: stop writing, close its sockets (4404), free the room. */
  droppedElsewhere(room: Room): void {
    void room.drop().then(() => {
      room.closeAll(CLOSE.notFound, 'workbook deleted')
      this.forget(room)
      if (room.state !== 'closed') room.destroyDoc()
      this.emit('room-dropped', room.id)
    })
  }

  /** Closes every open socket of a link (revoked: 4403). */
  closeLink(id: string, linkId: string, code: number, reason: string): number {
    const room = this.rooms.get(id)
    if (!room) return 0
    let n = 0
    for (const c of Array.from(room.conns)) if (c.who.linkId === linkId) { room.closeConnection(c, code, reason); n++ }
    return n
  }

  /** Workbook deleted: `deleteFromStore` runs after the room's writes stop, then its sockets close (4404). */
  async drop(id: string, deleteFromStore: () => Promise<boolean>): Promise<boolean> {
    const room = this.rooms.get(id)
    if (room) await room.drop()
    let existed: boolean
    try {
      existed = await deleteFromStore()
      // the other instances close their clients too
      if (existed) this.bus?.publish(id, 'dropped', new Uint8Array(0))
    } finally {
      if (room) {
        room.closeAll(CLOSE.notFound, 'workbook deleted')
        this.forget(room)
        if (room.state !== 'closed') room.destroyDoc()
        this.emit('room-dropped', id)
      }
    }
    return existed
  }

  private ping(): void {
    for (const room of this.rooms.values()) {
      for (const conn of Array.from(room.conns)) {
        if (!conn.alive) {
          this.log.info(`[collab] ${room.id}: closing a connection that did not answer a ping`)
          conn.ws.terminate()
          room.removeConnection(conn)
          continue
        }
        conn.alive = false
        try { conn.ws.ping() } catch { /* closed meanwhile */ }
      }
    }
  }

  /** Flushes every room and waits for the writes; used on shutdown (all writes) and by tests. */
  async flushAll(): Promise<void> {
    await Promise.all(Array.from(this.rooms.values(), async room => {
      try { await room.ready } catch { return }
      await room.flush(true)
    }))
  }

  /**
   * Shutdown: stop taking messages (clients resend unsynced changes when they reconnect), write
   * everything pending, close the sockets (1001) and free the rooms.
   */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    clearInterval(this.pingTimer)
    for (const room of this.rooms.values()) for (const c of room.conns) c.closed = true
    await this.flushAll()
    const closed: Promise<void>[] = []
    for (const room of Array.from(this.rooms.values())) {
      for (const c of Array.from(room.conns)) {
        const ws = c.ws
        if (ws.readyState !== WebSocket.CLOSED) {
          closed.push(new Promise<void>(resolve => {
            ws.once('close', () => resolve())
            const t = setTimeout(() => { ws.terminate(); resolve() }, 1_000)
            t.unref()
            try { ws.close(CLOSE.goingAway, 'server shutting down') } catch { ws.terminate() }
          }))
        }
      }
      room.conns.clear()
      this.forget(room)
      if (room.state !== 'closed') room.destroyDoc()
    }
    await Promise.all(closed)
  }
}
