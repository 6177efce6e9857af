/**
 * Server memory: (a) memory per loaded 1,000-row workbook (10 columns, formulas and a totals row, as the
 * benchmark sheet) — the V8 heap plus array buffers, since a resting room keeps its state in one:
 *   - a plain Y.Doc with the same content (the baseline),
 *   - a live room (its doc in memory, as while someone edits),
 *   - a room with a connected, synced client after the doc has been quiet for `restAfterMs` (it rests:
 *     the state encoded, the Y.Doc freed) — target ≤ 2 MB each;
 *   and what waking a resting room costs (the first change after a quiet spell pays it);
 * (b) heap after 10,000 open/close cycles of a workbook (a stock client connects, syncs, leaves; the
 * room unloads) against the heap after the first 100 — target back within 10 %.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { startServer } from '../server/index'
import { silentLogger } from '../server/log'
import { addSheet, initWorkbook, setCells, type CellWrite } from '../src/core/workbook/mutations'
import { WorkbookLayout } from '../src/core/workbook/layout'
import { inputFromText } from '../src/core/workbook/input'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import { collect, gcExposed, median, round, type Benchmark } from './harness'
import { hashToken, newLinkId, newToken } from '../server/auth'
import type { Store } from '../server/store/types'
import type { RoomManager } from '../server/collab/rooms'

const WORKBOOKS = Number(process.env.BENCH_MEMORY_WORKBOOKS ?? 30)
const CYCLES = Number(process.env.BENCH_CYCLES ?? 10_000)
const ROWS = 1_000
const CYCLE_ROWS = Number(process.env.BENCH_CYCLE_ROWS ?? 100)

function workbookUpdate(seed: number, rows = ROWS): Uint8Array {
  const ROWS_ = rows
  const doc = new Y.Doc()
  initWorkbook(doc, { title: `mem ${seed}` })
  const sheetId = addSheet(doc, { name: 'Data', rows: ROWS_ + 2, cols: 10 })
  const layout = new WorkbookLayout(doc)
  const sl = layout.sheet(sheetId)!
  const writes: CellWrite[] = []
  for (let r = 0; r < ROWS_; r++) {
    const n = r + 1
    const row = [`SKU-${seed}-${r}`, r * 3 + seed, r % 17, (r * 7) % 101, r % 5, r % 9 + 1, `=B${n}*C${n}`, `=IFERROR(D${n}/F${n},0)`, `=G${n}+H${n}`, `=IF(I${n}>100,"high","low")`]
    row.forEach((v, c) => writes.push({ rowId: sl.rows.ids[r]!, colId: sl.cols.ids[c]!, value: typeof v === 'number' ? v : inputFromText(v, { layout, sheetId }) }))
  }
  ;['合计', `=SUM(B1:B${ROWS_})`, `=SUM(C1:C${ROWS_})`].forEach((v, c) => writes.push({ rowId: sl.rows.ids[ROWS_]!, colId: sl.cols.ids[c]!, value: inputFromText(v, { layout, sheetId }) }))
  setCells(doc, sheetId, writes)
  const u = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return u
}

const heap = () => { collect(); collect(); return process.memoryUsage().heapUsed }
/** what a workbook's state can live in: the heap and array buffers (a resting room's encoded state) */
const memory = () => { collect(); collect(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers }
/** rest after this much quiet in the benchmark (the server's default is a minute) */
const REST_MS = 200

export const memoryBenchmark: Benchmark = {
  name: 'server memory',
  async run() {
    if (!gcExposed) throw new Error('the memory benchmark needs --expose-gc')
    const dir = mkdtempSync(join(tmpdir(), 'pw-bench-mem-'))
    const server = await startServer({ port: 0, dataDir: dir, staticDir: dir, logger: silentLogger, unloadDelayMs: 600_000, restAfterMs: REST_MS })
    const sockets: WebSocket[] = []
    try {
      const updates = Array.from({ length: WORKBOOKS }, (_, i) => workbookUpdate(i))
      const ids: string[] = []
      for (let i = 0; i < WORKBOOKS; i++) {
        const id = `mem${i}`
        await server.store.createWorkbook({ id, title: id, template: 'blank', createdAt: i, updatedAt: i }, updates[i])
        ids.push(id)
      }
      // (a) plain Y.Docs with the same content, then the server's rooms, live and at rest
      const h0 = memory()
      const plain = updates.map(u => { const d = new Y.Doc(); Y.applyUpdate(d, u); return d })
      const plainPer = (memory() - h0) / WORKBOOKS
      plain.forEach(d => d.destroy())
      plain.length = 0
      const h1 = memory()
      // a hold keeps each room live while it is measured
      let release!: () => void
      const held = new Promise<void>(r => { release = r })
      const holding = ids.map(id => server.rooms.withDoc(id, () => held))
      await Promise.all(ids.map(id => server.rooms.rooms.get(id)!.ready))
      const livePer = (memory() - h1) / WORKBOOKS
      release()
      await Promise.all(holding)
      // a client on each (a bare socket that syncs: no client doc in this process to count), then quiet
      const restingNow = new Set<string>()
      const allResting = new Promise<void>(r => {
        const f = (id: string) => { restingNow.add(id); if (ids.every(x => restingNow.has(x))) { server.rooms.off('room-resting', f); r() } }
        server.rooms.on('room-resting', f)
      })
      const tokens = await Promise.all(ids.map(id => ownerToken(server, id)))
      for (let i = 0; i < ids.length; i++) sockets.push(await syncedSocket(server.url, ids[i]!, tokens[i]!))
      await allResting
      const restPer = (memory() - h1) / WORKBOOKS
      // waking: what the first change after a quiet spell pays (the doc made again from the encoded state)
      const wakeMs: number[] = []
      const onWake = (_: string, info: { ms: number }) => wakeMs.push(info.ms)
      server.rooms.on('room-woke', onWake)
      for (const id of ids.slice(0, 10)) await server.rooms.withDoc(id, () => {})
      server.rooms.off('room-woke', onWake)
      const bytesPer = updates.reduce((n, u) => n + u.length, 0) / WORKBOOKS
      for (const id of ids) { const room = server.rooms.rooms.get(id); if (room) { room.closeAll(1000, 'benchmark done'); await room.unload() } }

      // (b) open/close cycles of one workbook: a client joins, syncs and leaves; the room unloads at once
      const closing = await startServer({ port: 0, dataDir: dir, staticDir: dir, logger: silentLogger, unloadDelayMs: 0, store: server.store })
      await server.store.createWorkbook({ id: 'cycles', title: 'cycles', template: 'blank', createdAt: 0, updatedAt: 0 }, workbookUpdate(999, CYCLE_ROWS))
      const token = await ownerToken(closing, 'cycles')
      const run = async (n: number) => { for (let i = 0; i < n; i++) await cycleWith(closing, 'cycles', token) }
      await run(100)
      const c0 = heap()
      const t0 = performance.now()
      await run(CYCLES - 100)
      const cycleMs = (performance.now() - t0) / (CYCLES - 100)
      const c1 = heap()
      await closing.close()
      const mb = (b: number) => b / 1048576
      const details = [
        { name: `waking a resting ${ROWS}-row workbook (the first change after a quiet spell)`, ms: round(median(wakeMs), 2), stat: `median of ${wakeMs.length}` },
        { name: `encoded state of a ${ROWS}-row workbook, KB`, ms: null, stat: `${round(bytesPer / 1024, 1)} KB` },
      ]
      return {
        results: [
          { name: `memory per loaded ${ROWS}-row workbook, live room MB (vs plain Y.Doc)`, oursMs: round(mb(livePer), 2), baselineMs: round(mb(plainPer), 2), ratio: round(livePer / plainPer, 3), target: null, pass: true, stat: `${WORKBOOKS} workbooks, heap + array buffers` },
          { name: `memory per loaded ${ROWS}-row workbook, client on, at rest MB (vs budget 2 MB)`, oursMs: round(mb(restPer), 2), baselineMs: 2, ratio: round(mb(restPer) / 2, 3), target: 1, pass: mb(restPer) <= 2, stat: `${WORKBOOKS} workbooks, after ${REST_MS} ms quiet` },
          { name: `memory per loaded ${ROWS}-row workbook, at rest MB (vs plain Y.Doc)`, oursMs: round(mb(restPer), 2), baselineMs: round(mb(plainPer), 2), ratio: round(restPer / plainPer, 3), target: null, pass: true, stat: `${WORKBOOKS} workbooks` },
          { name: `heap after ${CYCLES} open/close cycles MB (vs after 100)`, oursMs: round(mb(c1), 1), baselineMs: round(mb(c0), 1), ratio: round(c1 / c0, 3), target: 1.1, pass: c1 / c0 <= 1.1, stat: `${CYCLE_ROWS}-row workbook, ${cycleMs.toFixed(2)} ms a cycle` },
        ],
        details,
      }
    } finally {
      for (const ws of sockets) ws.terminate()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  },
}

export async function ownerToken(s: { store: Store }, id: string): Promise<string> {
  const token = newToken()
  await s.store.createLink({ id: newLinkId(), workbookId: id, role: 'owner', name: 'bench', createdAt: 0, revokedAt: null }, hashToken(token))
  return token
}

/** A bare socket that does the sync exchange of a client with nothing yet, and stays connected. */
export async function syncedSocket(url: string, id: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/collab/${id}?token=${token}`)
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer) => { if (data[0] === 0 && data[1] === syncProtocol.messageYjsSyncStep2) resolve() })
    ws.once('error', reject)
    ws.once('open', () => {
      const e = encoding.createEncoder()
      encoding.writeVarUint(e, 0)
      syncProtocol.writeSyncStep1(e, new Y.Doc())
      ws.send(encoding.toUint8Array(e))
    })
  })
  return ws
}

async function cycleWith(s: { url: string; rooms: RoomManager }, id: string, token: string): Promise<void> {
  const doc = new Y.Doc()
  const unloaded = new Promise<void>(r => { const f = (x: string) => { if (x === id) { s.rooms.off('room-unloaded', f); r() } }; s.rooms.on('room-unloaded', f) })
  const p = new WebsocketProvider(s.url.replace('http', 'ws') + '/collab', id, doc, { WebSocketPolyfill: WebSocket as never, disableBc: true, params: { token } })
  await new Promise<void>(r => p.once('sync', () => r()))
  p.destroy()
  doc.destroy()
  await unloaded
}
