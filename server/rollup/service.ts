/**
 * Live roll-ups. While a roll-up workbook is open (its room loaded on this instance) the service keeps
 * its roll-up sheet current:
 *
 * - once on open, every source is read and combined;
 * - a source whose stored content changes is read again: locally the room manager's `flushed` event
 *   says so, from other instances the Redis bus (`RoomBus.watch` on the source's channel: no room is
 *   loaded for it). Changes within `debounceMs` make one pass (a typing burst costs one read);
 * - sources are read from their room's encoded state when this instance holds one (a resting room
 *   answers without waking), otherwise straight from the stored updates (no room is made for them);
 * - each source's contribution is kept, so a pass reads only the sources that changed and then
 *   combines the kept ones (combining 20,000 rows takes milliseconds);
 * - the list of sources and their links' status are read from the store every `checkMs` (and at once
 *   after this instance's API changed them): a revoked link makes its source unavailable (its rows or
 *   contribution leave the roll-up and the banner names it), a new source is read, a removed one goes.
 *
 * Writes go through `rooms.withDoc` with SERVER_ORIGIN (the access guard sees only clients), as the
 * smallest change (./apply.ts); a pass that changes nothing writes nothing.
 */
import { EventEmitter } from 'node:events'
import * as Y from 'yjs'
import type { Store } from '../store/types'
import type { RollupConfig, RollupSource } from '../store/rollups'
import type { Logger } from '../log'
import type { RoomBus } from '../collab/bus'
import { SERVER_ORIGIN, type RoomManager } from '../collab/rooms'
import { readPlan, writeSources, type RollupPlan, type SourceEntry } from '../../src/core/rollup/plan'
import { sheetParts, sheetsOf, visibleIds, type ColumnMeta } from '../../src/core/workbook/schema'
import { readContribution, type Contribution, type OutColumn } from './read'
import { aggregateRows, stackRows, type Block } from './combine'
import { applyRows, type ApplyStats } from './apply'

export interface RollupServiceOptions {
  /** changes of sources within this many ms make one pass (default 250) */
  debounceMs: number
  /** how often the sources and their links are read again while a roll-up is open (default 2 000) */
  checkMs: number
}
export const DEFAULT_ROLLUP_OPTIONS: RollupServiceOptions = { debounceMs: 250, checkMs: 2_000 }

export interface RollupEvents {
  /** a pass finished: `read` sources were read again, `ms` it took in all */
  pass: [id: string, info: { read: number; ms: number; rows: number; stats: ApplyStats }]
}

interface Active {
  id: string
  config: RollupConfig
  plan: RollupPlan
  /** the roll-up sheet's columns the sources fill, and their ids */
  out: OutColumn[]
  sources: RollupSource[]
  cache: Map<string, Contribution | 'unavailable'>
  titles: Map<string, string>
  dirty: Set<string>
  timer: NodeJS.Timeout | null
  running: boolean
  closed: boolean
  check: NodeJS.Timeout
}

export class RollupService extends EventEmitter<RollupEvents> {
  private readonly active = new Map<string, Active>()
  /** source id → roll-ups (open here) that read it */
  private readonly readers = new Map<string, Set<string>>()
  private readonly unwatch = new Map<string, () => void>()
  private readonly opts: RollupServiceOptions
  private closing = false
  private readonly onLoaded = (id: string) => { void this.open(id) }
  private readonly onGone = (id: string) => { this.closeRollup(id) }
  private readonly onFlushed = (id: string) => { this.changed(id) }

  constructor(private readonly store: Store, private readonly rooms: RoomManager, private readonly bus: RoomBus | null, private readonly log: Logger, opts: Partial<RollupServiceOptions> = {}) {
    super()
    this.opts = { ...DEFAULT_ROLLUP_OPTIONS, ...opts }
    rooms.on('room-loaded', this.onLoaded)
    rooms.on('room-unloading', this.onGone)
    rooms.on('room-dropped', this.onGone)
    rooms.on('flushed', this.onFlushed)
  }

  /** Roll-ups open on this instance (diagnostics, tests). */
  openRollups(): string[] { return [...this.active.keys()] }

  private async open(id: string): Promise<void> {
    try {
      if (this.closing || this.active.has(id)) return
      const config = await this.store.rollups.get(id)
      if (!config || this.active.has(id) || this.rooms.state(id) === null) return
      const read = await this.rooms.withDoc(id, doc => {
        const plan = readPlan(doc)
        const sheet = plan ? sheetsOf(doc).get(plan.sheet) : undefined
        if (!plan || !sheet) return null
        const p = sheetParts(sheet)
        const out = visibleIds(p.cols, p.colsGone).filter(c => c !== plan.sourceCol).map((colId): OutColumn => {
          const m = p.colMeta.get(colId) as ColumnMeta | undefined
          return { colId, key: m?.key, title: m?.title }
        })
        return { plan, out }
      })
      if (!read || this.active.has(id) || this.closing) return
      const a: Active = {
        id, config, plan: read.plan, out: read.out, sources: [], cache: new Map(), titles: new Map(), dirty: new Set(),
        timer: null, running: false, closed: false,
        check: setInterval(() => { void this.refresh(id) }, this.opts.checkMs),
      }
      a.check.unref()
      this.active.set(id, a)
      await this.refresh(id, 0)
    } catch (e) {
      this.log.error(`[rollup] ${id}: opening failed:`, e)
    }
  }

  private closeRollup(id: string): void {
    const a = this.active.get(id)
    if (!a) return
    a.closed = true
    clearInterval(a.check)
    if (a.timer) clearTimeout(a.timer)
    this.active.delete(id)
    for (const s of a.sources) this.stopReading(s.workbookId, id)
  }

