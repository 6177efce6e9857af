/**
 * The load generator of the fan-out benchmark, alone in a process of its own: bench/fanout.ts starts
 * it pinned to one CPU (`taskset`) and the server it measures pinned to the other. Every client of
 * every room lives here, so a send time and a receive time are read from the same clock
 * (`performance.now()` of this process).
 *
 * The clients speak the y-websocket protocol over `ws` as the stock WebsocketProvider does (sync
 * step 1 on open, step 2 answered, updates as sync messages), with as little work per message as can
 * be: an edit is a real cell edit (`setCell` on the client's own Y.Doc, which holds the workbook from
 * its sync), stamped when its update goes to the socket (after the client's own Yjs work); a message
 * received after the sync is only stamped and copied into one preallocated arena (time, bytes).
 * Which edits a message carries (client id and clock of each item) is read after the run,
 * when this process's CPU no longer matters; so is everything else. The generator's own code is run
 * (offline) before it connects, and collected, so that its first edits are not its code being compiled.
 *
 * Sends are spread evenly over each period (client k of N sends at k/N of it), as independent people
 * type, rather than all clients at the same instant.
 *
 * Says 'listening', takes one LoadPlan message; sends 'mark' at the start and at the end of the
 * measured edits (the benchmark passes them to the server, for its CPU time), then one LoadResult,
 * and exits. It runs with a large young generation (--max-semi-space-size, set by bench/fanout.ts):
 * fewer collections while stamping receipts.
 */
import { PerformanceObserver, performance, monitorEventLoopDelay } from 'node:perf_hooks'
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import { addSheet, initWorkbook, setCell } from '../src/core/workbook/mutations'
import { sheetIds, sheetsOf, visibleColIds, visibleRowIds } from '../src/core/workbook/schema'

export interface LoadPlan {
  url: string
  tokens: Record<string, string>
  rooms: string[]
  perRoom: number
  /** edits a second, per client */
  rate: number
  /** seconds of unmeasured edits first (0: measured from the first edit into the freshly loaded rooms) */
  warmupS: number
  measureS: number
  /** seconds after the last edit for it to arrive; what has not is lost */
  graceS: number
}

export interface LoadResult {
  /** ms from send to receipt, every receipt of every measured edit (by every other client of its room) */
  latencies: number[]
  /** median over the room's other clients of the first edit sent into each room (one per room) */
  firstEdits: number[]
  /** median of the measured receipts other than those of each room's first edit */
  laterMedian: number
  /** p99 of the measured receipts by the second of the measured stretch their edit was sent in (where a stall is) */
  p99BySecond: number[]
  expected: number
  received: number
  /** of the measured stretch (first to last measured send) */
  windowMs: number
  /** this process's CPU time (all threads) over the measured stretch, in % of one core */
  cpuPct: number
  /** share of the measured stretch this process's event loop was busy, % */
  loopBusyPct: number
  /** event-loop delay while measured (1 ms timer), p99 and max, ms */
  loopDelayP99Ms: number
  loopDelayMaxMs: number
  /** how late sends went out against their schedule, p99, ms (a late send is not mismeasured: its time is read when it goes) */
  sendLateP99Ms: number
  /** garbage collections while measured: how many, the longest and their sum, ms */
  gc: { count: number; maxMs: number; totalMs: number }
  connectMs: number
}

const LOCAL = Symbol('bench client')
/** between the last client synced and the first edit */
const SETTLE_MS = 500
const MESSAGE_SYNC = 0

interface Edit { t: number; measured: boolean; first: boolean; got: Set<Client> | null }

interface Client {
  /** index in the arena's receiver column */
  ix: number
  room: string
  doc: Y.Doc
  ws: WebSocket
  sheetId: string
  rowId: string
  colIds: string[]
  n: number
  synced: boolean
  /** when this client's last update went to its socket */
  sentAt: number
  /** this client's edits by the clock of the item each made */
  edits: Map<number, Edit>
}

/**
 * Every message received after the sync: receiver, time, and its bytes copied into large chunks, so
 * that keeping 100,000s of them costs the event loop a copy each and the collector next to nothing.
 */
