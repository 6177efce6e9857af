/**
 * Large sheets (issue 22): the growth curve at 1k, 10k, 50k and 100k data rows of the sheet of
 * test/helpers/bigSheet.ts (10 columns: 3 formula columns and a totals row), each figure against a
 * baseline measured the same way in the same process run:
 *   - engine load: FormulaEngine on the doc, totals read (vs HyperFormula.buildFromArray of the same A1
 *     data with the same config, totals read) — target ≤ 1.25× at 100k;
 *   - one edit: setCell of an input in the last data row, totals read (vs hf.setCellContents, totals
 *     read) — target ≤ 1.5× at 100k;
 *   - XLSX export: exportXlsx (vs plain ExcelJS writing the same cells with the same cached values) —
 *     target ≤ 1.0× at 100k;
 *   - XLSX import of that file: read + build of the doc (vs plain ExcelJS loading the file), informational;
 *   - server memory at rest: heap + array buffers of one room with a synced client after it rested (vs a
 *     plain Y.Doc of the same state), informational;
 *   - growth from 10k to 100k: ours(100k) / ours(10k) / 10 — ≤ 1 is no faster than linear.
 * Sizes: BENCH_BIG_SIZES=1000,10000 (a run with other sizes is not recorded). Few runs at the large sizes
 * (one build of 100k rows takes seconds): medians of LOAD_RUNS, and noisy on a shared machine.
 */
import ExcelJS from 'exceljs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import { HyperFormula, type RawCellContent } from 'hyperformula'
import { FormulaEngine, HF_CONFIG, toCellValue, type CellValue } from '../src/core/formulas/engine'
import { setCell } from '../src/core/workbook/mutations'
import { exportXlsx } from '../server/export/xlsx'
import { readXlsx, buildFromImport, DEFAULT_IMPORT_LIMITS } from '../server/import/xlsx'
import { startServer } from '../server/index'
import { silentLogger } from '../server/log'
import { buildBigSheet, BIG_SUM_COLS, type BigSheet } from '../test/helpers/bigSheet'
import { CorrectnessError, collect, median, result, round, type BenchDetail, type BenchResult, type Benchmark } from './harness'
import { ownerToken, syncedSocket } from './memory'
import { coldOpen } from './cold'

const DEFAULT_SIZES = [1_000, 10_000, 50_000, 100_000]
const SIZES = (process.env.BENCH_BIG_SIZES ?? '').split(',').map(Number).filter(n => n > 0)
const sizes = SIZES.length ? SIZES : DEFAULT_SIZES
const runsFor = (n: number) => (n <= 10_000 ? 5 : 3)
const EDIT_RUNS = 21
const REST_MS = 300
const COLD_RUNS = Number(process.env.BENCH_BIG_COLD_RUNS ?? 3)
// the default import limits refuse a sheet this size (maxCells 300,000, maxRows 100,000, 64 MiB
// unpacked, 20 s): the benchmark measures the import itself, with limits that let it through
const BIG_IMPORT_LIMITS = { ...DEFAULT_IMPORT_LIMITS, maxCells: 2_000_000, maxRows: 200_000, maxUnpackedBytes: 1024 * 1024 * 1024, timeoutMs: 600_000, maxHeapMb: 4096, maxGridCells: 4_000_000 }

const k = (n: number) => `${n / 1000}k`
const close = (a: CellValue, b: number) => typeof a === 'number' && Math.abs(a - b) <= Math.max(1e-6, Math.abs(b) * 1e-9)

function oursTotals(e: FormulaEngine, big: BigSheet): CellValue[] { return BIG_SUM_COLS.map(c => e.getValue(big.sheetId, big.totalsRow, c)) }
function hfTotals(hf: HyperFormula, big: BigSheet): CellValue[] { return BIG_SUM_COLS.map(c => toCellValue(hf.getCellValue({ sheet: 0, row: big.totalsRow, col: c }))) }

function checkTotals(what: string, got: CellValue[], want: number[]): void {
  got.forEach((v, i) => { if (!close(v, want[i]!) && !(typeof v === 'number' && Math.abs(v - want[i]!) / Math.abs(want[i]!) < 1e-9)) throw new CorrectnessError(`${what}: total ${i} is ${JSON.stringify(v)}, not ${want[i]}`) })
}

