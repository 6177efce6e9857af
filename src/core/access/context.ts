/**
 * What the checkers of a change ask about it, worked out once and only when asked: the sheets before
 * and after, their visible rows, the rows it inserted or took out, and whether a formula was rewritten
 * by the workbook itself (a totals range growing over inserted rows).
 */
import * as Y from 'yjs'
import { cellKey, isFormula, sheetParts, sheetsOf, visibleIds, type ColumnMeta, type SheetMap } from '../workbook/schema'
import { columnFormulaFor } from '../workbook/table'
import type { AccessView, Principal } from './model'
import type { Refusal } from './refusal'
import { cellRefusal } from './rules'
import { sameInput } from './shape'

/** What deciding a cell write needs to know about the change around it (see cellWriteRefusal). */
export interface CellContext {
  /** a sheet's visible rows before and after the change */
  rowsBefore(sheetId: string): readonly string[]
  rowsAfter(sheetId: string): readonly string[]
  /** a calculated column's formula before and after the change */
  calcBefore(sheetId: string, colId: string): string | undefined
  calcAfter(sheetId: string, colId: string): string | undefined
  /** a formula the workbook rewrote by itself: a range grown over inserted rows, or shrunk back when they went */
  automatic(prev: unknown, next: unknown, sheetId: string): boolean
  /** rows the change took out of an order (an undone insert) */
  removedRows(): ReadonlySet<string>
}

export type Axis = 'rows' | 'cols'

export function visibleOf(s: SheetMap | undefined, axis: Axis): string[] {
  if (!s) return []
  const p = sheetParts(s)
  return axis === 'rows' ? visibleIds(p.rows, p.rowsGone) : visibleIds(p.cols, p.colsGone)
}

const calcOf = (s: SheetMap | undefined, colId: string): string | undefined =>
  s ? (sheetParts(s).colMeta.get(colId) as ColumnMeta | undefined)?.formula : undefined

/**
 * Why this person may not take the row out (or bring it back): a cell of it they could not clear. A
 * calculated column's own formula is the workbook's, not theirs. `doc` answers the person column.
 */
export function rowGoneRefusal(view: AccessView, doc: Y.Doc, who: Principal, sid: string, sheet: SheetMap | undefined, rowId: string): Refusal | null {
  if (!sheet) return null
  const { cells } = sheetParts(sheet)
  let rows: string[] | undefined
  for (const colId of visibleOf(sheet, 'cols')) {
    const v = cells.get(cellKey(rowId, colId))
    if (v === undefined) continue
    const calc = calcOf(sheet, colId)
    if (calc && sameInput(v, columnFormulaFor(calc, rowId, rows ??= visibleOf(sheet, 'rows')))) continue
    const r = cellRefusal(view, doc, who, sid, rowId, colId)
    if (r) return { ...r, sheet: sid, cell: cellKey(rowId, colId) }
  }
  return null
}

const REF = /\u27e6[^\u27e7]*\u27e7/g

/**
 * True when `next` is `prev` with range ends moved over rows the same change inserted right after them:
 * what extendRangeEnds does to a totals formula (in any sheet) when rows are added at the end of a
 * table. Only the row of a range's end may differ; its start, columns and sheet stay; every row between
 * the old end and the new one is new. `newRows`: rows the change inserted, in any sheet; `orderOf`: a
 * sheet's visible rows after the change; `sheetId`: the sheet the formula is on.
 */
export function onlyGrewInto(prev: unknown, next: unknown, newRows: ReadonlySet<string>, orderOf: (sheetId: string) => readonly string[], sheetId: string): boolean {
  if (!isFormula(prev) || !isFormula(next) || newRows.size === 0) return false
  const a = prev.v, b = next.v
  if (a.replace(REF, '⟦⟧') !== b.replace(REF, '⟦⟧')) return false
  const ra = a.match(REF) ?? [], rb = b.match(REF) ?? []
  if (ra.length !== rb.length) return false
  let grew = false
  for (let i = 0; i < ra.length; i++) {
    if (ra[i] === rb[i]) continue
    const x = ra[i]!.slice(1, -1), y = rb[i]!.slice(1, -1)
    const bang = x.indexOf('!')
    if (bang !== y.indexOf('!') || x.slice(0, bang + 1) !== y.slice(0, bang + 1)) return false
    const [sa, ea, more] = x.slice(bang + 1).split(':'), [sb, eb] = y.slice(bang + 1).split(':')
    if (more !== undefined || ea === undefined || eb === undefined || sa !== sb) return false
    const [rowA, colA] = ea.split(','), [rowB, colB] = eb.split(',')
    if (colA !== colB || rowA === undefined || rowB === undefined || rowA.startsWith('$') !== rowB.startsWith('$')) return false
    const from = rowA.replace('$', ''), to = rowB.replace('$', '')
    if (!newRows.has(to)) return false
    const order = orderOf(bang >= 0 ? x.slice(0, bang) : sheetId)
    const i0 = order.indexOf(from), i1 = order.indexOf(to)
    if (i0 < 0 || i1 <= i0) return false
    for (let k = i0 + 1; k <= i1; k++) if (!newRows.has(order[k]!)) return false
    grew = true
  }
  return grew
}

