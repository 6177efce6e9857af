/**
 * The audit trail: who changed what. Every change a person makes (through a socket, or through the API
 * as an ActingOrigin) is read as it is applied: each cell it set or cleared (with the input before and
 * after), rows and columns inserted or deleted, sheets added, renamed or removed, protections and sign-off
 * locks, and comments (started, replied to, edited, resolved, reopened, done, deleted). The entries are written once the change itself is stored (on the room's store chain, in order),
 * and the store chains them by hash. Changes from other instances (the bus) are their instance's to record.
 *
 * A change the access rules refused is recorded too (action `refused`, with its author), except a
 * viewer's: viewers cannot write at all, and a viewer's socket sending updates is noise, not an event.
 */
import * as Y from 'yjs'
import { a1 } from '../../../src/core/formulas/references'
import { SheetLayout } from '../../../src/core/workbook/layout'
import { sheetsOf, splitCellKey, type SheetMap } from '../../../src/core/workbook/schema'
import { accessOf, lockKey, type Refusal } from '../../../src/core/access/access'
import type { AuditInput } from '../../store/history'
import { commentsOf, parseEntryKey } from '../../../src/core/comments/comments'
import { Connection, type ConnectionIdentity } from '../connection'
import { ActingOrigin } from '../options'
import type { RoomContext, RoomHook, StoredBatch } from './types'

/** The person a transaction's origin stands for, or null (the store, the bus, the server itself). */
export function actorOf(origin: unknown): { who: ConnectionIdentity; action: AuditInput['action']; detail: string | null } | null {
  if (origin instanceof Connection) return { who: origin.who, action: 'edit', detail: null }
  if (origin instanceof ActingOrigin) return { who: origin.who, action: origin.action, detail: origin.detail }
  return null
}

interface Group { update: Uint8Array | null; entries: AuditInput[] }

export class AuditHook implements RoomHook {
  readonly name = 'audit'
  private observed: Y.Doc | null = null
  /** entries of the transaction being applied (its update event comes after its observers) */
  private current: AuditInput[] = []
  /** entries waiting for their update to be stored, oldest first */
  private groups: Group[] = []
  /** layouts for addresses, by sheet id, dropped when the sheet's rows or columns change */
  private layouts = new Map<string, SheetLayout>()

  /** `recorded`: entries as they are written (the history hook counts them) */
  constructor(private readonly ctx: RoomContext, private readonly recorded: (entries: readonly AuditInput[]) => void = () => {}) {}

  onReady(): void { this.observe(this.ctx.liveDoc()) }
  onWake(doc: Y.Doc): void { this.observe(doc) }
  onRest(): void { this.observe(null) }
  onClose(): void { this.observe(null) }

  private observe(doc: Y.Doc | null): void {
    if (this.observed) {
      sheetsOf(this.observed).unobserveDeep(this.onSheets)
      accessOf(this.observed).unobserve(this.onAccess)
      commentsOf(this.observed).unobserve(this.onComments)
    }
    this.observed = doc
    this.layouts.clear()
    if (doc) {
      sheetsOf(doc).observeDeep(this.onSheets)
      accessOf(doc).observe(this.onAccess)
      commentsOf(doc).observe(this.onComments)
    }
  }

  private address(sheetId: string, rowId: string, colId: string): string | null {
    let layout = this.layouts.get(sheetId)
    if (!layout) {
      const sheet = this.observed && sheetsOf(this.observed).get(sheetId)
      if (!sheet) return null
      layout = new SheetLayout(sheetId, '', sheet)
      this.layouts.set(sheetId, layout)
    }
    const r = layout.rows.indexOf(rowId), c = layout.cols.indexOf(colId)
    return r < 0 || c < 0 ? null : a1(r, c)
  }

  private entry(actor: NonNullable<ReturnType<typeof actorOf>>, e: Partial<AuditInput> & Pick<AuditInput, 'action'>): void {
    this.current.push({
      at: Date.now(), linkId: actor.who.linkId, by: actor.who.name, role: actor.who.role,
      sheet: null, cell: null, rowId: null, colId: null, before: null, after: null, detail: actor.detail, ...e,
    })
  }