/** Engine load and one edit, ours and plain HyperFormula, alternating. */
function formulas(big: BigSheet) {
  const runs = runsFor(big.dataRows)
  const loadO: number[] = [], loadB: number[] = []
  for (let i = 0; i < runs + 1; i++) {
    for (const side of i % 2 ? ['base', 'ours'] : ['ours', 'base']) {
      collect()
      const t0 = performance.now()
      if (side === 'ours') {
        const e = new FormulaEngine(big.doc)
        const t = oursTotals(e, big)
        const ms = performance.now() - t0
        checkTotals(`engine at ${k(big.dataRows)}`, t, big.totals)
        e.destroy()
        if (i > 0) loadO.push(ms)
      } else {
        const hf = HyperFormula.buildFromArray(big.a1 as RawCellContent[][], HF_CONFIG)
        const t = hfTotals(hf, big)
        const ms = performance.now() - t0
        checkTotals(`HyperFormula at ${k(big.dataRows)}`, t, big.totals)
        hf.destroy()
        if (i > 0) loadB.push(ms)
      }
    }
  }
  // one edit: the last data row's Revenue (G), then the totals
  const engine = new FormulaEngine(big.doc)
  const hf = HyperFormula.buildFromArray(big.a1 as RawCellContent[][], HF_CONFIG)
  const row = big.totalsRow - 1
  const editO: number[] = [], editB: number[] = []
  for (let i = 0; i < EDIT_RUNS + 3; i++) {
    const v = 1000 + i
    let t0 = performance.now()
    setCell(big.doc, big.sheetId, `r${row}`, 'c6', v)
    const a = oursTotals(engine, big)
    const o = performance.now() - t0
    t0 = performance.now()
    hf.setCellContents({ sheet: 0, row, col: 6 }, v)
    const b = hfTotals(hf, big)
    const ms = performance.now() - t0
    if (!close(a[5]!, b[5] as number)) throw new CorrectnessError(`after an edit at ${k(big.dataRows)}: ${a[5]} ≠ ${b[5]}`)
    if (i >= 3) { editO.push(o); editB.push(ms) }
  }
  // put the value back, so the doc is the fixture again for what follows
  setCell(big.doc, big.sheetId, `r${row}`, 'c6', big.a1[row]![6]!)
  const values = big.a1.map((r, ri) => r.map((_v, c) => engine.getValue(big.sheetId, ri, c)))
  engine.destroy(); hf.destroy()
  return { load: [median(loadO), median(loadB)] as const, edit: [median(editO), median(editB)] as const, runs, values }
}

async function plainExcelJs(big: BigSheet, values: CellValue[][]): Promise<Buffer> {
  const wb = new ExcelJS.Workbook()
  const ws = wb.addWorksheet('Data')
  big.a1.forEach((row, r) => {
    const xr = ws.getRow(r + 1)
    row.forEach((v, c) => {
      xr.getCell(c + 1).value = typeof v === 'string' && v.startsWith('=') ? { formula: v.slice(1), result: values[r]![c] } as ExcelJS.CellFormulaValue : v
    })
  })
  return Buffer.from(await wb.xlsx.writeBuffer())
}

async function exchange(big: BigSheet, values: CellValue[][]) {
  const runs = big.dataRows <= 10_000 ? 3 : 1
  const o: number[] = [], b: number[] = [], io: number[] = [], ib: number[] = []
  let file: Buffer | null = null
  for (let i = 0; i < runs; i++) {
    for (const side of i % 2 ? ['base', 'ours'] : ['ours', 'base']) {
      collect()
      const t0 = performance.now()
      if (side === 'ours') { file = (await exportXlsx(big.doc)).buffer; o.push(performance.now() - t0) } else { await plainExcelJs(big, values); b.push(performance.now() - t0) }
    }
  }
  for (let i = 0; i < runs; i++) {
    collect()
    let t0 = performance.now()
    const model = await readXlsx(file!, BIG_IMPORT_LIMITS)
    const doc = new Y.Doc()
    buildFromImport(doc, model, { fallbackTitle: 'import', maxGridCells: BIG_IMPORT_LIMITS.maxGridCells })
    io.push(performance.now() - t0)
    doc.destroy()
    collect()
    t0 = performance.now()
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(file! as unknown as ArrayBuffer)
    ib.push(performance.now() - t0)
    const total = wb.getWorksheet('Data')!.getCell(`J${big.totalsRow + 1}`).value as ExcelJS.CellFormulaValue
    if (typeof total?.result !== 'number' || !close(total.result, big.totals[8]!)) throw new CorrectnessError(`exported total at ${k(big.dataRows)}: ${JSON.stringify(total)}`)
  }
  return { exp: [median(o), median(b)] as const, imp: [median(io), median(ib)] as const, runs, bytes: file!.length }
}

