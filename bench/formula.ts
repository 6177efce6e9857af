/**
 * Formula pipeline: our Y.Doc → FormulaEngine (HyperFormula kept in step with the doc) against plain
 * HyperFormula fed the same sheet as A1 data, with the engine's own HF_CONFIG.
 *
 * Sheet: header row, 10,000 data rows × 10 columns, then a totals row.
 *   A text, B..G numbers (seeded), H =IFERROR(Gn/Fn,0), I =Fn*Gn, J =Hn+In,
 *   totals: =SUM(B2:B10001) … =SUM(J2:J10001).
 *
 * (a) load: engine from a doc that already holds the workbook; and from the encoded update bytes
 *     (Y.applyUpdate into a fresh doc, then the engine); baseline HyperFormula.buildFromArray.
 *     Both read the totals row.
 * (b) edit: one input cell through setCell (the engine updates HF on the transaction), then read the
 *     totals; baseline hf.setCellContents, then read the totals.
 */
import * as Y from 'yjs'
import { HyperFormula, type RawCellContent } from 'hyperformula'
import { FormulaEngine, HF_CONFIG, rawContent, sheetContent, toCellValue, type CellValue } from '../src/core/formulas/engine'
import { addSheet, initWorkbook, setCell, setCells, type CellWrite } from '../src/core/workbook/mutations'
import { WorkbookLayout } from '../src/core/workbook/layout'
import { inputFromText } from '../src/core/workbook/input'
import { isFormula, sheetParts, sheetsOf, type CellInput } from '../src/core/workbook/schema'
import {
  CorrectnessError, collect, mean, median, result, rng, round, time,
  type BenchDetail, type BenchOutput, type BenchResult, type Benchmark,
} from './harness'

const DATA_ROWS = 10_000
const COLS = 10
const TOTAL_ROW = DATA_ROWS + 1 // zero-based: row 0 header, rows 1..10000 data
const SHEET_ROWS = DATA_ROWS + 2
const NUMERIC_COLS = [1, 2, 3, 4, 5, 6, 7, 8, 9] // B..J: inputs and formula columns
const INPUT_COLS = [1, 2, 3, 4, 5, 6] // B..G

const LOAD_WARMUP = 2
const LOAD_RUNS = 7
const EDIT_ROUNDS = 4
const EDIT_WARMUP = 10 // per round
const EDIT_RUNS = 200 // recorded, over all rounds
const EDIT_GC_EVERY = 10
const DETAIL_RUNS = 5

const LOAD_TARGET = 1.25
const EDIT_TARGET = 1.5

// ---- data ------------------------------------------------------------------------------------------

type A1Cell = string | number

/** The sheet as a person would type it (A1 formulas, numbers as numbers). */
export function makeA1Data(seed = 42): A1Cell[][] {
  const r = rng(seed)
  const letters = 'ABCDEFGHIJ'
  const data: A1Cell[][] = [['Item', 'Units', 'Price', 'Cost', 'Shipping', 'Orders', 'Revenue', 'Per order', 'Volume', 'Score']]
  for (let i = 1; i <= DATA_ROWS; i++) {
    const n = i + 1 // A1 row number
    const row: A1Cell[] = [`SKU-${String(r.int(0, 99_999)).padStart(5, '0')}`]
    for (let c = 1; c <= 6; c++) {
      // F (orders) is 0 in ~5% of rows so that IFERROR does something
      row.push(c === 5 && r.next() < 0.05 ? 0 : r.int(0, 1_000_000) / 100)
    }
    row.push(`=IFERROR(G${n}/F${n},0)`, `=F${n}*G${n}`, `=H${n}+I${n}`)
    data.push(row)
  }
  const totals: A1Cell[] = ['Total']
  for (const c of NUMERIC_COLS) totals.push(`=SUM(${letters[c]}2:${letters[c]}${DATA_ROWS + 1})`)
  data.push(totals)
  return data
}

export interface Workbook { doc: Y.Doc; sheetId: string }

