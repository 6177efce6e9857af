/**
 * What changed between two versions of a workbook doc: the cells whose stored inputs differ (by row
 * and column id, so a sort or an inserted row is not a change of the cells it moves), the rows and
 * columns inserted and deleted, renamed, added and removed sheets, and whether a sheet's protections,
 * lock or charts changed. Pure over two docs; no Vue, no Node: the page and the server both use it.
 *
 * A formula whose computed value changed because its inputs did is not a change (only inputs are
 * listed). A formula whose stored form differs only because a sort kept its references at their
 * positions (sort.ts rewrites range ends and references to other rows that way) is not one either:
 * it reads the same A1 text in both versions, and every row and column it names is in both.
 */
import type * as Y from 'yjs'
import type { HyperFormula } from 'hyperformula'
import { getTitle, sheetParts, sheetsOf, type CellInput } from '../workbook/schema'
import { WorkbookLayout, type AxisLayout, type SheetLayout } from '../workbook/layout'
import { textForInput } from '../workbook/input'
import { a1, CLOSE, OPEN, decodeFormula } from '../formulas/references'
import { toCellValue, type CellValue } from '../formulas/engine'
import { computeView, viewOf } from '../workbook/view'
import { readProtections, sheetLock, type Protection } from '../access/model'
import { chartsOf, readChart, type ChartSpec } from '../charts/charts'

export interface CellDiff {
  /** A1 address in the `after` doc's layout (in the `before` doc's layout when the row or column is gone in `after`) */
  cell: string
  rowId: string; colId: string
  /** 'added': empty before; 'removed': empty after; 'changed': both non-empty and different */
  kind: 'added' | 'changed' | 'removed'
  /** raw stored inputs (null when empty) */
  before: CellInput | null; after: CellInput | null
  /** the inputs as a person reads them (formulas in A1 form of their own doc, dates ISO, numbers as stored) — '' when empty */
  beforeText: string; afterText: string
  /** computed values (null when empty or when values were not asked for) */
  beforeValue: CellValue | null; afterValue: CellValue | null
}

export interface SheetDiff {
  sheetId: string
  /** name in `after` (in `before` when removed) */
  name: string
  status: 'added' | 'removed' | 'changed' | 'same'
  /** set when renamed */
  renamedFrom?: string
  /** sorted by row then column of `cell` (a removed row's cells at their `before` position) */
  cells: CellDiff[]
  rowsInserted: string[]; rowsDeleted: string[]; colsInserted: string[]; colsDeleted: string[]
  /** true when the order of rows surviving in both differs (a sort or a move) */
  rowsReordered: boolean
  protectionsChanged: boolean; lockChanged: boolean; chartsChanged: boolean
}

export interface WorkbookDiff {
  /** sheets with any change; `after`'s tab order, removed sheets last (in `before`'s order) */
  sheets: SheetDiff[]
  titleChanged: boolean
  counts: { cells: number; sheetsAdded: number; sheetsRemoved: number; sheetsRenamed: number }
}

export type ValueAt = (sheetId: string, row: number, col: number) => CellValue

export interface DiffOptions {
  /** default true */
  values?: boolean
  /** a side's computed values by visible position, when the caller keeps them (a version diffed again) */
  valuesOf?: { before?: ValueAt; after?: ValueAt }
}

/** One version: its layout, and what is read of it at most once (the computed values, protections, charts). */
class Side {
  readonly layout: WorkbookLayout
  private hf: HyperFormula | undefined
  private readonly kept: ValueAt | undefined
  private prot: Map<string, string> | undefined
  private chartMap: Map<string, Map<string, ChartSpec>> | undefined
  constructor(readonly doc: Y.Doc, kept?: ValueAt) { this.layout = new WorkbookLayout(doc); this.kept = kept }

  value(sheetId: string, row: number, col: number): CellValue {
    if (this.kept) return this.kept(sheetId, row, col)
    this.hf ??= computeView(viewOf(this.doc))
    const sheet = this.hf.getSheetId(sheetId)
    return sheet === undefined ? null : toCellValue(this.hf.getCellValue({ sheet, row, col }))
  }

  /** the sheet's protections, in a form to compare */
  protections(sheetId: string): string {
    if (!this.prot) {
      const by = new Map<string, Protection[]>()
      for (const p of readProtections(this.doc)) by.set(p.sheet, [...(by.get(p.sheet) ?? []), p])
      this.prot = new Map([...by].map(([id, list]) => [id, canon(list.sort((x, y) => cmp(x.id, y.id)))]))
    }
    return this.prot.get(sheetId) ?? '[]'
  }