class Arena {
  private static readonly CHUNK = 8 << 20
  private chunks: Uint8Array[] = [new Uint8Array(Arena.CHUNK)]
  private used = 0
  length = 0
  private cols: { who: Int32Array; chunk: Int32Array; off: Int32Array; len: Int32Array; t: Float64Array }

  /** `expected`: messages foreseen (the columns are made that long: no copying while measured) */
  constructor(expected: number) {
    const n = Math.max(1 << 12, Math.ceil(expected))
    this.cols = { who: new Int32Array(n), chunk: new Int32Array(n), off: new Int32Array(n), len: new Int32Array(n), t: new Float64Array(n) }
  }

  push(who: number, t: number, data: Uint8Array): void {
    if (this.length === this.cols.t.length) this.grow()
    if (this.used + data.length > Arena.CHUNK) { this.chunks.push(new Uint8Array(Math.max(Arena.CHUNK, data.length))); this.used = 0 }
    const i = this.length++
    const c = this.chunks.length - 1
    this.chunks[c]!.set(data, this.used)
    this.cols.who[i] = who; this.cols.chunk[i] = c; this.cols.off[i] = this.used; this.cols.len[i] = data.length; this.cols.t[i] = t
    this.used += data.length
  }

  who(i: number): number { return this.cols.who[i]! }
  time(i: number): number { return this.cols.t[i]! }
  bytes(i: number): Uint8Array { return this.chunks[this.cols.chunk[i]!]!.subarray(this.cols.off[i]!, this.cols.off[i]! + this.cols.len[i]!) }

  private grow(): void {
    const n = this.cols.t.length * 2
    const g = <T extends Int32Array | Float64Array>(a: T, b: T): T => { b.set(a); return b }
    this.cols = { who: g(this.cols.who, new Int32Array(n)), chunk: g(this.cols.chunk, new Int32Array(n)), off: g(this.cols.off, new Int32Array(n)), len: g(this.cols.len, new Int32Array(n)), t: g(this.cols.t, new Float64Array(n)) }
  }
}

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))

function syncMessage(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MESSAGE_SYNC)
  write(e)
  return encoding.toUint8Array(e)
}

function connect(plan: LoadPlan, arena: Arena, ix: number, room: string, index: number): Promise<Client> {
  const token = plan.tokens[room]
  const url = `${plan.url}/${encodeURIComponent(room)}${token ? `?token=${encodeURIComponent(token)}` : ''}`
  const doc = new Y.Doc()
  const ws = new WebSocket(url, { perMessageDeflate: false })
  ws.binaryType = 'nodebuffer'
  const c: Client = { ix, room, doc, ws, sheetId: '', rowId: '', colIds: [], n: 0, synced: false, sentAt: 0, edits: new Map() }
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin !== LOCAL) return
    const m = syncMessage(e => syncProtocol.writeUpdate(e, update))
    c.sentAt = performance.now()
    ws.send(m)
  })
  return new Promise<Client>((resolve, reject) => {
    ws.on('error', reject)
    ws.on('close', code => { if (!c.synced) reject(new Error(`${room}: closed before the sync (${code})`)) })
    ws.on('open', () => ws.send(syncMessage(e => syncProtocol.writeSyncStep1(e, doc))))
    ws.on('message', (data: Buffer) => {
      // the receipt time first, before anything else of this message
      const t = performance.now()
      if (c.synced) { arena.push(ix, t, data); return }
      const d = decoding.createDecoder(data)
      if (decoding.readVarUint(d) !== MESSAGE_SYNC) return
      const reply = encoding.createEncoder()
      encoding.writeVarUint(reply, MESSAGE_SYNC)
      syncProtocol.readSyncMessage(d, reply, doc, 'server')
      if (encoding.length(reply) > 1) ws.send(encoding.toUint8Array(reply))
      const id = sheetIds(doc)[0]
      if (id === undefined) return
      const sheet = sheetsOf(doc).get(id)!
      const rows = visibleRowIds(sheet)
      c.sheetId = id
      c.rowId = rows[index % rows.length]!
      c.colIds = visibleColIds(sheet)
      c.synced = true
      resolve(c)
    })
  })
}