/** The same sheet in our doc, built with the named mutations and inputFromText (random ids, as in the app). */
export function buildDoc(a1: A1Cell[][]): Workbook {
  const doc = new Y.Doc()
  initWorkbook(doc, { title: 'bench' })
  const sheetId = addSheet(doc, { name: 'Data', rows: SHEET_ROWS, cols: COLS })
  const layout = new WorkbookLayout(doc)
  const sl = layout.sheet(sheetId)!
  const writes: CellWrite[] = []
  for (let r = 0; r < a1.length; r++) {
    for (let c = 0; c < COLS; c++) {
      const v = a1[r]![c]!
      const value: CellInput | null = typeof v === 'number' ? v : inputFromText(v, { layout, sheetId })
      writes.push({ rowId: sl.rows.ids[r]!, colId: sl.cols.ids[c]!, value })
    }
  }
  setCells(doc, sheetId, writes)
  return { doc, sheetId }
}

/** The totals the sheet should show, computed directly (checks both sides compute the right thing). */
function expectedTotals(a1: A1Cell[][]): number[] {
  const sums = new Array<number>(COLS).fill(0)
  for (let r = 1; r <= DATA_ROWS; r++) {
    const row = a1[r]!
    const f = row[5] as number, g = row[6] as number
    const h = f === 0 ? 0 : g / f, i = f * g
    for (let c = 1; c <= 6; c++) sums[c]! += row[c] as number
    sums[7]! += h; sums[8]! += i; sums[9]! += h + i
  }
  return NUMERIC_COLS.map(c => sums[c]!)
}

// ---- reading totals --------------------------------------------------------------------------------

function oursTotals(engine: FormulaEngine, sheetId: string): CellValue[] {
  const out: CellValue[] = []
  for (const c of NUMERIC_COLS) out.push(engine.getValue(sheetId, TOTAL_ROW, c))
  return out
}

function baselineTotals(hf: HyperFormula, sheet: number): CellValue[] {
  const out: CellValue[] = []
  for (const c of NUMERIC_COLS) out.push(toCellValue(hf.getCellValue({ sheet, row: TOTAL_ROW, col: c })))
  return out
}

function firstSheet(hf: HyperFormula): number {
  return hf.getSheetId(hf.getSheetNames()[0]!)!
}

function checkSame(what: string, ours: CellValue[], base: CellValue[]): void {
  const a = JSON.stringify(ours), b = JSON.stringify(base)
  if (a !== b) throw new CorrectnessError(`${what}: totals differ\n  ours:     ${a}\n  baseline: ${b}`)
}

function checkExpected(what: string, got: CellValue[], want: number[]): void {
  got.forEach((v, i) => {
    const w = want[i]!
    if (typeof v !== 'number' || Math.abs(v - w) > 1e-9 * Math.max(1, Math.abs(w))) {
      throw new CorrectnessError(`${what}: total #${i} is ${JSON.stringify(v)}, expected ${w}`)
    }
  })
}

// ---- (a) load --------------------------------------------------------------------------------------

interface Loaded { totals: CellValue[]; dispose(): void }

function loadOursFromDoc(wb: Workbook): Loaded {
  const engine = new FormulaEngine(wb.doc)
  return { totals: oursTotals(engine, wb.sheetId), dispose: () => engine.destroy() }
}

function loadOursFromBytes(bytes: Uint8Array, sheetId: string): Loaded {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, bytes)
  const engine = new FormulaEngine(doc)
  return { totals: oursTotals(engine, sheetId), dispose: () => { engine.destroy(); doc.destroy() } }
}

function loadBaseline(a1: A1Cell[][]): Loaded {
  const hf = HyperFormula.buildFromArray(a1, HF_CONFIG)
  return { totals: baselineTotals(hf, firstSheet(hf)), dispose: () => hf.destroy() }
}

/**
 * LOAD_WARMUP + LOAD_RUNS loads of each side, alternating which goes first; each load is disposed
 * before the next one starts, after a full GC. Returns the recorded samples.
 */
