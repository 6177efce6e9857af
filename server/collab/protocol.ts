/**
 * The y-websocket wire protocol as pure functions over lib0 encoders/decoders, a Y.Doc and an
 * Awareness. No sockets here: the transport hands in bytes and sends out whatever is returned.
 *
 *   message  = varUint type, payload
 *   type 0   sync       (y-protocols/sync: step1 | step2 | update)
 *   type 1   awareness  (varUint8Array awareness update)
 *   type 3   query awareness (no payload; answered with all awareness states)
 */
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'

export const MESSAGE_SYNC = 0
export const MESSAGE_AWARENESS = 1
export const MESSAGE_AUTH = 2
export const MESSAGE_QUERY_AWARENESS = 3

export type ProtocolErrorCode = 'empty' | 'unknown-message' | 'unknown-sync-message' | 'truncated' | 'bad-update' | 'bad-awareness' | 'refused'

/** A message the server cannot accept. The connection that sent it should be closed. */
export class ProtocolError extends Error {
  constructor(public readonly code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ProtocolError'
  }
}

/**
 * A well-formed document change the sender may not make (protected cells, a locked sheet, a document
 * grown too large). Nothing of it was applied; `closeCode` says how to close the sender's socket.
 */
export class RefusedUpdate extends ProtocolError {
  constructor(readonly closeCode: number, message: string) {
    super('refused', message)
    this.name = 'RefusedUpdate'
  }
}

export interface MessageContext {
  /** the doc (a room at rest makes it only when a change must be applied) */
  doc: () => Y.Doc
  awareness: awarenessProtocol.Awareness
  /** transaction / awareness origin for changes from this connection (the connection itself) */
  origin: unknown
  /** read-only connections may sync down but their document changes are dropped */
  readOnly?: boolean
  /** throws RefusedUpdate for a change the sender may not make; runs before anything is applied */
  authorize?: (update: Uint8Array, decoded: DecodedUpdate) => void
  /** the doc's whole state as an update (cached by the caller), for clients that have nothing yet */
  fullState?: () => Uint8Array
  /** what a client with state vector `sv` lacks, when the caller can tell without the doc (null: ask the doc) */
  diffFor?: (sv: Uint8Array) => Uint8Array | null
  /** true when the doc holds all of `update` (a step 2 or an update) already: nothing to apply (nor to check) */
  holds?: (update: Uint8Array, syncType: number) => boolean
  /** rewrites an awareness update before it is applied (identity set by the server); null drops it */
  filterAwareness?: (update: Uint8Array) => Uint8Array | null
}

export interface MessageResult {
  /** message type that was handled */
  type: number
  /** for sync messages: step1 (0), step2 (1) or update (2) */
  syncType?: number
  /** reply to send back to the sender, if any */
  reply: Uint8Array | null
  /** true when a document change was dropped because the connection is read-only */
  dropped?: boolean
}

/** sync step 1 of the server (its state vector: of a doc, or encoded), to send when a connection is ready */
export function encodeSyncStep1(state: Y.Doc | Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  if (state instanceof Uint8Array) {
    encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep1)
    encoding.writeVarUint8Array(encoder, state)
  } else {
    syncProtocol.writeSyncStep1(encoder, state)
  }
  return encoding.toUint8Array(encoder)
}

function writeStep2(encoder: encoding.Encoder, update: Uint8Array): void {
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2)
  encoding.writeVarUint8Array(encoder, update)
}

/** a document update to broadcast */
export function encodeUpdateMessage(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  syncProtocol.writeUpdate(encoder, update)
  return encoding.toUint8Array(encoder)
}

/** awareness states of `clients` (all known clients by default) */
export function encodeAwarenessMessage(awareness: awarenessProtocol.Awareness, clients?: number[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS)
  encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(awareness, clients ?? Array.from(awareness.getStates().keys())))
  return encoding.toUint8Array(encoder)
}

function readVarUint(decoder: decoding.Decoder, what: string): number {
  if (!decoding.hasContent(decoder)) throw new ProtocolError('truncated', `message ends before ${what}`)
  try {
    return decoding.readVarUint(decoder)
  } catch (e) {
    // lib0 throws plain errors for an unterminated or oversized varint
    throw new ProtocolError('truncated', `malformed ${what}`, { cause: e })
  }
}

function readBytes(decoder: decoding.Decoder, what: string): Uint8Array {
  const len = readVarUint(decoder, `${what} length`)
  if (len > decoder.arr.length - decoder.pos) throw new ProtocolError('truncated', `${what} is longer than the message`)
  return decoding.readUint8Array(decoder, len)
}

/** An update as Yjs decodes it (its structs and delete set). */
export type DecodedUpdate = ReturnType<typeof Y.decodeUpdate>

/** Throws a ProtocolError unless `update` parses as a Yjs (v1) update; returns it decoded. Nothing is applied. */
export function validateUpdate(update: Uint8Array): DecodedUpdate {
  try {
    return Y.decodeUpdate(update)
  } catch (e) {
    throw new ProtocolError('bad-update', 'malformed Yjs update', { cause: e })
  }
}