/** One cell edit of client `c`, stamped with the time its update went out and the clocks of the items it made. */
function edit(c: Client, measured: boolean, first: boolean): void {
  const clock = Y.getState(c.doc.store, c.doc.clientID)
  setCell(c.doc, c.sheetId, c.rowId, c.colIds[c.n % c.colIds.length]!, c.n + 1, LOCAL)
  c.n++
  const e: Edit = { t: c.sentAt, measured, first, got: null }
  const after = Y.getState(c.doc.store, c.doc.clientID)
  for (let k = clock; k < after; k++) c.edits.set(k, e)
}

function quantile(sorted: ArrayLike<number>, p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN
}
const medianOf = (xs: number[]) => quantile(Float64Array.from(xs).sort(), 0.5)

/** The items (client id, first clock, length) of the update a sync message carries; none for another message. */
function itemsOf(message: Uint8Array, each: (client: number, clock: number, length: number) => void): void {
  const d = decoding.createDecoder(message)
  if (decoding.readVarUint(d) !== MESSAGE_SYNC) return
  const type = decoding.readVarUint(d)
  if (type !== syncProtocol.messageYjsSyncStep2 && type !== syncProtocol.messageYjsUpdate) return
  for (const s of Y.decodeUpdate(decoding.readVarUint8Array(d)).structs) if (s instanceof Y.Item) each(s.id.client, s.id.clock, s.length)
}

/** This process's own code of an edit, run (and optimised) offline, before anything is measured. */
function warmOwnCode(): void {
  const a = new Y.Doc(), b = new Y.Doc()
  initWorkbook(a, { title: 'warm' })
  const sheetId = addSheet(a, { name: 'Sheet1', rows: 4, cols: 5 })
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
  const sheet = sheetsOf(a).get(sheetId)!
  const rows = visibleRowIds(sheet), cols = visibleColIds(sheet)
  let sink = 0
  a.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin !== LOCAL) return
    const m = syncMessage(e => syncProtocol.writeUpdate(e, u))
    sink += performance.now() > 0 ? m.length : 0
    itemsOf(m, (_c, clock, length) => { sink += clock + length })
  })
  for (let n = 0; n < 3000; n++) {
    const clock = Y.getState(a.store, a.clientID)
    setCell(a, sheetId, rows[n % rows.length]!, cols[n % cols.length]!, n + 1, LOCAL)
    sink += Y.getState(a.store, a.clientID) - clock
  }
  a.destroy(); b.destroy()
  if (sink < 0) console.log(sink)
}

const gc = (globalThis as { gc?: () => void }).gc

