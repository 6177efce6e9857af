/**
 * Resting and the view cache. A room whose doc has not changed for `restAfterMs` rests: it keeps its
 * state as one encoded update (about a tenth of a live Y.Doc's heap) and frees the doc. At rest it still
 * answers sync requests (a diff of the encoded state), relays presence and drops repeats of what it
 * holds (`Y.snapshotContainsUpdate`); the first real change makes the doc again, and so does an editor's
 * cursor moving (ahead of their first change). The encoded state and the workbook view of the current
 * version are cached for first opens until the doc changes.
 */
import * as Y from 'yjs'
import { defineRoots } from '../../../src/core/access/access'
import { Connection } from '../connection'
import type { RoomContext, RoomHook } from './types'

/** A resting room's state: the doc encoded, its state vector, and what it holds (for repeats), encoded too. */
interface RestingState {
  update: Uint8Array
  vector: Uint8Array
  /** `Y.encodeSnapshot`: a decoded delete set is an object per deleted range, as big as the state for a much-edited sheet */
  snapshot: Uint8Array
  /** the doc's client id, kept for the next doc: server-side edits go on under one id, not a new one per wake */
  clientID: number
}

export function newRoomDoc(): Y.Doc {
  const d = new Y.Doc()
  defineRoots(d)
  return d
}

export interface ViewEntry { json: Buffer; complete: boolean }

export class RestingHook implements RoomHook {
  readonly name = 'resting'
  private resting: RestingState | null = null
  /** performance.now() of the doc's last change (or of its making) */
  private lastChange = performance.now()
  /** performance.now() of the last presence change of someone who may edit (a cursor moving) */
  private lastActivity = 0
  private restTimer: NodeJS.Timeout | null = null
  private warmTimer: NodeJS.Immediate | null = null
  /** what the live doc holds, until it changes (for telling repeats from changes) */
  private liveSnapshot: Y.Snapshot | null = null
  /** the doc's whole state as an update, until the doc changes: first opens of a workbook share it */
  private fullStateCache: Uint8Array | null = null
  /** the workbook view (JSON) of the doc's current version, once made, with the encoded state it is of */
  private viewCache: { state: Uint8Array; json: Buffer; complete: boolean } | null = null

  /** `rest`: asks the room to rest now (it asks every hook whether it may) */
  constructor(private readonly ctx: RoomContext, private readonly rest: () => boolean) {}

  get isResting(): boolean { return this.resting !== null }

  onReady(): void {
    this.lastChange = performance.now()
    this.schedule()
  }

  onChange(): void {
    this.fullStateCache = null
    this.viewCache = null
    this.liveSnapshot = null
    this.lastChange = performance.now()
  }

  /** the whole state as one update (at rest: the encoded state itself) */
  encodedState(): Uint8Array {
    return this.resting ? this.resting.update : (this.fullStateCache ??= Y.encodeStateAsUpdate(this.ctx.doc()))
  }

  stateVector(): Uint8Array {
    return this.resting ? this.resting.vector : Y.encodeStateVector(this.ctx.doc())
  }

  /** what a client with state vector `sv` lacks, answered from the encoded state at rest (null: ask the doc) */
  diffFor(sv: Uint8Array): Uint8Array | null {
    return this.resting ? Y.diffUpdate(this.resting.update, sv) : null
  }

  /**
   * true when the room holds every change of `update` already. At rest always asked; a live doc is
   * asked for a step 2 (`thorough`: once a connection; it repeats every deletion the client knows of),
   * which would otherwise make the mirror just to find nothing new, not for every keystroke.
   */
  holdsAll(update: Uint8Array, thorough = false): boolean {
    if (this.resting) return Y.snapshotContainsUpdate(Y.decodeSnapshot(this.resting.snapshot), update)
    const doc = this.ctx.liveDoc()
    if (!thorough || !doc) return false
    this.liveSnapshot ??= Y.snapshot(doc)
    return Y.snapshotContainsUpdate(this.liveSnapshot, update)
  }