/** A doc as it stands, for a change that only sets or clears cells (the quick check): nothing moved. */
export function stillContext(doc: Y.Doc): CellContext {
  const rows = new Map<string, string[]>()
  const rowsOf = (sid: string) => rows.get(sid) ?? rows.set(sid, visibleOf(sheetsOf(doc).get(sid), 'rows')).get(sid)!
  const calc = (sid: string, colId: string) => calcOf(sheetsOf(doc).get(sid), colId)
  const none: ReadonlySet<string> = new Set()
  return { rowsBefore: rowsOf, rowsAfter: rowsOf, calcBefore: calc, calcAfter: calc, automatic: () => false, removedRows: () => none }
}

/** A change applied to `after` (in `tr`), checked against the rules as they stood in `before`. */
export class ChangeContext implements CellContext {
  readonly owner: boolean
  private inserted?: Set<string>
  private removed?: Set<string>
  private readonly orders = new Map<string, string[]>()
  private readonly beforeOrders = new Map<string, string[]>()

  constructor(readonly before: Y.Doc, readonly after: Y.Doc, readonly tr: Y.Transaction, readonly who: Principal, readonly view: AccessView) {
    this.owner = who.role === 'owner'
  }

  sheetBefore(sid: string): SheetMap | undefined { return sheetsOf(this.before).get(sid) }
  sheetAfter(sid: string): SheetMap | undefined { return sheetsOf(this.after).get(sid) }

  rowsAfter(sid: string): readonly string[] {
    return this.orders.get(sid) ?? this.orders.set(sid, visibleOf(this.sheetAfter(sid), 'rows')).get(sid)!
  }
  rowsBefore(sid: string): readonly string[] {
    return this.beforeOrders.get(sid) ?? this.beforeOrders.set(sid, visibleOf(this.sheetBefore(sid), 'rows')).get(sid)!
  }
  calcBefore(sid: string, colId: string): string | undefined { return calcOf(this.sheetBefore(sid), colId) }
  calcAfter(sid: string, colId: string): string | undefined { return calcOf(this.sheetAfter(sid), colId) }

  /** rows the change inserted, in every sheet (range ends may grow over them) */
  newRows(): ReadonlySet<string> {
    if (this.inserted) return this.inserted
    const inserted = this.inserted = new Set<string>()
    sheetsOf(this.after).forEach((s, id) => {
      if (!(s instanceof Y.Map) || !(s.get('rows') instanceof Y.Array)) return
      const was = this.sheetBefore(id)
      const had = new Set(was ? sheetParts(was).rows.toArray() : [])
      for (const r of (s.get('rows') as Y.Array<string>).toArray()) if (!had.has(r)) inserted.add(r)
    })
    return inserted
  }

  removedRows(): ReadonlySet<string> {
    if (this.removed) return this.removed
    const removed = this.removed = new Set<string>()
    sheetsOf(this.before).forEach((s, id) => {
      const now = this.sheetAfter(id)
      const kept = new Set(now instanceof Y.Map && now.get('rows') instanceof Y.Array ? (now.get('rows') as Y.Array<string>).toArray() : [])
      for (const r of sheetParts(s).rows.toArray()) if (!kept.has(r)) removed.add(r)
    })
    return removed
  }

  automatic(prev: unknown, next: unknown, sid: string): boolean {
    return onlyGrewInto(prev, next, this.newRows(), id => this.rowsAfter(id), sid)
      || onlyGrewInto(next, prev, this.removedRows(), id => this.rowsBefore(id), sid)
  }

  /** Deleting a row deletes its protected values (a calculated column's own formula is nobody's value). */
  rowGone(sid: string, sheet: SheetMap | undefined, rowId: string): Refusal | null {
    return rowGoneRefusal(this.view, this.before, this.who, sid, sheet, rowId)
  }
}
