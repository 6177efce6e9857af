/**
 * Sync fan-out: how long an edit takes to reach the other clients of its room, and how many never
 * arrive, on this server (SQLite store on, share-link auth on, every update stored before it is relayed
 * and checked against the access rules) and on the reference server (the server bundled with
 * y-websocket 2.1.0, in memory).
 *
 * What is measured is the server, not the load generator: the clients all run in one process
 * (bench/fanout-load.ts) pinned with `taskset` to one CPU, and each server alone in a process of its
 * own (bench/fanout-server.ts) pinned to another, one server at a time, each run with a fresh server
 * and a fresh generator, in the order reference, ours, ours, reference (a drift of the machine's speed
 * within a minute cancels; the figures are the means of the two runs of each). The generator's CPU
 * and event-loop figures are printed with every run: when it comes near a core of its own, its figures
 * are its own.
 *
 *   shapes  A: 50 rooms × 4 clients;  B: 1 room × 50 clients;  every client 5 cell edits a second
 *   modes   warm: 3 s of unmeasured edits of the same kind, then 8 s measured;
 *           cold: 8 s measured from the first edit into the freshly loaded rooms
 * and, from the cold runs, the first edit into each freshly loaded room against the median of the
 * edits after it. Targets: p50 and p99 ≤ 1.0× the reference; first edit ≤ 2× later edits.
 *
 *   BENCH_FANOUT_SECONDS (8), BENCH_FANOUT_WARMUP (3), BENCH_FANOUT_SHAPES (A,B), BENCH_FANOUT_MODES (warm,cold),
 *   BENCH_FANOUT_OURS (JSON: options of this server), BENCH_FANOUT_QUIET_WAIT (20): a run with any but
 *   the last set is not the benchmark as defined, and is printed but not recorded
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { initWorkbook, addSheet } from '../src/core/workbook/mutations'
import { median, result, round, type BenchDetail, type BenchResult, type Benchmark } from './harness'
import type { ServerDone, ServerReady, ServerSetup } from './fanout-server'
import type { LoadPlan, LoadResult } from './fanout-load'

const SECONDS = Number(process.env.BENCH_FANOUT_SECONDS ?? 8)
const WARMUP_SECONDS = Number(process.env.BENCH_FANOUT_WARMUP ?? 3)
const RATE = 5
const GRACE_SECONDS = 2
/** a load generator above this share of its core is reported as a warning: its own delays start to show */
const GENERATOR_CPU_WARN = 60
/** before each run, up to this many seconds waiting for both CPUs to be quiet (other processes ≤ QUIET_PCT) */
const QUIET_WAIT_SECONDS = Number(process.env.BENCH_FANOUT_QUIET_WAIT ?? 20)
const QUIET_PCT = 20
/** a run during which other processes took more than this share of either CPU is marked as disturbed */
const DISTURBED_PCT = 15
/** why a run is not the benchmark as defined (and is not recorded) */
const SHORTENED = ['BENCH_FANOUT_SECONDS', 'BENCH_FANOUT_WARMUP', 'BENCH_FANOUT_SHAPES', 'BENCH_FANOUT_MODES', 'BENCH_FANOUT_OURS'].filter(k => process.env[k] !== undefined)

type Side = 'ref' | 'ours'
const ORDER: Side[] = ['ref', 'ours', 'ours', 'ref']

interface Shape { key: string; name: string; rooms: string[]; perRoom: number }
const SHAPES: Shape[] = [
  { key: 'A', name: '50 rooms × 4 clients', rooms: Array.from({ length: 50 }, (_, i) => `fan${i}`), perRoom: 4 },
  { key: 'B', name: '1 room × 50 clients', rooms: ['fanbig'], perRoom: 50 },
].filter(s => (process.env.BENCH_FANOUT_SHAPES ?? 'A,B').split(',').includes(s.key))

interface Mode { key: 'warm' | 'cold'; name: string; warmupS: number }
const MODES: Mode[] = ([
  { key: 'warm', name: `after ${WARMUP_SECONDS} s warm-up`, warmupS: WARMUP_SECONDS },
  { key: 'cold', name: 'no warm-up', warmupS: 0 },
] as Mode[]).filter(m => (process.env.BENCH_FANOUT_MODES ?? 'warm,cold').split(',').includes(m.key))

// ---- CPUs -------------------------------------------------------------------------------------------

