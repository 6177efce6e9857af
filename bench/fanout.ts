/**
 * Sync fan-out: how long an edit takes to reach the other clients of its room, and how many never
 * arrive, on this server (SQLite store on, share-link auth on, every update stored before it is relayed
 * and checked against the access rules) and on the reference server (the server bundled with
 * y-websocket 2.1.0, in memory), one after the other with the same stock clients. Each server runs in
 * a process of its own (bench/fanout-server.ts) and the clients in this one, as they would on other
 * machines: in one process the clients' own work took turns with the server's and was most of it.
 *
 *   A: 50 rooms × 4 clients, each client 5 edits/s;   B: 1 room × 50 clients, each 5 edits/s.
 * An edit is a cell set to its send time; receivers take the difference. Target: p99 ≤ 1.0× reference.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { initWorkbook, addSheet } from '../src/core/workbook/mutations'
import { sheetIds, sheetParts, sheetsOf } from '../src/core/workbook/schema'
import { result, round, type BenchDetail, type BenchResult, type Benchmark } from './harness'
import type { ServerDone, ServerReady } from './fanout-server'

const SECONDS = Number(process.env.BENCH_FANOUT_SECONDS ?? 10)
const RATE = 5
const WARMUP_SECONDS = 3

interface Target { url: string; params: (room: string) => Record<string, string>; mark(): void; close(): Promise<ServerDone> }

/** Forks bench/fanout-server.ts for `side` and waits until it listens. */
export async function serve(side: 'ref' | 'ours', rooms: string[]): Promise<Target> {
  const child = fork(fileURLToPath(new URL('./fanout-server.ts', import.meta.url)), [side, ...rooms], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = new Promise<never>((_r, reject) => child.once('exit', code => reject(new Error(`the ${side} server exited (${code})`))))
  const ready = await Promise.race([new Promise<ServerReady>(r => child.once('message', m => r(m as ServerReady))), exited])
  return {
    url: ready.url,
    params: (room): Record<string, string> => ready.tokens[room] ? { token: ready.tokens[room]! } : {},
    mark: () => { child.send('mark') },
    close: async () => {
      const done = new Promise<ServerDone>(r => child.once('message', m => r(m as ServerDone)))
      child.send('close')
      return Promise.race([done, exited])
    },
  }
}

interface Run { latencies: number[]; expected: number; received: number }

/** `rooms` × `perRoom` clients; each sends RATE edits a second for SECONDS; returns what arrived. */
export async function scenario(target: Target, rooms: string[], perRoom: number): Promise<Run> {
  const latencies: number[] = []
  let expected = 0, received = 0
  const clients: { doc: Y.Doc; provider: WebsocketProvider; cells: () => Y.Map<unknown>; key: string }[] = []
  for (const room of rooms) {
    for (let i = 0; i < perRoom; i++) {
      const doc = new Y.Doc()
      const provider = new WebsocketProvider(target.url, room, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true, params: target.params(room) })
      const cells = () => {
        const sheets = sheetsOf(doc)
        const id = sheetIds(doc)[0]
        return id ? sheetParts(sheets.get(id)!).cells as Y.Map<unknown> : doc.getMap('cells')
      }
      clients.push({ doc, provider, cells, key: `b${i}:x${i}` })
    }
  }
  await Promise.all(clients.map(c => c.provider.synced ? Promise.resolve() : new Promise<void>(r => c.provider.once('sync', () => r()))))
  // the reference server holds no workbook: its first client makes one, the others receive it
  for (let k = 0; k < clients.length; k += perRoom) {
    const first = clients[k]!
    if (sheetIds(first.doc).length === 0) { initWorkbook(first.doc, { title: 'x' }); addSheet(first.doc, { name: 'Sheet1', rows: 5, cols: 5 }) }
  }
  await new Promise<void>(resolve => {
    const check = () => { if (clients.every(c => sheetIds(c.doc).length > 0)) resolve(); else setTimeout(check, 20) }
    check()
  })
  let measuring = false
  for (const c of clients) {
    c.cells().observe((e, tr) => {
      if (tr.local || !measuring) return
      const now = performance.now()
      for (const key of e.keysChanged) {
        const v = c.cells().get(key)
        if (typeof v === 'number' && v >= 0) { latencies.push(now - v); received++ }
      }
    })
  }
  measuring = true
  target.mark()
  const ticks = SECONDS * RATE
  const others = perRoom - 1
  // three seconds of the same edits first, not measured (negative times, which receivers do not count):
  // each server runs in a fresh process, and what is measured is its steady state, not its code being
  // compiled (after one second, both servers still spent their first ticks in code not yet optimised;
  // warm-up edits of another type than the measured ones made their first ticks slow again)
  for (let t = 0; t < WARMUP_SECONDS * RATE; t++) {
    const slot = performance.now()
    for (const c of clients) c.cells().set(c.key, -performance.now())
    await new Promise(r => setTimeout(r, Math.max(0, 1000 / RATE - (performance.now() - slot))))
  }
  await new Promise(r => setTimeout(r, 1_000))
  for (let t = 0; t < ticks; t++) {
    const slot = performance.now()
    for (const c of clients) { c.cells().set(c.key, performance.now()); expected += others }
    const wait = 1000 / RATE - (performance.now() - slot)
    if (wait > 0) await new Promise(r => setTimeout(r, wait))
  }
  // a grace period for the last edits, then whatever has not arrived is lost
  await new Promise(r => setTimeout(r, 2_000))
  measuring = false
  target.mark()
  for (const c of clients) { c.provider.destroy(); c.doc.destroy() }
  return { latencies, expected, received }
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN }

export const fanoutBenchmark: Benchmark = {
  name: 'sync fan-out vs y-websocket 2.1.0',
  async run() {
    const results: BenchResult[] = []
    const details: BenchDetail[] = []
    const cases: [string, string[], number][] = [
      ['50 rooms × 4 clients', Array.from({ length: 50 }, (_, i) => `fan${i}`), 4],
      ['1 room × 50 clients', ['fanbig'], 50],
    ]
    for (const [name, rooms, perRoom] of cases) {
      // reference, ours, ours, reference (each with a fresh server): this machine's speed drifts within
      // a minute, and a drift the order A B B A cancels is otherwise taken for a difference between
      // the servers; the figures are the means of the two runs of each
      const runs: { ref: Run[]; ours: Run[] } = { ref: [], ours: [] }
      const cpu = { ref: 0, ours: 0 }
      for (const side of ['ref', 'ours', 'ours', 'ref'] as const) {
        const target = await serve(side, rooms)
        runs[side].push(await scenario(target, rooms, perRoom))
        cpu[side] += (await target.close()).measuredCpuMs
      }
      const both = (side: 'ref' | 'ours', p: number) => (pct(runs[side][0]!.latencies, p) + pct(runs[side][1]!.latencies, p)) / 2
      const sum = (side: 'ref' | 'ours', k: 'expected' | 'received') => runs[side][0]![k] + runs[side][1]![k]
      const stat = `mean of 2 runs of ${SECONDS} s at ${RATE}/s per client, in the order reference, ours, ours, reference`
      results.push(result(`fan-out ${name}: p99 edit → others`, both('ours', 0.99), both('ref', 0.99), 1.0, stat))
      results.push(result(`fan-out ${name}: p50 edit → others`, both('ours', 0.5), both('ref', 0.5), null, stat))
      details.push({ name: `fan-out ${name}: lost (ours / reference)`, ms: null, stat: `${sum('ours', 'expected') - sum('ours', 'received')} of ${sum('ours', 'expected')} / ${sum('ref', 'expected') - sum('ref', 'received')} of ${sum('ref', 'expected')}` })
      details.push({ name: `fan-out ${name}: server CPU while measured, per run (ours / reference)`, ms: null, stat: `${round(cpu.ours / 2, 0)} ms / ${round(cpu.ref / 2, 0)} ms` })
      details.push({ name: `fan-out ${name}: received per second (ours / reference)`, ms: null, stat: `${round(sum('ours', 'received') / SECONDS / 2, 0)} / ${round(sum('ref', 'received') / SECONDS / 2, 0)}` })
    }
    return { results, details }
  },
}