  private startReading(source: string, rollup: string): void {
    let set = this.readers.get(source)
    if (!set) {
      this.readers.set(source, set = new Set())
      const stop = this.bus?.watch?.(source, kind => { if (kind === 'update') this.changed(source) }, () => this.changed(source))
      if (stop) this.unwatch.set(source, stop)
    }
    set.add(rollup)
  }

  private stopReading(source: string, rollup: string): void {
    const set = this.readers.get(source)
    if (!set?.delete(rollup) || set.size) return
    this.readers.delete(source)
    this.unwatch.get(source)?.()
    this.unwatch.delete(source)
  }

  /** A source's stored content changed: the roll-ups reading it read it again. */
  private changed(source: string): void {
    for (const id of this.readers.get(source) ?? []) {
      const a = this.active.get(id)
      if (!a) continue
      a.dirty.add(source)
      this.schedule(a)
    }
  }

  /**
   * Reads the roll-up's sources and their links' status again (the API calls it after adding or
   * removing one); what changed is read and combined.
   */
  async refresh(id: string, delay = this.opts.debounceMs): Promise<void> {
    const a = this.active.get(id)
    if (!a) return
    try {
      const now = await this.store.rollups.sources(id)
      if (a.closed) return
      const before = new Map(a.sources.map(s => [s.workbookId, s]))
      let changed = now.length !== a.sources.length || now.some((s, i) => a.sources[i]?.workbookId !== s.workbookId)
      for (const s of now) {
        const was = before.get(s.workbookId)
        if (!was) this.startReading(s.workbookId, id)
        if (!was || was.available !== s.available || was.linkId !== s.linkId) { a.dirty.add(s.workbookId); changed = true }
      }
      const kept = new Set(now.map(s => s.workbookId))
      for (const s of a.sources) if (!kept.has(s.workbookId)) { this.stopReading(s.workbookId, id); a.cache.delete(s.workbookId) }
      a.sources = now
      if (changed) this.schedule(a, delay)
    } catch (e) {
      this.log.error(`[rollup] ${id}: reading its sources failed:`, e)
    }
  }

  private schedule(a: Active, delay = this.opts.debounceMs): void {
    if (a.closed || a.timer || a.running) return
    a.timer = setTimeout(() => { a.timer = null; void this.pass(a) }, delay)
    a.timer.unref()
  }

  /** A source's doc as it stands: its room's state when this instance holds one, else what is stored. */
  async sourceDoc(id: string): Promise<Y.Doc | null> {
    const state = this.rooms.state(id)
    if (state === 'ready' || state === 'resting' || state === 'loading') {
      try {
        const doc = new Y.Doc()
        Y.applyUpdate(doc, await this.rooms.encodedState(id))
        return doc
      } catch { /* unloading meanwhile: read the store */ }
    }
    const updates = await this.store.loadUpdates(id)
    if (!updates.length) return null
    const doc = new Y.Doc()
    Y.applyUpdate(doc, Y.mergeUpdates(updates))
    return doc
  }

  private async pass(a: Active): Promise<void> {
    if (a.closed || this.closing) return
    a.running = true
    const t0 = performance.now()
    let read = 0
    try {
      const dirty = a.dirty
      a.dirty = new Set()
      for (const s of a.sources) {
        if (!dirty.has(s.workbookId)) continue
        if (!s.available) { a.cache.set(s.workbookId, 'unavailable'); continue }
        const doc = await this.sourceDoc(s.workbookId)
        if (a.closed) return
        if (!doc) { a.cache.set(s.workbookId, 'unavailable'); continue }
        try {
          const c = readContribution(doc, { key: a.config.sheetKey, name: a.config.sheetName }, a.out)
          a.cache.set(s.workbookId, c)
          if (c.title) a.titles.set(s.workbookId, c.title)
          read++
        } finally { doc.destroy() }
      }
      const blocks: Block[] = []
      const entries: SourceEntry[] = a.sources.map(s => {
        const c = a.cache.get(s.workbookId)
        const title = a.titles.get(s.workbookId) ?? ''
        if (!c || c === 'unavailable') return { workbookId: s.workbookId, title, status: 'unavailable', rows: 0 }
        if (!c.ok) return { workbookId: s.workbookId, title, status: 'no-sheet', rows: 0 }
        blocks.push({ workbookId: s.workbookId, title: c.title, rows: c.rows })
        return { workbookId: s.workbookId, title, status: 'ok', rows: c.rows.length }
      })
      const cols = a.out.map(o => o.colId)
      const { plan } = a
      const rows = plan.mode === 'stack'
        ? stackRows(blocks, cols, plan.sourceCol)
        : aggregateRows(blocks, cols, plan.keyCol ?? '', plan.measures, new Set(Object.keys(plan.formulas)))
      if (a.closed || this.rooms.state(a.id) === null) return
      const stats = await this.rooms.withDoc(a.id, doc => {
        const st = applyRows(doc, plan.sheet, rows, plan.mode === 'aggregate' ? plan.formulas : {}, SERVER_ORIGIN)
        writeSources(doc, entries, SERVER_ORIGIN)
        return st
      })
      this.emit('pass', a.id, { read, ms: performance.now() - t0, rows: rows.length, stats })
    } catch (e) {
      this.log.error(`[rollup] ${a.id}: a pass failed:`, e)
    } finally {
      a.running = false
      if (a.dirty.size) this.schedule(a)
    }
  }

  close(): void {
    this.closing = true
    this.rooms.off('room-loaded', this.onLoaded)
    this.rooms.off('room-unloading', this.onGone)
    this.rooms.off('room-dropped', this.onGone)
    this.rooms.off('flushed', this.onFlushed)
    for (const id of [...this.active.keys()]) this.closeRollup(id)
  }
}
