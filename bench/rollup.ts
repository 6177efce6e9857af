/**
 * Roll-ups (issue 21): a roll-up of 100 sources × 200 rows kept current.
 *
 * The real server in process (SQLite under a temp dir, the roll-up service's defaults: 250 ms debounce).
 * 100 workbooks from the kpi-monitoring template, each grown to 200 rows on the server (metric M0…M199,
 * a target and an actual per row; the deviation and status columns stay the template's formulas, so
 * every source read runs the formula engine), each with a view link; then POST /api/rollups (aggregate
 * by 核心指标, sum of 实际值 and 目标值: 200 combined rows over 20,000 source rows).
 *
 * (1) Open: the roll-up's room is loaded (rooms.encodedState, no client) and the time to its first pass
 *     (every source read from the store, combined, written) is the first-use cost, reported apart.
 * (2) Memory: the heap after that pass and a GC, minus the heap before loading the roll-up (gc
 *     exposed: node --expose-gc): the roll-up's room, its doc and the service's per-source cache.
 * (3) Edit → roll-up client: a stock WebsocketProvider opens the roll-up; 10 stock clients open 10 of
 *     the sources; each edit sets one actual in one source (round robin), stamped at setCell, and is
 *     done when the roll-up client's doc shows the new sum (docUntil-style wait on its updates). 5
 *     warm-up edits, then 60 measured, one at a time; p50 and p99 (the debounce is in every figure).
 *
 *   BENCH_ROLLUP_SOURCES (100), BENCH_ROLLUP_ROWS (200), BENCH_ROLLUP_EDITS (60): a run with any set is
 *   not the benchmark as defined, and is printed but not recorded.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { startServer } from '../server/index'
import { silentLogger } from '../server/log'
import { SERVER_ORIGIN } from '../server/collab/rooms'
import { insertRows, setCells, type CellWrite } from '../src/core/workbook/mutations'
import { colByKey, kpiSheet, rollupValue } from '../test/helpers/rollup'
import { visibleRowIds, sheetsOf } from '../src/core/workbook/schema'
import { collect, gcExposed, round, type BenchDetail, type Benchmark } from './harness'

const SOURCES = Number(process.env.BENCH_ROLLUP_SOURCES ?? 100)
const ROWS = Number(process.env.BENCH_ROLLUP_ROWS ?? 200)
const EDITS = Number(process.env.BENCH_ROLLUP_EDITS ?? 60)
const WARMUP = 5
const EDITORS = 10
const WAIT_MS = 30_000
const SHORTENED = ['BENCH_ROLLUP_SOURCES', 'BENCH_ROLLUP_ROWS', 'BENCH_ROLLUP_EDITS'].filter(k => process.env[k] !== undefined)

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! }
const heap = () => { collect(); collect(); return process.memoryUsage().heapUsed }

function waitFor(doc: Y.Doc, ok: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ok()) { resolve(); return }
    const timer = setTimeout(() => { doc.off('update', check); reject(new Error(`timed out waiting for ${what}`)) }, WAIT_MS)
    const check = () => { if (ok()) { clearTimeout(timer); doc.off('update', check); resolve() } }
    doc.on('update', check)
  })
}

async function client(url: string, id: string, token: string): Promise<{ doc: Y.Doc; provider: WebsocketProvider }> {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(`${url.replace(/^http/, 'ws')}/collab`, id, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true, params: { token },
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the client did not sync')), WAIT_MS)
    provider.on('sync', (s: boolean) => { if (s) { clearTimeout(timer); resolve() } })
  })
  return { doc, provider }
}

export const rollupBenchmark: Benchmark = {
  name: 'rollup',
  async run() {
    const dataDir = mkdtempSync(join(tmpdir(), 'pw-bench-rollup-'))
    const server = await startServer({ port: 0, dataDir, staticDir: dataDir, logger: silentLogger, unloadDelayMs: 120_000, restAfterMs: 0, messagesPerSecond: 10_000, messageBurst: 10_000 })
    const api = async (method: string, path: string, body?: unknown, token?: string) => {
      const res = await fetch(server.url + path, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) })
      const json = await res.json() as Record<string, unknown>
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
      return json
    }
    const closers: (() => void)[] = []
    try {
      // ---- the sources ----------------------------------------------------------------------------
      const sources: { id: string; owner: string; view: string }[] = []
      for (let i = 0; i < SOURCES; i++) {
        const made = await api('POST', '/api/workbooks', { template: 'kpi-monitoring', title: `门店 ${i}` })
        const id = made.id as string, owner = made.token as string
        await server.rooms.withDoc(id, doc => {
          const s = kpiSheet(doc)
          const have = visibleRowIds(sheetsOf(doc).get(s)!).length
          if (have < ROWS) insertRows(doc, s, have, ROWS - have, SERVER_ORIGIN)
          const rows = visibleRowIds(sheetsOf(doc).get(s)!)
          const [m, t, a] = ['metric', 'target', 'actual'].map(k => colByKey(doc, s, k))
          const writes: CellWrite[] = []
          for (let r = 0; r < ROWS; r++) writes.push({ rowId: rows[r]!, colId: m!, value: `M${r}` }, { rowId: rows[r]!, colId: t!, value: 100 }, { rowId: rows[r]!, colId: a!, value: (i * 7 + r) % 97 })
          setCells(doc, s, writes, SERVER_ORIGIN)
        })
        const link = await api('POST', `/api/workbooks/${id}/links`, { role: 'viewer', name: 'hq' }, owner)
        sources.push({ id, owner, view: link.token as string })
      }
      await server.rooms.flushAll()
      const made = await api('POST', '/api/rollups', {
        title: 'bench', template: 'kpi-monitoring', sheetKey: 'kpi', mode: 'aggregate', key: '核心指标',
        measures: [{ column: '实际值', fn: 'sum' }, { column: '目标值', fn: 'sum' }],
        sources: sources.map(s => ({ workbookId: s.id, token: s.view })),
      })
      const rollupId = made.id as string, rollupToken = made.token as string
      // the sources' rooms leave memory: the roll-up reads them from the store
      // (the unload delay is long; rooms with no client are dropped by waiting for none here: none were
      // opened by a client, only held by withDoc, which schedules their unload)

      // ---- (1) open + (2) memory -----------------------------------------------------------------
      const before = heap()
      const t0 = performance.now()
      const firstPass = new Promise<{ ms: number; read: number }>(resolve => server.rollups.once('pass', (_id, info) => resolve(info)))
      await server.rooms.encodedState(rollupId)
      const first = await firstPass
      const openMs = performance.now() - t0
      const after = heap()

      // ---- (3) edit → roll-up client ---------------------------------------------------------------
      const viewer = await client(server.url, rollupId, rollupToken)
      closers.push(() => { viewer.provider.destroy(); viewer.doc.destroy() })
      await waitFor(viewer.doc, () => rollupValue(viewer.doc, 'M0', 'actual') !== undefined, 'the roll-up client to show the roll-up')
      const editors = []
      for (const s of sources.slice(0, EDITORS)) {
        const c = await client(server.url, s.id, s.owner)
        closers.push(() => { c.provider.destroy(); c.doc.destroy() })
        editors.push(c)
      }
      const samples: number[] = []
      for (let e = 0; e < WARMUP + EDITS; e++) {
        const ed = editors[e % editors.length]!
        const s = kpiSheet(ed.doc)
        const rows = visibleRowIds(sheetsOf(ed.doc).get(s)!)
        const r = e % ROWS
        const col = colByKey(ed.doc, s, 'actual')
        const prev = sheetsOf(ed.doc).get(s)!.get('cells') as Y.Map<unknown>
        const was = prev.get(`${rows[r]}:${col}`) as number
        const sum = rollupValue(viewer.doc, `M${r}`, 'actual') as number
        const next = was + 1000
        const start = performance.now()
        setCells(ed.doc, s, [{ rowId: rows[r]!, colId: col, value: next }])
        await waitFor(viewer.doc, () => rollupValue(viewer.doc, `M${r}`, 'actual') === sum + 1000, `edit ${e} in the roll-up`)
        if (e >= WARMUP) samples.push(performance.now() - start)
      }
      const details: BenchDetail[] = [
        { name: `rollup: edit → roll-up client, p50 (${SOURCES} sources × ${ROWS} rows)`, ms: round(pct(samples, 50)), stat: `p50 of ${samples.length} edits after ${WARMUP} warm-up; includes the 250 ms debounce` },
        { name: 'rollup: edit → roll-up client, p99', ms: round(pct(samples, 99)), stat: `p99 of ${samples.length}` },
        { name: 'rollup: open (first pass, first use)', ms: round(openMs), stat: `once: every source read from the store (${first.read} read), combined and written` },
        { name: 'rollup: server heap for the open roll-up', ms: null, stat: `${((after - before) / 1024 / 1024).toFixed(1)} MiB heap delta after GC${gcExposed ? '' : ' (gc not exposed: rough)'} (room, doc, per-source cache)` },
      ]
      return { results: [], details, unrecorded: SHORTENED.length ? `${SHORTENED.join(', ')} set` : undefined }
    } finally {
      for (const c of closers) c()
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  },
}
