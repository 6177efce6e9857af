// @vitest-environment node
/**
 * Durability of edits against the real server and real SQLite: the server killed (-9) or stopped
 * (SIGTERM) while clients edit, restarted on the same data dir and port, many times over; and an idle
 * room unloading while its last save is slow. Invariant under test: an edit that reached another
 * client is in the store, and whatever the writers made ends up everywhere exactly once.
 *
 * No sleeps: every wait is on an event (the child's "listening" line and exit, provider sync and
 * socket close, doc updates, room events), with a timeout.
 */
import { describe, it, expect, afterEach } from 'vitest'
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import * as Y from 'yjs'
import type WebSocket from 'ws'
import { metaOf, sheetIds, sheetParts, sheetsOf, visibleColIds, visibleRowIds, cellKey, type CellInput, type SheetMap } from '../../../src/core/workbook/schema'
import { insertRows, setCell } from '../../../src/core/workbook/mutations'
import type { Connection } from '../../../server/collab/rooms'
import { GatedStore, closed, createWorkbook, docUntil, nextEvent, startTestServer, tempDir, until, type TestServer } from '../../helpers/server'
import {
  awarenessClientsOf, contains, destroyAllClients, docsUntil, killAllServers, liveClient, sameContent, serverDirs,
  spawnServer, storedDoc, type LiveClient, type ServerDirs, type ServerProcess,
} from '../../helpers/process'
import type { ServerOptions } from '../../../server/index'

// ── bookkeeping: clients first, then server processes (SIGKILL), then in-process servers and dirs ──

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  destroyAllClients()
  await killAllServers()
  for (const f of cleanups.splice(0).reverse()) await f()
})

function dirs(): ServerDirs {
  const d = serverDirs()
  cleanups.push(d.remove)
  return d
}

async function inProcessServer(opts: ServerOptions = {}): Promise<TestServer> {
  const d = dirs()
  const s = await startTestServer({ templatesDir: d.templatesDir, dataDir: d.dataDir, ...opts })
  cleanups.push(async () => {
    await s.close()
    rmSync(dirname(s.staticDir), { recursive: true, force: true })
  })
  return s
}

const collabUrl = (s: { url: string }) => s.url.replace(/^http/, 'ws') + '/collab'
const turn = () => new Promise<void>(r => setImmediate(r))

// ── the first sheet ───────────────────────────────────────────────────────────────────────────────

function firstSheet(doc: Y.Doc): { sheetId: string; sheet: SheetMap } {
  const sheetId = sheetIds(doc)[0]
  const sheet = sheetId === undefined ? undefined : sheetsOf(doc).get(sheetId)
  if (!sheetId || !sheet) throw new Error('the doc has no sheet (not synced?)')
  return { sheetId, sheet }
}

/** Writes `value` at visible row r, column c of the first sheet, as one transaction. */
function write(doc: Y.Doc, r: number, c: number, value: string): void {
  const { sheetId, sheet } = firstSheet(doc)
  const rowId = visibleRowIds(sheet)[r], colId = visibleColIds(sheet)[c]
  if (!rowId || !colId) throw new Error(`no cell ${r},${c}`)
  setCell(doc, sheetId, rowId, colId, value, 'test')
}

/** Every string cell value of the first sheet matching `pattern`, with repetitions. */
function cellValues(doc: Y.Doc, pattern: RegExp): string[] {
  if (sheetIds(doc).length === 0) return []
  const out: string[] = []
  for (const v of sheetParts(firstSheet(doc).sheet).cells.values()) if (typeof v === 'string' && pattern.test(v)) out.push(v)
  return out
}

const stateVector = (d: Y.Doc) => JSON.stringify(Array.from(Y.decodeStateVector(Y.encodeStateVector(d)).entries()).sort((x, y) => x[0] - y[0]))

// ── 1 & 2: the server goes down in the middle of a burst ──────────────────────────────────────────

/**
 * Writers A and B each write hundreds of distinct cells, a few per turn of the event loop, while the
 * observer C only receives. Once C has seen some of both, the server gets `signal`; the writers go on
 * for a while (into the dead socket, then offline). C's doc is captured at the moment its connection
 * closes: exactly what it had received. Then the store alone must hold all of that, and after a
 * restart on the same port and data dir everything the writers made must be everywhere.
 */