function compareLoads(what: string, ours: () => Loaded, base: () => Loaded, want: number[]): { ours: number[]; base: number[] } {
  const samples = { ours: [] as number[], base: [] as number[] }
  const sides = { ours, base }
  for (let i = 0; i < LOAD_WARMUP + LOAD_RUNS; i++) {
    const totals: Partial<Record<'ours' | 'base', CellValue[]>> = {}
    for (const side of i % 2 === 0 ? ['ours', 'base'] as const : ['base', 'ours'] as const) {
      collect()
      let loaded!: Loaded
      const ms = time(() => { loaded = sides[side]() })
      if (i >= LOAD_WARMUP) samples[side].push(ms)
      totals[side] = loaded.totals
      loaded.dispose()
    }
    checkSame(what, totals.ours!, totals.base!)
    checkExpected(what, totals.ours!, want)
  }
  return samples
}

// ---- (b) edit --------------------------------------------------------------------------------------

interface Edit { row: number; col: number; value: number }

function makeEdits(count: number, seed: number): Edit[] {
  const r = rng(seed)
  const seen = new Set<string>()
  const out: Edit[] = []
  while (out.length < count) {
    const row = r.int(1, DATA_ROWS), col = INPUT_COLS[r.int(0, INPUT_COLS.length - 1)]!
    const key = `${row}:${col}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ row, col, value: r.int(1, 1_000_000) / 100 })
  }
  return out
}

/**
 * Edits in rounds. Per-edit cost varies by ±30% between HyperFormula instances built from identical
 * data (it depends on build order and heap state), more than our own overhead. So each
 * round builds a fresh engine and a fresh baseline HyperFormula, in alternating order, warms both up,
 * then applies the same edits to both, alternating which side goes first per edit; the samples of all
 * rounds are pooled.
 */
function compareEdits(a1: A1Cell[][], bytes: Uint8Array, sheetId: string): { ours: number[]; base: number[]; perRound: BenchDetail[] } {
  const perRound = EDIT_WARMUP + EDIT_RUNS / EDIT_ROUNDS
  const edits = makeEdits(perRound * EDIT_ROUNDS, 7)
  const samples = { ours: [] as number[], base: [] as number[] }
  const perRoundDetails: BenchDetail[] = []
  for (let k = 0; k < EDIT_ROUNDS; k++) {
    const from = samples.ours.length
    collect()
    let doc!: Y.Doc, engine!: FormulaEngine, hf!: HyperFormula
    const buildOurs = () => { doc = new Y.Doc(); Y.applyUpdate(doc, bytes); engine = new FormulaEngine(doc) }
    const buildBase = () => { hf = HyperFormula.buildFromArray(a1, HF_CONFIG) }
    if (k % 2 === 0) { buildOurs(); buildBase() } else { buildBase(); buildOurs() }
    const sl = engine.layout.sheet(sheetId)!
    const hs = firstSheet(hf)
    const model = a1.map(row => [...row])

    let oursTot: CellValue[] = [], baseTot: CellValue[] = []
    const doOurs = (e: Edit) => time(() => {
      setCell(doc, sheetId, sl.rows.ids[e.row]!, sl.cols.ids[e.col]!, e.value)
      oursTot = oursTotals(engine, sheetId)
    })
    const doBase = (e: Edit) => time(() => {
      hf.setCellContents({ sheet: hs, row: e.row, col: e.col }, [[e.value]])
      baseTot = baselineTotals(hf, hs)
    })
    edits.slice(k * perRound, (k + 1) * perRound).forEach((e, i) => {
      if (i % EDIT_GC_EVERY === 0) collect()
      let o: number, b: number
      if (i % 2 === 0) { o = doOurs(e); b = doBase(e) } else { b = doBase(e); o = doOurs(e) }
      if (i >= EDIT_WARMUP) { samples.ours.push(o); samples.base.push(b) }
      model[e.row]![e.col] = e.value
      checkSame(`edit round ${k + 1} #${i}`, oursTot, baseTot)
    })
    checkExpected(`after edit round ${k + 1}`, oursTot, expectedTotals(model))
    engine.destroy(); doc.destroy(); hf.destroy()
    const first = k % 2 === 0 ? 'ours' : 'baseline'
    const o = median(samples.ours.slice(from)), b = median(samples.base.slice(from))
    perRoundDetails.push(
      { name: `edit round ${k + 1} (${first} built first): ours`, ms: round(o), stat: `median of ${samples.ours.length - from}` },
      { name: `edit round ${k + 1} (${first} built first): baseline`, ms: round(b), stat: `ratio ${(o / b).toFixed(2)}×` },
    )
  }
  return { ...samples, perRound: perRoundDetails }
}

