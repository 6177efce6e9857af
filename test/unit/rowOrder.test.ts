/**
 * Sorting without reloading HyperFormula (src/core/formulas/rowOrder.ts): after a sort the engine may
 * keep HyperFormula's rows where they were and note where each row is. Whatever the formulas, every
 * value must be what an engine built afresh from the doc computes: checked after every step of seeded
 * random sorts, edits, formulas of every kind (own row, other rows, running totals, lookups, ROW(),
 * ranges inside the sorted block, ranges in arithmetic, cross-sheet), row inserts and deletes, undo,
 * and a second replica taking the same changes. And the plain case (a planning sheet of own-row
 * formulas under a totals row) must actually be kept, not reloaded.
 *
 *   ROW_ORDER_SEEDS=200 ROW_ORDER_STEPS=60 npx vitest run test/unit/rowOrder.test.ts   (passed: 910 sorts kept)
 *   ROW_ORDER_SEED=66 ROW_ORDER_SEEDS=1 DBG=1 …   (one seed, printing the cells that differ)
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { FormulaEngine, type CellValue } from '../../src/core/formulas/engine'
import { deleteRows, insertRows, setCell, setFrozen, setTotalsRow } from '../../src/core/workbook/mutations'
import { sheetsOf, visibleRowIds } from '../../src/core/workbook/schema'
import { sortRows } from '../../src/core/workbook/sort'
import { personalUndo } from '../../src/sync/undo'
import { makeDoc, pair, rng, type } from '../helpers/workbook'

const SEEDS = Number(process.env.ROW_ORDER_SEEDS ?? 24)
const STEPS = Number(process.env.ROW_ORDER_STEPS ?? 40)

type Rng = ReturnType<typeof rng>

const plain = (v: CellValue): unknown =>
  typeof v === 'number' ? Number(v.toPrecision(12)) : v !== null && typeof v === 'object' ? { error: v.error } : v

/** Every value of every sheet, as the engine shows them. */
function values(e: FormulaEngine): Record<string, unknown[][]> {
  const out: Record<string, unknown[][]> = {}
  for (const id of e.layout.order) out[id] = e.getSheetValues(id).map(row => row.map(plain))
  return out
}

function fresh(doc: Y.Doc): Record<string, unknown[][]> {
  const e = new FormulaEngine(doc)
  try { return values(e) } finally { e.destroy() }
}

/** Counts the sheet reloads of an engine's (real) HyperFormula. */
function countReloads(e: FormulaEngine): { count: number } {
  const counter = { count: 0 }
  const real = e.hf.setSheetContent.bind(e.hf)
  e.hf.setSheetContent = ((...args: Parameters<typeof real>) => { counter.count++; return real(...args) }) as typeof e.hf.setSheetContent
  return counter
}

/** A formula for the data row `n` (A1 row number) of Plan, of one of many kinds (`safe`: mostly kinds a sort keeps). */
function planFormula(r: Rng, n: number, last: number, safe = false): string {
  const a = r.int(2, last), b = r.int(a, last)
  if (safe && r.next() < 0.9) {
    return r.pick([
      `=B${n}*2`, `=B${n}+C${n}`, `=IFERROR(B${n}/C${n},0)`, `=IF(B${n}>10,"big","small")`, `=SUM(B2:B${last})`,
      `=SUMIF(A2:A${last},A${n},B2:B${last})`, `=COUNTIF(B2:B${last},">"&B${n})`, `=SUM(B:B)`, `=Other!A1*2+B${n}`, `=B$2*3`,
      `=MAX(B2:B${last})-B${n}`,
    ])
  }
  return r.pick([
    `=B${n}*2`, `=B${n}+C${n}`, `=IFERROR(B${n}/C${n},0)`, `=ROUND(B${n}*1.5,1)`, `=IF(B${n}>10,"big","small")`,
    `=B${Math.max(2, n - 1)}+1`, `=SUM($B$2:B${n})`, `=ROW()`, `=VLOOKUP(A${n},$A$2:$B$${last},2,FALSE)`,
    `=SUM(B2:B${last})`, `=SUM(B${a}:B${b})`, `=SUMIF(A2:A${last},A${n},B2:B${last})`, `=SUMPRODUCT(B2:B${last},C2:C${last})`,
    `=SUMPRODUCT(B2:B${last - 1},C3:C${last})`, `=SUM(B:B)`, `=B2:B${last}*2`, `=COUNTIF(B2:B${last},">"&B${n})`,
    `=MATCH(B${n},B2:B${last},0)`, `=Other!A1*2+B${n}`, `=MAX(B2:B${last})-MIN(B${a}:B${b})`, `=B$2*3`, `=INDEX(B2:B${last},3)`,
  ])
}

