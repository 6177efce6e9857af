/**
 * Positions derived from the doc: which visible row/column an id is at, and where a deleted id's range
 * end resolves to. Rebuilt (cheaply, O(rows + cols)) whenever a sheet's structure changes.
 */
import type * as Y from 'yjs'
import { sheetIds, sheetName, sheetsOf, sheetParts, visibleIds, type SheetMap, type Tombstone } from './schema'

export class AxisLayout {
  readonly ids: string[]
  readonly pos = new Map<string, number>()
  constructor(order: Y.Array<string>, readonly gone: Y.Map<Tombstone>) {
    this.ids = visibleIds(order, gone)
    this.ids.forEach((id, i) => this.pos.set(id, i))
  }
  get length(): number { return this.ids.length }
  /** Visible index of an id, or -1 when deleted or unknown. */
  indexOf(id: string): number { return this.pos.get(id) ?? -1 }
  /**
   * Where a range end lands when its id is deleted: the nearest survivor on the inner side at deletion
   * time (`next` for a range start, `prev` for a range end), following chains of deletions.
   * Returns a visible index, `length` (past the end) or -1 (before the start); undefined if unknown.
   */
  resolveEnd(id: string, side: 'start' | 'end'): number | undefined {
    const direct = this.pos.get(id)
    if (direct !== undefined) return direct
    let cur: string | null = id
    const seen = new Set<string>()
    while (cur !== null) {
      const p = this.pos.get(cur)
      if (p !== undefined) return p
      if (seen.has(cur)) return undefined
      seen.add(cur)
      const stone: Tombstone | undefined = this.gone.get(cur)
      if (!stone) return undefined
      cur = side === 'start' ? stone.next : stone.prev
    }
    return side === 'start' ? this.ids.length : -1
  }
  /** True when resolving `id` as a range end (see resolveEnd) visits one of `ids`. */
  resolvesThrough(id: string, side: 'start' | 'end', ids: ReadonlySet<string>): boolean {
    let cur: string | null = id
    const seen = new Set<string>()
    while (cur !== null && !seen.has(cur)) {
      if (ids.has(cur)) return true
      if (this.pos.has(cur)) return false
      seen.add(cur)
      const stone: Tombstone | undefined = this.gone.get(cur)
      if (!stone) return false
      cur = side === 'start' ? stone.next : stone.prev
    }
    return false
  }
}

export class SheetLayout {
  readonly rows: AxisLayout
  readonly cols: AxisLayout
  constructor(readonly id: string, readonly name: string, sheet: SheetMap) {
    const p = sheetParts(sheet)
    this.rows = new AxisLayout(p.rows, p.rowsGone)
    this.cols = new AxisLayout(p.cols, p.colsGone)
  }
}

/** Layout of every sheet of a workbook, with name lookup (case-insensitive, as in Excel). */
export class WorkbookLayout {
  private readonly byId = new Map<string, SheetLayout>()
  private readonly byName = new Map<string, string>()
  readonly order: string[]
  constructor(private readonly doc: Y.Doc, reuse?: WorkbookLayout, dirty?: Set<string>) {
    this.order = sheetIds(doc)
    const sheets = sheetsOf(doc)
    for (const id of this.order) {
      const old = reuse?.byId.get(id)
      const name = sheetName(doc, id)
      const layout = old && dirty && !dirty.has(id) && old.name === name ? old : new SheetLayout(id, name, sheets.get(id)!)
      this.byId.set(id, layout)
      this.byName.set(name.toLowerCase(), id)
    }
  }
  sheet(id: string): SheetLayout | undefined { return this.byId.get(id) }
  sheetIdByName(name: string): string | undefined { return this.byName.get(name.toLowerCase()) }
  get document(): Y.Doc { return this.doc }
}
