/**
 * The formula adapter: one HyperFormula instance per open workbook, kept in step with the doc
 * incrementally. A cell edit sets one cell; a row insert calls addRows; nothing is rebuilt per change.
 * HyperFormula knows sheets by their ids, so renames never touch it. Runs in the browser and in Node.
 */
import { HyperFormula, DetailedCellError, type ConfigParams, type RawCellContent, type SimpleCellAddress } from 'hyperformula'
import * as Y from 'yjs'
import { isFormula, metaOf, sheetOrderOf, sheetsOf, sheetParts, splitCellKey, type CellInput, type SheetMap } from '../workbook/schema'
import { WorkbookLayout, type SheetLayout } from '../workbook/layout'
import { OPEN, needsRefreshAfterStructureChange, rangeEndResolvesThrough } from './references'
import { engineLayout, makeOverlay, onlyReordered, orderSafe, withInserts, type RowOverlay } from './rowOrder'
import { hyperformulaLicenseKey } from '../licenses'
import { engineContext } from './timezone'
import './baseline'
import type { BaselineSource } from './baseline'
import { workbookTimeZone } from '../workbook/zone'

export const HF_CONFIG: Partial<ConfigParams> = {
  // configuration (src/core/licenses.ts), read each time an engine is built from this config
  get licenseKey() { return hyperformulaLicenseKey() },
  // defaults are 40,000 rows / 18,278 columns; plans stay well inside these, raised deliberately
  maxRows: 200_000,
  maxColumns: 16_384,
  // dates are handed over as serial numbers; text never gets parsed as a date
  dateFormats: ['YYYY-MM-DD'],
}

export type { CellValue } from './value'
import type { CellValue } from './value'

export interface EngineChange {
  /** sheets whose rows/columns/sheet list changed (re-render everything of them) */
  structural: Set<string>
  /** sheetId → changed cell keys "rowId:colId" */
  cells: Map<string, Set<string>>
  /** sheets added/removed/renamed/reordered */
  sheetsChanged: boolean
  origin: unknown
  local: boolean
}

type Part = 'rows' | 'cols' | 'rowsGone' | 'colsGone' | 'cells' | 'sheet'
interface TypeTag { sheetId: string; part: Part }

export { rawContent, sheetContent } from './content'
import { rawContent, sheetContent } from './content'

/** Order diff: removals (old indexes, descending) then insertions (new indexes, ascending). */
export function diffOrder(oldIds: readonly string[], newIds: readonly string[]): { removes: [number, number][]; inserts: [number, number][] } {
  const newSet = new Set(newIds), oldSet = new Set(oldIds)
  const removes: [number, number][] = []
  for (let i = oldIds.length - 1; i >= 0; i--) {
    if (newSet.has(oldIds[i]!)) continue
    let j = i
    while (j - 1 >= 0 && !newSet.has(oldIds[j - 1]!)) j--
    removes.push([j, i - j + 1])
    i = j
  }
  const inserts: [number, number][] = []
  for (let i = 0; i < newIds.length; i++) {
    if (oldSet.has(newIds[i]!)) continue
    let j = i
    while (j + 1 < newIds.length && !oldSet.has(newIds[j + 1]!)) j++
    inserts.push([i, j - i + 1])
    i = j
  }
  return { removes, inserts }
}

/** Whether the ids both orders hold are in another order in `newIds` (rows moved, as a sort moves them). */
export function permuted(oldIds: readonly string[], newIds: readonly string[]): boolean {
  const newSet = new Set(newIds), oldSet = new Set(oldIds)
  let j = 0
  for (const id of oldIds) {
    if (!newSet.has(id)) continue
    while (j < newIds.length && !oldSet.has(newIds[j]!)) j++
    if (newIds[j] !== id) return true
    j++
  }
  return false
}

export class FormulaEngine {
  readonly hf: HyperFormula
  private _layout: WorkbookLayout
  private readonly tags = new WeakMap<object, TypeTag>()
  private readonly listeners = new Set<(c: EngineChange) => void>()
  private readonly onAfterTransaction: (txn: Y.Transaction) => void
  /** origins treated as this client's own (for listeners that skip their echoes) */
  localOrigins = new Set<unknown>()
  /** the workbook's time zone, TODAY() and NOW()'s */
  private zone: string
  /** sheets whose rows HyperFormula holds in another order than the doc, after a sort (./rowOrder.ts) */
  private readonly overlays = new Map<string, RowOverlay>()
  private engineView: WorkbookLayout | null = null
  /** the named versions BASELINE() reads (./baseline.ts) */
  private baselines: BaselineSource | undefined

