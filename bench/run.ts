/**
 * Runs every benchmark in one process, prints a table and writes bench/results.json (a BENCH_ONLY run
 * replaces the rows of the benchmarks it ran there and keeps the others; `measured` says when each was).
 *
 *   node --expose-gc --import tsx bench/run.ts [--strict]
 *
 * Exit codes: 0 ok (targets missed are reported as FAIL but do not fail the run unless --strict),
 * 1 ours and the baseline disagree (or a benchmark crashed), 2 a target was missed under --strict.
 * Add a benchmark: export a `Benchmark` (see harness.ts) and list it in BENCHMARKS.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { CorrectnessError, gcExposed, type BenchDetail, type BenchResult, type Benchmark } from './harness'
import { formulaBenchmark } from './formula'
import { exportBenchmark } from './export'
import { bundleBenchmark } from './bundle'
import { memoryBenchmark } from './memory'
import { fanoutBenchmark } from './fanout'
import { coldOpenBenchmark } from './cold'
import { sortBenchmark } from './sort'
import { historyBenchmark } from './history'
import { rollupBenchmark } from './rollup'
import { bigSheetBenchmark } from './bigsheet'

const BENCHMARKS: Benchmark[] = [formulaBenchmark, exportBenchmark, bundleBenchmark, memoryBenchmark, fanoutBenchmark, coldOpenBenchmark, sortBenchmark, historyBenchmark, rollupBenchmark, bigSheetBenchmark]

// BENCH_ONLY=memory,fan-out runs the benchmarks whose name contains one of the words
const only = (process.env.BENCH_ONLY ?? '').split(',').map(s => s.trim()).filter(Boolean)
if (only.length) BENCHMARKS.splice(0, BENCHMARKS.length, ...BENCHMARKS.filter(b => only.some(w => b.name.includes(w))))

// every stock WebsocketProvider in Node registers a process 'exit' handler while it lives: the fan-out
// benchmark has hundreds at once, which is no leak
process.setMaxListeners(0)

const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url))

function table(rows: string[][], rightAlign: boolean[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map(r => r[c]!.length)))
  const line = (r: string[]) => r.map((cell, c) => (rightAlign[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ')
  const sep = widths.map(w => '-'.repeat(w)).join('  ')
  return [line(rows[0]!), sep, ...rows.slice(1).map(line)].join('\n')
}

const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3))

async function main(): Promise<number> {
  const strict = process.argv.includes('--strict')
  if (!gcExposed) console.warn('note: global.gc is not exposed; run with `node --expose-gc --import tsx bench/run.ts` for steadier figures\n')
  const cpuList = cpus()
  console.log(`node ${process.version}, ${cpuList.length} cpu(s) ${cpuList[0]?.model ?? ''}`.trim())

  const results: (BenchResult & { benchmark: string })[] = []
  const details: (BenchDetail & { benchmark: string })[] = []
  const unrecorded: string[] = []
  for (const b of BENCHMARKS) {
    console.log(`running: ${b.name} …`)
    const t0 = performance.now()
    const out = await b.run()
    console.log(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    if (out.unrecorded) unrecorded.push(`${b.name}: ${out.unrecorded}`)
    for (const r of out.results) results.push({ benchmark: b.name, ...r })
    for (const d of out.details ?? []) details.push({ benchmark: b.name, ...d })
  }

  console.log('\n' + table(
    [['benchmark', 'ours ms', 'baseline ms', 'ratio', 'target', 'pass'],
      ...results.map(r => [r.name, fmtMs(r.oursMs), fmtMs(r.baselineMs), `${r.ratio.toFixed(2)}×`, r.target === null ? '—' : `≤ ${r.target}×`, r.target === null ? 'info' : r.pass ? 'pass' : 'FAIL'])],
    [false, true, true, true, true, false],
  ))
  if (details.length) {
    console.log('\ndetails (informational)\n' + table(
      [['what', 'ms', 'stat'], ...details.map(d => [d.name, d.ms === null ? '' : fmtMs(d.ms), d.stat])],
      [false, true, false],
    ))
  }

  const machine = { date: new Date().toISOString(), node: process.version, cpus: cpuList.length, cpuModel: cpuList[0]?.model ?? null, gcExposed }
  // `measured`: when and where each benchmark's rows were last measured
  const measured = Object.fromEntries(BENCHMARKS.map(b => [b.name, machine]))
  if (unrecorded.length) console.log(`\nnot the benchmarks as defined (${unrecorded.join('; ')}): bench/results.json left as it was`)
  else if (only.length) {
    // a partial run (BENCH_ONLY) replaces the rows of the benchmarks it ran and keeps the others; the
    // top-level date and machine stay those of the last whole run
    type Report = typeof machine & { measured?: Record<string, typeof machine>; results: { benchmark?: string }[]; details: { benchmark?: string }[] }
    const ran = new Set(BENCHMARKS.map(b => b.name))
    const prev: Report | null = existsSync(RESULTS_FILE) ? JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as Report : null
    const kept = <T extends { benchmark?: string }>(rows: T[] | undefined) => (rows ?? []).filter(r => r.benchmark === undefined || !ran.has(r.benchmark))
    const report = prev
      ? { ...prev, measured: { ...prev.measured, ...measured }, results: [...kept(prev.results), ...results], details: [...kept(prev.details), ...details] }
      : { ...machine, measured, results, details }
    writeFileSync(RESULTS_FILE, JSON.stringify(report, null, 2) + '\n')
    console.log(`\nBENCH_ONLY: the rows of ${[...ran].join(', ')} replaced in ${RESULTS_FILE}`)
  } else {
    writeFileSync(RESULTS_FILE, JSON.stringify({ ...machine, measured, results, details }, null, 2) + '\n')
    console.log(`\nwrote ${RESULTS_FILE}`)
  }

  const missed = results.filter(r => !r.pass)
  if (missed.length) console.log(`${missed.length} target(s) missed: ${missed.map(r => r.name).join('; ')}`)
  return strict && missed.length ? 2 : 0
}

main().then(
  // exit now: the reference y-websocket server keeps timers for its documents, which would hold the process
  code => { process.exit(code) },
  err => {
    if (err instanceof CorrectnessError) console.error(`\nCORRECTNESS FAILURE: ${err.message}`)
    else console.error(err)
    process.exitCode = 1
  },
)