function handleSync(decoder: decoding.Decoder, encoder: encoding.Encoder, ctx: MessageContext): { syncType: number; dropped: boolean } {
  // Validation pass over a copy of the position, so nothing is applied from a malformed message.
  const peek = decoding.createDecoder(decoder.arr)
  peek.pos = decoder.pos
  const syncType = readVarUint(peek, 'sync message type')
  switch (syncType) {
    case syncProtocol.messageYjsSyncStep1: {
      const sv = readBytes(peek, 'state vector')
      let vector: Map<number, number>
      try { vector = Y.decodeStateVector(sv) } catch (e) { throw new ProtocolError('bad-update', 'malformed state vector', { cause: e }) }
      if (vector.size === 0 && ctx.fullState) {
        // a client with nothing yet (a first open): the whole state, encoded once for everyone who asks
        decoder.pos = peek.pos
        writeStep2(encoder, ctx.fullState())
        return { syncType, dropped: false }
      }
      const diff = ctx.diffFor?.(sv) ?? null
      if (diff) {
        decoder.pos = peek.pos
        writeStep2(encoder, diff)
        return { syncType, dropped: false }
      }
      break
    }
    case syncProtocol.messageYjsSyncStep2:
    case syncProtocol.messageYjsUpdate: {
      const update = readBytes(peek, 'update')
      if (ctx.readOnly) return { syncType, dropped: true }
      const decoded = validateUpdate(update)
      // e.g. a reconnecting client's step 2, which always repeats every deletion it knows of
      if (ctx.holds?.(update, syncType)) { decoder.pos = peek.pos; return { syncType, dropped: false } }
      ctx.authorize?.(update, decoded)
      break
    }
    default:
      throw new ProtocolError('unknown-sync-message', `unknown sync message type ${syncType}`)
  }
  encoding.writeVarUint(encoder, MESSAGE_SYNC)
  syncProtocol.readSyncMessage(decoder, encoder, ctx.doc(), ctx.origin, (e: Error) => {
    throw new ProtocolError('bad-update', `update could not be applied: ${e.message}`, { cause: e })
  })
  return { syncType, dropped: false }
}

/**
 * Handles one message from a connection: applies it to the doc/awareness (with `ctx.origin`) and
 * returns the reply for the sender, if any. Throws ProtocolError for anything malformed.
 */
export function handleMessage(message: Uint8Array, ctx: MessageContext): MessageResult {
  if (message.length === 0) throw new ProtocolError('empty', 'empty message')
  const decoder = decoding.createDecoder(message)
  const type = readVarUint(decoder, 'message type')
  switch (type) {
    case MESSAGE_SYNC: {
      const encoder = encoding.createEncoder()
      const { syncType, dropped } = handleSync(decoder, encoder, ctx)
      // only step1 produces a reply (step2); the encoder then holds more than the type byte
      const reply = encoding.length(encoder) > 1 ? encoding.toUint8Array(encoder) : null
      return { type, syncType, reply, dropped }
    }
    case MESSAGE_AWARENESS: {
      let update: Uint8Array | null = readBytes(decoder, 'awareness update')
      try {
        if (ctx.filterAwareness) update = ctx.filterAwareness(update)
        if (update) awarenessProtocol.applyAwarenessUpdate(ctx.awareness, update, ctx.origin)
      } catch (e) {
        if (e instanceof ProtocolError) throw e
        throw new ProtocolError('bad-awareness', 'malformed awareness update', { cause: e })
      }
      return { type, reply: null }
    }
    case MESSAGE_QUERY_AWARENESS:
      return { type, reply: encodeAwarenessMessage(ctx.awareness) }
    default:
      throw new ProtocolError('unknown-message', `unknown message type ${type}`)
  }
}

/** One client's entry of an awareness update: its id, clock and state (null: the client left). */
export interface AwarenessEntry { clientID: number; clock: number; state: unknown }

/** Decodes an awareness update (y-protocols/awareness encoding). Throws ProtocolError when malformed. */
export function decodeAwarenessUpdate(update: Uint8Array): AwarenessEntry[] {
  const decoder = decoding.createDecoder(update)
  const n = readVarUint(decoder, 'awareness entry count')
  if (n > 100) throw new ProtocolError('bad-awareness', 'too many awareness entries')
  const out: AwarenessEntry[] = []
  for (let i = 0; i < n; i++) {
    const clientID = readVarUint(decoder, 'awareness client id')
    const clock = readVarUint(decoder, 'awareness clock')
    let text: string
    try { text = decoding.readVarString(decoder) } catch (e) { throw new ProtocolError('bad-awareness', 'malformed awareness state', { cause: e }) }
    let state: unknown
    try { state = JSON.parse(text) } catch (e) { throw new ProtocolError('bad-awareness', 'awareness state is not JSON', { cause: e }) }
    out.push({ clientID, clock, state })
  }
  return out
}

export function encodeAwarenessEntries(entries: AwarenessEntry[]): Uint8Array {
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, entries.length)
  for (const e of entries) {
    encoding.writeVarUint(encoder, e.clientID)
    encoding.writeVarUint(encoder, e.clock)
    encoding.writeVarString(encoder, JSON.stringify(e.state))
  }
  return encoding.toUint8Array(encoder)
}