  /** the view kept for `state` (an encodedState() of this room) */
  cachedView(state: Uint8Array): ViewEntry | null {
    return this.viewCache && this.viewCache.state === state ? this.viewCache : null
  }

  /**
   * Keeps the view made from `state`, while that is still the live doc's version (a resting room keeps
   * none); `complete`: with its first screen computed, which replaces one without. Returns whether it was kept.
   */
  keepView(state: Uint8Array, json: Buffer, complete: boolean): boolean {
    if (this.resting || state !== this.fullStateCache) return false
    if (this.viewCache?.state === state && this.viewCache.complete && !complete) return false
    if (this.viewCache && this.viewCache.json !== json) this.ctx.forgetCompressed(this.viewCache.json)
    this.viewCache = { state, json, complete }
    return true
  }

  /** `wait`: ms from now (default: when the quiet period since the last change ends) */
  schedule(wait?: number): void {
    const { opts } = this.ctx
    if (this.restTimer || opts.restAfterMs <= 0 || this.resting || this.ctx.state() !== 'ready') return
    wait ??= Math.max(0, Math.max(this.lastChange, this.lastActivity) + opts.restAfterMs - performance.now())
    this.restTimer = setTimeout(() => { this.restTimer = null; this.rest() }, wait)
    this.restTimer.unref()
  }

  /**
   * Whether the doc may be freed now: quiet long enough (unless `now`), nothing on its way, no edits
   * waiting for ones this instance has not received (they are in no event and no cached encoding).
   * Otherwise the next try is scheduled.
   */
  mayRest(doc: Y.Doc, busy: boolean, now: boolean): boolean {
    const quietFor = performance.now() - Math.max(this.lastChange, this.lastActivity)
    busy ||= doc.store.pendingStructs !== null || doc.store.pendingDs !== null
    if (busy || (quietFor < this.ctx.opts.restAfterMs && !now)) {
      // busy (a write in flight or failing, an API call holding the doc): ask again a quiet period later
      this.schedule(busy ? this.ctx.opts.restAfterMs : undefined)
      return false
    }
    return true
  }

  /** Encodes the doc for rest (the caller frees it). Returns the encoded state's size. */
  freeze(doc: Y.Doc): number {
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
    if (view && !keptView) this.ctx.forgetCompressed(view.json)
    this.viewCache = keptView
    this.ctx.forgetCompressed(this.resting.update)
    return this.resting.update.length
  }

  /** Makes the doc again from the encoded state (synchronously: the caller needs it now). */
  thaw(why: string): Y.Doc {
    const t0 = performance.now()
    const doc = newRoomDoc()
    const resting = this.resting
    if (resting) {
      doc.clientID = resting.clientID
      Y.applyUpdate(doc, resting.update)
    }
    this.resting = null
    this.lastChange = performance.now()
    if (resting) this.ctx.emit('room-woke', this.ctx.id, { ms: performance.now() - t0, why })
    return doc
  }

  onWake(): void { this.schedule() }

  /**
   * Someone who may edit moved their cursor (a state of theirs that changed, not the periodic renewal
   * of an idle client): the room stays awake, and a resting one wakes now, after this message is
   * relayed, so that their first change does not wait for the doc to be made.
   */
  onAwareness({ updated }: { updated: number[] }, origin: unknown): void {
    // arriving (added) is not moving about: opening a workbook is often only reading it
    if (!(origin instanceof Connection) || origin.readOnly || updated.length === 0) return
    this.lastActivity = performance.now()
    if (this.resting && !this.warmTimer) {
      this.warmTimer = setImmediate(() => {
        this.warmTimer = null
        if (this.resting && this.ctx.state() === 'resting') this.ctx.doc('presence')
      })
    }
  }

  onClose(): void {
    if (this.restTimer) clearTimeout(this.restTimer)
    if (this.warmTimer) clearImmediate(this.warmTimer)
    this.restTimer = null
    this.warmTimer = null
    this.resting = null
    this.fullStateCache = null
    this.viewCache = null
    this.liveSnapshot = null
  }
}
