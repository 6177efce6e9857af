/**
 * One socket of a room: who is on it (the share link), and the guards every message passes before the
 * room sees it: binary frames only, a size limit, a token-bucket rate limit, and a bounded queue while
 * the room loads. Sending checks the socket keeps up; closing cuts off a peer that never answers.
 */
import WebSocket from 'ws'
import type { Principal } from '../../src/core/access/access'
import type { MessageContext } from './protocol'
import { CLOSE } from './close'

/** Who is on a connection: the share link it was opened with. */
export interface ConnectionIdentity extends Principal {
  linkId: string
  /** with sign-in: the signed-in person on it (email, else account id), shown beside the link's name */
  account?: string
}

/** Anyone: for in-process use and tests that open rooms without links. */
export const LOCAL_OWNER: ConnectionIdentity = { role: 'owner', name: '', linkId: '' }

/** The limits every received frame is held to (from the room options). */
export interface FrameLimits {
  maxMessageBytes: number
  messagesPerSecond: number
  messageBurst: number
  maxQueuedMessages: number
  maxQueuedBytes: number
}

/** What a guard decided about a received frame. */
export type Admission =
  | { ok: true; message: Uint8Array; queued: boolean }
  | { ok: false; code: number; reason: string; warn?: string }

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
  private tokens: number
  private lastRefill = performance.now()
  readonly readOnly: boolean
  /** the room's message context for this connection, made once (see Room.contextFor) */
  context: MessageContext | null = null
  constructor(readonly ws: WebSocket, readonly who: ConnectionIdentity = LOCAL_OWNER, burst = 400) {
    this.readOnly = who.role === 'viewer'
    this.tokens = burst
  }

  /** The guards of one received frame; a queued one waits for the room to load. */
  admit(data: WebSocket.RawData, isBinary: boolean, opts: FrameLimits): Admission {
    if (!isBinary) return { ok: false, code: CLOSE.unsupportedData, reason: 'binary messages only' }
    const message = toBytes(data)
    if (message.length > opts.maxMessageBytes) {
      // 44xx: the stock client does not reconnect to send the same message again
      return { ok: false, code: CLOSE.tooLarge, reason: 'message too large', warn: `closing a connection that sent ${message.length} bytes at once` }
    }
    if (!this.takeToken(opts)) return { ok: false, code: CLOSE.policy, reason: 'rate limit', warn: 'closing a connection that sends too many messages' }
    if (this.started) return { ok: true, message, queued: false }
    if (this.queue.length >= opts.maxQueuedMessages || this.queuedBytes + message.length > opts.maxQueuedBytes) {
      return { ok: false, code: CLOSE.policy, reason: 'too many messages' }
    }
    this.queue.push(message)
    this.queuedBytes += message.length
    return { ok: true, message, queued: true }
  }

  /** the messages queued while the room loaded, once */
  takeQueue(): Uint8Array[] {
    const q = this.queue
    this.queue = []
    this.queuedBytes = 0
    return q
  }

  private takeToken(opts: FrameLimits): boolean {
    const now = performance.now()
    this.tokens = Math.min(opts.messageBurst, this.tokens + (now - this.lastRefill) * opts.messagesPerSecond / 1000)
    this.lastRefill = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Sends unless closed; returns a reason to close the connection when it cannot keep up or the send fails. */
  send(message: Uint8Array, maxBufferedBytes: number, onFail: (code: number, reason: string) => void): void {
    const ws = this.ws
    if (this.closed || ws.readyState !== WebSocket.OPEN) return
    if (ws.bufferedAmount > maxBufferedBytes) { onFail(CLOSE.policy, 'too slow'); return }
    try {
      ws.send(message, err => { if (err) onFail(CLOSE.internalError, 'send failed') })
    } catch {
      onFail(CLOSE.internalError, 'send failed')
    }
  }

  /** Closes the socket (a peer that never answers the close handshake is cut off after 2 s). */
  shut(code: number, reason: string): void {
    this.closed = true
    this.queue = []
    const ws = this.ws
    try {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        ws.close(code, reason)
        setTimeout(() => { if (ws.readyState !== WebSocket.CLOSED) ws.terminate() }, 2_000).unref()
      }
    } catch {
      ws.terminate()
    }
  }
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data))
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}