/** The CPUs this process may use (Linux), e.g. [0, 1]. */
function allowedCpus(): number[] {
  try {
    const line = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
    if (line) {
      return line.split(',').flatMap(part => {
        const [a, b] = part.split('-').map(Number)
        return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i)
      })
    }
  } catch { /* not Linux */ }
  return []
}

function hasTaskset(): boolean {
  return (process.env.PATH ?? '').split(':').some(dir => dir && existsSync(`${dir}/taskset`))
}

interface Pinning { load: number | null; server: number | null; note: string }

function pinning(): Pinning {
  const cpus = allowedCpus()
  if (!hasTaskset()) return { load: null, server: null, note: 'NOT PINNED: taskset is missing, so the load generator and the server share the CPUs and the figures are partly the generator\'s' }
  if (cpus.length < 2) return { load: null, server: null, note: `NOT PINNED: ${cpus.length || 'an unknown number of'} CPU(s) allowed, so the load generator and the server share one and the figures are partly the generator's` }
  return { load: cpus[0]!, server: cpus[1]!, note: `load generator on CPU ${cpus[0]}, each server alone on CPU ${cpus[1]} (taskset)` }
}

/** busy and total jiffies per CPU, from /proc/stat (empty where there is none) */
function cpuTimes(): Map<number, { busy: number; total: number }> {
  const out = new Map<number, { busy: number; total: number }>()
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line)
      if (!m) continue
      const v = m[2]!.trim().split(/\s+/).map(Number)
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
      out.set(Number(m[1]), { busy: total - v[3]! - v[4]!, total })
    }
  } catch { /* not Linux */ }
  return out
}

function busyPct(a: Map<number, { busy: number; total: number }>, b: Map<number, { busy: number; total: number }>, cpu: number | null): number {
  if (cpu === null) return NaN
  const x = a.get(cpu), y = b.get(cpu)
  if (!x || !y || y.total === x.total) return NaN
  return ((y.busy - x.busy) / (y.total - x.total)) * 100
}

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))

/** Waits (up to QUIET_WAIT_SECONDS) for a second in which other processes leave both CPUs nearly idle; returns their busiest share then. */
async function waitForQuiet(pin: Pinning): Promise<{ waitedS: number; othersPct: number }> {
  const t0 = performance.now()
  for (;;) {
    const a = cpuTimes()
    await sleep(1000)
    const b = cpuTimes()
    const others = Math.max(busyPct(a, b, pin.load), busyPct(a, b, pin.server))
    const waitedS = (performance.now() - t0) / 1000
    if (!(others > QUIET_PCT) || waitedS >= QUIET_WAIT_SECONDS) return { waitedS, othersPct: others }
  }
}

// ---- processes --------------------------------------------------------------------------------------