  /**
   * `built`: an instance already computed from this very version of the doc (a workbook view, see
   * core/workbook/view.ts), which the engine takes over and destroys with itself, instead of building.
   */
  constructor(readonly doc: Y.Doc, config: Partial<ConfigParams> = {}, built?: HyperFormula) {
    this._layout = new WorkbookLayout(doc)
    const sheets: Record<string, RawCellContent[][]> = {}
    const docSheets = sheetsOf(doc)
    for (const id of this._layout.order) {
      this.tagSheet(id, docSheets.get(id)!)
      if (!built) sheets[id] = sheetContent(docSheets.get(id)!, this._layout.sheet(id)!, this._layout)
    }
    // TODAY() and NOW() in the workbook's time zone (./timezone.ts)
    this.zone = workbookTimeZone(doc)
    this.hf = built ?? HyperFormula.buildFromSheets(sheets, { ...HF_CONFIG, context: engineContext(this.zone), ...config })
    if (built && (built.getConfig().context as { timeZone?: string } | undefined)?.timeZone !== this.zone) this.hf.updateConfig({ context: engineContext(this.zone) })
    this.onAfterTransaction = (txn) => this.apply(txn)
    doc.on('afterTransaction', this.onAfterTransaction)
  }

  get layout(): WorkbookLayout { return this._layout }

  /** The layout HyperFormula's cells are at and its formulas are written against: the doc's, but for overlays. */
  private get hfLayout(): WorkbookLayout { return this.engineView ??= engineLayout(this._layout, this.overlays) }

  /** HyperFormula's row for a visible row of the doc. */
  private hfRow(sheetId: string, row: number): number {
    const ov = this.overlays.get(sheetId)
    return ov && row >= 0 && row < ov.toHf.length ? ov.toHf[row]! : row
  }

