/** Room settings, events, origins and limits shared by the room, its hooks and the manager. */
import type { Connection, ConnectionIdentity } from './connection'

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
  /** history: an automatic version after this long without edits (default 5 minutes) … */
  historyQuietMs: number
  /** … or after this many stored changes, whichever first (default 200) */
  historyEveryUpdates: number
  /** automatic versions older than this are thinned to one an hour (default a week) … */
  historyHourlyAfterMs: number
  /** … and older than this to one a day (default 30 days); named versions are never thinned */
  historyDailyAfterMs: number
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
  historyQuietMs: 5 * 60_000,
  historyEveryUpdates: 200,
  historyHourlyAfterMs: 7 * 24 * 3_600_000,
  historyDailyAfterMs: 30 * 24 * 3_600_000,
}

export const MAX_TITLE_LENGTH = 200

/** client ids one connection may announce presence for */
export const MAX_AWARENESS_CLIENTS = 4

/** origin of server-side changes (API rename etc.) */
export const SERVER_ORIGIN = 'server'

/**
 * Origin of a change the server makes for a person through the API (a restore): the audit trail names
 * them, and the change is theirs like one they typed.
 */
export class ActingOrigin {
  constructor(readonly who: ConnectionIdentity, readonly action: 'restore' | 'edit' = 'edit', readonly detail: string | null = null) {}
}

/** origin of changes another instance made (through the bus) or the store holds: relayed, not stored again */
export const BUS_ORIGIN = 'bus'

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
  /** audit entries were stored (`refused`: of a refused change) */
  audited: [id: string, info: { entries: number }]
  /** a version was stored (automatic, named or at a sign-off lock) */
  versioned: [id: string, info: { versionId: string; auto: boolean; name: string | null }]
}

export class WorkbookGoneError extends Error {
  constructor(id: string) { super(`workbook ${id} does not exist`); this.name = 'WorkbookGoneError' }
}
