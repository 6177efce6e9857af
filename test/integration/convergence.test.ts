// @vitest-environment node
/**
 * Seeded random convergence through the real server: several stock y-websocket clients edit one
 * workbook at random (cell values, formulas, row/column inserts and deletes, sheet add/rename/delete,
 * calculated columns and totals rows) while going offline and back at random. At the end every replica, the server's doc, a doc loaded
 * from the store and a client that joins last hold the same document, and every formula evaluates
 * the same everywhere: in each replica's formula engine, kept up to date through all the edits, and in
 * engines built afresh from each doc.
 *
 * No sleeps: the test waits on doc updates only. Interleaving comes from running bursts of edits
 * without awaiting, then waiting for one kind of network progress (one client's edits reaching the
 * server, the server's state reaching one client, everyone connected in step).
 *
 * The seed picks every edit, which client makes it and every network step; message timing is still
 * real, so a replay is close to, but not always exactly, the failing run. A failure names the seed
 * and writes the run's edit log, and every update each client applied, to temp files: applying those
 * updates in order to a new Y.Doc that has a FormulaEngine reproduces an engine problem exactly.
 *
 *   CONVERGENCE_SEEDS=40 CONVERGENCE_OPS=3000 npx vitest run test/integration/convergence.test.ts
 *   CONVERGENCE_SEED=1234 CONVERGENCE_SEEDS=1 …   (replay one seed)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import * as Y from 'yjs'
import { FormulaEngine, toCellValue } from '../../src/core/formulas/engine'
import { colToLetters, parseA1, quoteSheetName } from '../../src/core/formulas/references'
import type { SheetLayout } from '../../src/core/workbook/layout'
import { inputFromText } from '../../src/core/workbook/input'
import {
  WorkbookError, addSheet, deleteCols, deleteRows, deleteSheet, editCells, insertCols, insertRows, renameSheet,
  setColumnFormula, setTotalsRow,
} from '../../src/core/workbook/mutations'
import { cellKey, isFormula, metaOf, sheetIds, sheetOrderOf, sheetParts, sheetsOf } from '../../src/core/workbook/schema'
import { connectClient, createWorkbook, startTestServer, until, type Client, type TestServer } from '../helpers/server'
import { rng, type } from '../helpers/workbook'
import { setCellStyle, stylesOf, type StylePatch } from '../../src/core/workbook/styles'
import { hiddenOf, setHidden } from '../../src/core/workbook/hidden'
import { mergeCells, mergesOf, sheetMerges } from '../../src/core/workbook/merges'

// ── knobs ─────────────────────────────────────────────────────────────────────────────────────────

const envInt = (name: string, dflt: number) => {
  const v = process.env[name]
  const n = v === undefined || v === '' ? dflt : Number(v)
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`)
  return n
}
/** how many seeds */
const SEEDS = envInt('CONVERGENCE_SEEDS', 12)
/** random edits per seed */
const OPS = envInt('CONVERGENCE_OPS', 1000)
/** clients editing at once */
const CLIENTS = Math.max(5, envInt('CONVERGENCE_CLIENTS', 5))
/** first seed; the others follow it */
const FIRST_SEED = envInt('CONVERGENCE_SEED', 20240601)
/** least edits between two checks of the engines against a fresh one, midway */
const CHECK_EVERY = envInt('CONVERGENCE_CHECK_EVERY', 150)
/** longest wait for any one network step */
const WAIT_MS = envInt('CONVERGENCE_WAIT_MS', 15_000)

const seeds = Array.from({ length: SEEDS }, (_, i) => FIRST_SEED + i * 7919)

// sheets stay small, so that edits collide and formulas reference each other
const MIN_ROWS = 2, MAX_ROWS = 16, MIN_COLS = 2, MAX_COLS = 8, MAX_SHEETS = 5

/** names to add or rename sheets to: Chinese, spaces, an apostrophe, names that look like cells or booleans */
const SHEET_NAMES = ['Data', 'Sheet 2', '数据', '市场 分析', '预算', 'Q1_plan', 'Foo', 'Plan B', "It's", 'Q3', 'true', 'Détail', '季度 汇总', 'x_1']

