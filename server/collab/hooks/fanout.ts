/**
 * Fan-out to other instances through the bus (Redis). A room subscribes before it reads the store, so
 * nothing published meanwhile is missed (what arrives while loading waits for the load). Updates other
 * instances stored are applied and relayed, presence too; now and then the room publishes its stored
 * state vector, and one that sees another instance holding edits it lacks re-reads the store.
 */
import * as Y from 'yjs'
import { applyAwarenessUpdate } from 'y-protocols/awareness'
import type { BusKind } from '../bus'
import { BUS_ORIGIN } from '../options'
import type { RoomContext, RoomHook } from './types'

export interface FanoutDeps {
  /** nothing waits to be stored: the state vector published is of what the store holds */
  settled(): boolean
  /** another instance deleted the workbook */
  dropped(): void
  /** client-id bindings another instance made */
  claims(payload: Uint8Array): void
}

export class FanoutHook implements RoomHook {
  readonly name = 'fanout'
  /** what other instances published while this room was loading */
  private early: [BusKind, Uint8Array][] = []
  private stateTimer: NodeJS.Timeout | null = null
  private resyncTimer: NodeJS.Timeout | null = null
  private joined = false

  constructor(private readonly ctx: RoomContext, private readonly deps: FanoutDeps) {}

  async onLoad(): Promise<void> {
    const bus = this.ctx.bus
    if (!bus) return
    // listen before reading the store: what another instance stores meanwhile comes one way or the other
    this.joined = true
    await bus.join(this.ctx.id, (kind, payload) => this.receive(kind, payload))
  }

  onReady(): void {
    const { ctx } = this
    const bus = ctx.bus
    if (bus) {
      // only a state that is stored: others compare it with theirs and re-read the store when behind
      this.stateTimer = setInterval(() => { if (this.deps.settled()) bus.publish(ctx.id, 'state', ctx.stateVector()) }, ctx.opts.busStateIntervalMs)
      this.stateTimer.unref()
    }
    const early = this.early
    this.early = []
    for (const [kind, payload] of early) this.receive(kind, payload)
  }

  /** A change or presence another instance published: applied here and relayed to this instance's clients. */
  receive(kind: BusKind, payload: Uint8Array): void {
    const { ctx } = this
    const state = ctx.state()
    if (state === 'loading') { if (kind !== 'state') this.early.push([kind, payload]); return }
    if (state === 'closed' || ctx.deleted()) return
    try {
      if (kind === 'update') { if (!ctx.holdsAll(payload)) Y.applyUpdate(ctx.doc(), payload, BUS_ORIGIN) }
      else if (kind === 'awareness') applyAwarenessUpdate(ctx.awareness, payload, BUS_ORIGIN)
      else if (kind === 'dropped') this.deps.dropped()
      else if (kind === 'claims') this.deps.claims(payload)
      else {
        // another instance holds edits this one never received: they are in the store
        const mine = Y.decodeStateVector(ctx.stateVector())
        for (const [client, clock] of Y.decodeStateVector(payload)) {
          if ((mine.get(client) ?? 0) < clock) { this.resyncSoon(); break }
        }
      }
    } catch (e) {
      ctx.log.warn(`[collab] ${ctx.id}: a message from another instance could not be applied: ${(e as Error).message}`)
    }
  }

  /** A resync shortly (edits another instance has may still be on their way to the store). */
  private resyncSoon(): void {
    if (this.resyncTimer) return
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null
      this.resync().catch(e => this.ctx.log.error(`[collab] ${this.ctx.id}: resync failed:`, e))
    }, 500)
    this.resyncTimer.unref()
  }

  /** After the bus was away: whatever other instances stored meanwhile, from the store. */
  async resync(): Promise<void> {
    const { ctx } = this
    const live = () => { const s = ctx.state(); return s === 'ready' || s === 'resting' || s === 'unloading' }
    if (!live()) return
    const rows = (await ctx.store.loadUpdateRecords(ctx.id)).filter(r => !ctx.holdsAll(r.data))
    if (!live() || rows.length === 0) return
    const doc = ctx.doc()
    doc.transact(() => { for (const r of rows) Y.applyUpdate(doc, r.data) }, BUS_ORIGIN)
  }

  onClose(): void {
    if (this.joined) this.ctx.bus?.leave(this.ctx.id)
    this.joined = false
    if (this.stateTimer) clearInterval(this.stateTimer)
    if (this.resyncTimer) clearTimeout(this.resyncTimer)
    this.stateTimer = this.resyncTimer = null
    this.early = []
  }
}
