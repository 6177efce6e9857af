/**
 * Several server instances share rooms through Redis (ioredis): every document update an instance
 * stores, and every presence change, is published on the workbook's channel; the other instances
 * apply it to their copy of the room and relay it to their own clients. Redis is a fan-out only: the
 * store stays the truth. When Redis goes away, each instance goes on serving its own clients; when it
 * comes back, every loaded room re-reads the store, so nothing published meanwhile is missed.
 *
 *   message = kind (1 byte: 0 update, 1 awareness, 2 state vector, 3 dropped, 4 client-id claims) · instance id length (1 byte) · instance id · payload
 *
 * Anti-entropy: each instance publishes its rooms' state vectors now and then; an instance that sees
 * another holding edits it lacks (a message lost while Redis was paused or cut off) re-reads the store.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Logger } from '../log'

/**
 * update: a stored doc update; awareness: presence; state: a room's state vector, for anti-entropy;
 * dropped: the workbook was deleted; claims: client ids bound to links (JSON [[clientId, linkId], …])
 */
export type BusKind = 'update' | 'awareness' | 'state' | 'dropped' | 'claims'
const KINDS: BusKind[] = ['update', 'awareness', 'state', 'dropped', 'claims']

export interface RoomBus {
  readonly instanceId: string
  /** Subscribes to a room; `onMessage` gets what other instances publish. Resolves once subscribed (or Redis is down). */
  join(roomId: string, onMessage: (kind: BusKind, payload: Uint8Array) => void): Promise<void>
  leave(roomId: string): void
  /**
   * Listens to a room's channel without being its room (a roll-up watching its sources): any number of
   * watchers beside the one `join`; the channel stays subscribed while either wants it. Returns the
   * function that stops watching. `onSubscribed`: once the channel is subscribed (what was published
   * before may have been missed: read the store then).
   */
  watch?(roomId: string, onMessage: (kind: BusKind, payload: Uint8Array) => void, onSubscribed?: () => void): () => void
  /** Best effort: while Redis is down, nothing is sent (the store has it; rooms resync on reconnect). */
  publish(roomId: string, kind: BusKind, payload: Uint8Array): void
  /** Called after Redis comes back from an outage. */
  onReconnect(fn: () => void): void
  /** A lock with expiry (e.g. one compaction of a workbook at a time); false if another holds it or Redis is down. */
  lock(key: string, ttlMs: number): Promise<boolean>
  unlock(key: string): Promise<void>
  status(): 'up' | 'down'
  close(): Promise<void>
}

const CHANNEL = (prefix: string, id: string) => `${prefix}room:${id}`

export class RedisBus implements RoomBus {
  readonly instanceId = randomBytes(6).toString('base64url')
  private readonly pub: Redis
  private readonly sub: Redis
  private readonly handlers = new Map<string, (kind: BusKind, payload: Uint8Array) => void>()
  private readonly watchers = new Map<string, Set<(kind: BusKind, payload: Uint8Array) => void>>()
  private readonly reconnectListeners: (() => void)[] = []
  private wasDown = false
  private up = false
  private closed = false