// ---- where a load goes (informational) -------------------------------------------------------------

function loadBreakdown(a1: A1Cell[][], bytes: Uint8Array, sheetId: string): BenchDetail[] {
  const acc = new Map<string, number[]>()
  const add = (k: string, ms: number) => { if (!acc.has(k)) acc.set(k, []); acc.get(k)!.push(ms) }
  const json = new TextEncoder().encode(JSON.stringify(a1))
  for (let i = 0; i < DETAIL_RUNS + 1; i++) {
    const rec = (k: string, fn: () => void) => { collect(); const ms = time(fn); if (i > 0) add(k, ms) }
    let doc!: Y.Doc
    rec('ours: Y.applyUpdate (bytes → doc)', () => { doc = new Y.Doc(); Y.applyUpdate(doc, bytes) })
    let layout!: WorkbookLayout
    rec('ours: WorkbookLayout', () => { layout = new WorkbookLayout(doc) })
    const sheet = sheetsOf(doc).get(sheetId)!
    const cells = sheetParts(sheet).cells
    rec('ours: cells.forEach only (Yjs iteration)', () => { let n = 0; cells.forEach(() => { n++ }); if (n === 0) throw new Error('empty') })
    const formulas: CellInput[] = []
    cells.forEach(v => { if (isFormula(v)) formulas.push(v) })
    rec(`ours: rawContent of ${formulas.length} formulas (decodeFormula)`, () => { for (const f of formulas) rawContent(f, sheetId, layout) })
    let content!: RawCellContent[][]
    rec('ours: sheetContent (iteration + keys + rawContent)', () => { content = sheetContent(sheet, layout.sheet(sheetId)!, layout) })
    let hf!: HyperFormula
    rec('ours: HyperFormula.buildFromSheets(sheetContent)', () => { hf = HyperFormula.buildFromSheets({ [sheetId]: content }, HF_CONFIG) })
    hf.destroy()
    rec('baseline: HyperFormula.buildFromArray(A1 data)', () => { hf = HyperFormula.buildFromArray(a1, HF_CONFIG) })
    rec(`baseline (reference): JSON.parse of the A1 grid (${(json.byteLength / 1024).toFixed(0)} KiB)`, () => { JSON.parse(new TextDecoder().decode(json)) })
    hf.destroy()
    doc.destroy()
  }
  return [...acc].map(([name, xs]) => ({ name, ms: round(median(xs)), stat: `median of ${xs.length}` }))
}