const memory = () => { collect(); collect(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }

/** One room holding the workbook with a synced client, after it rested, against a plain Y.Doc of its state. */
async function restingMemory(big: BigSheet): Promise<[number, number, number]> {
  const state = Y.encodeStateAsUpdate(big.doc)
  const m0 = memory()
  const plain = new Y.Doc(); Y.applyUpdate(plain, state)
  const plainBytes = memory() - m0
  plain.destroy()
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-big-'))
  const server = await startServer({ port: 0, dataDir: dir, staticDir: dir, logger: silentLogger, unloadDelayMs: 600_000, restAfterMs: REST_MS })
  try {
    await server.store.createWorkbook({ id: 'big', title: 'big', template: 'blank', createdAt: 0, updatedAt: 0 }, state)
    const token = await ownerToken(server, 'big')
    const h1 = memory()
    const resting = new Promise<void>(r => { const f = (id: string) => { if (id === 'big') { server.rooms.off('room-resting', f); r() } }; server.rooms.on('room-resting', f) })
    const ws = await syncedSocket(server.url, 'big', token)
    await resting
    const rest = memory() - h1
    ws.terminate()
    return [rest, plainBytes, state.length]
  } finally {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

export const bigSheetBenchmark: Benchmark = {
  name: 'large sheets',
  async run() {
    const results: BenchResult[] = [], details: BenchDetail[] = []
    const ours: Record<string, Record<number, number>> = { load: {}, edit: {}, export: {}, import: {}, memory: {} }
    for (const n of sizes) {
      const t0 = performance.now()
      const big = buildBigSheet(n)
      details.push({ name: `${k(n)} rows: building the fixture doc`, ms: round(performance.now() - t0), stat: 'once' })
      const last = n === 100_000
      const f = formulas(big)
      results.push(result(`${k(n)} rows: engine load → totals (vs plain HyperFormula)`, f.load[0], f.load[1], last ? 1.25 : null, `median of ${f.runs}`))
      results.push(result(`${k(n)} rows: one edit → totals (vs plain HyperFormula)`, f.edit[0], f.edit[1], last ? 1.5 : null, `median of ${EDIT_RUNS}`))
      const x = await exchange(big, f.values)
      results.push(result(`${k(n)} rows: xlsx export (vs plain ExcelJS)`, x.exp[0], x.exp[1], last ? 1.0 : null, `median of ${x.runs}`))
      results.push(result(`${k(n)} rows: xlsx import, read + build the doc (vs plain ExcelJS load)`, x.imp[0], x.imp[1], null, `median of ${x.runs}`))
      const [rest, plain, bytes] = await restingMemory(big)
      results.push({ name: `${k(n)} rows: server memory, room at rest with a client MB (vs plain Y.Doc)`, oursMs: round(rest / 1048576, 2), baselineMs: round(plain / 1048576, 2), ratio: round(rest / plain, 3), target: null, pass: true, stat: 'heap + array buffers after GC' })
      details.push({ name: `${k(n)} rows: encoded state / xlsx file`, ms: null, stat: `${(bytes / 1048576).toFixed(1)} MB / ${(x.bytes / 1048576).toFixed(1)} MB` })
      if (last) {
        // cold open in Chromium: the app against the bare Handsontable + HyperFormula page (bench/cold.ts)
        const c = await coldOpen(big.a1, big.doc, COLD_RUNS)
        results.push({ ...result(`${k(n)} rows: cold open → values on screen (vs bare Handsontable + HyperFormula)`, median(c.ours), median(c.base), 1.3, `median of ${COLD_RUNS} paired runs`), ratio: round(median(c.ours.map((o, i) => o / c.base[i]!)), 3), pass: median(c.ours.map((o, i) => o / c.base[i]!)) <= 1.3 })
        details.push({ name: `${k(n)} rows: cold open, ours → values on screen (target < 3000 ms)`, ms: round(median(c.ours)), stat: median(c.ours) < 3000 ? 'pass' : 'FAIL' })
        details.push({ name: `${k(n)} rows: cold open, ours → editable grid`, ms: round(median(c.editable)), stat: 'median' })
        details.push({ name: `${k(n)} rows: cold open, ours → workbook synced`, ms: round(c.mark('pw:doc-ready')), stat: 'median' })
        details.push({ name: `${k(n)} rows: cold open, ours → formulas computed`, ms: round(c.mark('pw:engine-ready')), stat: 'median' })
      }
      ours.load![n] = f.load[0]; ours.edit![n] = f.edit[0]; ours.export![n] = x.exp[0]; ours.import![n] = x.imp[0]; ours.memory![n] = rest
      big.doc.destroy()
    }
    if (ours.load![10_000] !== undefined && ours.load![100_000] !== undefined) {
      for (const [what, by] of Object.entries(ours)) {
        const g = by[100_000]! / by[10_000]!
        results.push({ name: `growth 10k → 100k rows: ${what} (vs linear, 10×)`, oursMs: round(g, 2), baselineMs: 10, ratio: round(g / 10, 3), target: 1, pass: g <= 10, stat: 'ours(100k) / ours(10k)' })
      }
    }
    return { results, details, ...(SIZES.length ? { unrecorded: `BENCH_BIG_SIZES=${SIZES.join(',')}` } : {}) }
  },
}