async function run(plan: LoadPlan): Promise<LoadResult> {
  warmOwnCode()
  gc?.()
  const t0Connect = performance.now()
  const clients: Client[] = []
  // every edit reaches perRoom - 1 others; a server may send more, smaller messages: room to spare
  const arena = new Arena(1.5 * plan.rooms.length * plan.perRoom * (plan.perRoom - 1) * plan.rate * (plan.warmupS + plan.measureS + plan.graceS))
  // clients of all rooms interleaved (room 0 client 0, room 1 client 0, …): sends spread over rooms
  const order: Client[] = []
  let ix = 0
  const byRoom = await Promise.all(plan.rooms.map(room => Promise.all(Array.from({ length: plan.perRoom }, (_, i) => connect(plan, arena, ix++, room, i)))))
  for (const cs of byRoom) clients.push(...cs)
  for (let i = 0; i < plan.perRoom; i++) for (const cs of byRoom) order.push(cs[i]!)
  const connectMs = performance.now() - t0Connect
  const byClientId = new Map(clients.map(c => [c.doc.clientID, c]))
  if (byClientId.size !== clients.length) throw new Error('two bench clients drew the same Yjs client id')

  // a moment for what the connections left behind (theirs and the server's), then the edits
  await sleep(SETTLE_MS)
  gc?.()
  const period = 1000 / plan.rate
  const N = order.length
  const ticks = Math.round((plan.warmupS + plan.measureS) * plan.rate)
  const start = performance.now() + 20
  const measuredFrom = start + plan.warmupS * 1000
  const firstSent = new Set<string>()
  const late = new Float64Array(ticks * N)
  let lateN = 0
  const delay = monitorEventLoopDelay({ resolution: 1 })
  const gcs: number[] = []
  const gcWatch = new PerformanceObserver(list => { if (cpu0 !== null) for (const e of list.getEntries()) gcs.push(e.duration) })
  gcWatch.observe({ entryTypes: ['gc'] })
  let cpu0: NodeJS.CpuUsage | null = null
  let elu0: ReturnType<typeof performance.eventLoopUtilization> | null = null
  let windowStart = 0, windowEnd = 0
  for (let n = 0; n < ticks; n++) {
    for (let k = 0; k < N; k++) {
      const due = start + n * period + (k * period) / N
      const wait = due - performance.now()
      if (wait >= 1) await sleep(wait)
      const measured = due >= measuredFrom
      if (measured && cpu0 === null) {
        process.send!('mark')
        windowStart = performance.now()
        cpu0 = process.cpuUsage()
        elu0 = performance.eventLoopUtilization()
        delay.enable()
      }
      const c = order[k]!
      const first = !firstSent.has(c.room)
      if (first) firstSent.add(c.room)
      late[lateN++] = performance.now() - due
      edit(c, measured, first)
    }
  }
  windowEnd = performance.now()
  const cpu = process.cpuUsage(cpu0 ?? undefined)
  const elu = performance.eventLoopUtilization(elu0 ?? undefined)
  delay.disable()
  process.send!('mark')
  const gcInWindow = gcs.splice(0)
  gcWatch.disconnect()
  await sleep(plan.graceS * 1000)
  for (const c of clients) c.ws.terminate()

  // what arrived: the items of every update a client received, matched to the edits that made them
  const latencies: number[] = []
  const later: number[] = []
  const bySecond: number[][] = []
  const firsts = new Map<string, number[]>()
  let expected = 0, received = 0
  for (const c of clients) for (const e of new Set(c.edits.values())) if (e.measured) expected += plan.perRoom - 1
  const byIx = clients.slice().sort((a, b) => a.ix - b.ix)
  for (let j = 0; j < arena.length; j++) {
    const r = byIx[arena.who(j)]!
    const t = arena.time(j)
    itemsOf(arena.bytes(j), (client, clock, length) => {
      const sender = byClientId.get(client)
      if (!sender || sender === r || sender.room !== r.room) return
      for (let k = clock; k < clock + length; k++) {
        const e = sender.edits.get(k)
        if (!e) continue
        e.got ??= new Set()
        if (e.got.has(r)) continue
        e.got.add(r)
        const ms = t - e.t
        if (e.first) { const f = firsts.get(r.room) ?? []; f.push(ms); firsts.set(r.room, f) }
        if (!e.measured) continue
        latencies.push(ms)
        received++
        const sec = Math.max(0, Math.floor((e.t - windowStart) / 1000))
        ;(bySecond[sec] ??= []).push(ms)
        if (!e.first) later.push(ms)
      }
    })
  }
  const windowMs = windowEnd - windowStart
  return {
    latencies,
    firstEdits: plan.rooms.map(room => medianOf(firsts.get(room) ?? [])),
    laterMedian: medianOf(later),
    p99BySecond: Array.from(bySecond, xs => quantile(Float64Array.from(xs ?? []).sort(), 0.99)),
    expected,
    received,
    windowMs,
    cpuPct: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
    loopBusyPct: elu.utilization * 100,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
    sendLateP99Ms: quantile(late.subarray(0, lateN).sort(), 0.99),
    gc: { count: gcInWindow.length, maxMs: gcInWindow.length ? Math.max(...gcInWindow) : 0, totalMs: gcInWindow.reduce((a, b) => a + b, 0) },
    connectMs,
  }
}

const plan = await new Promise<LoadPlan>(r => { process.once('message', m => r(m as LoadPlan)); process.send!('listening') })
run(plan).then(
  res => process.send!({ result: res }, () => process.exit(0)),
  (e: Error) => process.send!({ error: e.stack ?? String(e) }, () => process.exit(1)),
)