  constructor(url: string, private readonly log: Logger, private readonly prefix = 'pw:') {
    const opts = {
      // fail fast while Redis is away: publishing is best effort, the store has every update
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: (n: number) => Math.min(100 * 2 ** Math.min(n, 5), 2_000),
      lazyConnect: false,
    }
    // named, so that an operator (or a test) can tell the connections apart in CLIENT LIST
    this.pub = new Redis(url, { ...opts, connectionName: `pw-pub-${this.instanceId}` })
    this.sub = new Redis(url, { ...opts, enableOfflineQueue: true, connectionName: `pw-sub-${this.instanceId}` })
    for (const c of [this.pub, this.sub]) c.on('error', () => { /* reported through status and the 'close' events */ })
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.receive(channel.toString(), message))
    this.sub.on('ready', () => {
      this.up = true
      // every room that wants its channel gets it, including ones that joined while Redis was away
      for (const roomId of new Set([...this.handlers.keys(), ...this.watchers.keys()])) this.sub.subscribe(CHANNEL(this.prefix, roomId)).catch(() => {})
      if (this.wasDown && !this.closed) {
        this.wasDown = false
        this.log.info('[bus] Redis is back: rooms resync from the store')
        for (const fn of this.reconnectListeners) { try { fn() } catch (e) { this.log.error('[bus] resync failed:', e) } }
      }
    })
    this.sub.on('close', () => {
      if (this.up && !this.closed) this.log.warn('[bus] Redis connection lost: serving local clients only until it is back')
      if (this.up) this.wasDown = true
      this.up = false
    })
  }

  /** Resolves once the subscriber connection is ready (or rejects after `timeoutMs`). */
  async ready(timeoutMs = 5_000): Promise<this> {
    if (this.up) return this
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { this.sub.off('ready', ok); reject(new Error('Redis did not answer')) }, timeoutMs)
      const ok = () => { clearTimeout(t); resolve() }
      this.sub.once('ready', ok)
    })
    return this
  }

  status(): 'up' | 'down' { return this.up && this.pub.status === 'ready' ? 'up' : 'down' }

  private receive(channel: string, message: Buffer): void {
    if (!channel.startsWith(this.prefix + 'room:') || message.length < 2) return
    const roomId = channel.slice(this.prefix.length + 5)
    const handler = this.handlers.get(roomId)
    const watching = this.watchers.get(roomId)
    if (!handler && !watching) return
    const kind = KINDS[message[0]!] ?? null
    const idLen = message[1]!
    if (!kind || message.length < 2 + idLen) return
    if (message.toString('utf8', 2, 2 + idLen) === this.instanceId) return
    const payload = new Uint8Array(message.buffer, message.byteOffset + 2 + idLen, message.length - 2 - idLen)
    for (const fn of [...(handler ? [handler] : []), ...(watching ?? [])]) {
      try { fn(kind, payload) } catch (e) { this.log.error(`[bus] ${channel}: handling a message failed:`, e) }
    }
  }

  async join(roomId: string, onMessage: (kind: BusKind, payload: Uint8Array) => void): Promise<void> {
    this.handlers.set(roomId, onMessage)
    try {
      await this.sub.subscribe(CHANNEL(this.prefix, roomId))
    } catch (e) {
      // Redis is down: the room serves its own clients; it resyncs from the store when Redis is back
      this.log.warn(`[bus] ${roomId}: subscribing failed (${(e as Error).message})`)
    }
  }

  leave(roomId: string): void {
    this.handlers.delete(roomId)
    if (!this.watchers.has(roomId)) this.sub.unsubscribe(CHANNEL(this.prefix, roomId)).catch(() => {})
  }

  watch(roomId: string, onMessage: (kind: BusKind, payload: Uint8Array) => void, onSubscribed?: () => void): () => void {
    let set = this.watchers.get(roomId)
    if (!set) this.watchers.set(roomId, set = new Set())
    // (subscribing again is harmless, and its answer tells when the channel is ours)
    this.sub.subscribe(CHANNEL(this.prefix, roomId)).then(() => onSubscribed?.(), e => this.log.warn(`[bus] ${roomId}: watching failed (${(e as Error).message})`))
    const fn = (kind: BusKind, payload: Uint8Array) => onMessage(kind, payload)
    set.add(fn)
    return () => {
      const s = this.watchers.get(roomId)
      if (!s?.delete(fn) || s.size) return
      this.watchers.delete(roomId)
      if (!this.handlers.has(roomId) && !this.closed) this.sub.unsubscribe(CHANNEL(this.prefix, roomId)).catch(() => {})
    }
  }

  publish(roomId: string, kind: BusKind, payload: Uint8Array): void {
    if (this.closed || this.pub.status !== 'ready') return
    const id = Buffer.from(this.instanceId)
    const head = Buffer.from([KINDS.indexOf(kind), id.length])
    this.pub.publish(CHANNEL(this.prefix, roomId), Buffer.concat([head, id, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)])).catch(() => {})
  }

  onReconnect(fn: () => void): void { this.reconnectListeners.push(fn) }

  async lock(key: string, ttlMs: number): Promise<boolean> {
    try {
      return (await this.pub.set(`${this.prefix}lock:${key}`, this.instanceId, 'PX', ttlMs, 'NX')) === 'OK'
    } catch {
      return false
    }
  }

  async unlock(key: string): Promise<void> {
    // only our own lock: it may have expired and been taken by another instance
    await this.pub.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, `${this.prefix}lock:${key}`, this.instanceId).catch(() => {})
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.handlers.clear()
    this.watchers.clear()
    this.pub.disconnect()
    this.sub.disconnect()
  }
}