  charts(sheetId: string): Map<string, ChartSpec> {
    if (!this.chartMap) {
      this.chartMap = new Map()
      chartsOf(this.doc).forEach((v, id) => {
        const r = readChart(v)
        if (!r.ok) return
        const m = this.chartMap!.get(r.spec.sheet) ?? new Map<string, ChartSpec>()
        this.chartMap!.set(r.spec.sheet, m.set(id, r.spec))
      })
    }
    return this.chartMap.get(sheetId) ?? new Map()
  }

  destroy(): void { this.hf?.destroy() }
}

const cmp = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0)

/** JSON with object keys sorted: equal for deeply equal plain values */
const canon = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) =>
  x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => cmp(a, b))) : x) ?? 'null'

const isEmpty = (v: CellInput | null | undefined): v is null | undefined => v === undefined || v === null || v === ''

/** A cell being listed, with where it is in each version (for its values). */
interface Pending { d: CellDiff; sheetId: string; at: [number, number]; bPos?: [number, number]; aPos?: [number, number] }

/** Every row and column a stored formula names is visible in each of the layouts. */
function refsSurvive(stored: string, ownSheet: string, layouts: WorkbookLayout[]): boolean {
  for (let open = stored.indexOf(OPEN); open >= 0; open = stored.indexOf(OPEN, open + 1)) {
    const close = stored.indexOf(CLOSE, open)
    if (close < 0) return false
    const token = stored.slice(open + 1, close)
    const bang = token.indexOf('!')
    const sheetId = bang >= 0 ? token.slice(0, bang) : ownSheet
    for (const point of token.slice(bang + 1).split(':')) {
      const [r = '', c = ''] = point.split(',').map(s => s.replace(/^\$/, ''))
      for (const l of layouts) {
        const s = l.sheet(sheetId)
        if (!s || (r && !s.rows.pos.has(r)) || (c && !s.cols.pos.has(c))) return false
      }
    }
  }
  return true
}

/** The stored inputs are the same, or are formulas reading the same cells by position (see the top). */
function sameInput(b: CellInput, a: CellInput, sheetId: string, bl: WorkbookLayout, al: WorkbookLayout): boolean {
  if (b === a) return true
  if (typeof b !== 'object' || typeof a !== 'object' || b.t !== a.t) return false
  if (b.v === a.v) return true
  if (b.t !== 'f' || !refsSurvive(b.v, sheetId, [bl, al]) || !refsSurvive(a.v, sheetId, [bl, al])) return false
  // sheet ids for sheet names: a rename is not a change of the formula
  const opts = { sheetName: (id: string) => id }
  return decodeFormula(b.v, { layout: bl, sheetId }, opts) === decodeFormula(a.v, { layout: al, sheetId }, opts)
}

/** A chart's row range is the same when it names the same rows, or rows at the same positions (a sort keeps it there). */
function sameChart(b: ChartSpec, a: ChartSpec, bs: SheetLayout | undefined, as: SheetLayout | undefined): boolean {
  const { from: bf, to: bt, ...bRest } = b
  const { from: af, to: at, ...aRest } = a
  if (canon(bRest) !== canon(aRest)) return false
  const end = (x: string | undefined, y: string | undefined) => x === y || (x !== undefined && y !== undefined && !!bs && !!as
    && bs.rows.pos.has(x) && bs.rows.pos.has(y) && as.rows.pos.has(x) && as.rows.pos.has(y) && bs.rows.indexOf(x) === as.rows.indexOf(y))
  return end(bf, af) && end(bt, at)
}

function chartsDiffer(b: Map<string, ChartSpec>, a: Map<string, ChartSpec>, bs: SheetLayout | undefined, as: SheetLayout | undefined): boolean {
  if (b.size !== a.size) return true
  for (const [id, spec] of b) {
    const other = a.get(id)
    if (!other || !sameChart(spec, other, bs, as)) return true
  }
  return false
}

const notIn = (x: AxisLayout | undefined, y: AxisLayout | undefined): string[] => (x ? x.ids.filter(id => !y?.pos.has(id)) : [])

function reordered(b: AxisLayout, a: AxisLayout): boolean {
  let j = 0
  for (const id of b.ids) {
    if (!a.pos.has(id)) continue
    while (j < a.ids.length && !b.pos.has(a.ids[j]!)) j++
    if (a.ids[j++] !== id) return true
  }
  return false
}

