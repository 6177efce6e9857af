/** What HyperFormula takes for the doc's cells: stored inputs converted, a sheet's whole content. */
import type { RawCellContent } from 'hyperformula'
import { isDate, isFormula, sheetParts, type CellInput, type SheetMap } from '../workbook/schema'
import type { SheetLayout, WorkbookLayout } from '../workbook/layout'
import { decodeFormula } from './references'
import { dateToSerial } from '../workbook/input'

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