async function burstThenStop(signal: 'SIGKILL' | 'SIGTERM', env: Record<string, string> = {}) {
  const d = dirs()
  let srv: ServerProcess = await spawnServer(d, { env })
  const port = srv.port
  const id = await srv.createWorkbook()
  const a = liveClient(srv.collabUrl, id, 'A')
  const b = liveClient(srv.collabUrl, id, 'B')
  const c = liveClient(srv.collabUrl, id, 'C')
  await Promise.all([a, b, c].map(x => x.synced()))

  // what C had when its connection to the dying server closed
  let seenByC: { state: Uint8Array; markers: string[]; code: number | undefined } | null = null
  c.provider.once('connection-close', (event: CloseEvent | null) => {
    seenByC = { state: Y.encodeStateAsUpdate(c.doc), markers: cellValues(c.doc, /^[AB]\d+$/), code: event?.code }
  })

  const MIN_EDITS = 300
  const AFTER_STOP = 60
  let stopped = false
  const made = { A: [] as string[], B: [] as string[] }
  const atStop = { A: 0, B: 0 }
  // 13 columns each: A writes columns 0-12, B 13-25, row by row
  const writers = { A: { client: a, col0: 0 }, B: { client: b, col0: 13 } }
  const edit = (tag: 'A' | 'B') => {
    const k = made[tag].length
    const value = `${tag}${k}`
    write(writers[tag].client.doc, Math.floor(k / 13), writers[tag].col0 + (k % 13), value)
    made[tag].push(value)
  }
  // Until the stop, a writer runs at most WINDOW edits ahead of what C has received, so edits are in
  // flight when the signal lands but a slow server (CI) cannot let the burst run off the sheet's
  // 100 rows. The pause waits for C's next update, or for the stop, which ends the pacing.
  const WINDOW = 60
  const wakers = new Set<() => void>()
  const cMoves = () => new Promise<void>(resolve => {
    const wake = () => { c.doc.off('update', wake); wakers.delete(wake); resolve() }
    c.doc.on('update', wake)
    wakers.add(wake)
  })
  const seenOf = (tag: 'A' | 'B') => cellValues(c.doc, /^[AB]\d+$/).filter(v => v[0] === tag).length
  // 2 edits per turn of the event loop, until at least MIN_EDITS and AFTER_STOP after the stop
  const burst = async (tag: 'A' | 'B') => {
    let afterStop = 0
    while (made[tag].length < MIN_EDITS || afterStop < AFTER_STOP) {
      while (!stopped && made[tag].length - seenOf(tag) >= WINDOW) await cMoves()
      for (let i = 0; i < 2; i++) { edit(tag); if (stopped) afterStop++ }
      await turn()
    }
  }
  const bursts = Promise.all([burst('A'), burst('B')])

  // C has some of each writer's edits: stop the server now, mid-burst
  await docUntil(c.doc, 'C has received edits of both writers', doc => {
    const seen = cellValues(doc, /^[AB]\d+$/)
    return seen.filter(v => v[0] === 'A').length >= 40 && seen.filter(v => v[0] === 'B').length >= 40
  }, 10_000)
  // a few more right now: on their way to the server when the signal lands
  for (let i = 0; i < 5; i++) { edit('A'); edit('B') }
  atStop.A = made.A.length
  atStop.B = made.B.length
  stopped = true
  for (const wake of [...wakers]) wake()
  const exit = await srv.stop(signal)
  if (signal === 'SIGKILL') expect(exit).toEqual({ code: null, signal: 'SIGKILL' })
  else expect(exit).toEqual({ code: 0, signal: null })
  await bursts

  // the burst was really in flight: the writers went on after the stop
  expect(made.A.length).toBeGreaterThanOrEqual(atStop.A + AFTER_STOP)
  expect(made.B.length).toBeGreaterThanOrEqual(atStop.B + AFTER_STOP)
  expect(seenByC).not.toBeNull()
  const seen = seenByC!
  if (signal === 'SIGTERM') expect(seen.code).toBe(1001)

  // (a) the store alone, before anyone reconnects, holds every edit C had received
  const before = await storedDoc(d.dataDir, id)
  const storedMarkers = new Set(cellValues(before.doc, /^[AB]\d+$/))
  const missing = seen.markers.filter(m => !storedMarkers.has(m))
  expect(missing).toEqual([])
  expect(contains(before.doc, seen.state)).toBe(true)
  const stats = {
    signal,
    env,
    madeAtStop: atStop.A + atStop.B,
    madeInAll: made.A.length + made.B.length,
    seenByC: seen.markers.length,
    inStoreAfterStop: storedMarkers.size,
  }

  // (b) restart on the same port and data dir; the writers reconnect on their own and resync
  srv = await spawnServer(d, { port, env })
  expect(srv.port).toBe(port)
  const all = [...made.A, ...made.B].sort()
  const hasAll = (doc: Y.Doc) => { const values = new Set(cellValues(doc, /^[AB]\d+$/)); return all.every(v => values.has(v)) }
  const exactly = (doc: Y.Doc) => cellValues(doc, /^[AB]\d+$/).sort()
  const docs = [a.doc, b.doc, c.doc]
  await docsUntil(docs, 'every replica has every edit and they converge',
    () => docs.every(hasAll) && docs.every(x => stateVector(x) === stateVector(a.doc)), 15_000)
  for (const x of docs) expect(exactly(x)).toEqual(all)
  expect(sameContent(a.doc, b.doc) && sameContent(a.doc, c.doc)).toBe(true)

  // a newcomer gets it all (its initial state leaves the server only once stored) …
  const late = liveClient(srv.collabUrl, id, 'late')
  await late.synced()
  expect(exactly(late.doc)).toEqual(all)
  expect(sameContent(late.doc, a.doc)).toBe(true)
  // … and so does the store, read directly
  const after = await storedDoc(d.dataDir, id)
  expect(exactly(after.doc)).toEqual(all)
  expect(sameContent(after.doc, a.doc)).toBe(true)
  expect(after.doc.toJSON()).toEqual(a.doc.toJSON())

  expect(await srv.stop('SIGTERM')).toEqual({ code: 0, signal: null })
  console.log(`[durability] ${signal} mid-burst:`, JSON.stringify(stats))
}