  private readonly onSheets = (events: Y.YEvent<Y.AbstractType<unknown>>[], tr: Y.Transaction): void => {
    const actor = actorOf(tr.origin)
    // structure first, so that the addresses of cells are those after the change
    for (const ev of events) {
      const [sheetId, part] = ev.path as string[]
      if (sheetId !== undefined && part !== undefined && part !== 'cells') this.layouts.delete(sheetId)
      if (sheetId === undefined) this.layouts.clear()
    }
    if (!actor) return
    const action = actor.action === 'restore' ? 'restore' : null
    for (const ev of events) {
      const [sheetId, part] = ev.path as string[]
      if (sheetId === undefined) {
        // sheets added or removed
        for (const [key, change] of ev.changes.keys) {
          if (change.action === 'update') continue
          const name = change.action === 'delete' ? (change.oldValue as SheetMap | undefined)?.get?.('name') : (ev.target as Y.Map<SheetMap>).get(key)?.get('name')
          this.entry(actor, { action: 'sheet', sheet: key, before: change.action === 'add' ? null : (name ?? null), after: change.action === 'add' ? (name ?? null) : null, detail: change.action === 'add' ? 'added' : 'removed' })
        }
      } else if (part === undefined) {
        const change = ev.changes.keys.get('name')
        if (change) this.entry(actor, { action: 'sheet', sheet: sheetId, before: change.oldValue ?? null, after: (ev.target as Y.Map<unknown>).get('name') ?? null, detail: 'renamed' })
      } else if (part === 'cells') {
        const cells = ev.target as Y.Map<unknown>
        for (const [key, change] of ev.changes.keys) {
          const [rowId, colId] = splitCellKey(key)
          const before = change.action === 'add' ? null : change.oldValue ?? null
          const after = change.action === 'delete' ? null : cells.get(key) ?? null
          if (JSON.stringify(before) === JSON.stringify(after)) continue
          this.entry(actor, { action: action ?? 'edit', sheet: sheetId, cell: this.address(sheetId, rowId, colId), rowId, colId, before, after })
        }
      } else if (part === 'rowsGone' || part === 'colsGone') {
        const gone = ev.target as Y.Map<unknown>
        const axis = part === 'rowsGone' ? 'rows' : 'cols'
        const deleted: string[] = [], back: string[] = []
        for (const [key, change] of ev.changes.keys) {
          if (change.action === 'add') deleted.push(key)
          else if (change.action === 'delete' && !gone.has(key)) back.push(key)
        }
        if (deleted.length) this.entry(actor, { action: axis, sheet: sheetId, before: deleted, after: null, detail: 'deleted' })
        if (back.length) this.entry(actor, { action: axis, sheet: sheetId, before: null, after: back, detail: 'restored' })
      } else if (part === 'rows' || part === 'cols') {
        const inserted: string[] = []
        for (const d of ev.changes.delta) if (Array.isArray(d.insert)) inserted.push(...(d.insert as string[]))
        // a sort or a move deletes and inserts the same ids: only ids new to the sheet are insertions
        const known = new Set<string>()
        for (const d of ev.changes.deleted) for (const c of d.content.getContent()) known.add(String(c))
        const fresh = inserted.filter(id => !known.has(id))
        if (fresh.length) this.entry(actor, { action: part, sheet: sheetId, before: null, after: fresh, detail: 'inserted' })
        else if (inserted.length) this.entry(actor, { action: part, sheet: sheetId, before: null, after: inserted.length, detail: 'reordered' })
      }
    }
  }

  private readonly onAccess = (ev: Y.YMapEvent<unknown>, tr: Y.Transaction): void => {
    const actor = actorOf(tr.origin)
    if (!actor) return
    for (const [key, change] of ev.changes.keys) {
      const before = change.action === 'add' ? null : change.oldValue ?? null
      const after = change.action === 'delete' ? null : ev.target.get(key) ?? null
      if (key.startsWith('lock:')) {
        const sheetId = key.slice(5)
        if (lockKey(sheetId) !== key) continue
        this.entry(actor, { action: after ? 'lock' : 'unlock', sheet: sheetId, before, after })
      } else {
        this.entry(actor, { action: 'protect', before, after, detail: key })
      }
    }
  }

