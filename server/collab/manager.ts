/**
 * The rooms of this instance by workbook id: made on first use, forgotten when they close. Builds each
 * room's hook list from its options, batches the rooms due to write in one turn of the event loop
 * (SQLite commits them as one transaction), pings sockets, and answers the HTTP API through a small
 * interface (state, views, counts), never by handing out rooms.
 */
import { EventEmitter } from 'node:events'
import type * as Y from 'yjs'
import WebSocket from 'ws'
import type { Store } from '../store/types'
import type { Logger } from '../log'
import type { RoomBus } from './bus'
import { CLOSE } from './close'
import { Connection, LOCAL_OWNER, type ConnectionIdentity } from './connection'
import { DEFAULT_ROOM_OPTIONS, WorkbookGoneError, type RoomEvents, type RoomOptions } from './options'
import { Room } from './room'
import { Compactor } from './compactor'
import type { ViewEntry } from './hooks/resting'
import type { RoomContext, RoomHook } from './hooks/types'

export interface ManagerOptions extends RoomOptions {
  /** frees the compressed copy the HTTP layer keeps of a buffer a room handed out (its state, a view) */
  forgetCompressed: (buf: Uint8Array) => void
  /** hooks beyond the built-in ones (history, audit …), made for each room, run after them in order */
  hooks: ((ctx: RoomContext) => RoomHook)[]
}

/** the pause between two rooms' background jobs */
const BACKGROUND_GAP_MS = 5

export class RoomManager extends EventEmitter<RoomEvents> {
  /** for tests and diagnostics: the API asks through the methods below */
  readonly rooms = new Map<string, Room>()
  readonly opts: RoomOptions
  closing = false
  private readonly pingTimer: NodeJS.Timeout
  private readonly forgetCompressed: (buf: Uint8Array) => void
  private readonly extraHooks: ((ctx: RoomContext) => RoomHook)[]
  private dueRooms = new Set<Room>()
  private dueTimer: NodeJS.Immediate | null = null

  constructor(readonly store: Store, readonly log: Logger, opts: Partial<ManagerOptions> = {}, readonly bus: RoomBus | null = null) {
    super()
    const { forgetCompressed, hooks, ...roomOpts } = opts
    this.opts = { ...DEFAULT_ROOM_OPTIONS, ...roomOpts }
    this.forgetCompressed = forgetCompressed ?? (() => {})
    this.extraHooks = hooks ?? []
    bus?.onReconnect(() => {
      for (const room of this.rooms.values()) room.resyncFromStore().catch(e => this.log.error(`[collab] ${room.id}: resync failed:`, e))
    })
    this.pingTimer = setInterval(() => this.ping(), this.opts.pingIntervalMs)
    this.pingTimer.unref()
  }

  /** Flushes `room` at the next turn of the event loop, with every other room due then. */
  private flushSoon(room: Room): void {
    this.dueRooms.add(room)
    this.dueTimer ??= setImmediate(() => {
      this.dueTimer = null
      const due = [...this.dueRooms]
      this.dueRooms.clear()
      for (const r of due) r.flushIfDue()
    })
  }

  private readonly compactor = new Compactor()
  private backgroundChain: Promise<void> = Promise.resolve()

  /**
   * Heavy work of many rooms (fifty reaching their compaction threshold in the same second) goes one
   * job at a time, with a few milliseconds between jobs in which the sockets are served.
   */
  private background(job: () => Promise<void>): Promise<void> {
    const run = this.backgroundChain.then(job)
    this.backgroundChain = run.catch(() => {}).then(() => new Promise<void>(r => setTimeout(r, BACKGROUND_GAP_MS)))
    return run
  }

  private getOrCreate(id: string): Room {
    let room = this.rooms.get(id)
    if (!room) {
      room = new Room(id, {
        store: this.store, log: this.log, opts: this.opts, bus: this.bus,
        emit: (event, ...args) => { (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args) },
        flushSoon: r => this.flushSoon(r),
        forget: r => this.forget(r),
        droppedElsewhere: r => this.droppedElsewhere(r),
        closing: () => this.closing,
        background: job => this.background(job),
        fold: (rows, full) => this.compactor.fold(rows, full),
        warmFold: () => this.compactor.warm(),
        forgetCompressed: this.forgetCompressed,
        extraHooks: this.extraHooks,
      })
      this.rooms.set(id, room)
    }
    return room
  }

  private forget(room: Room): void {
    if (this.rooms.get(room.id) === room) this.rooms.delete(room.id)
  }

  /** Attaches an upgraded socket to the workbook's room, as the person of the link it was opened with. */
  connect(id: string, ws: WebSocket, who: ConnectionIdentity = LOCAL_OWNER): Connection {
    const room = this.getOrCreate(id)
    const conn = new Connection(ws, who, this.opts.messageBurst)
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

  /** The workbook's whole state as one update, live edits included; a resting room answers without waking. */
  async encodedState(id: string): Promise<Uint8Array> {
    return this.withRoom(id, room => room.encodedState())
  }

  /** The view kept for this version of the workbook's encoded state, if any. */
  cachedView(id: string, state: Uint8Array): ViewEntry | null {
    return this.rooms.get(id)?.cachedView(state) ?? null
  }

  /** Keeps a view of `state`; 'view-kept' (id, complete) when it was. Returns whether it was. */
  keepView(id: string, state: Uint8Array, json: Buffer, complete: boolean): boolean {
    const kept = this.rooms.get(id)?.keepView(state, json, complete) ?? false
    if (kept) this.emit('view-kept', id, complete)
    return kept
  }

  /** Lets a loaded workbook's room rest at once if nothing is on its way to the store (tests, operators). */
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

  /** the state of a workbook's room: 'loading' … 'closed', or null when it is not loaded */
  state(id: string): Room['state'] | null {
    return this.rooms.get(id)?.state ?? null
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
      if (room.conns.size === 0 && room.holds === 0 && (room.state === 'ready' || room.state === 'resting')) room.scheduleUnload()
    }
  }

  /** Another instance deleted the workbook: stop writing, close its sockets (4404), free the room. */
  private droppedElsewhere(room: Room): void {
    void room.drop().then(() => this.release(room))
  }

  private release(room: Room): void {
    room.closeAll(CLOSE.notFound, 'workbook deleted')
    this.forget(room)
    if (room.state !== 'closed') room.destroyDoc()
    this.emit('room-dropped', room.id)
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
      if (room) this.release(room)
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
    await this.compactor.close()
  }
}