describe('server process stopped during a burst of edits', () => {
  it('kill -9: the store holds every edit an observer had received; after a restart the writers resync everything', async () => {
    // updates wait 15 ms to be written in batches: a server that relayed before storing would
    // show C edits that the kill then loses
    await burstThenStop('SIGKILL', { FLUSH_DELAY_MS: '15' })
  }, 60_000)

  it('SIGTERM: exits 0 after closing clients with 1001; after a restart nothing is missing', async () => {
    await burstThenStop('SIGTERM')
  }, 60_000)
})

// ── 3: twenty restarts with clients connected ─────────────────────────────────────────────────────

describe('twenty restarts with clients connected', () => {
  it('rows added across kill -9 / SIGTERM restarts: each exactly once, none missing, every replica and the store identical', async () => {
    const ROUNDS = 20
    const d = dirs()
    let srv = await spawnServer(d)
    const port = srv.port
    const id = await srv.createWorkbook()
    const names = ['P', 'Q', 'R'] as const
    const cs = names.map(n => liveClient(srv.collabUrl, id, n))
    await Promise.all(cs.map(c => c.synced()))
    const templateRows = new Set(visibleRowIds(firstSheet(cs[0]!.doc).sheet))
    const counters = new Map<string, number>(names.map(n => [n, 0]))
    const made = new Set<string>()

    /** Inserts a row at the end, then types "<client>:<counter>" into its first cell (two transactions, as a person would). */
    const addRow = (c: LiveClient) => {
      const k = counters.get(c.name)!
      counters.set(c.name, k + 1)
      const marker = `${c.name}:${k}`
      const { sheetId, sheet } = firstSheet(c.doc)
      const [rowId] = insertRows(c.doc, sheetId, visibleRowIds(sheet).length, 1, 'test')
      setCell(c.doc, sheetId, rowId!, visibleColIds(sheet)[0]!, marker, 'test')
      made.add(marker)
    }
    const markers = (doc: Y.Doc) => cellValues(doc, /^[PQR]:\d+$/)

    const timings: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const signal = round % 2 === 0 ? 'SIGKILL' : 'SIGTERM'
      await Promise.all(cs.map(c => c.synced(15_000)))
      const start = new Map(counters)
      let stopped = false
      // stop once P has received a few rows of this round from each of the others (1 to 5, by round)
      const want = (round % 5) + 1
      const stopNow = docUntil(cs[0]!.doc, `round ${round}: P has ${want} new rows from Q and R`, doc => {
        const got = new Set(markers(doc))
        return (['Q', 'R'] as const).every(n => {
          for (let k = start.get(n)!; k < start.get(n)! + want; k++) if (!got.has(`${n}:${k}`)) return false
          return true
        })
      }, 10_000)
      // every client keeps adding rows (at most 25 before the stop), and 2 more once the server is going down
      const bursts = cs.map(async c => {
        let n = 0
        while (!stopped && n < 25) { addRow(c); n++; await turn() }
        await stopNow.catch(() => {})
        for (let after = 0; after < 2; after++) { addRow(c); await turn() }
      })
      await stopNow
      stopped = true
      const t0 = performance.now()
      const disconnected = cs.map(c => nextEvent<[{ status: string }]>(c.provider as never, 'status', e => e.status === 'disconnected', 10_000))
      const exit = await srv.stop(signal)
      if (signal === 'SIGTERM') expect(exit, `round ${round}: SIGTERM exit`).toEqual({ code: 0, signal: null })
      else expect(exit.signal).toBe('SIGKILL')
      // every client has noticed: the next "synced" is with the new process
      await Promise.all(disconnected)
      await Promise.all(bursts)
      srv = await spawnServer(d, { port })
      timings.push(performance.now() - t0)
    }

    // everyone back, nothing more to type: wait for convergence
    const docs = cs.map(c => c.doc)
    const complete = (doc: Y.Doc) => { const m = new Set(markers(doc)); return [...made].every(x => m.has(x)) }
    await docsUntil(docs, 'every replica has every row and they converge',
      () => docs.every(complete) && docs.every(x => stateVector(x) === stateVector(docs[0]!)), 20_000)
    const fresh = liveClient(srv.collabUrl, id, 'fresh')
    await fresh.synced()
    const stored = await storedDoc(d.dataDir, id)

    expect(made.size).toBeGreaterThanOrEqual(ROUNDS * names.length * 3)
    for (const [label, doc] of [...cs.map(c => [c.name, c.doc] as const), ['fresh', fresh.doc] as const, ['store', stored.doc] as const]) {
      const { sheet } = firstSheet(doc)
      const { rows, cells } = sheetParts(sheet)
      const colId = visibleColIds(sheet)[0]!
      // the row id list itself (tombstones included) has no duplicates, and nothing was deleted
      const allRows = rows.toArray()
      expect(new Set(allRows).size, `${label}: duplicated row ids`).toBe(allRows.length)
      const visible = visibleRowIds(sheet)
      expect(visible.length, `${label}: visible rows`).toBe(allRows.length)
      // every added row carries one marker, every marker is in exactly one row
      const added = visible.filter(r => !templateRows.has(r))
      expect(added.length, `${label}: added rows`).toBe(made.size)
      const inRows = added.map(r => cells.get(cellKey(r, colId)))
      expect(inRows.filter(v => typeof v !== 'string'), `${label}: rows without a marker`).toEqual([])
      const counts = new Map<string, number>()
      for (const v of inRows as string[]) counts.set(v, (counts.get(v) ?? 0) + 1)
      expect([...counts].filter(([, n]) => n !== 1), `${label}: markers not exactly once`).toEqual([])
      expect([...made].filter(m => !counts.has(m)), `${label}: missing markers`).toEqual([])
      expect(sameContent(doc, docs[0]!), `${label}: same content as P`).toBe(true)
      expect(doc.toJSON(), `${label}: same JSON as P`).toEqual(docs[0]!.toJSON())
    }
    expect(await srv.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    timings.sort((x, y) => x - y)
    console.log(`[durability] ${ROUNDS} restarts: ${made.size} rows by ${names.length} clients; stop→listening again p50 ${timings[timings.length >> 1]!.toFixed(0)} ms, max ${timings[timings.length - 1]!.toFixed(0)} ms; ${stored.rows} stored update rows`)
  }, 90_000)
})

