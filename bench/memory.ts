/**
 * Server memory: (a) heap per loaded 1,000-row workbook (10 columns, formulas and a totals row, as the
 * benchmark sheet), against the same content in a plain Y.Doc — target ≤ 2 MB each; (b) heap after
 * 10,000 open/close cycles of a workbook (a stock client connects, syncs, leaves; the room unloads)
 * against the heap after the first 100 — target back within 10 %.
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
import { collect, gcExposed, round, type Benchmark } from './harness'
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

export const memoryBenchmark: Benchmark = {
  name: 'server memory',
  async run() {
    if (!gcExposed) throw new Error('the memory benchmark needs --expose-gc')
    const dir = mkdtempSync(join(tmpdir(), 'pw-bench-mem-'))
    const server = await startServer({ port: 0, dataDir: dir, staticDir: dir, logger: silentLogger, unloadDelayMs: 600_000 })
    try {
      const updates = Array.from({ length: WORKBOOKS }, (_, i) => workbookUpdate(i))
      const ids: string[] = []
      for (let i = 0; i < WORKBOOKS; i++) {
        const id = `mem${i}`
        await server.store.createWorkbook({ id, title: id, template: 'blank', createdAt: i, updatedAt: i }, updates[i])
        ids.push(id)
      }
      // (a) plain Y.Docs with the same content, then the server's rooms
      const h0 = heap()
      const plain = updates.map(u => { const d = new Y.Doc(); Y.applyUpdate(d, u); return d })
      const plainPer = (heap() - h0) / WORKBOOKS
      plain.forEach(d => d.destroy())
      plain.length = 0
      const h1 = heap()
      for (const id of ids) await server.rooms.withDoc(id, () => {})
      const roomPer = (heap() - h1) / WORKBOOKS
      for (const id of ids) await server.rooms.rooms.get(id)!.unload()

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
      return {
        results: [
          { name: `heap per loaded ${ROWS}-row workbook MB (vs plain Y.Doc)`, oursMs: round(mb(roomPer), 2), baselineMs: round(mb(plainPer), 2), ratio: round(roomPer / plainPer, 3), target: null, pass: true, stat: `${WORKBOOKS} workbooks` },
          { name: `heap per loaded ${ROWS}-row workbook MB (vs budget 2 MB)`, oursMs: round(mb(roomPer), 2), baselineMs: 2, ratio: round(mb(roomPer) / 2, 3), target: 1, pass: mb(roomPer) <= 2, stat: `${WORKBOOKS} workbooks` },
          { name: `heap after ${CYCLES} open/close cycles MB (vs after 100)`, oursMs: round(mb(c1), 1), baselineMs: round(mb(c0), 1), ratio: round(c1 / c0, 3), target: 1.1, pass: c1 / c0 <= 1.1, stat: `${CYCLE_ROWS}-row workbook, ${cycleMs.toFixed(2)} ms a cycle` },
        ],
      }
    } finally {
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  },
}

async function ownerToken(s: { store: Store }, id: string): Promise<string> {
  const token = newToken()
  await s.store.createLink({ id: newLinkId(), workbookId: id, role: 'owner', name: 'bench', createdAt: 0, revokedAt: null }, hashToken(token))
  return token
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
