/**
 * The access guard: every received change is checked against the access rules before anything of it
 * is applied. Changes that only set or clear cells are judged on the doc as it stands (quickCellCheck);
 * any other is tried on a mirror doc first (checkChange), which is kept in step as the doc changes.
 *
 * Client ids belong to the link that first showed them: announced in presence or written with. A write
 * under an id bound to another link is refused from the socket that sent it (`foreign-client`: the
 * client takes a new id and sends its edits again under it, so the rightful writer loses nothing).
 */
import * as Y from 'yjs'
import { checkChange, defineRoots, quickCellCheck, type Refusal } from '../../../src/core/access/access'
import type { Connection } from '../connection'
import type { DecodedUpdate } from '../protocol'
import type { IncomingChange, RoomContext, RoomHook } from './types'

export class GuardHook implements RoomHook {
  readonly name = 'guard'
  /**
   * The doc as it will be if the update being checked is applied: updates are tried here first and
   * checked; a refused one never reaches the doc. Made when first needed, and again after a refusal.
   */
  private mirror: Y.Doc | null = null
  /** the mirror already holds the update the doc is applying now */
  private mirrorAhead = false
  /** which link first showed each client id (kept in the store for writers) */
  private clientLinks = new Map<number, string>()

  /** `encodedState`: the doc's whole state as one update (cached by the room) */
  constructor(private readonly ctx: RoomContext, private readonly encodedState: () => Uint8Array) {}

  async onLoad(): Promise<void> {
    this.clientLinks = await this.ctx.store.loadClientLinks(this.ctx.id)
  }

  authorize({ conn, update, decoded }: IncomingChange): Refusal | null {
    const doc = this.ctx.doc('a change')
    const claims = this.clientClaims(conn, decoded, doc)
    // changes under a client id another link showed are someone else's (a forged continuation of their
    // edits would make the server drop theirs as duplicates)
    if (claims.foreign) return { code: 'foreign-client' }
    // cells set or cleared (nearly every change) are checked on the doc as it stands
    const quick = quickCellCheck(doc, update, decoded, conn.who)
    if (quick !== undefined) {
      if (!quick) this.bind(conn, claims.fresh)
      return quick
    }
    const refusal = this.tryOnMirror(doc, update, conn)
    if (!refusal) this.bind(conn, claims.fresh)
    return refusal
  }

  private tryOnMirror(doc: Y.Doc, update: Uint8Array, conn: Connection): Refusal | null {
    if (!this.mirror) {
      this.mirror = new Y.Doc({ gc: doc.gc })
      defineRoots(this.mirror)
      Y.applyUpdate(this.mirror, this.encodedState())
    }
    const mirror = this.mirror
    const hadPending = mirror.store.pendingStructs !== null || mirror.store.pendingDs !== null
    let refusal: Refusal | null = null
    try {
      mirror.transact(tr => {
        Y.applyUpdate(mirror, update)
        try {
          refusal = checkChange(doc, mirror, tr, conn.who)
        } catch (e) {
          // a change the rules cannot even read is not one the app makes
          this.ctx.log.warn(`[collab] ${this.ctx.id}: a change could not be checked: ${(e as Error).message}`)
          refusal = { code: 'malformed', detail: (e as Error).message }
        }
      })
      // held back until edits nobody sent arrive, it would be applied later unchecked, in someone else's
      // change (a doc already waiting for another instance's edits, which the bus brings, is not this sender's doing)
      if (!refusal && !hadPending && (mirror.store.pendingStructs !== null || mirror.store.pendingDs !== null)) {
        refusal = { code: 'unknown-base' }
      }
    } catch (e) {
      this.dropMirror()
      throw e
    }
    if (refusal) this.dropMirror()
    else this.mirrorAhead = true
    return refusal
  }

  private dropMirror(): void {
    this.mirror?.destroy()
    this.mirror = null
  }

  /** the client ids of new structs in the update: `foreign` when one is bound to another link; `fresh` when unbound */
  private clientClaims(conn: Connection, decoded: DecodedUpdate, doc: Y.Doc): { foreign: boolean; fresh: number[] } {
    const linkId = conn.who.linkId
    if (!linkId) return { foreign: false, fresh: [] }
    let fresh: number[] | null = null
    let foreign = false
    for (const s of decoded.structs) {
      const client = s.id.client
      if (s.id.clock + s.length <= Y.getState(doc.store, client)) continue
      const owner = this.clientLinks.get(client)
      if (owner === undefined) { if (!fresh?.includes(client)) (fresh ??= []).push(client) }
      else if (owner !== linkId) foreign = true
    }
    return { foreign, fresh: fresh ?? [] }
  }

  private bind(conn: Connection, clients: number[]): void {
    if (clients.length === 0) return
    const linkId = conn.who.linkId
    const entries = clients.map(c => [c, linkId] as [number, string])
    for (const c of clients) this.clientLinks.set(c, linkId)
    // the other instances learn it at once; a viewer's binding (it never writes) stays in memory
    this.ctx.publish('claims', Buffer.from(JSON.stringify(entries), 'utf8'))
    if (conn.readOnly) return
    void this.ctx.enqueue(() => this.ctx.store.saveClientLinks(this.ctx.id, entries))
  }

  /**
   * A connection announces presence under `client`: the id is bound to its link on first sight (so nobody
   * else can write under it, nor show presence as it), and true is returned; false when another link has it.
   */
  claimAnnounced(conn: Connection, client: number): boolean {
    const linkId = conn.who.linkId
    if (!linkId) return true
    const owner = this.clientLinks.get(client)
    if (owner === undefined) { this.bind(conn, [client]); return true }
    return owner === linkId
  }

  /** Bindings another instance made (through the bus): the first one known wins, as in the store. */
  applyRemoteClaims(payload: Uint8Array): void {
    let entries: unknown
    try { entries = JSON.parse(Buffer.from(payload).toString('utf8')) } catch { return }
    if (!Array.isArray(entries)) return
    for (const e of entries) {
      if (!Array.isArray(e) || typeof e[0] !== 'number' || typeof e[1] !== 'string') continue
      if (!this.clientLinks.has(e[0])) this.clientLinks.set(e[0], e[1])
    }
  }

  onChange(update: Uint8Array): void {
    if (this.mirror && !this.mirrorAhead) {
      try { Y.applyUpdate(this.mirror, update) } catch { this.dropMirror() }
    }
  }

  afterMessage(failed: boolean): void {
    if (failed && this.mirrorAhead) this.dropMirror()
    this.mirrorAhead = false
  }

  onRest(): void { this.dropMirror() }
  onClose(): void { this.dropMirror() }
}