  onChange(fn: (c: EngineChange) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  destroy(): void {
    this.doc.off('afterTransaction', this.onAfterTransaction)
    this.listeners.clear()
    this.hf.destroy()
  }

  private tagSheet(sheetId: string, sheet: SheetMap): void {
    this.tags.set(sheet, { sheetId, part: 'sheet' })
    for (const part of ['rows', 'cols', 'rowsGone', 'colsGone', 'cells'] as const) {
      const t = sheet.get(part)
      if (t instanceof Y.AbstractType) this.tags.set(t, { sheetId, part })
    }
  }

  private hfSheet(sheetId: string): number | undefined { return this.hf.getSheetId(sheetId) }

  /** The computed value at a visible position. */
  getValue(sheetId: string, row: number, col: number): CellValue {
    const sheet = this.hfSheet(sheetId)
    if (sheet === undefined) return null
    return toCellValue(this.hf.getCellValue({ sheet, row: this.hfRow(sheetId, row), col }))
  }

  getValueById(sheetId: string, rowId: string, colId: string): CellValue {
    const sl = this._layout.sheet(sheetId)
    if (!sl) return null
    const r = sl.rows.indexOf(rowId), c = sl.cols.indexOf(colId)
    if (r < 0 || c < 0) return null
    return this.getValue(sheetId, r, c)
  }

  /** Every computed value of a sheet, as displayed (rows × cols). */
  getSheetValues(sheetId: string): CellValue[][] {
    const sheet = this.hfSheet(sheetId)
    const sl = this._layout.sheet(sheetId)
    if (sheet === undefined || !sl) return []
    const out: CellValue[][] = []
    for (let r = 0; r < sl.rows.length; r++) {
      const row: CellValue[] = []
      const hr = this.hfRow(sheetId, r)
      for (let c = 0; c < sl.cols.length; c++) row.push(toCellValue(this.hf.getCellValue({ sheet, row: hr, col: c })))
      out.push(row)
    }
    return out
  }

  private apply(txn: Y.Transaction): void {
    if (txn.changed.size === 0) return
    if (txn.changed.get(metaOf(this.doc) as unknown as Y.AbstractType<Y.YEvent<any>>)?.has('timeZone')) this.rezone(txn)
    const structural = new Set<string>()
    const cellKeys = new Map<string, Set<string>>()
    let sheetsChanged = false
    const goneKeys = new Set<string>()
    const sheetsMap = sheetsOf(this.doc), orderArr = sheetOrderOf(this.doc)
    for (const [type, keys] of txn.changed) {
      if (type === (sheetsMap as unknown) || type === (orderArr as unknown)) { sheetsChanged = true; continue }
      const tag = this.tags.get(type)
      if (!tag) continue
      if (tag.part === 'cells') {
        let set = cellKeys.get(tag.sheetId)
        if (!set) cellKeys.set(tag.sheetId, (set = new Set()))
        for (const k of keys) if (k !== null) set.add(k)
      } else if (tag.part === 'sheet') {
        if (keys.has('name')) sheetsChanged = true
        if ([...keys].some(k => k !== 'name' && k !== 'frozenRows' && k !== 'frozenCols')) structural.add(tag.sheetId)
      } else {
        structural.add(tag.sheetId)
        if (tag.part === 'rowsGone' || tag.part === 'colsGone') for (const k of keys) if (k !== null) goneKeys.add(k)
      }
    }
    if (!sheetsChanged && structural.size === 0 && cellKeys.size === 0) return

    const old = this._layout
    const next = new WorkbookLayout(this.doc, old, sheetsChanged ? undefined : structural)
    let reconcile = false
    this.hf.batch(() => {
      // 1. the sheet list
      if (sheetsChanged) {
        for (const id of old.order) {
          if (!next.sheet(id)) {
            const hs = this.hfSheet(id)
            if (hs !== undefined) this.hf.removeSheet(hs)
            this.overlays.delete(id)
            structural.add(id)
            reconcile = true
          }
        }
        for (const id of next.order) {
          if (!old.sheet(id)) {
            this.tagSheet(id, sheetsMap.get(id)!)
            this.hf.addSheet(id)
            structural.add(id)
            reconcile = true
          }
        }
      }
      this._layout = next
      this.engineView = null
      // 2. rows and columns
      const reordered = new Set<string>()
      for (const id of structural) {
        const o = old.sheet(id), n = next.sheet(id)
        const hs = this.hfSheet(id)
        if (!n || hs === undefined) continue
        if (!o) {
          this.hf.setSheetContent(hs, sheetContent(sheetsMap.get(id)!, n, this.hfLayout))
          continue
        }
        const ov = this.overlays.get(id)
        if (permuted(o.rows.ids, n.rows.ids) || permuted(o.cols.ids, n.cols.ids)) {
          // rows that changed places (a sort): HyperFormula keeps its order where the formulas allow
          // (see reorder), else it gets the sheet again in the new order. (Formulas elsewhere that read
          // it by position were rewritten with it, and come as cell changes. HyperFormula's setRowOrder
          // gave the same values but took 3.1 s for 10,000 rows here, against 1.2 s for a reload.)
          if (onlyReordered(o, n) && goneKeys.size === 0) { reordered.add(id); continue }
          this.reload(id, n, !!ov, old)
          // with rows coming back or vanishing in the same change (an undo of a sort and a delete at
          // once), formulas elsewhere that read them must be given again, as below
          const comes = (a: SheetLayout['rows'], b: SheetLayout['rows']) => b.ids.some(x => !a.pos.has(x) && goneKeys.has(x))
          const goes = (a: SheetLayout['rows'], b: SheetLayout['rows']) => a.ids.some(x => !b.pos.has(x) && !b.gone.has(x))
          if (comes(o.rows, n.rows) || comes(o.cols, n.cols) || goes(o.rows, n.rows) || goes(o.cols, n.cols)) reconcile = true
          continue
        }
        // (rows are removed from HyperFormula's order, and inserted where the doc has them)
        const rows = diffOrder(ov ? ov.ids : o.rows.ids, n.rows.ids)
        const cols = diffOrder(o.cols.ids, n.cols.ids)
        if (ov && (rows.removes.length || cols.removes.length || cols.inserts.length)) { this.reload(id, n, true); continue }
        if (ov) this.setOverlay(id, withInserts(ov.ids, rows.inserts, n.rows.ids), n)
        for (const [at, count] of rows.removes) this.hf.removeRows(hs, [at, count])
        for (const [at, count] of cols.removes) this.hf.removeColumns(hs, [at, count])
        for (const [at, count] of rows.inserts) this.hf.addRows(hs, [at, count])
        for (const [at, count] of cols.inserts) this.hf.addColumns(hs, [at, count])
        // ids coming back (an undone delete) bring their cells back, and formulas elsewhere that
        // HyperFormula turned into #REF! must point at them again
        const back = (ins: [number, number][], ids: string[]) =>
          ins.some(([at, count]) => ids.slice(at, at + count).some(x => goneKeys.has(x)))
        if (back(rows.inserts, n.rows.ids) || back(cols.inserts, n.cols.ids)) reconcile = true
        // ids that vanish without a tombstone (an undone insert) read as #REF! in the doc, while
        // HyperFormula would shrink ranges around them
        const vanished = (removes: [number, number][], ids: string[], gone: { has(id: string): boolean }) =>
          removes.some(([at, count]) => ids.slice(at, at + count).some(x => !gone.has(x)))
        if (vanished(rows.removes, o.rows.ids, n.rows.gone) || vanished(cols.removes, o.cols.ids, n.cols.gone)) reconcile = true
        if (rows.inserts.length || cols.inserts.length) this.fillInserted(id, n, rows.inserts, cols.inserts)
      }
      const kept = reordered.size ? this.reorder(reordered, old, cellKeys) : new Set<string>()
      // formulas all read again: in the doc's order
      if (reconcile) for (const id of [...this.overlays.keys()]) this.reload(id, next.sheet(id)!, true)
      // 3. cells
      for (const [sheetId, keys] of cellKeys) {
        const hs = this.hfSheet(sheetId)
        if (!next.sheet(sheetId) || hs === undefined) continue
        const cells = sheetParts(sheetsMap.get(sheetId)!).cells
        for (const key of keys) {
          const [rowId, colId] = splitCellKey(key)
          const input = cells.get(key)
          if (this.overlays.size && isFormula(input) && !orderSafe(input.v, sheetId, rowId, { layout: next, overlays: this.overlays })) {
            for (const id of [...this.overlays.keys()]) this.reload(id, next.sheet(id)!, true)
          }
          const sl = this.hfLayout.sheet(sheetId)!
          const r = sl.rows.indexOf(rowId), c = sl.cols.indexOf(colId)
          if (r < 0 || c < 0) continue
          const addr = { sheet: hs, row: r, col: c }
          const raw = rawContent(input, sheetId, this.hfLayout)
          // a formula the sort rewrote to keep its positions mostly reads as HyperFormula has it already
          // (a totals row's SUM over 10,000 rows takes 20 ms to set again)
          if (kept.size && isFormula(input) && this.sameFormula(addr, raw as string)) continue
          this.hf.setCellContents(addr, [[raw]])
        }
      }
      if (reconcile) this.reconcileFormulas()
      // (rows that only changed places in the doc changed nothing in HyperFormula)
      else if (sheetsChanged || [...structural].some(id => !kept.has(id))) this.reconcileFormulas(true, goneKeys)
    })
    const change: EngineChange = {
      structural, cells: cellKeys, sheetsChanged, origin: txn.origin,
      local: txn.local && (txn.origin === null || this.localOrigins.has(txn.origin)),
    }
    for (const fn of this.listeners) fn(change)
  }

  /** The workbook's time zone changed: every TODAY() and NOW() again, every sheet drawn again. */
  private rezone(txn: Y.Transaction): void {
    const zone = workbookTimeZone(this.doc)
    if (zone === this.zone) return
    this.zone = zone
    this.reconfigure(txn.origin, txn.local && (txn.origin === null || this.localOrigins.has(txn.origin)))
  }

  /** BASELINE() reads these versions from now on (every formula computed again, every sheet drawn again). */
  setBaselines(source: BaselineSource): void {
    source.ids = (sheet, row, col) => {
      const sheetId = this.hf.getSheetName(sheet), sl = sheetId === undefined ? undefined : this.hfLayout.sheet(sheetId)
      const rowId = sl?.rows.ids[row], colId = sl?.cols.ids[col]
      return sheetId && rowId && colId ? { sheetId, rowId, colId } : undefined
    }
    this.baselines = source
    this.reconfigure(null, false)
  }

  private reconfigure(origin: unknown, local: boolean): void {
    this.hf.updateConfig({ context: engineContext(this.zone, this.baselines) })
    const change: EngineChange = { structural: new Set(this._layout.order), cells: new Map(), sheetsChanged: false, origin, local }
    for (const fn of this.listeners) fn(change)
  }

  private setOverlay(id: string, hfRows: readonly string[], sl: SheetLayout): void {
    const ov = makeOverlay(hfRows, sl.rows)
    if (ov) this.overlays.set(id, ov); else this.overlays.delete(id)
    this.engineView = null
  }

  /**
   * Rows of `sheets` that only changed places: HyperFormula keeps them where they are when every
   * formula reads the same cells that way (orderSafe), and the engine notes where each row is. Else the
   * sheet is loaded again in its new order. Returns the sheets kept.
   */
  private reorder(sheets: ReadonlySet<string>, old: WorkbookLayout, cellKeys: ReadonlyMap<string, ReadonlySet<string>>): Set<string> {
    const had = new Set(this.overlays.keys())
    for (const id of sheets) this.setOverlay(id, this.overlays.get(id)?.ids ?? old.sheet(id)!.rows.ids, this._layout.sheet(id)!)
    const ctx = { layout: this._layout, overlays: this.overlays, before: old, reordered: sheets }
    const again: [string, string, CellInput][] = []
    let safe = true
    const sheetsMap = sheetsOf(this.doc)
    for (const sid of this._layout.order) {
      const home = sheets.has(sid)
      sheetParts(sheetsMap.get(sid)!).cells.forEach((input, key) => {
        if (!safe || !isFormula(input)) return
        // formulas that live on a sorted sheet, name one, or hold A1 text that may point into one
        if (!home && ![...sheets].some(id => input.v.includes(OPEN + id + '!')) && !(input.v.includes('!') && needsRefreshAfterStructureChange(input.v))) return
        const verdict = orderSafe(input.v, sid, key.slice(0, key.indexOf(':')), ctx)
        if (verdict === false) safe = false
        else if (verdict === 'moved' && !cellKeys.get(sid)?.has(key)) again.push([sid, key, input])
      })
      if (!safe) break
    }
    if (!safe) {
      for (const id of sheets) this.reload(id, this._layout.sheet(id)!, had.has(id), old)
      return new Set()
    }
    // a range that ends in a row that moved (and was not rewritten) reads other rows now
    for (const [sid, key, input] of again) {
      const [rowId, colId] = splitCellKey(key)
      const sl = this.hfLayout.sheet(sid)!
      const r = sl.rows.indexOf(rowId), c = sl.cols.indexOf(colId)
      if (r >= 0 && c >= 0) this.hf.setCellContents({ sheet: this.hfSheet(sid)!, row: r, col: c }, [[rawContent(input, sid, this.hfLayout)]])
    }
    return new Set(sheets)
  }

  /**
   * The sheet again, in the doc's order (no overlay). Formulas elsewhere that read it are given again
   * when they found its rows at HyperFormula's places (`hadOverlay`), or when its rows changed places
   * since `before` and a range end of theirs is elsewhere now (an end that was deleted stands for the
   * row after it, wherever that went).
   */
  private reload(id: string, sl: SheetLayout, hadOverlay: boolean, before?: WorkbookLayout): void {
    this.overlays.delete(id)
    this.engineView = null
    const sheets = sheetsOf(this.doc)
    this.hf.setSheetContent(this.hfSheet(id)!, sheetContent(sheets.get(id)!, sl, this.hfLayout))
    if (!hadOverlay && !before) return
    const moved = before && { layout: this._layout, overlays: new Map(), before, reordered: new Set([id]) }
    for (const sid of this._layout.order) {
      if (sid === id) continue
      const hs = this.hfSheet(sid), l = this.hfLayout.sheet(sid)
      if (hs === undefined || !l) continue
      sheetParts(sheets.get(sid)!).cells.forEach((input, key) => {
        if (!isFormula(input) || !input.v.includes(OPEN + id + '!')) return
        if (!hadOverlay && !(moved && input.v.includes(':') && orderSafe(input.v, sid, key.slice(0, key.indexOf(':')), moved) === 'moved')) return
        const [rowId, colId] = splitCellKey(key)
        const r = l.rows.indexOf(rowId), c = l.cols.indexOf(colId)
        if (r >= 0 && c >= 0) this.hf.setCellContents({ sheet: hs, row: r, col: c }, [[rawContent(input, sid, this.hfLayout)]])
      })
    }
  }

  /** Whether HyperFormula holds this very formula at `addr` already. */
  private sameFormula(addr: SimpleCellAddress, text: string): boolean {
    const have = this.hf.getCellFormula(addr)
    if (have === undefined) return false
    try { return have === this.hf.normalizeFormula(text) } catch { return false }
  }

  /** Cells of rows/columns that (re)appeared: a fresh row is empty, an undone delete brings its cells. */
  private fillInserted(sheetId: string, sl: SheetLayout, rowIns: [number, number][], colIns: [number, number][]): void {
    const hs = this.hfSheet(sheetId)!
    const newRows = new Set<string>(), newCols = new Set<string>()
    for (const [at, n] of rowIns) for (let k = at; k < at + n; k++) newRows.add(sl.rows.ids[k]!)
    for (const [at, n] of colIns) for (let k = at; k < at + n; k++) newCols.add(sl.cols.ids[k]!)
    const cells = sheetParts(sheetsOf(this.doc).get(sheetId)!).cells
    const at = this.hfLayout.sheet(sheetId)!
    cells.forEach((input, key) => {
      const [rowId, colId] = splitCellKey(key)
      if (!newRows.has(rowId) && !newCols.has(colId)) return
      const r = at.rows.indexOf(rowId), c = at.cols.indexOf(colId)
      if (r < 0 || c < 0) return
      this.hf.setCellContents({ sheet: hs, row: r, col: c }, [[rawContent(input, sheetId, this.hfLayout)]])
    })
  }

  /**
   * Makes formulas in HyperFormula match what the doc says now: all of them, or only those whose
   * engine text HyperFormula cannot adjust by itself: see needsRefreshAfterStructureChange, and
   * rangeEndResolvesThrough for the rows/columns `goneChanged` whose tombstones were just set.
   */
  reconcileFormulas(positionalOnly = false, goneChanged: ReadonlySet<string> = new Set()): number {
    let fixed = 0
    let unsafe = false
    const sheetsMap = sheetsOf(this.doc)
    for (const id of this._layout.order) {
      const sl = this.hfLayout.sheet(id)!
      const hs = this.hfSheet(id)
      if (hs === undefined) continue
      sheetParts(sheetsMap.get(id)!).cells.forEach((input, key) => {
        if (!isFormula(input)) return
        if (positionalOnly && !needsRefreshAfterStructureChange(input.v)
          && !rangeEndResolvesThrough(input.v, { layout: this._layout, sheetId: id }, goneChanged)) return
        const [rowId, colId] = splitCellKey(key)
        const r = sl.rows.indexOf(rowId), c = sl.cols.indexOf(colId)
        if (r < 0 || c < 0) return
        const addr: SimpleCellAddress = { sheet: hs, row: r, col: c }
        const want = rawContent(input, id, this.hfLayout) as string
        const have = this.hf.getCellFormula(addr)
        let wantNorm: string
        try { wantNorm = this.hf.normalizeFormula(want) } catch { wantNorm = want }
        if (have !== wantNorm) {
          if (this.overlays.size && !orderSafe(input.v, id, rowId, { layout: this._layout, overlays: this.overlays })) unsafe = true
          this.hf.setCellContents(addr, [[want]]); fixed++
        }
      })
    }
    if (!unsafe) return fixed
    // a formula HyperFormula would read otherwise in its order: every sheet in the doc's order, and again
    for (const id of [...this.overlays.keys()]) this.reload(id, this._layout.sheet(id)!, true)
    return fixed + this.reconcileFormulas(positionalOnly, goneChanged)
  }
}

export function toCellValue(v: unknown): CellValue {
  if (v instanceof DetailedCellError) return { error: v.value, message: v.message }
  if (v === undefined) return null
  return v as CellValue
}

export function isErrorValue(v: CellValue): v is { error: string; message?: string } {
  return typeof v === 'object' && v !== null
}
