/**
 * The sheet as the grid shows it: the row and column ids in visible order, and the *edit text* of each
 * cell (formulas as A1), read from the doc when first asked for (by a render, an editor, a copy):
 * opening a sheet reads only the rows in view. Handsontable keeps `data` (a proxy over the row texts,
 * which are refilled in place), so that array is never replaced.
 */
import type { Ref } from 'vue'
import type { CellInput, ColumnMeta } from '../../core/workbook/schema'
import { cellKey, sheetParts, sheetsOf } from '../../core/workbook/schema'
import { textForInput } from '../../core/workbook/input'
import type { WorkbookLayout } from '../../core/workbook/layout'
import { totalsRowOf } from '../../core/workbook/table'
import { hiddenIds } from '../../core/workbook/hidden'
import { sheetMerges } from '../../core/workbook/merges'
import type { OpenWorkbook } from '../useWorkbook'

export type RowTexts = ReturnType<typeof createRowTexts>

export function createRowTexts(wb: OpenWorkbook, sheetId: Ref<string>) {
  /** each row's texts, or undefined while not read */
  const texts: ((string | null)[] | undefined)[] = []
  const data: (string | null)[][] = new Proxy(texts as (string | null)[][], {
    get(target, prop, receiver) {
      if (typeof prop === 'string') {
        const r = Number(prop)
        if (Number.isInteger(r) && r >= 0 && r < target.length && target[r] === undefined) target[r] = readRow(r)
      }
      return Reflect.get(target, prop, receiver)
    },
  })

  const engine = () => wb.engine.value!
  const sheet = () => sheetsOf(wb.doc).get(sheetId.value)
  /** how formulas read on the sheet shown (A1 text against the current layout) */
  const refs = () => ({ layout: engine().layout, sheetId: sheetId.value })

  const self = {
    /** what Handsontable reads and writes */
    data,
    rowIds: [] as string[],
    colIds: [] as string[],
    /** rows my own filter hides (filter.ts), on top of the rows hidden for everyone */
    filteredOut: new Set<string>(),
    /** columns my filter has a condition on (marked in their header) */
    filteredCols: new Set<string>(),
    /** the totals row id, cached: looked up per rendered cell */
    totalsId: undefined as string | undefined,
    /** the layout the grid currently shows (the engine's is already the new one when a change arrives) */
    prevLayout: null as WorkbookLayout | null,
    engine,
    sheet,
    refs,
    colMeta(c: number): ColumnMeta | undefined {
      const s = sheet()
      return s ? sheetParts(s).colMeta.get(self.colIds[c]!) : undefined
    },
    cellInput(rowId: string, colId: string): CellInput | undefined {
      const s = sheet()
      return s ? sheetParts(s).cells.get(cellKey(rowId, colId)) : undefined
    },
    /** the edit text of the cell at this visible position, from the doc */
    textAt(r: number, c: number): string {
      return textForInput(self.cellInput(self.rowIds[r]!, self.colIds[c]!), refs(), self.colMeta(c))
    },
    /** reads one cell's text again, when its row has been read (a row not read yet is read when asked for) */
    refreshCell(r: number, c: number): void {
      const row = texts[r]
      if (row) row[c] = self.textAt(r, c) || null
    },
    /** Forgets every row's text: each is read again from the doc when next asked for. */
    reread(): void {
      texts.fill(undefined)
    },
    /** The ids and texts of the sheet shown, afresh (texts are read as they are asked for). */
    build(): void {
      self.prevLayout = engine().layout
      const sl = engine().layout.sheet(sheetId.value)
      const sh = sheet()
      self.totalsId = sh ? totalsRowOf(sh) : undefined
      self.rowIds = sl ? [...sl.rows.ids] : []
      self.colIds = sl ? [...sl.cols.ids] : []
      texts.length = self.rowIds.length
      self.reread()
    },
    /** the frozen panes of the sheet, as grid settings */
    /** frozen panes and hidden rows and columns, as grid settings (visible positions) */
    layoutSettings() {
      const hiddenRows = hiddenIds(wb.doc, sheetId.value, 'rows'), hiddenCols = hiddenIds(wb.doc, sheetId.value, 'cols')
      for (const id of self.filteredOut) hiddenRows.add(id)
      const at = (ids: string[], hidden: Set<string>) => (hidden.size ? ids.flatMap((id, i) => (hidden.has(id) ? [i] : [])) : [])
      return {
        fixedRowsTop: self.frozen('frozenRows'), fixedColumnsStart: self.frozen('frozenCols'),
        // (rows out of sight are not copied, as Excel leaves filtered rows out of a copy)
        hiddenRows: { rows: at(self.rowIds, hiddenRows), indicators: true, copyPasteEnabled: false },
        hiddenColumns: { columns: at(self.colIds, hiddenCols), indicators: true },
        mergeCells: sheetMerges(wb.doc, engine().layout, sheetId.value).map(({ row, col, rowspan, colspan }) => ({ row, col, rowspan, colspan })),
      }
    },
    frozen(key: 'frozenRows' | 'frozenCols'): number {
      const v = sheet()?.get(key)
      return typeof v === 'number' ? v : 0
    },
  }

  /** The edit texts of row `r` (visible position), from the doc. */
  function readRow(r: number): (string | null)[] {
    const { rowIds, colIds } = self
    const out: (string | null)[] = new Array(colIds.length).fill(null)
    const s = sheet(), rowId = rowIds[r]
    if (!s || rowId === undefined) return out
    const { cells, colMeta: metas } = sheetParts(s)
    const cx = refs()
    for (let c = 0; c < colIds.length; c++) {
      const input = cells.get(cellKey(rowId, colIds[c]!))
      if (input !== undefined) out[c] = textForInput(input, cx, metas.get(colIds[c]!)) || null
    }
    return out
  }

  return self
}