function editBreakdown(a1: A1Cell[][], bytes: Uint8Array, sheetId: string): BenchDetail[] {
  // the Yjs part alone: the same setCell on a doc without an engine attached
  const doc = new Y.Doc()
  Y.applyUpdate(doc, bytes)
  const sl = new WorkbookLayout(doc).sheet(sheetId)!
  const edits = makeEdits(EDIT_RUNS, 7)
  const ms: number[] = []
  edits.forEach((e, i) => {
    const t = time(() => setCell(doc, sheetId, sl.rows.ids[e.row]!, sl.cols.ids[e.col]!, e.value))
    ms.push(t)
  })
  doc.destroy()
  // our edit split in two: inside HyperFormula (the engine's hf.batch) and everything else
  // (Yjs transaction, afterTransaction, engine.apply bookkeeping, rawContent)
  const doc2 = new Y.Doc()
  Y.applyUpdate(doc2, bytes)
  const engine = new FormulaEngine(doc2)
  const sl2 = engine.layout.sheet(sheetId)!
  let inHf = 0
  const batch = engine.hf.batch.bind(engine.hf)
  engine.hf.batch = (fn: () => void) => { const t0 = performance.now(); try { return batch(fn) } finally { inHf += performance.now() - t0 } }
  const hfPart: number[] = [], rest: number[] = []
  edits.forEach((e, i) => {
    if (i % EDIT_GC_EVERY === 0) collect()
    inHf = 0
    const t = time(() => setCell(doc2, sheetId, sl2.rows.ids[e.row]!, sl2.cols.ids[e.col]!, e.value + 1))
    hfPart.push(inHf); rest.push(t - inHf)
  })
  // reading the totals alone, ours vs baseline (no change pending)
  const hf = HyperFormula.buildFromArray(a1, HF_CONFIG)
  const hs = firstSheet(hf)
  const ro: number[] = [], rb: number[] = []
  for (let i = 0; i < 200; i++) {
    ro.push(time(() => oursTotals(engine, sheetId)))
    rb.push(time(() => baselineTotals(hf, hs)))
  }
  engine.destroy(); doc2.destroy(); hf.destroy()
  return [
    { name: 'ours: setCell with no engine attached (Yjs transaction only)', ms: round(median(ms), 4), stat: `median of ${ms.length}` },
    { name: 'ours: setCell with engine, time inside hf.batch', ms: round(median(hfPart), 4), stat: `median of ${hfPart.length}` },
    { name: 'ours: setCell with engine, time outside HyperFormula', ms: round(median(rest), 4), stat: `median of ${rest.length}` },
    { name: 'ours: read 9 totals (engine.getValue)', ms: round(median(ro), 4), stat: 'median of 200' },
    { name: 'baseline: read 9 totals (hf.getCellValue)', ms: round(median(rb), 4), stat: 'median of 200' },
  ]
}

// ---- the benchmark ---------------------------------------------------------------------------------

export const formulaBenchmark: Benchmark = {
  name: 'formula pipeline',
  run(): BenchOutput {
    const a1 = makeA1Data()
    const want = expectedTotals(a1)
    const wb = buildDoc(a1)
    const bytes = Y.encodeStateAsUpdate(wb.doc)
    const results: BenchResult[] = []

    const fromDoc = compareLoads('load from doc', () => loadOursFromDoc(wb), () => loadBaseline(a1), want)
    results.push(result('load: doc → engine → totals', median(fromDoc.ours), median(fromDoc.base), LOAD_TARGET, `median of ${LOAD_RUNS}`))

    const fromBytes = compareLoads('load from bytes', () => loadOursFromBytes(bytes, wb.sheetId), () => loadBaseline(a1), want)
    // the target is doc → values; decoding the Yjs update (Y.applyUpdate) on top is shown for information
    results.push(result('load: update bytes → doc → engine → totals', median(fromBytes.ours), median(fromBytes.base), null, `median of ${LOAD_RUNS}`))

    const edits = compareEdits(a1, bytes, wb.sheetId)
    results.push(result('edit: 1 input → 9 totals (median)', median(edits.ours), median(edits.base), EDIT_TARGET, `median of ${EDIT_RUNS} edits, ${EDIT_ROUNDS} builds`))
    results.push(result('edit: 1 input → 9 totals (mean)', mean(edits.ours), mean(edits.base), EDIT_TARGET, `mean of ${EDIT_RUNS} edits, ${EDIT_ROUNDS} builds`))

    const details: BenchDetail[] = [
      { name: `update size (${SHEET_ROWS} rows × ${COLS} cols)`, ms: null, stat: `${(bytes.byteLength / 1024).toFixed(0)} KiB` },
      ...loadBreakdown(a1, bytes, wb.sheetId),
      ...edits.perRound,
      ...editBreakdown(a1, bytes, wb.sheetId),
    ]
    wb.doc.destroy()
    return { results, details }
  },
}