// ── one server for the file, one workbook per seed ────────────────────────────────────────────────

let srv: TestServer
beforeAll(async () => { srv = await startTestServer() })
afterAll(async () => {
  await srv.close()
  rmSync(srv.dataDir, { recursive: true, force: true })
  rmSync(dirname(srv.staticDir), { recursive: true, force: true })
})

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

// ── comparing docs ────────────────────────────────────────────────────────────────────────────────

/** Everything the app reads from a doc, as plain JSON (root types read through their schema accessors). */
function dump(doc: Y.Doc) {
  return { meta: metaOf(doc).toJSON(), sheetOrder: sheetOrderOf(doc).toJSON(), sheets: sheetsOf(doc).toJSON(), styles: stylesOf(doc).toJSON(), hidden: hiddenOf(doc).toJSON(), merges: mergesOf(doc).toJSON() }
}

/** The first place where two JSON values differ, or undefined. */
function firstDiff(a: unknown, b: unknown, path = ''): string | undefined {
  if (Object.is(a, b)) return undefined
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    return `${path || '(root)'}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`
  }
  const ka = Object.keys(a), kb = Object.keys(b)
  for (const k of new Set([...ka, ...kb])) {
    const d = firstDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}${Array.isArray(a) ? `[${k}]` : `.${k}`}`)
    if (d) return d
  }
  return undefined
}

/** Sorted state vector, for messages. */
const svOf = (doc: Y.Doc) => Array.from(Y.decodeStateVector(Y.encodeStateVector(doc)).entries()).sort((x, y) => x[0] - y[0])

/** `a` has everything `b` has (by state vector; deletions are not counted). */
function includes(a: Y.Doc, b: Y.Doc): boolean {
  const sa = Y.decodeStateVector(Y.encodeStateVector(a))
  for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(b))) if ((sa.get(client) ?? 0) < clock) return false
  return true
}

/** Same inserts and same deletions. */
function same(a: Y.Doc, b: Y.Doc): boolean {
  return includes(a, b) && includes(b, a) && Y.equalSnapshots(Y.snapshot(a), Y.snapshot(b))
}

// ── comparing formula engines ─────────────────────────────────────────────────────────────────────

type Shown = [formula: string | null, value: unknown]

/** Every visible cell of every sheet: the formula the engine holds and its value (numbers to 12 digits, errors by kind). */
function engineView(engine: FormulaEngine): Record<string, { name: string; cells: Shown[][] }> {
  const out: Record<string, { name: string; cells: Shown[][] }> = {}
  const layout = engine.layout
  for (const id of layout.order) {
    const sl = layout.sheet(id)!
    const hs = engine.hf.getSheetId(id)
    const cells: Shown[][] = []
    for (let r = 0; r < sl.rows.length; r++) {
      const row: Shown[] = []
      for (let c = 0; c < sl.cols.length; c++) {
        if (hs === undefined) { row.push([null, 'NO HYPERFORMULA SHEET']); continue }
        const addr = { sheet: hs, row: r, col: c }
        const v = toCellValue(engine.hf.getCellValue(addr))
        const value = typeof v === 'number' ? Number(v.toPrecision(12)) : v !== null && typeof v === 'object' ? { error: v.error } : v
        row.push([engine.hf.getCellFormula(addr) ?? null, value])
      }
      cells.push(row)
    }
    out[id] = { name: sl.name, cells }
  }
  return out
}

function freshView(doc: Y.Doc) {
  const e = new FormulaEngine(doc)
  try { return engineView(e) } finally { e.destroy() }
}

// ── random edits ──────────────────────────────────────────────────────────────────────────────────

type Rng = ReturnType<typeof rng>

interface Replica {
  index: number
  client: Client
  engine: FormulaEngine
}

function randomA1(r: Rng, sl: SheetLayout, slack = 0): string {
  const row = r.int(0, Math.max(0, sl.rows.length - 1) + slack)
  const col = r.int(0, Math.max(0, sl.cols.length - 1) + slack)
  return `${r.next() < 0.1 ? '$' : ''}${colToLetters(col)}${r.next() < 0.1 ? '$' : ''}${row + 1}`
}

/** A1 range, sometimes written backwards (B5:A1), sometimes reaching past the sheet (kept as text). */
function randomRange(r: Rng, sl: SheetLayout): string {
  const slack = r.next() < 0.08 ? 3 : 0
  return `${randomA1(r, sl, slack)}:${randomA1(r, sl, slack)}`
}

/** Formula text as a person types it, referencing the sheet it is typed on and others by name. */
function randomFormula(r: Rng, engine: FormulaEngine, sheetId: string): string {
  const layout = engine.layout
  const sl = layout.sheet(sheetId)!
  const other = layout.sheet(r.pick(layout.order))!
  const prefix = quoteSheetName(other.name) + '!'
  const ref = () => randomA1(r, sl, r.next() < 0.05 ? 4 : 0)
  const col = () => colToLetters(r.int(0, Math.max(0, sl.cols.length - 1)))
  const row = () => r.int(1, Math.max(1, sl.rows.length))
  switch (r.int(0, 15)) {
    case 0: return `=${ref()}+${ref()}`
    case 1: return `=${ref()}*${r.int(-3, 9)}`
    case 2: return `=SUM(${randomRange(r, sl)})`
    case 3: return `=AVERAGE(${randomRange(r, sl)})`
    case 4: return `=IFERROR(${ref()}/${ref()},0)`
    case 5: { const c = col(); return `=SUM(${c}:${r.next() < 0.5 ? c : col()})` }
    case 6: return `=COUNT(${row()}:${row()})`
    case 7: return `=${prefix}${randomA1(r, other)}*2`
    case 8: return `=SUM(${prefix}${randomRange(r, other)})+${ref()}`
    case 9: return `=${ref()}&"x"`
    case 10: return `=IF(${ref()}>3,TRUE,FALSE)`
    case 11: return `=MAX(${randomRange(r, sl)})-MIN(${randomRange(r, sl)})`
    case 12: return `=${quoteSheetName(r.pick(SHEET_NAMES))}!${randomA1(r, other)}+1` // a sheet that may not exist (yet)
    case 13: return `=$A$1+${ref()}`
    case 14: return `=SUMPRODUCT(${randomRange(r, sl)})*${prefix}${randomA1(r, other)}`
    default: return `=${ref()}-${ref()}*${ref()}`
  }
}

function randomValue(r: Rng): string {
  switch (r.int(0, 9)) {
    case 0: return ''
    case 1: return r.pick(['abc', '中文', 'plan b', "'42", "'=1+1"])
    case 2: return r.pick(['TRUE', 'false'])
    case 3: return `2024-0${r.int(1, 9)}-1${r.int(0, 9)}`
    case 4: return `${r.int(-20, 20)}.5`
    default: return String(r.int(-50, 100))
  }
}

/** Deterministic ids ([a-z0-9] only, as the app's) so a replay inserts the same ids. */
function idMaker(seed: number) {
  let n = 0
  return (prefix: 'r' | 'c' | 's', count: number) => Array.from({ length: count }, () => `${prefix}t${seed.toString(36)}n${(n++).toString(36)}`)
}
type Ids = ReturnType<typeof idMaker>

/** One random edit by one replica (refused ones included, as a person's would be); returns a line for the log. */
function randomEdit(r: Rng, rep: Replica, newIds: Ids): string {
  const doc = rep.client.doc
  const layout = rep.engine.layout
  const who = `c${rep.index}${rep.client.provider.shouldConnect ? '' : '(offline)'}`
  const sheetId = r.pick(layout.order)
  const sl = layout.sheet(sheetId)!
  const op = r.int(0, 99)
  const tag = `${who} ${sheetId}(${JSON.stringify(sl.name)} ${sl.rows.length}x${sl.cols.length})`
  try {
    if (op < 5) {
      // a format on a range: concurrent formats of one cell keep each property's last writer
      if (sl.rows.length === 0 || sl.cols.length === 0) return `${tag} (empty sheet, no format)`
      if (r.next() < 0.2 && sl.rows.length > 1 && sl.cols.length > 1) {
        // a block merged (the merges shown are compared below, through the doc)
        const r1 = r.int(0, sl.rows.length - 2), c1 = r.int(0, sl.cols.length - 2)
        mergeCells(doc, layout, sheetId, { rowId: sl.rows.ids[r1]!, colId: sl.cols.ids[c1]! }, { rowId: sl.rows.ids[r1 + 1]!, colId: sl.cols.ids[c1 + 1]! }, false, 'test')
        return `${tag} merge ${r1},${c1} (${sheetMerges(doc, layout, sheetId).length} shown)`
      }
      if (r.next() < 0.3) {
        // a row or column hidden or shown again
        const axis = r.next() < 0.5 ? 'rows' : 'cols'
        const ids = axis === 'rows' ? sl.rows.ids : sl.cols.ids
        const id = ids[r.int(0, ids.length - 1)]!
        const on = r.next() < 0.6
        setHidden(doc, sheetId, axis, [id], on, 'test')
        return `${tag} ${on ? 'hide' : 'show'} ${axis} ${id}`
      }
      const r1 = r.int(0, sl.rows.length - 1), c1 = r.int(0, sl.cols.length - 1)
      const r2 = Math.min(sl.rows.length - 1, r1 + r.int(0, 2)), c2 = Math.min(sl.cols.length - 1, c1 + r.int(0, 1))
      const patch: StylePatch = r.pick<StylePatch>([{ b: true }, { b: null }, { bg: '#fff2cc' }, { bg: '#ddebf7', fc: '#c00000' }, { ha: 'center' }, { wrap: true, i: true }, { bg: null, ha: null }])
      const cells = []
      for (let i = r1; i <= r2; i++) for (let j = c1; j <= c2; j++) cells.push({ rowId: sl.rows.ids[i]!, colId: sl.cols.ids[j]! })
      setCellStyle(doc, sheetId, cells, patch, 'test')
      return `${tag} format ${r1},${c1}:${r2},${c2} ${JSON.stringify(patch)}`
    }
    if (op < 55) {
      if (sl.rows.length === 0 || sl.cols.length === 0) return `${tag} (empty sheet, no edit)`
      const addr = randomA1(r, sl).replace(/\$/g, '')
      const text = op < 30 ? randomValue(r) : randomFormula(r, rep.engine, sheetId)
      if (r.next() < 0.5) {
        type(doc, sheetId, addr, text, 'test')
        return `${tag} setCell ${addr} ${JSON.stringify(text)}`
      }
      // as the grid does: a row typed into right below a table gets its calculated columns
      const { row, col } = parseA1(addr)!
      editCells(doc, sheetId, [{ rowId: sl.rows.ids[row]!, colId: sl.cols.ids[col]!, value: inputFromText(text, { layout, sheetId }) }], 'test')
      return `${tag} editCells ${addr} ${JSON.stringify(text)}`
    }
    if (op < 62) {
      if (sl.rows.length >= MAX_ROWS) return `${tag} (rows full)`
      const at = r.int(0, sl.rows.length), n = r.int(1, 2)
      insertRows(doc, sheetId, at, n, 'test', newIds('r', n))
      return `${tag} insertRows at ${at} ×${n}`
    }
    if (op < 68) {
      if (sl.rows.length <= MIN_ROWS) return `${tag} (rows at minimum)`
      const at = r.int(0, sl.rows.length - 1), n = Math.min(r.int(1, 2), sl.rows.length - at)
      deleteRows(doc, sheetId, at, n, 'test')
      return `${tag} deleteRows at ${at} ×${n}`
    }
    if (op < 73) {
      if (sl.cols.length >= MAX_COLS) return `${tag} (cols full)`
      const at = r.int(0, sl.cols.length)
      insertCols(doc, sheetId, at, 1, 'test', newIds('c', 1))
      return `${tag} insertCols at ${at}`
    }
    if (op < 78) {
      if (sl.cols.length <= MIN_COLS) return `${tag} (cols at minimum)`
      const at = r.int(0, sl.cols.length - 1)
      deleteCols(doc, sheetId, at, 1, 'test')
      return `${tag} deleteCols at ${at}`
    }
    if (op < 82) {
      if (layout.order.length >= MAX_SHEETS) return `${tag} (sheets full)`
      const name = r.pick(SHEET_NAMES)
      const id = newIds('s', 1)[0]!
      const rows = r.int(3, 8), cols = r.int(2, 5)
      addSheet(doc, { id, name, rowIds: newIds('r', rows), colIds: newIds('c', cols) }, 'test', r.int(0, layout.order.length))
      return `${who} addSheet ${id} ${JSON.stringify(name)} ${rows}x${cols}`
    }
    if (op < 88) {
      const name = r.pick(SHEET_NAMES)
      renameSheet(doc, sheetId, name, 'test')
      return `${tag} rename to ${JSON.stringify(name)}`
    }
    if (op < 90) {
      if (layout.order.length <= 2) return `${tag} (keeping two sheets)`
      deleteSheet(doc, sheetId, 'test')
      return `${tag} deleteSheet`
    }
    if (op < 96) {
      // a calculated column from a formula cell of the sheet (every row of its table gets it), or none
      const cells = sheetParts(sheetsOf(doc).get(sheetId)!).cells
      const formulas: [number, number, string][] = []
      sl.rows.ids.forEach((rowId, ri) => sl.cols.ids.forEach((colId, ci) => {
        const v = cells.get(cellKey(rowId, colId))
        if (isFormula(v)) formulas.push([ri, ci, v.v])
      }))
      if (!formulas.length || r.next() < 0.2) {
        if (!sl.cols.length) return `${tag} (no columns)`
        const c = r.int(0, sl.cols.length - 1)
        setColumnFormula(doc, sheetId, sl.cols.ids[c]!, null, 'test')
        return `${tag} setColumnFormula col ${c} none`
      }
      const [ri, ci, stored] = r.pick(formulas)
      setColumnFormula(doc, sheetId, sl.cols.ids[ci]!, { rowId: sl.rows.ids[ri]!, stored }, 'test')
      return `${tag} setColumnFormula col ${ci} from row ${ri}`
    }
    if (!sl.rows.length || r.next() < 0.25) {
      setTotalsRow(doc, sheetId, null, 'test')
      return `${tag} setTotalsRow none`
    }
    const t = r.int(Math.floor(sl.rows.length / 2), sl.rows.length - 1)
    setTotalsRow(doc, sheetId, sl.rows.ids[t]!, 'test')
    return `${tag} setTotalsRow ${t}`
  } catch (e) {
    if (e instanceof WorkbookError) return `${tag} refused: ${e.code}`
    throw e
  }
}

// ── the run ───────────────────────────────────────────────────────────────────────────────────────

interface Trace {
  /** one line per edit and network step */
  log: string[]
  /** per client: its doc's state when its engine started, then every update it applied, in order */
  replicas: Uint8Array[][]
  /**
   * exceptions thrown while a received update was applied (by a formula engine observing the doc, say):
   * y-protocols catches and logs them and goes on, so they are collected from the log
   */
  swallowed: unknown[]
}

async function converge(seed: number, trace: Trace): Promise<void> {
  const log = trace.log
  const r = rng(seed)
  const newIds = idMaker(seed)
  const id = await createWorkbook(srv, { title: `convergence ${seed}` })
  const replicas: Replica[] = []
  for (let i = 0; i < CLIENTS; i++) {
    const doc = new Y.Doc()
    // fixed client ids: Yjs orders concurrent inserts by client id, so a replay resolves them alike
    doc.clientID = ((seed % 100_000) * 16 + i + 1) >>> 0
    const client = connectClient(srv, id, doc)
    cleanups.push(() => client.destroy())
    replicas.push({ index: i, client, engine: undefined as unknown as FormulaEngine })
  }
  await Promise.all(replicas.map(x => x.client.synced()))
  const room = srv.rooms.rooms.get(id)
  expect(room, `seed ${seed}: the server has the room loaded`).toBeDefined()
  const serverDoc = room!.doc
  const docs = () => [serverDoc, ...replicas.map(x => x.client.doc)]

  /** Resolves when `check` holds, re-checking after any doc update (a client's or the server's). */
  const waitFor = (what: string, check: () => boolean) => until(`seed ${seed}: ${what}`, () => check() || undefined, recheck => {
    const ds = docs()
    for (const d of ds) d.on('update', recheck)
    return () => { for (const d of ds) d.off('update', recheck) }
  }, WAIT_MS)
  const connected = () => replicas.filter(x => x.client.provider.shouldConnect)
  const allInStep = (what: string) => waitFor(what, () => connected().every(x => same(x.client.doc, serverDoc)))

  // a small first sheet (the blank template's is 100 × 26) and a second one with a Chinese name
  const first = replicas[0]!.client.doc
  const sheet1 = sheetIds(first)[0]!
  deleteRows(first, sheet1, 10, 90, 'setup')
  deleteCols(first, sheet1, 6, 20, 'setup')
  addSheet(first, { id: `st${seed.toString(36)}first`, name: '数据 表', rowIds: newIds('r', 8), colIds: newIds('c', 5) }, 'setup')
  type(first, sheet1, 'A1', '7', 'setup')
  type(first, sheet1, 'B2', "='数据 表'!A1+A1", 'setup')
  await allInStep('setup reaching everyone')
  // the engines start here and follow every change after: local edits and remote ones
  for (const x of replicas) {
    x.engine = new FormulaEngine(x.client.doc)
    cleanups.push(() => x.engine.destroy())
    // what this replica's engine went through, for replaying a failure offline
    const updates = [Y.encodeStateAsUpdate(x.client.doc)]
    x.client.doc.on('update', (u: Uint8Array) => updates.push(u))
    trace.replicas[x.index] = updates
  }

  let checkedAt = 0
  for (let i = 0; i < OPS; i++) {
    const rep = r.pick(replicas)
    log.push(`${i} ${randomEdit(r, rep, newIds)}`)
    // now and then some network progress; in between, edits pile up concurrently
    if (r.next() < 0.2) {
      const step = r.int(0, 99)
      const on = connected()
      const off = replicas.filter(x => !x.client.provider.shouldConnect)
      if (step < 35 && on.length) {
        const x = r.pick(on)
        log.push(`   wait: c${x.index}'s edits reach the server`)
        await waitFor(`c${x.index}'s edits reaching the server`, () => includes(serverDoc, x.client.doc))
      } else if (step < 60 && on.length) {
        const x = r.pick(on)
        log.push(`   wait: c${x.index} has what the server has`)
        await waitFor(`c${x.index} receiving the server's state`, () => includes(x.client.doc, serverDoc))
      } else if (step < 72) {
        log.push('   wait: every connected client in step with the server')
        await allInStep('connected clients in step with the server')
        // engines of clients in step with the server equal a fresh one on its doc already now (now
        // and then: building an engine costs more than a hundred edits)
        if (i - checkedAt >= CHECK_EVERY) {
          checkedAt = i
          expect(trace.swallowed.map(String), `seed ${seed}: errors while applying received updates, by edit ${i}`).toEqual([])
          const reference = freshView(serverDoc)
          for (const x of connected()) {
            expect(firstDiff(engineView(x.engine), reference), `seed ${seed}: after edit ${i}, client ${x.index}'s engine equals a fresh one`).toBeUndefined()
          }
        }
      } else if (step < 88 && on.length > 1) {
        const x = r.pick(on)
        x.client.provider.disconnect()
        log.push(`   c${x.index} goes offline`)
      } else if (off.length) {
        const x = r.pick(off)
        x.client.provider.connect()
        log.push(`   c${x.index} comes back`)
      }
    }
  }

  // everyone back online and in step with the server
  for (const x of replicas) x.client.provider.connect()
  log.push('end: everyone reconnects')
  await allInStep('every client in step with the server at the end')
  await srv.rooms.flushAll()

  // a doc loaded from the store, and a client that joins only now
  const stored = new Y.Doc()
  for (const u of await srv.store.loadUpdates(id)) Y.applyUpdate(stored, u)
  const late = connectClient(srv, id)
  cleanups.push(() => late.destroy())
  await late.synced()
  await waitFor('the late client in step with the server', () => same(late.doc, serverDoc))

  const all: [string, Y.Doc][] = [
    ...replicas.map(x => [`client ${x.index}`, x.client.doc] as [string, Y.Doc]),
    ['the late client', late.doc], ['the stored doc', stored],
  ]
  expect(trace.swallowed.map(String), `seed ${seed}: errors while applying received updates`).toEqual([])
  const want = dump(serverDoc)
  for (const [name, doc] of [['the server doc', serverDoc] as [string, Y.Doc], ...all]) {
    expect(doc.store.pendingStructs, `seed ${seed}: ${name} has updates it could not apply`).toBeNull()
    expect(doc.store.pendingDs, `seed ${seed}: ${name} has deletions it could not apply`).toBeNull()
  }
  for (const [name, doc] of all) {
    expect(same(doc, serverDoc), `seed ${seed}: ${name} (state ${JSON.stringify(svOf(doc))}) has the server's inserts and deletions (${JSON.stringify(svOf(serverDoc))})`).toBe(true)
    expect(firstDiff(dump(doc), want), `seed ${seed}: ${name} has the server's content`).toBeUndefined()
  }
  // the random edits did build something worth comparing
  const content = JSON.stringify(want)
  expect(content, `seed ${seed}: formulas were written`).toContain('"t":"f"')
  expect(sheetIds(serverDoc).length, `seed ${seed}: sheets`).toBeGreaterThanOrEqual(2)

  // formulas evaluate alike: a fresh engine on the server's doc is the reference
  const reference = freshView(serverDoc)
  expect(Object.values(reference).some(s => s.cells.some(row => row.some(([f]) => f !== null))), `seed ${seed}: some formulas evaluated`).toBe(true)
  for (const [name, doc] of all) {
    expect(firstDiff(freshView(doc), reference), `seed ${seed}: a fresh engine on ${name} equals one on the server doc`).toBeUndefined()
  }
  for (const x of replicas) {
    expect(firstDiff(engineView(x.engine), reference), `seed ${seed}: client ${x.index}'s engine, kept up to date through ${OPS} random edits, equals a fresh one`).toBeUndefined()
  }
}

describe(`${CLIENTS} clients, ${OPS} random edits each seed, through the real server`, () => {
  it.each(seeds)('seed %i converges everywhere', async (seed) => {
    const trace: Trace = { log: [], replicas: [], swallowed: [] }
    const consoleError = console.error
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith('Caught error while handling a Yjs update')) trace.swallowed.push(args[1])
      consoleError(...args)
    })
    try {
      await converge(seed, trace)
    } catch (e) {
      const base = join(tmpdir(), `convergence-seed-${seed}`)
      writeFileSync(`${base}.log`, trace.log.join('\n') + '\n')
      trace.replicas.forEach((updates, i) => writeFileSync(`${base}-client-${i}.json`, JSON.stringify(updates.map(u => Buffer.from(u).toString('base64')))))
      console.error(`convergence failed for seed ${seed}: edit log in ${base}.log, each client's updates (base64; the first is its state when its engine started) in ${base}-client-*.json; replay: CONVERGENCE_SEED=${seed} CONVERGENCE_SEEDS=1 CONVERGENCE_OPS=${OPS} npx vitest run test/integration/convergence.test.ts`)
      throw e
    } finally {
      spy.mockRestore()
    }
  })
})
