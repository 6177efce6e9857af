/**
 * The formula adapter: one HyperFormula instance per open workbook, kept in step with the doc
 * incrementally. A cell edit sets one cell; a row insert calls addRows; nothing is rebuilt per change.
 * HyperFormula knows sheets by their ids, so renames never touch it. Runs in the browser and in Node.
 */
import { HyperFormula, DetailedCellError, type ConfigParams, type RawCellContent, type SimpleCellAddress } from 'hyperformula'
import * as Y from 'yjs'
import { isDate, isFormula, metaOf, sheetOrderOf, sheetsOf, sheetParts, splitCellKey, type CellInput, type SheetMap } from '../workbook/schema'
import { WorkbookLayout, type SheetLayout } from '../workbook/layout'
import { decodeFormula, needsRefreshAfterStructureChange, rangeEndResolvesThrough } from './references'
import { dateToSerial } from '../workbook/input'
import { hyperformulaLicenseKey } from '../licenses'
import { engineContext } from './timezone'
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

export type CellValue = number | string | boolean | null | { error: string; message?: string }

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

/** Converts a stored input to what HyperFormula takes. */
export function rawContent(input: CellInput | undefined, sheetId: string, layout: WorkbookLayout): RawCellContent {
  if (input === undefined || input === null) return null
  if (typeof input === 'number' || typeof input === 'boolean') return input
  if (typeof input === 'string') return `'${input}` // text stays text
  if (isFormula(input)) return decodeFormula(input.v, { layout, sheetId }, { sheetLabel: 'id' })
  if (isDate(input)) return dateToSerial(input.v)
  return null
}

/** Builds the 2-D content of one sheet straight from the doc. */
export function sheetContent(sheet: SheetMap, sl: SheetLayout, layout: WorkbookLayout): RawCellContent[][] {
  const rows = sl.rows.length, cols = sl.cols.length
  const data: RawCellContent[][] = new Array(rows)
  for (let r = 0; r < rows; r++) data[r] = new Array(cols).fill(null)
  const rowPos = sl.rows.pos, colPos = sl.cols.pos
  sheetParts(sheet).cells.forEach((input, key) => {
    const i = key.indexOf(':')
    const r = rowPos.get(key.slice(0, i)), c = colPos.get(key.slice(i + 1))
    if (r !== undefined && c !== undefined) data[r]![c] = rawContent(input, sl.id, layout)
  })
  return data
}

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
    return toCellValue(this.hf.getCellValue({ sheet, row, col }))
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
      for (let c = 0; c < sl.cols.length; c++) row.push(toCellValue(this.hf.getCellValue({ sheet, row: r, col: c })))
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
      // 2. rows and columns
      for (const id of structural) {
        const o = old.sheet(id), n = next.sheet(id)
        const hs = this.hfSheet(id)
        if (!n || hs === undefined) continue
        if (!o) {
          this.hf.setSheetContent(hs, sheetContent(sheetsMap.get(id)!, n, next))
          continue
        }
        if (permuted(o.rows.ids, n.rows.ids) || permuted(o.cols.ids, n.cols.ids)) {
          // rows that changed places (a sort): the sheet's content again, in its new order. (Formulas
          // elsewhere that read it by position were rewritten with it, and come as cell changes.
          // HyperFormula's setRowOrder gave the same values but took 3.1 s for 10,000 rows here, against
          // 1.2 s for this.)
          this.hf.setSheetContent(hs, sheetContent(sheetsMap.get(id)!, n, next))
          continue
        }
        const rows = diffOrder(o.rows.ids, n.rows.ids)
        const cols = diffOrder(o.cols.ids, n.cols.ids)
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
      // 3. cells
      for (const [sheetId, keys] of cellKeys) {
        const sl = next.sheet(sheetId)
        const hs = this.hfSheet(sheetId)
        if (!sl || hs === undefined) continue
        const cells = sheetParts(sheetsMap.get(sheetId)!).cells
        for (const key of keys) {
          const [rowId, colId] = splitCellKey(key)
          const r = sl.rows.indexOf(rowId), c = sl.cols.indexOf(colId)
          if (r < 0 || c < 0) continue
          this.hf.setCellContents({ sheet: hs, row: r, col: c }, [[rawContent(cells.get(key), sheetId, next)]])
        }
      }
      if (reconcile) this.reconcileFormulas()
      else if (structural.size || sheetsChanged) this.reconcileFormulas(true, goneKeys)
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
    this.hf.updateConfig({ context: engineContext(zone) })
    const change: EngineChange = {
      structural: new Set(this._layout.order), cells: new Map(), sheetsChanged: false, origin: txn.origin,
      local: txn.local && (txn.origin === null || this.localOrigins.has(txn.origin)),
    }
    for (const fn of this.listeners) fn(change)
  }

  /** Cells of rows/columns that (re)appeared: a fresh row is empty, an undone delete brings its cells. */
  private fillInserted(sheetId: string, sl: SheetLayout, rowIns: [number, number][], colIns: [number, number][]): void {
    const hs = this.hfSheet(sheetId)!
    const newRows = new Set<string>(), newCols = new Set<string>()
    for (const [at, n] of rowIns) for (let k = at; k < at + n; k++) newRows.add(sl.rows.ids[k]!)
    for (const [at, n] of colIns) for (let k = at; k < at + n; k++) newCols.add(sl.cols.ids[k]!)
    const cells = sheetParts(sheetsOf(this.doc).get(sheetId)!).cells
    cells.forEach((input, key) => {
      const [rowId, colId] = splitCellKey(key)
      if (!newRows.has(rowId) && !newCols.has(colId)) return
      const r = sl.rows.indexOf(rowId), c = sl.cols.indexOf(colId)
      if (r < 0 || c < 0) return
      this.hf.setCellContents({ sheet: hs, row: r, col: c }, [[rawContent(input, sheetId, this._layout)]])
    })
  }

  /**
   * Makes formulas in HyperFormula match what the doc says now: all of them, or only those whose
   * engine text HyperFormula cannot adjust by itself: see needsRefreshAfterStructureChange, and
   * rangeEndResolvesThrough for the rows/columns `goneChanged` whose tombstones were just set.
   */
  reconcileFormulas(positionalOnly = false, goneChanged: ReadonlySet<string> = new Set()): number {
    let fixed = 0
    const sheetsMap = sheetsOf(this.doc)
    for (const id of this._layout.order) {
      const sl = this._layout.sheet(id)!
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
        const want = rawContent(input, id, this._layout) as string
        const have = this.hf.getCellFormula(addr)
        let wantNorm: string
        try { wantNorm = this.hf.normalizeFormula(want) } catch { wantNorm = want }
        if (have !== wantNorm) { this.hf.setCellContents(addr, [[want]]); fixed++ }
      })
    }
    return fixed
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
