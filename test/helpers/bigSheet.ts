/**
 * A large workbook built directly as a Y.Doc (no server, no grid): a header row, `dataRows` rows × 10
 * columns, then a totals row marked as the table's totals row.
 *   A text, B..G numbers (seeded), H =IFERROR(Gn/Fn,0), I =Fn*Gn, J =Hn+In,
 *   totals: =SUM(B2:B<last>) … =SUM(J2:J<last>).
 * Row and column ids are fixed and readable (`r0`…, `c0`…) so that tests can address cells; formulas are
 * stored in id form through the same reference codec the app uses (encodeFormula). The A1 form of the
 * same sheet (`a1`) feeds baselines (plain HyperFormula, plain ExcelJS, a bare page).
 */
import * as Y from 'yjs'
import { addSheet, initWorkbook, setTotalsRow } from '../../src/core/workbook/mutations'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { encodeFormula } from '../../src/core/formulas/references'
import { sheetParts, sheetsOf, cellKey, type CellInput } from '../../src/core/workbook/schema'

export const BIG_COLS = 10
export const BIG_HEADER = ['Item', 'Units', 'Price', 'Cost', 'Shipping', 'Orders', 'Revenue', 'Per order', 'Volume', 'Score']
/** B..J: the columns the totals row sums */
export const BIG_SUM_COLS = [1, 2, 3, 4, 5, 6, 7, 8, 9]
const LETTERS = 'ABCDEFGHIJ'

export type A1Cell = string | number

export interface BigSheet {
  doc: Y.Doc
  sheetId: string
  dataRows: number
  /** zero-based index of the totals row (dataRows + 1) */
  totalsRow: number
  /** the same sheet as A1 data: what a person would type */
  a1: A1Cell[][]
  /** the totals of B..J, computed directly */
  totals: number[]
}

/** Seeded generator (mulberry32), so every run builds the same sheet. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The sheet as A1 data (header, data rows, totals). */
export function bigA1(dataRows: number, seed = 42): A1Cell[][] {
  const next = rng(seed)
  const data: A1Cell[][] = [BIG_HEADER.slice()]
  for (let i = 1; i <= dataRows; i++) {
    const n = i + 1
    const row: A1Cell[] = [`SKU-${String(Math.floor(next() * 100_000)).padStart(5, '0')}`]
    for (let c = 1; c <= 6; c++) row.push(c === 5 && next() < 0.05 ? 0 : Math.floor(next() * 1_000_000) / 100)
    row.push(`=IFERROR(G${n}/F${n},0)`, `=F${n}*G${n}`, `=H${n}+I${n}`)
    data.push(row)
  }
  const totals: A1Cell[] = ['Total']
  for (const c of BIG_SUM_COLS) totals.push(`=SUM(${LETTERS[c]}2:${LETTERS[c]}${dataRows + 1})`)
  data.push(totals)
  return data
}

/** The totals of B..J for A1 data made by bigA1, computed directly. */
export function bigTotals(a1: A1Cell[][]): number[] {
  const sums = new Array<number>(BIG_COLS).fill(0)
  for (let r = 1; r < a1.length - 1; r++) {
    const row = a1[r]!
    const f = row[5] as number, g = row[6] as number
    const h = f === 0 ? 0 : g / f, i = f * g
    for (let c = 1; c <= 6; c++) sums[c]! += row[c] as number
    sums[7]! += h; sums[8]! += i; sums[9]! += h + i
  }
  return BIG_SUM_COLS.map(c => sums[c]!)
}

/** The workbook in a Y.Doc: one sheet "Data" with `dataRows` data rows and a totals row. */
export function buildBigSheet(dataRows: number, opts: { seed?: number; a1?: A1Cell[][] } = {}): BigSheet {
  const a1 = opts.a1 ?? bigA1(dataRows, opts.seed)
  const doc = new Y.Doc()
  initWorkbook(doc, { title: `${dataRows} rows` })
  const sheetId = 'data'
  const rowIds = Array.from({ length: a1.length }, (_, r) => `r${r}`)
  const colIds = Array.from({ length: BIG_COLS }, (_, c) => `c${c}`)
  addSheet(doc, { id: sheetId, name: 'Data', rowIds, colIds })
  const ctx = { layout: new WorkbookLayout(doc), sheetId }
  doc.transact(() => {
    const { cells } = sheetParts(sheetsOf(doc).get(sheetId)!)
    for (let r = 0; r < a1.length; r++) {
      const row = a1[r]!
      for (let c = 0; c < BIG_COLS; c++) {
        const v = row[c]!
        const value: CellInput = typeof v === 'string' && v.startsWith('=') ? { t: 'f', v: encodeFormula(v, ctx) } : v
        cells.set(cellKey(rowIds[r]!, colIds[c]!), value)
      }
    }
  })
  setTotalsRow(doc, sheetId, rowIds[a1.length - 1]!)
  return { doc, sheetId, dataRows, totalsRow: a1.length - 1, a1, totals: bigTotals(a1) }
}