function diffSheet(sheetId: string, b: Side, a: Side, pending: Pending[]): SheetDiff {
  const bs = b.layout.sheet(sheetId), as = a.layout.sheet(sheetId)
  const status: SheetDiff['status'] = !bs ? 'added' : !as ? 'removed' : 'same'
  const diff: SheetDiff = {
    sheetId, name: (as ?? bs)!.name, status, cells: [],
    rowsInserted: notIn(as?.rows, bs?.rows), rowsDeleted: notIn(bs?.rows, as?.rows),
    colsInserted: notIn(as?.cols, bs?.cols), colsDeleted: notIn(bs?.cols, as?.cols),
    rowsReordered: !!bs && !!as && reordered(bs.rows, as.rows),
    protectionsChanged: b.protections(sheetId) !== a.protections(sheetId),
    lockChanged: canon(sheetLock(b.doc, sheetId)) !== canon(sheetLock(a.doc, sheetId)),
    chartsChanged: chartsDiffer(b.charts(sheetId), a.charts(sheetId), bs, as),
  }
  if (bs && as && bs.name !== as.name) diff.renamedFrom = bs.name
  if (as) {
    const bCells = bs ? sheetParts(sheetsOf(b.doc).get(sheetId)!).cells : undefined
    const aCells = sheetParts(sheetsOf(a.doc).get(sheetId)!).cells
    const mine: Pending[] = []
    const push = (rowId: string, colId: string, before: CellInput | null, after: CellInput | null, bPos?: [number, number], aPos?: [number, number]) => {
      const at = aPos ?? bPos!
      const bCtx = { layout: b.layout, sheetId }, aCtx = { layout: a.layout, sheetId }
      mine.push({
        sheetId, at, bPos: before === null ? undefined : bPos, aPos: after === null ? undefined : aPos,
        d: {
          cell: a1(at[0], at[1]), rowId, colId, kind: before === null ? 'added' : after === null ? 'removed' : 'changed',
          before, after, beforeText: textForInput(before, bCtx), afterText: textForInput(after, aCtx), beforeValue: null, afterValue: null,
        },
      })
    }
    const bRow = bs?.rows.pos, bCol = bs?.cols.pos, aRow = as.rows.pos, aCol = as.cols.pos
    aCells.forEach((input, key) => {
      const i = key.indexOf(':')
      const rowId = key.slice(0, i), colId = key.slice(i + 1)
      const r = aRow.get(rowId), c = aCol.get(colId)
      if (r === undefined || c === undefined || isEmpty(input)) return
      const br = bRow?.get(rowId), bc = bCol?.get(colId)
      const before = br === undefined || bc === undefined ? undefined : bCells!.get(key)
      if (isEmpty(before)) { push(rowId, colId, null, input, undefined, [r, c]); return }
      if (!sameInput(before, input, sheetId, b.layout, a.layout)) push(rowId, colId, before, input, [br!, bc!], [r, c])
    })
    bCells?.forEach((input, key) => {
      const i = key.indexOf(':')
      const rowId = key.slice(0, i), colId = key.slice(i + 1)
      const r = bRow!.get(rowId), c = bCol!.get(colId)
      if (r === undefined || c === undefined || isEmpty(input)) return
      const ar = aRow.get(rowId), ac = aCol.get(colId)
      const visible = ar !== undefined && ac !== undefined
      if (visible && !isEmpty(aCells.get(key))) return // listed above, or the same
      push(rowId, colId, input, null, [r, c], visible ? [ar, ac] : undefined)
    })
    mine.sort((x, y) => x.at[0] - y.at[0] || x.at[1] - y.at[1] || cmp(x.d.kind, y.d.kind))
    diff.cells = mine.map(p => p.d)
    pending.push(...mine)
  }
  if (status === 'same' && (diff.renamedFrom !== undefined || diff.cells.length || diff.rowsInserted.length || diff.rowsDeleted.length
    || diff.colsInserted.length || diff.colsDeleted.length || diff.rowsReordered || diff.protectionsChanged || diff.lockChanged || diff.chartsChanged)) {
    diff.status = 'changed'
  }
  return diff
}

/** What changed from `before` to `after` (two versions of one workbook). */
export function diffDocs(before: Y.Doc, after: Y.Doc, opts: DiffOptions = {}): WorkbookDiff {
  const b = new Side(before, opts.valuesOf?.before), a = new Side(after, opts.valuesOf?.after)
  try {
    const pending: Pending[] = []
    const ids = [...a.layout.order, ...b.layout.order.filter(id => !a.layout.sheet(id))]
    const sheets = ids.map(id => diffSheet(id, b, a, pending)).filter(s => s.status !== 'same')
    if (opts.values !== false) {
      for (const p of pending) {
        if (p.bPos) p.d.beforeValue = b.value(p.sheetId, p.bPos[0], p.bPos[1])
        if (p.aPos) p.d.afterValue = a.value(p.sheetId, p.aPos[0], p.aPos[1])
      }
    }
    return {
      sheets,
      titleChanged: getTitle(before) !== getTitle(after),
      counts: {
        cells: pending.length,
        sheetsAdded: sheets.filter(s => s.status === 'added').length,
        sheetsRemoved: sheets.filter(s => s.status === 'removed').length,
        sheetsRenamed: sheets.filter(s => s.renamedFrom !== undefined).length,
      },
    }
  } finally {
    b.destroy(); a.destroy()
  }
}