// ── 4: idle unload while the last save is slow ────────────────────────────────────────────────────

describe('idle unload racing a slow save', () => {
  it('a client joining while the room unloads gets the latest edit once stored; the room stays, or unloads later with nothing lost', async () => {
    const t = tempDir('pw-data-')
    cleanups.push(t.remove)
    const store = new GatedStore(t.dir)
    const s = await inProcessServer({ store, dataDir: t.dir, unloadDelayMs: 5 })
    // runs before the server's close, which would otherwise wait on a closed gate forever
    cleanups.push(() => { store.appendGate.open(); store.loadGate.open() })
    const id = await createWorkbook(s)
    const unloaded: string[] = []
    s.rooms.on('room-unloaded', rid => unloaded.push(rid))
    const errors = () => s.log.lines.filter(l => l.startsWith('error'))

    const a = liveClient(collabUrl(s), id, 'A')
    await a.synced()
    const room = s.rooms.rooms.get(id)!
    expect(room.state).toBe('ready')

    // A's last edit is being saved, slowly; A leaves; the room starts unloading meanwhile
    store.appendGate.close()
    const saving = nextEvent(store.appendGate, 'waiting')
    write(a.doc, 0, 0, 'latest')
    await saving
    const unloading = nextEvent<[string]>(s.rooms, 'room-unloading', rid => rid === id)
    a.destroy()
    await unloading
    expect(room.state).toBe('unloading')

    // B joins the unloading room. Once B gets its own awareness back, the server has handled B's
    // sync step 1: its answer (the doc, with the edit) must still be held back, as it is not stored
    const b = liveClient(collabUrl(s), id, 'B')
    // presence as the app sets it (a client's untouched initial awareness state, clock 0, is not relayed)
    b.provider.awareness.setLocalStateField('user', { name: 'B' })
    const bWs = b.provider.ws as unknown as WebSocket
    let echoed = false
    await until('B gets its own awareness back', () => echoed, recheck => {
      const fn = (data: ArrayBuffer | Buffer) => {
        if (awarenessClientsOf(new Uint8Array(data))?.includes(b.doc.clientID)) echoed = true
        recheck()
      }
      bWs.on('message', fn)
      return () => { bWs.off('message', fn) }
    })
    expect(b.provider.synced).toBe(false)
    expect(cellValues(b.doc, /^latest$/)).toEqual([])
    expect(s.rooms.rooms.get(id)).toBe(room)

    // the save completes: B syncs with the edit, the unload gives up (B is there), the store has it
    store.appendGate.open()
    await b.synced()
    expect(cellValues(b.doc, /^latest$/)).toEqual(['latest'])
    await s.rooms.flushAll()
    expect(s.rooms.rooms.get(id)).toBe(room)
    expect(room.state).toBe('ready')
    expect(unloaded).toEqual([])
    expect(cellValues((await storedDoc(t.dir, id)).doc, /^latest$/)).toEqual(['latest'])

    // again: B's edit saved slowly, B leaves, the room unloads; C joins, edits and leaves before the
    // save completes. The unload must write C's edit too before it frees the room
    store.appendGate.close()
    const saving2 = nextEvent(store.appendGate, 'waiting')
    write(b.doc, 1, 1, 'second')
    await saving2
    const unloading2 = nextEvent<[string]>(s.rooms, 'room-unloading', rid => rid === id)
    b.destroy()
    await unloading2
    const cOpened = nextEvent<[string, Connection]>(s.rooms, 'connection-opened', rid => rid === id)
    const c = liveClient(collabUrl(s), id, 'C')
    metaOf(c.doc).set('note', 'third')
    const [, cConn] = await cOpened
    await docUntil(room.doc, 'the server has C\'s edit', doc => metaOf(doc).get('note') === 'third')
    // the server's side of C's socket closes once C leaves (the room has dropped C by then)
    const cGone = closed(cConn.ws)
    c.destroy()
    await cGone
    expect(room.conns.size).toBe(0)
    expect(room.state).toBe('unloading')
    const gone = nextEvent<[string]>(s.rooms, 'room-unloaded', rid => rid === id)
    store.appendGate.open()
    await gone
    expect(s.rooms.rooms.has(id)).toBe(false)
    expect(room.state).toBe('closed')

    const stored = (await storedDoc(t.dir, id)).doc
    expect(cellValues(stored, /^(latest|second)$/).sort()).toEqual(['latest', 'second'])
    expect(metaOf(stored).get('note')).toBe('third')
    // a newcomer loads the room again, from the store, with all three
    const d = liveClient(collabUrl(s), id, 'D')
    await d.synced()
    expect(s.rooms.rooms.get(id)).not.toBe(room)
    expect(cellValues(d.doc, /^(latest|second)$/).sort()).toEqual(['latest', 'second'])
    expect(metaOf(d.doc).get('note')).toBe('third')
    expect(errors()).toEqual([])
  })
})