function otherFormula(r: Rng, last: number): string {
  const a = r.int(2, last)
  return r.pick([
    `=Plan!B${a}`, `=SUM(Plan!B2:B${last})`, `=SUM(Plan!B2:B${a})`, `=VLOOKUP("x",Plan!A2:B${last},2,FALSE)`,
    `=INDEX(Plan!B2:B${last},3)`, `=SUMPRODUCT(Plan!B2:B${last},Plan!C2:C${last})`, `=Plan!B${a}*Plan!C${a}`, `=AVERAGE(Plan!C2:C${last})`,
  ])
}

/** Plan: a header row, 12 data rows, a totals row (rows 14) and two spare rows; Other reads it. */
function workbook(r: Rng, safe: boolean): Y.Doc {
  const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 16, cols: 5 }, { name: 'Other', id: 's1', rows: 4, cols: 3 }])
  'ABCDE'.split('').forEach(c => type(doc, 's0', `${c}1`, `head ${c}`))
  for (let n = 2; n <= 13; n++) {
    type(doc, 's0', `A${n}`, r.pick(['x', 'y', 'z', 'w', String(r.int(0, 9))]))
    type(doc, 's0', `B${n}`, String(r.int(0, 20)))
    type(doc, 's0', `C${n}`, r.next() < 0.7 ? `=B${n}*2` : String(r.int(0, 9)))
    if (r.next() < 0.6) type(doc, 's0', `D${n}`, r.next() < 0.6 ? `=B${n}+C${n}` : planFormula(r, n, 13, safe))
  }
  type(doc, 's0', 'A14', 'Total'); type(doc, 's0', 'B14', '=SUM(B2:B13)'); type(doc, 's0', 'C14', '=MAX(C2:C13)')
  if (r.next() < 0.5) type(doc, 's0', 'D14', '=AVERAGE(D2:D13)')
  setFrozen(doc, 's0', { rows: 1 })
  setTotalsRow(doc, 's0', visibleRowIds(sheetsOf(doc).get('s0')!)[13]!)
  type(doc, 's1', 'A1', String(r.int(1, 5)))
  if (r.next() < 0.7) type(doc, 's1', 'B1', '=SUM(Plan!B2:B13)')
  if (r.next() < 0.5) type(doc, 's1', 'C1', otherFormula(r, 13))
  return doc
}

function rowsOf(doc: Y.Doc, sheet = 's0'): string[] { return visibleRowIds(sheetsOf(doc).get(sheet)!) }

