/**
 * One server of the fan-out benchmark, alone in a process of its own: bench/fanout.ts starts it
 * pinned to one CPU (`taskset`) and the load generator (bench/fanout-load.ts) pinned to the other.
 *   argv: 'ours' | 'ref'.
 * Says 'listening', takes one ServerSetup message (the rooms and the workbook each holds, the same bytes for both
 * servers), loads nothing of it into a room yet (the clients' arrival does, as in service) and sends
 * { url, tokens } once listening. 'mark' notes the CPU time used so far (at the start and end of what
 * is measured); on 'close' it stops, sends ServerDone and exits.
 */
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type WebSocket from 'ws'
import { WebSocketServer } from 'ws'

export interface ServerSetup { rooms: string[]; /** the workbook of every room: one encoded Yjs update, base64 */ state: string }
export interface ServerReady { url: string; tokens: Record<string, string> }
/** cpuMs: from listening to close; measuredCpuMs / measuredWallMs: between the two 'mark' messages (the measured edits) */
export interface ServerDone { cpuMs: number; measuredCpuMs: number; measuredWallMs: number }

/**
 * The server bundled with y-websocket 2.1.0, in memory. Its documents are made before the clients
 * come (as ours are in its store), from the same bytes, so that neither relays a first big update
 * before the first edit.
 */
async function reference(setup: ServerSetup): Promise<{ ready: ServerReady; close(): Promise<void> }> {
  const require = createRequire(import.meta.url)
  const utils = require('y-websocket-ref/bin/utils') as {
    setupWSConnection: (ws: WebSocket, req: unknown, opts: { docName: string }) => void
    getYDoc: (name: string) => unknown
  }
  // its own (CommonJS) Yjs: a doc of one Yjs build cannot take updates through another's functions
  const Yref = require('yjs') as { applyUpdate: (doc: unknown, update: Uint8Array) => void }
  const state = Buffer.from(setup.state, 'base64')
  for (const room of setup.rooms) Yref.applyUpdate(utils.getYDoc(room), state)
  const http: Server = createServer((_req, res) => { res.writeHead(200); res.end('ok') })
  const wss = new WebSocketServer({ server: http })
  wss.on('connection', (ws, req) => utils.setupWSConnection(ws, req, { docName: (req.url ?? '/').slice(1).split('?')[0]! }))
  await new Promise<void>(r => http.listen(0, '127.0.0.1', r))
  return {
    ready: { url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}`, tokens: {} },
    close: () => new Promise<void>(r => { for (const c of wss.clients) c.terminate(); wss.close(); http.close(() => r()) }),
  }
}

/** This server as it runs: SQLite store, share-link auth, access checks. */
async function ours(setup: ServerSetup): Promise<{ ready: ServerReady; close(): Promise<void> }> {
  // (imported here: the reference's process loads nothing of this server, nor a second Yjs)
  const { startServer } = await import('../server/index')
  const { silentLogger } = await import('../server/log')
  const { hashToken, newLinkId, newToken } = await import('../server/auth')
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-fanout-'))
  // BENCH_FANOUT_OURS='{"compactThreshold":1e9}': options of this server for a what-if run (not recorded)
  const extra = JSON.parse(process.env.BENCH_FANOUT_OURS ?? '{}') as Record<string, unknown>
  const s = await startServer({ port: 0, dataDir: dir, staticDir: dir, logger: silentLogger, messagesPerSecond: 1000, messageBurst: 2000, ...extra })
  const tokens: Record<string, string> = {}
  const state = new Uint8Array(Buffer.from(setup.state, 'base64'))
  for (const id of setup.rooms) {
    const token = newToken()
    await s.store.createWorkbook({ id, title: id, template: 'blank', createdAt: 0, updatedAt: 0 }, state,
      { link: { id: newLinkId(), workbookId: id, role: 'editor', name: 'bench', createdAt: 0, revokedAt: null }, tokenHash: hashToken(token) })
    tokens[id] = token
  }
  return {
    ready: { url: s.url.replace('http', 'ws') + '/collab', tokens },
    close: async () => { await s.close(); rmSync(dir, { recursive: true, force: true }) },
  }
}

const side = process.argv[2]
// (a message sent before this process listens would be lost: it says when it does)
const setup = await new Promise<ServerSetup>(r => { process.once('message', m => r(m as ServerSetup)); process.send!('listening') })
const server = side === 'ref' ? await reference(setup) : await ours(setup)
const cpu0 = process.cpuUsage()
process.send!(server.ready)
const ms = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000
const marks: { cpu: number; wall: number }[] = []
// BENCH_SERVER_PROF=<dir>: a CPU profile of what is measured (between the marks) is written there
const profileDir = process.env.BENCH_SERVER_PROF
const session = profileDir ? new Session() : null
session?.connect()
const post = (method: string) => new Promise<unknown>((resolve, reject) => session!.post(method, (err, res) => err ? reject(err) : resolve(res)))
process.on('message', async (m: unknown) => {
  if (m === 'mark') {
    marks.push({ cpu: ms(process.cpuUsage(cpu0)), wall: performance.now() })
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
  const [a, b] = marks
  const done: ServerDone = { cpuMs, measuredCpuMs: a && b ? b.cpu - a.cpu : NaN, measuredWallMs: a && b ? b.wall - a.wall : NaN }
  // Exit only when the parent hangs up: exiting on our own could let the parent see 'exit' before this
  // message, and it would take a clean finish for a crash.
  process.once('disconnect', () => process.exit(0))
  process.send!(done)
})