// ── durability window: arrival of an update → its commit ──────────────────────────────────────────

describe('durability window', () => {
  it('5 writers × 300 edits: every edit stored once, none relayed before stored; prints waitedMs p50/p99/max', async () => {
    const WRITERS = 5
    const EDITS = 300
    const s = await inProcessServer()
    const id = await createWorkbook(s)
    const flushed: { seq: number; updates: number; waitedMs: number }[] = []
    let storedSoFar = 0
    s.rooms.on('flushed', (rid, info) => {
      if (rid !== id) return
      flushed.push(info)
      storedSoFar += info.updates
    })
    const writers = Array.from({ length: WRITERS }, (_, i) => liveClient(collabUrl(s), id, `W${i}`))
    const observer = liveClient(collabUrl(s), id, 'O')
    await Promise.all([...writers, observer].map(c => c.synced()))
    expect(storedSoFar).toBe(0)

    // the observer never holds an edit the server has not stored: each edit is one update, so the
    // cells it has can never outnumber the updates flushed so far
    let violations = 0
    let maxSeen = 0
    const cells = sheetParts(firstSheet(observer.doc).sheet).cells
    expect(cells.size).toBe(0)
    const check = (event: Y.YMapEvent<CellInput>) => {
      for (const change of event.changes.keys.values()) if (change.action === 'add') maxSeen++
      if (maxSeen > storedSoFar) violations++
    }
    cells.observe(check)

    // every writer types its own cells, 1–3 edits per turn, all at once
    let seed = 7
    const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
    const t0 = performance.now()
    await Promise.all(writers.map(async (w, i) => {
      for (let k = 0; k < EDITS;) {
        const n = 1 + Math.floor(random() * 3)
        for (let j = 0; j < n && k < EDITS; j++, k++) {
          const cell = i * EDITS + k
          write(w.doc, Math.floor(cell / 26), cell % 26, `W${i}:${k}`)
        }
        await turn()
      }
    }))
    const total = WRITERS * EDITS
    await docUntil(observer.doc, 'the observer has every edit', doc => cellValues(doc, /^W\d+:\d+$/).length === total, 20_000)
    const elapsed = performance.now() - t0
    cells.unobserve(check)

    expect(violations).toBe(0)
    expect(maxSeen).toBe(total)
    // every edit in exactly one stored batch, batches in sequence order
    expect(storedSoFar).toBe(total)
    for (let i = 1; i < flushed.length; i++) expect(flushed[i]!.seq).toBeGreaterThan(flushed[i - 1]!.seq)
    const stored = (await storedDoc(s.dataDir, id)).doc
    expect(sameContent(stored, observer.doc)).toBe(true)

    const waited = flushed.map(f => f.waitedMs).sort((x, y) => x - y)
    const pct = (p: number) => waited[Math.min(waited.length - 1, Math.floor(p * (waited.length - 1)))]!
    const sizes = flushed.map(f => f.updates)
    console.log(
      `[durability] window over ${WRITERS} writers × ${EDITS} edits (${elapsed.toFixed(0)} ms): ${flushed.length} batches, ` +
      `${(total / flushed.length).toFixed(1)} updates/batch (max ${Math.max(...sizes)}); ` +
      `waitedMs p50 ${pct(0.5).toFixed(2)}, p99 ${pct(0.99).toFixed(2)}, max ${waited[waited.length - 1]!.toFixed(2)}`,
    )
  }, 60_000)
})