describe('sorting while HyperFormula keeps its rows', () => {
  it('keeps a planning sheet (own-row formulas, a totals row) as it is, with the same values as a fresh engine, and undoing the sort costs nothing either', () => {
    const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 8, cols: 4 }, { name: 'Other', id: 's1', rows: 2, cols: 2 }])
    const amounts = [30, 10, 50, 20, 40]
    amounts.forEach((v, i) => { type(doc, 's0', `A${i + 2}`, `item ${i}`); type(doc, 's0', `B${i + 2}`, String(v)); type(doc, 's0', `C${i + 2}`, `=B${i + 2}*2`) })
    type(doc, 's0', 'B7', '=SUM(B2:B6)'); type(doc, 's0', 'C7', '=MAX(C2:C6)')
    setFrozen(doc, 's0', { rows: 1 })
    setTotalsRow(doc, 's0', rowsOf(doc)[6]!)
    type(doc, 's1', 'A1', '=Plan!B3'); type(doc, 's1', 'B1', '=SUM(Plan!B2:B6)')
    const engine = new FormulaEngine(doc)
    const reloads = countReloads(engine)
    const origin = { who: 'me' }
    const undo = personalUndo(doc, origin)
    const colB = engine.layout.sheet('s0')!.cols.ids[1]!
    sortRows(doc, 's0', [{ colId: colB }], (row, col) => engine.getValueById('s0', row, col), {}, origin)
    expect(reloads.count).toBe(0)
    expect([1, 2, 3, 4, 5].map(r => engine.getValue('s0', r, 1))).toEqual([10, 20, 30, 40, 50])
    expect([1, 2, 3, 4, 5].map(r => engine.getValue('s0', r, 2))).toEqual([20, 40, 60, 80, 100])
    expect(engine.getValue('s0', 6, 1)).toBe(150)
    expect(engine.getValue('s1', 0, 0)).toBe(20) // Plan!B3 keeps its place: now the 20
    expect(values(engine)).toEqual(fresh(doc))
    // an edit and a new own-row formula in a moved row land on their rows
    setCell(doc, 's0', rowsOf(doc)[1]!, colB, 11)
    type(doc, 's0', 'D3', '=B3+C3')
    expect(engine.getValue('s0', 2, 3)).toBe(20 + 40)
    expect(engine.getValue('s0', 1, 2)).toBe(22)
    expect(values(engine)).toEqual(fresh(doc))
    expect(reloads.count).toBe(0)
    // undoing the sort puts the rows back where HyperFormula has them
    undo.undo()
    expect([1, 2, 3, 4, 5].map(r => engine.getValue('s0', r, 0))).toEqual(['item 0', 'item 1', 'item 2', 'item 3', 'item 4'])
    expect(values(engine)).toEqual(fresh(doc))
    expect(reloads.count).toBe(0)
    undo.destroy()
    engine.destroy()
  })

  it('reloads when a formula reads the sorted rows by their order, with the values a fresh engine computes', () => {
    const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 6, cols: 3 }])
    ;[3, 1, 2].forEach((v, i) => { type(doc, 's0', `A${i + 1}`, String(v)); type(doc, 's0', `B${i + 1}`, `=ROW()*10+A${i + 1}`) })
    type(doc, 's0', 'C1', '=INDEX(A1:A3,1)')
    const engine = new FormulaEngine(doc)
    const reloads = countReloads(engine)
    sortRows(doc, 's0', [{ colId: engine.layout.sheet('s0')!.cols.ids[0]! }], (row, col) => engine.getValueById('s0', row, col))
    expect(reloads.count).toBe(1)
    expect([0, 1, 2].map(r => engine.getValue('s0', r, 1))).toEqual([11, 22, 33])
    expect(values(engine)).toEqual(fresh(doc))
    engine.destroy()
  })

  it(`gives the values of a fresh engine through random sorts, edits, formulas, inserts, deletes, undo and a replica (${SEEDS} seeds × ${STEPS} steps)`, () => {
    let kept = 0
    const first = Number(process.env.ROW_ORDER_SEED ?? 1)
    for (let seed = first; seed < first + SEEDS; seed++) {
      const r = rng(seed * 7919)
      // odd seeds: a planning sheet, whose sorts are mostly kept (and what follows them runs on the kept order)
      const safe = seed % 2 === 1
      const a = workbook(r, safe)
      const b = new Y.Doc()
      Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
      const link = pair(a, b)
      const ea = new FormulaEngine(a), eb = new FormulaEngine(b)
      const reloads = countReloads(ea)
      const origin = { who: 'a' }
      const undo = personalUndo(a, origin)
      const log: string[] = []
      for (let step = 0; step < STEPS; step++) {
        const rows = rowsOf(a)
        const cols = ea.layout.sheet('s0')!.cols.ids
        const last = rows.length - 2 // rows before the totals row and the spare ones, as A1 numbers go
        const op = r.next()
        if (op < 0.35) {
          const col = r.pick(cols)
          const desc = r.next() < 0.5
          const from = r.int(1, Math.max(1, rows.length - 4)), to = r.int(from, Math.max(from, rows.length - 4))
          const block = r.next() < 0.7 ? {} : { fromRow: rows[from]!, toRow: rows[to]! }
          log.push(`sort ${cols.indexOf(col)} ${desc ? 'desc' : 'asc'} ${JSON.stringify(block)}`)
          const before = reloads.count
          const res = sortRows(a, 's0', [{ colId: col, desc }], (row, c) => ea.getValueById('s0', row, c), block, origin)
          if (res.moved && reloads.count === before) kept++
        } else if (op < 0.5) {
          const at = `${r.pick(['A', 'B', 'B', 'C'])}${r.int(2, Math.max(2, last))}`
          const v = String(r.int(0, 20))
          log.push(`type ${at} ${v}`)
          type(a, 's0', at, v, origin)
        } else if (op < 0.65) {
          const n = r.int(2, Math.max(2, last))
          const at = `${r.pick(['C', 'D', 'E'])}${n}`
          const f = planFormula(r, n, Math.max(3, last), safe)
          log.push(`type ${at} ${f}`)
          type(a, 's0', at, f, origin)
        } else if (op < 0.7) {
          const f = otherFormula(r, Math.max(3, last))
          const at = r.pick(['B1', 'C1', 'B2'])
          log.push(`type Other!${at} ${f}`)
          type(a, 's1', at, f, origin)
        } else if (op < 0.78) {
          const at = r.int(1, rows.length - 1)
          log.push(`insert row at ${at}`)
          insertRows(a, 's0', at, 1, origin)
        } else if (op < 0.83) {
          const at = r.int(1, rows.length - 3)
          log.push(`delete row ${at}`)
          deleteRows(a, 's0', at, 1, origin)
        } else if (op < 0.9) {
          log.push('undo')
          undo.undo()
        } else if (op < 0.95) {
          // the colleague edits, and both take each other's changes
          const at = `B${r.int(2, Math.max(2, last))}`
          log.push(`b types ${at}; exchange`)
          type(b, 's0', at, String(r.int(0, 20)))
          link.exchange()
        } else {
          log.push('exchange')
          link.exchange()
        }
        const want = fresh(a)
        const got = values(ea)
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          // DBG=1: the cells that differ, with what the doc holds there
          if (process.env.DBG) {
            for (const sid of ['s0', 's1']) {
              const g = got[sid]!, w = want[sid]!
              g.forEach((row, ri) => row.forEach((v, ci) => {
                if (JSON.stringify(v) === JSON.stringify(w[ri]![ci])) return
                const rowId = rowsOf(a, sid)[ri]!, colId = ea.layout.sheet(sid)!.cols.ids[ci]!
                const input = (sheetsOf(a).get(sid)!.get('cells') as Y.Map<unknown>).get(`${rowId}:${colId}`)
                console.log(sid, ri, ci, JSON.stringify(v), JSON.stringify(w[ri]![ci]), JSON.stringify(input))
              }))
            }
            console.log(rowsOf(a).join(' '), JSON.stringify((sheetsOf(a).get('s0')!.get('rowsGone') as Y.Map<unknown>).toJSON()))
          }
          expect(got, `seed ${seed}, after:\n${log.join('\n')}`).toEqual(want)
        }
      }
      link.exchange()
      expect(values(eb), `seed ${seed}, the replica, after:\n${log.join('\n')}`).toEqual(fresh(b))
      expect(values(ea)).toEqual(values(eb))
      undo.destroy()
      ea.destroy(); eb.destroy()
    }
    if (process.env.DBG) console.log(`${kept} sorts kept HyperFormula's order`)
    // (the random formulas reload often; the plain ones must be kept, often enough to have been tested)
    expect(kept).toBeGreaterThan(SEEDS)
  }, Math.max(60_000, SEEDS * STEPS * 100))
})