function start(file: string, args: string[], cpu: number | null, nodeFlags: string[] = []): ChildProcess {
  const script = fileURLToPath(new URL(file, import.meta.url))
  const node = [process.execPath, ...nodeFlags, '--import', 'tsx', script, ...args]
  const [cmd, ...rest] = cpu === null ? node : ['taskset', '-c', String(cpu), ...node]
  return spawn(cmd!, rest, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
}

function exited(child: ChildProcess, what: string): Promise<never> {
  return new Promise<never>((_r, reject) => child.once('exit', code => reject(new Error(`the ${what} exited (${code})`))))
}

const nextMessage = <T>(child: ChildProcess) => new Promise<T>(r => child.once('message', m => r(m as T)))

interface Run {
  side: Side
  load: LoadResult
  server: ServerDone
  /** busy % of the generator's and of the server's CPU while measured, whoever used it */
  coreBusy: { load: number; server: number }
  /** other processes' share of the generator's and the server's CPU while measured (busy minus ours) */
  others: { load: number; server: number }
}

/** One run: a fresh server and a fresh load generator, each on its CPU. */
async function runOnce(side: Side, shape: Shape, mode: Mode, state: string, pin: Pinning): Promise<Run> {
  const server = start('./fanout-server.ts', [side], pin.server)
  const serverGone = exited(server, `${side} server`)
  serverGone.catch(() => {})
  await Promise.race([nextMessage(server), serverGone])
  server.send({ rooms: shape.rooms, state } satisfies ServerSetup)
  const ready = await Promise.race([nextMessage<ServerReady>(server), serverGone])
  const gen = start('./fanout-load.ts', [], pin.load, ['--expose-gc', '--max-semi-space-size=64'])
  const genGone = exited(gen, 'load generator')
  genGone.catch(() => {})
  try {
    await Promise.race([nextMessage(gen), genGone])
    const marks: ReturnType<typeof cpuTimes>[] = []
    const answer = new Promise<LoadResult>((resolve, reject) => {
      gen.on('message', (m: unknown) => {
        if (m === 'mark') { marks.push(cpuTimes()); server.send('mark'); return }
        const r = m as { result?: LoadResult; error?: string }
        if (r.error) reject(new Error(`load generator: ${r.error}`))
        else if (r.result) resolve(r.result)
      })
    })
    gen.send({ url: ready.url, tokens: ready.tokens, rooms: shape.rooms, perRoom: shape.perRoom, rate: RATE, warmupS: mode.warmupS, measureS: SECONDS, graceS: GRACE_SECONDS } satisfies LoadPlan)
    const load = await Promise.race([answer, genGone, serverGone])
    const closed = nextMessage<ServerDone>(server)
    server.send('close')
    const done = await Promise.race([closed, serverGone])
    server.disconnect()
    const [a, b] = marks
    const coreBusy = { load: a && b ? busyPct(a, b, pin.load) : NaN, server: a && b ? busyPct(a, b, pin.server) : NaN }
    const others = { load: Math.max(0, coreBusy.load - load.cpuPct), server: Math.max(0, coreBusy.server - (done.measuredCpuMs / done.measuredWallMs) * 100) }
    return { side, load, server: done, coreBusy, others }
  } finally {
    if (gen.exitCode === null) gen.kill()
    if (server.exitCode === null) server.kill()
  }
}

// ---- figures ----------------------------------------------------------------------------------------

const pct = (xs: readonly number[], p: number) => { const s = Float64Array.from(xs).sort(); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN }
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const f2 = (x: number) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(2)) : '—')
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '—')
const serverCpuPct = (r: Run) => (r.server.measuredCpuMs / r.server.measuredWallMs) * 100
const lost = (r: Run) => r.load.expected - r.load.received
const disturbed = (r: Run) => r.others.load > DISTURBED_PCT || r.others.server > DISTURBED_PCT

function describe(r: Run, shape: Shape, mode: Mode, i: number): string {
  const l = r.load
  const first = mode.key === 'cold' ? `; first edit ${f2(median(l.firstEdits))} ms (max ${f2(Math.max(...l.firstEdits))}), later ${f2(l.laterMedian)} ms` : ''
  return `  ${shape.key} ${mode.key} ${r.side.padEnd(4)} #${i}: p50 ${f2(pct(l.latencies, 0.5))} ms, p99 ${f2(pct(l.latencies, 0.99))} ms, lost ${lost(r)} of ${l.expected}${first}; p99 by second ${l.p99BySecond.map(f2).join(' ')}` +
    ` | generator CPU ${f0(l.cpuPct)}% (loop busy ${f0(l.loopBusyPct)}%, delay p99 ${f2(l.loopDelayP99Ms)} ms, sends late p99 ${f2(l.sendLateP99Ms)} ms, ${l.gc.count} GCs, longest ${f2(l.gc.maxMs)} ms)` +
    ` | server CPU ${f0(serverCpuPct(r))}% | other processes on the generator's CPU ${f0(r.others.load)}%, on the server's ${f0(r.others.server)}%` +
    (disturbed(r) ? ' | DISTURBED' : '')
}

