/**
 * Presence: awareness as the server knows the person. Each state is rewritten to what presence uses,
 * validated (the link's name and role, a colour, a selection by ids), whatever the client claims. An
 * awareness client id belongs to the connection that first announced it until that connection leaves,
 * and to that connection's link for good (so nobody can show up as a colleague who is reconnecting).
 * Changes go to every connection, the sender too (the stock client's idle watchdog relies on its own
 * renewals echoing), and to the other instances.
 */
import { encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness'
import { readCursor } from '../../../src/sync/presence'
import { Connection } from '../connection'
import { decodeAwarenessUpdate, encodeAwarenessEntries, encodeAwarenessMessage } from '../protocol'
import { BUS_ORIGIN, MAX_AWARENESS_CLIENTS } from '../options'
import type { RoomContext, RoomHook } from './types'

const COLOR = /^#[0-9a-f]{6}$/i

export class PresenceHook implements RoomHook {
  readonly name = 'presence'
  /** `claim`: binds a client id to the connection's link on first sight; false when another link has it */
  constructor(private readonly ctx: RoomContext, private readonly claim: (conn: Connection, client: number) => boolean) {}

  onReady(): void { this.ctx.awareness.on('update', this.onUpdate) }
  onClose(): void { this.ctx.awareness.off('update', this.onUpdate) }

  /** Rewrites an awareness update of `conn` before it is applied; null drops it. */
  filter(conn: Connection, update: Uint8Array): Uint8Array | null {
    const entries = decodeAwarenessUpdate(update)
    const mine = new Set(conn.awarenessClients)
    const kept = entries.filter(e => {
      for (const other of this.ctx.conns) if (other !== conn && other.awarenessClients.has(e.clientID)) return false
      if (mine.has(e.clientID)) return true
      // a person is one or two tabs: a connection speaks for a few client ids, not thousands
      if (mine.size >= MAX_AWARENESS_CLIENTS || !this.claim(conn, e.clientID)) return false
      mine.add(e.clientID)
      return true
    })
    for (const e of kept) {
      if (e.state === null) continue
      if (typeof e.state !== 'object' || Array.isArray(e.state)) { e.state = {}; continue }
      const st = e.state as Record<string, unknown>
      const claimed = st.user && typeof st.user === 'object' ? st.user as Record<string, unknown> : {}
      const color = typeof claimed.color === 'string' && COLOR.test(claimed.color) ? claimed.color : '#5f6368'
      // in-process owners without a link keep the name they chose
      const name = conn.who.linkId ? conn.who.name : (typeof claimed.name === 'string' ? claimed.name.slice(0, 80) : '')
      // only what presence uses, each field as the presence schema has it: the rest is dropped
      e.state = { user: { name, color, role: conn.who.role, ...(conn.who.account ? { account: conn.who.account } : {}) }, cursor: readCursor(st.cursor) }
    }
    return kept.length ? encodeAwarenessEntries(kept) : null
  }

  private readonly onUpdate = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void => {
    const { ctx } = this
    try {
      if (origin instanceof Connection && ctx.conns.has(origin)) {
        for (const id of added) origin.awarenessClients.add(id)
        for (const id of updated) origin.awarenessClients.add(id)
        for (const id of removed) origin.awarenessClients.delete(id)
      }
      const changed = added.concat(updated, removed)
      if (changed.length === 0) return
      ctx.broadcast(encodeAwarenessMessage(ctx.awareness, changed))
      if (origin !== BUS_ORIGIN) ctx.publish('awareness', encodeAwarenessUpdate(ctx.awareness, changed))
    } catch (e) {
      ctx.log.error(`[collab] ${ctx.id}: error distributing awareness:`, e)
    }
  }

  /** A connection left: its presence goes (its ids stay its link's). */
  onDisconnect(conn: Connection): void {
    const { ctx } = this
    if (conn.awarenessClients.size === 0 || ctx.state() === 'closed') return
    try {
      removeAwarenessStates(ctx.awareness, Array.from(conn.awarenessClients), null)
    } catch (e) {
      ctx.log.error(`[collab] ${ctx.id}: removing awareness states failed:`, e)
    }
  }
}
