/**
 * Automatic history: a version (the doc's whole encoded state, so compaction of the stored updates can
 * never take what it needs) after `historyQuietMs` without edits or every `historyEveryUpdates` stored
 * changes, whichever comes first, and when the room unloads with edits not yet in one. Each names the
 * people who edited since the version before and how many cells of each sheet changed. A sign-off lock
 * saves a named version at once. Old automatic versions are thinned by the retention policy.
 */
import { randomBytes } from 'node:crypto'
import { sheetName } from '../../../src/core/workbook/schema'
import { thinned, type AuditInput, type VersionLock, type VersionRecord } from '../../store/history'
import type { RoomContext, RoomHook, StoredBatch } from './types'

export const newVersionId = (): string => randomBytes(9).toString('base64url')

export class HistoryHook implements RoomHook {
  readonly name = 'history'
  /** stored changes by people since the last version */
  private changes = 0
  private editors = new Set<string>()
  private cells = new Map<string, Set<string>>()
  private quietTimer: NodeJS.Timeout | null = null
  private saving: Promise<void> | null = null

  /** `background`: heavy work of many rooms one job at a time, with pauses between (the manager's) */
  constructor(private readonly ctx: RoomContext, private readonly background: (job: () => Promise<void>) => Promise<void> = job => job()) {
    // rooms edited at one pace from one start would all save at the same moment: each its own count
    let h = 0
    for (let i = 0; i < ctx.id.length; i++) h = (h * 31 + ctx.id.charCodeAt(i)) >>> 0
    const every = ctx.opts.historyEveryUpdates
    this.every = every + (every >= 4 ? h % Math.floor(every / 2) : 0)
  }

  /** stored changes per automatic version, this room's (the option, spread over rooms) */
  private readonly every: number

  /** entries the audit hook wrote: who edited, which cells, and sign-off locks */
  recorded(entries: readonly AuditInput[]): void {
    for (const e of entries) {
      if (e.action === 'refused') continue
      if (e.by) this.editors.add(e.by)
      if ((e.action === 'edit' || e.action === 'restore') && e.sheet && e.rowId && e.colId) {
        let set = this.cells.get(e.sheet)
        if (!set) this.cells.set(e.sheet, set = new Set())
        set.add(`${e.rowId}:${e.colId}`)
      }
      if (e.action === 'lock' && e.sheet) {
        const doc = this.ctx.liveDoc()
        const lock: VersionLock = { sheetId: e.sheet, sheetName: doc ? sheetName(doc, e.sheet) : '' }
        void this.save({ name: `签核：${lock.sheetName || e.sheet}`, by: [e.by], lock })
      }
    }
  }

  onStored(batch: StoredBatch): void {
    const people = batch.from.filter(f => f !== 'bus').length
    if (!people) return
    this.changes += people
    if (this.changes >= this.every) { void this.checkpoint(); return }
    if (this.quietTimer) clearTimeout(this.quietTimer)
    this.quietTimer = setTimeout(() => { this.quietTimer = null; void this.checkpoint() }, this.ctx.opts.historyQuietMs)
    this.quietTimer.unref()
  }

  /** an automatic version of what is stored now, if anything changed since the last one */
  private checkpoint(now = false): Promise<void> {
    if (this.quietTimer) { clearTimeout(this.quietTimer); this.quietTimer = null }
    if (this.changes === 0) return Promise.resolve()
    return this.save(null, now)
  }

  /**
   * Saves a version of the doc as stored: on the room's store chain, after every change before it.
   * `named`: a named version (a sign-off lock); null: automatic.
   */
  private save(named: { name: string; by: string[]; lock: VersionLock | null } | null, now = false): Promise<void> {
    const { ctx } = this
    if (!named) this.changes = 0
    // an automatic version waits its turn among the rooms' background work (not at unload: the room is leaving)
    const queue = (task: () => Promise<void>) => (named || now ? ctx.enqueue(task) : this.background(() => ctx.enqueue(task)))
    const run = queue(async () => {
      if (ctx.deleted()) return
      // taken here, on the chain: the audit entries of every change before this version are in
      const summary: Record<string, number> = {}
      for (const [sheet, set] of this.cells) summary[sheet] = set.size
      const by = named ? named.by : [...this.editors]
      if (!named) { this.editors = new Set(); this.cells = new Map() }
      // a name is one version's (BASELINE finds versions by it): a sheet signed off again is numbered
      let name = named?.name ?? null
      if (name !== null) {
        const taken = new Set((await ctx.store.history.listVersions(ctx.id)).map(v => v.name))
        for (let i = 2; taken.has(name); i++) name = `${named!.name} (${i})`
      }
      const state = ctx.encodedState()
      const v: VersionRecord = {
        id: newVersionId(), workbookId: ctx.id, name, at: Date.now(), by, auto: !named,
        lock: named?.lock ?? null, summary, size: state.byteLength,
      }
      await ctx.store.history.saveVersion(v, state)
      ctx.emit('versioned', ctx.id, { versionId: v.id, auto: v.auto, name: v.name })
      if (v.auto) await this.thin()
    })
    const tracked = run.finally(() => { if (this.saving === tracked) this.saving = null })
    this.saving = tracked
    return tracked
  }

  private async thin(): Promise<void> {
    const { ctx } = this
    const all = await ctx.store.history.listVersions(ctx.id)
    const drop = thinned(all, Date.now(), { hourlyAfterMs: ctx.opts.historyHourlyAfterMs, dailyAfterMs: ctx.opts.historyDailyAfterMs })
    if (drop.length) await ctx.store.history.thinVersions(ctx.id, drop)
  }

  onIdle(): boolean { return this.saving === null }

  /** the edits since the last version go into one before the room leaves (not when someone came meanwhile: it stays) */
  async onUnload(): Promise<void> {
    if (this.ctx.idle()) await this.checkpoint(true)
  }

  onClose(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer)
    this.quietTimer = null
  }
}