export const fanoutBenchmark: Benchmark = {
  name: 'sync fan-out vs y-websocket 2.1.0',
  async run() {
    const results: BenchResult[] = []
    const details: BenchDetail[] = []
    const pin = pinning()
    console.log(`  ${pin.note}`)
    if (pin.load === null) console.warn(`  warning: ${pin.note}`)
    const orderNote = 'reference, ours, ours, reference'
    details.push({ name: 'fan-out: processes', ms: null, stat: `${pin.note}; order ${orderNote}, a fresh server and generator per run` })
    let generatorMax = 0
    for (const shape of SHAPES) {
      // the workbook every room holds, the same bytes on both servers: a sheet with a row per client
      const wb = new Y.Doc()
      initWorkbook(wb, { title: 'fan-out' })
      addSheet(wb, { name: 'Sheet1', rows: Math.max(5, shape.perRoom), cols: 5 })
      const state = Buffer.from(Y.encodeStateAsUpdate(wb)).toString('base64')
      wb.destroy()
      for (const mode of MODES) {
        const runs: Record<Side, Run[]> = { ref: [], ours: [] }
        for (const side of ORDER) {
          if (pin.load !== null && QUIET_WAIT_SECONDS > 0) {
            const q = await waitForQuiet(pin)
            if (q.othersPct > QUIET_PCT) console.log(`  (other processes still use ${f0(q.othersPct)}% of a CPU after ${f0(q.waitedS)} s: running anyway)`)
          }
          const r = await runOnce(side, shape, mode, state, pin)
          runs[side].push(r)
          console.log(describe(r, shape, mode, runs[side].length))
          generatorMax = Math.max(generatorMax, r.load.cpuPct)
        }
        const label = `fan-out ${shape.key} ${shape.name}, ${mode.name}`
        const both = (side: Side, p: number) => avg(runs[side].map(r => pct(r.load.latencies, p)))
        const stat = `mean of ${runs.ours.length} runs of ${SECONDS} s at ${RATE}/s per client (${orderNote})`
        results.push(result(`${label}: p50 edit → others`, both('ours', 0.5), both('ref', 0.5), 1.0, stat))
        results.push(result(`${label}: p99 edit → others`, both('ours', 0.99), both('ref', 0.99), 1.0, stat))
        const sum = (side: Side, f: (r: Run) => number) => runs[side].reduce((a, r) => a + f(r), 0)
        details.push({ name: `${label}: lost (ours / reference)`, ms: null, stat: `${sum('ours', lost)} of ${sum('ours', r => r.load.expected)} / ${sum('ref', lost)} of ${sum('ref', r => r.load.expected)}` })
        const each = (side: Side, f: (r: Run) => number) => runs[side].map(r => f0(f(r))).join(', ')
        details.push({ name: `${label}: load generator CPU % of its core, per run (ours runs / reference runs)`, ms: null, stat: `${each('ours', r => r.load.cpuPct)} / ${each('ref', r => r.load.cpuPct)} (loop busy ${each('ours', r => r.load.loopBusyPct)} / ${each('ref', r => r.load.loopBusyPct)})` })
        details.push({ name: `${label}: server CPU % of its core while measured, per run (ours / reference)`, ms: null, stat: `${each('ours', serverCpuPct)} / ${each('ref', serverCpuPct)}` })
        details.push({ name: `${label}: other processes' % of the generator's / the server's CPU, per run (ours runs; reference runs)`, ms: null,
          stat: `${runs.ours.map(r => `${f0(r.others.load)}/${f0(r.others.server)}`).join(', ')}; ${runs.ref.map(r => `${f0(r.others.load)}/${f0(r.others.server)}`).join(', ')}${[...runs.ours, ...runs.ref].some(disturbed) ? ` (above ${DISTURBED_PCT}%: disturbed)` : ''}` })
        if (mode.key === 'cold') {
          // the first edit into each freshly loaded room (median over rooms) against the median of the later edits
          for (const side of ['ours', 'ref'] as const) {
            const first = avg(runs[side].map(r => median(r.load.firstEdits)))
            const later = avg(runs[side].map(r => r.load.laterMedian))
            const who = side === 'ours' ? 'ours' : 'reference'
            results.push(result(`fan-out ${shape.key} ${shape.name}: first edit into a fresh room vs later edits, ${who}`, first, later, side === 'ours' ? 2.0 : null,
              `median over ${shape.rooms.length} room(s) of the first edit's median, vs median of the later edits; mean of ${runs[side].length} runs`))
          }
          details.push({ name: `fan-out ${shape.key} ${shape.name}: first edit into a fresh room, ours vs reference`, ms: null,
            stat: `${f2(avg(runs.ours.map(r => median(r.load.firstEdits))))} ms / ${f2(avg(runs.ref.map(r => median(r.load.firstEdits))))} ms (slowest room: ${f2(Math.max(...runs.ours.flatMap(r => r.load.firstEdits)))} / ${f2(Math.max(...runs.ref.flatMap(r => r.load.firstEdits)))} ms)` })
        }
      }
    }
    if (generatorMax > GENERATOR_CPU_WARN) console.warn(`  warning: the load generator used up to ${round(generatorMax, 0)}% of its CPU: its own delays may be in the figures`)
    else console.log(`  load generator at most ${round(generatorMax, 0)}% of its CPU`)
    return { results, details, unrecorded: SHORTENED.length ? `${SHORTENED.join(', ')} set` : undefined }
  },
}