  /** A comment's entries: what happened to which thread, on which cell; the text before and after. */
  private readonly onComments = (ev: Y.YMapEvent<unknown>, tr: Y.Transaction): void => {
    const actor = actorOf(tr.origin)
    if (!actor) return
    const map = ev.target
    const anchor = (threadId: string | undefined, was?: unknown) => {
      // a thread deleted with its replies is found as it was
      const t = (threadId && (map.get(`t:${threadId}`) ?? ev.changes.keys.get(`t:${threadId}`)?.oldValue)) || was
      const { sheet, row, col } = (t ?? {}) as { sheet?: string; row?: string; col?: string }
      if (typeof sheet !== 'string' || typeof row !== 'string' || typeof col !== 'string') return {}
      return { sheet, rowId: row, colId: col, cell: this.address(sheet, row, col) }
    }
    for (const [key, change] of ev.changes.keys) {
      const k = parseEntryKey(key)
      if (!k) continue
      const [kind, id] = k
      const was = change.action === 'add' ? undefined : change.oldValue as Record<string, unknown> | undefined
      const now = change.action === 'delete' ? undefined : map.get(key) as Record<string, unknown> | undefined
      const text = (v: Record<string, unknown> | undefined) => typeof v?.text === 'string' ? v.text : null
      if (kind === 't' || kind === 'r') {
        const threadId = kind === 't' ? id : String((now ?? was)?.thread ?? '')
        const detail = !was ? (kind === 't' ? 'added' : 'replied') : !now ? 'deleted' : 'edited'
        this.entry(actor, { action: 'comment', ...anchor(threadId, kind === 't' ? was : undefined), before: text(was), after: text(now), detail })
      } else if (now) {
        const on = kind === 's' ? now.resolved === true : now.done === true
        const detail = kind === 's' ? (on ? 'resolved' : 'reopened') : (on ? 'done' : 'undone')
        this.entry(actor, { action: 'comment', ...anchor(id), before: null, after: null, detail })
      }
    }
  }

  onChange(update: Uint8Array): void {
    if (!this.current.length) return
    this.groups.push({ update, entries: this.current })
    this.current = []
  }

  onStored(batch: StoredBatch): void {
    if (!this.groups.length) return
    // the groups up to the newest update of the batch are stored (a batch is every update pending when
    // it was taken; one retried after a failed write is a merge of earlier ones, so all before it are in)
    const inBatch = new Set(batch.updates)
    let last = -1
    for (let i = this.groups.length - 1; i >= 0; i--) if (inBatch.has(this.groups[i]!.update!)) { last = i; break }
    const retried = batch.updates.some(u => !this.groups.some(g => g.update === u))
    if (last < 0 && !retried) return
    const taken = last < 0 ? this.groups.splice(0) : this.groups.splice(0, last + 1)
    this.write(taken.flatMap(g => g.entries))
  }

  onRefused(conn: Connection, r: Refusal): void {
    if (conn.who.role === 'viewer') return
    const actor = { who: conn.who, action: 'refused' as const, detail: r.code }
    let rowId: string | null = null, colId: string | null = null, before: unknown = null
    if (r.cell && r.sheet) {
      [rowId, colId] = splitCellKey(r.cell)
      before = this.observed && (sheetsOf(this.observed).get(r.sheet)?.get('cells') as Y.Map<unknown> | undefined)?.get(r.cell) || null
    }
    this.entry(actor, { action: 'refused', sheet: r.sheet ?? null, rowId, colId, cell: r.sheet && rowId && colId ? this.address(r.sheet, rowId, colId) : null, before, detail: r.code })
    const entries = this.current
    this.current = []
    this.write(entries)
  }

  /** the trail's writes of this room, in order (apart from the room's store chain: they hold up no change) */
  private writing: Promise<void> = Promise.resolve()

  private write(entries: AuditInput[]): void {
    if (!entries.length) return
    const { ctx } = this
    // counted at once: a version taken next (on the store chain) names these people and cells
    this.recorded(entries)
    this.writing = this.writing.then(async () => {
      if (ctx.deleted()) return
      try {
        await ctx.store.history.appendAudit(ctx.id, entries)
        ctx.emit('audited', ctx.id, { entries: entries.length })
      } catch (e) {
        if (!ctx.deleted()) ctx.log.error(`[collab] ${ctx.id}: ${entries.length} audit entries could not be written:`, e)
      }
    })
  }

  /** the room is leaving (its changes were flushed before): what is left is written, and waited for */
  async onUnload(): Promise<void> {
    const rest = this.groups.splice(0).flatMap(g => g.entries)
    if (rest.length) this.write(rest)
    // someone came meanwhile: the room stays, and need not wait for the trail
    if (this.ctx.idle()) await this.writing
  }
}
