/**
 * Shared benchmark plumbing: result rows, timing, statistics, a seeded PRNG and a GC hook.
 * A benchmark module exports a `Benchmark`; bench/run.ts runs them all in one process.
 */

export interface BenchResult {
  name: string
  /** our implementation, milliseconds (the statistic named in `stat`) */
  oursMs: number
  /** the reference implementation, milliseconds */
  baselineMs: number
  /** oursMs / baselineMs */
  ratio: number
  /** maximum acceptable ratio */
  /** null: reported for information, no target */
  target: number | null
  pass: boolean
  /** how the figure was obtained, e.g. "median of 7" */
  stat: string
}

/** Informational timings (no target), e.g. where a load spends its time. */
export interface BenchDetail {
  name: string
  /** null for a figure that is not a time (see `stat`) */
  ms: number | null
  stat: string
}

export interface BenchOutput {
  results: BenchResult[]
  details?: BenchDetail[]
  /** set when the run was not the benchmark as defined (shortened by an environment variable, say): why; bench/results.json is then left as it was */
  unrecorded?: string
}

export interface Benchmark {
  name: string
  run(): Promise<BenchOutput> | BenchOutput
}

/** Thrown when ours and the baseline disagree: the run fails, whatever the timings. */
export class CorrectnessError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CorrectnessError'
  }
}

export function result(name: string, oursMs: number, baselineMs: number, target: number | null, stat: string): BenchResult {
  const ratio = oursMs / baselineMs
  return { name, oursMs: round(oursMs), baselineMs: round(baselineMs), ratio: round(ratio, 3), target, pass: target === null || ratio <= target, stat }
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length
}

const gcHook = (globalThis as { gc?: () => void }).gc
export const gcExposed = typeof gcHook === 'function'

/** Full collection when node runs with --expose-gc (twice: the first pass may only free weak refs). */
export function collect(): void {
  if (gcHook) { gcHook(); gcHook() }
}

/** Times one call in milliseconds. */
export function time(fn: () => void): number {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}

/** Seeded PRNG (mulberry32), shared with the tests: the same data on every run. */
export { rng } from '../test/helpers/workbook'
