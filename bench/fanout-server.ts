/**
 * One server of the fan-out benchmark, in a process of its own (bench/fanout.ts forks it): the
 * clients run in the benchmark's process, as they would on other machines, so the latency measured
 * is the server's and not the clients' turn in one event loop.
 *   argv: 'ours' | 'ref', then the room names.
 * Sends { url, tokens } once listening; 'mark' notes the CPU time used so far (at the start and end of
 * what is measured); on 'close' it stops, sends ServerDone and exits.
 */
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import * as Y from 'yjs'
import type WebSocket from 'ws'
import { WebSocketServer } from 'ws'
import { startServer } from '../server/index'
import { silentLogger } from '../server/log'
import { hashToken, newLinkId, newToken } from '../server/auth'
import { initWorkbook, addSheet } from '../src/core/workbook/mutations'

export interface ServerReady { url: string; tokens: Record<string, string> }
/** cpuMs: from listening to close; measuredCpuMs: between the two 'mark' messages (the measured edits) */
export interface ServerDone { cpuMs: number; measuredCpuMs: number }

async function reference(): Promise<{ ready: ServerReady; close(): Promise<void> }> {
  const require = createRequire(import.meta.url)
  const { setupWSConnection } = require('y-websocket-ref/bin/utils') as { setupWSConnection: (ws: WebSocket, req: unknown, opts: { docName: string }) => void }
  const http: Server = createServer((_req, res) => { res.writeHead(200); res.end('ok') })
  const wss = new WebSocketServer({ server: http })
  wss.on('connection', (ws, req) => setupWSConnection(ws, req, { docName: (req.url ?? '/').slice(1).split('?')[0]! }))
  await new Promise<void>(r => http.listen(0, '127.0.0.1', r))
  return {
    ready: { url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}`, tokens: {} },
    close: () => new Promise<void>(r => { for (const c of wss.clients) c.terminate(); wss.close(); http.close(() => r()) }),
  }
}

/** This server as it runs: SQLite store, share-link auth, access checks. */
async function ours(rooms: string[]): Promise<{ ready: ServerReady; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-fanout-'))
  const s = await startServer({ port: 0, dataDir: dir, staticDir: dir, logger: silentLogger, messagesPerSecond: 1000, messageBurst: 2000 })
  const tokens: Record<string, string> = {}
  for (const id of rooms) {
    const doc = new Y.Doc()
    initWorkbook(doc, { title: id })
    addSheet(doc, { name: 'Sheet1', rows: 5, cols: 5 })
    const token = newToken()
    await s.store.createWorkbook({ id, title: id, template: 'blank', createdAt: 0, updatedAt: 0 }, Y.encodeStateAsUpdate(doc),
      { link: { id: newLinkId(), workbookId: id, role: 'editor', name: 'bench', createdAt: 0, revokedAt: null }, tokenHash: hashToken(token) })
    tokens[id] = token
  }
  return {
    ready: { url: s.url.replace('http', 'ws') + '/collab', tokens },
    close: async () => { await s.close(); rmSync(dir, { recursive: true, force: true }) },
  }
}

const [side, ...rooms] = process.argv.slice(2)
const server = side === 'ref' ? await reference() : await ours(rooms)
const cpu0 = process.cpuUsage()
process.send!(server.ready)
const ms = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000
const marks: number[] = []
// BENCH_SERVER_PROF=<dir>: a CPU profile of what is measured (between the marks) is written there
const profileDir = process.env.BENCH_SERVER_PROF
const session = profileDir ? new Session() : null
session?.connect()
const post = (method: string) => new Promise<unknown>((resolve, reject) => session!.post(method, (err, res) => err ? reject(err) : resolve(res)))
process.on('message', async (m: unknown) => {
  if (m === 'mark') {
    marks.push(ms(process.cpuUsage(cpu0)))
    if (session && marks.length === 1) { await post('Profiler.enable'); await post('Profiler.start') }
    if (session && marks.length === 2) {
      const { profile } = await post('Profiler.stop') as { profile: unknown }
      writeFileSync(join(profileDir!, `${side}-${process.pid}.cpuprofile`), JSON.stringify(profile))
    }
    return
  }
  if (m !== 'close') return
  const cpuMs = ms(process.cpuUsage(cpu0))
  await server.close()
  process.send!({ cpuMs, measuredCpuMs: marks.length >= 2 ? marks[1]! - marks[0]! : NaN } satisfies ServerDone, () => process.exit(0))
})
