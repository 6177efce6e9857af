/**
 * The room's extension points. A room runs an ordered list of hooks; each sees a narrow RoomContext
 * (the doc, sending, the store, the log, the options), never the room itself. New features (history,
 * audit, comments, notifications) arrive as hooks.
 *
 *   onLoad      before any client is answered: read what the hook needs from the store
 *   onReady     the doc is loaded and listened to
 *   authorize   a received change, decoded, not applied: a Refusal (nothing is applied) or null
 *   onRefused   a change was refused (the audit trail records it)
 *   onChange    the doc changed (any origin), before it is stored
 *   onStored    a batch of changes is stored (and relayed)
 *   onConnect / onDisconnect   a connection joined (and is started) / left
 *   afterMessage  a received message was handled or failed
 *   onAwareness presence changed (after the guards let it through)
 *   onIdle      the room wants to rest or unload: false keeps it as it is (work in flight)
 *   onRest / onWake   the doc was freed to an encoded state / made again
 *   onUnload    the room is leaving memory: finish what is pending
 *   onClose     the room is gone: free timers and listeners
 */
import type * as Y from 'yjs'
import type { Awareness } from 'y-protocols/awareness'
import type { Refusal } from '../../../src/core/access/access'
import type { Store } from '../../store/types'
import type { Logger } from '../../log'
import type { BusKind, RoomBus } from '../bus'
import type { Connection } from '../connection'
import type { DecodedUpdate } from '../protocol'
import type { RoomEvents, RoomOptions } from '../options'

export type RoomState = 'loading' | 'ready' | 'resting' | 'unloading' | 'closed'

/** Where a change came from: a connection, null (the server, the API), or 'bus' (another instance, the store). */
export type ChangeSource = Connection | null | 'bus'

export interface RoomContext {
  readonly id: string
  readonly opts: RoomOptions
  readonly store: Store
  readonly log: Logger
  readonly bus: RoomBus | null
  readonly awareness: Awareness
  readonly conns: ReadonlySet<Connection>
  /** the live doc; a resting room makes it again (`why` is reported) */
  doc(why?: string): Y.Doc
  /** the live doc, or null while the room rests */
  liveDoc(): Y.Doc | null
  state(): RoomState
  /** the workbook was deleted: nothing more is written */
  deleted(): boolean
  /** no connection and no in-process user */
  idle(): boolean
  send(conn: Connection, message: Uint8Array): void
  /** to every started connection but `except` */
  broadcast(message: Uint8Array, except?: Connection | null): void
  closeConnection(conn: Connection, code: number, reason: string): void
  emit<K extends keyof RoomEvents>(event: K, ...args: RoomEvents[K]): void
  /** store work, one task at a time in order; a failing task is logged and never breaks the chain */
  enqueue(task: () => Promise<void>): Promise<void>
  /** frees a compressed copy the HTTP layer made of a buffer this room handed out */
  forgetCompressed(buf: Uint8Array): void
  /** to the other instances (nothing without a bus) */
  publish(kind: BusKind, payload: Uint8Array): void
  /** the doc's whole state as one update (cached per version; at rest: the encoded state itself) */
  encodedState(): Uint8Array
  /** the doc's state vector (at rest: the encoded one) */
  stateVector(): Uint8Array
  /** true when the room holds every change of `update` already (`thorough`: asked of a live doc too) */
  holdsAll(update: Uint8Array, thorough?: boolean): boolean
}

/** A change a connection sent, decoded and not applied. */
export interface IncomingChange {
  conn: Connection
  update: Uint8Array
  decoded: DecodedUpdate
}

/** What the store took in one write: the updates, where each came from, and the merged update stored. */
export interface StoredBatch {
  updates: Uint8Array[]
  from: ChangeSource[]
  merged: Uint8Array
  seq: number
}

export interface RoomHook {
  readonly name: string
  onLoad?(): Promise<void>
  onReady?(): void
  authorize?(change: IncomingChange): Refusal | null
  /** a hook refused a change of `conn` (nothing of it was applied) */
  onRefused?(conn: Connection, refusal: Refusal): void
  onChange?(update: Uint8Array, source: ChangeSource, origin: unknown): void
  onStored?(batch: StoredBatch): void
  onAwareness?(change: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void
  onConnect?(conn: Connection): void
  onDisconnect?(conn: Connection): void
  /** a received message was handled (`failed`: it threw after authorize passed, or authorize refused it) */
  afterMessage?(failed: boolean): void
  onIdle?(): boolean
  onRest?(): void
  onWake?(doc: Y.Doc): void
  onUnload?(): Promise<void>
  onClose?(): void
}
