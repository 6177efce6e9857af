/**
 * The quick check of reordered rows and columns (src/core/access/quick.ts): a sort, or ids moved, with
 * the cells it rewrites, judged on the doc as it stands with the order worked out from the update.
 * Wherever it decides, it must decide as the full check on a mirror doc does: the same refusal (code,
 * sheet, cell, protection) or none. Checked on seeded random sorts and moves by owners, editors named
 * in protections or not, and viewers, with protected totals, rows, columns, cross-sheet sums and
 * signed-off sheets; and what it must leave to the full check (ids added or taken away, inserts landing
 * among others', several clients) is left.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { checkChange, defineRoots, lockSheet, quickCellCheck, setProtections, unlockSheet, type Principal, type Refusal } from '../../src/core/access/access'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { deleteRows, insertRows, setTotalsRow } from '../../src/core/workbook/mutations'
import { sheetParts, sheetsOf, visibleRowIds } from '../../src/core/workbook/schema'
import { sortRows } from '../../src/core/workbook/sort'
import { makeDoc, rng, type } from '../helpers/workbook'

const editor = (name: string): Principal => ({ role: 'editor', name })
const OWNER: Principal = { role: 'owner', name: 'Boss' }

/** The update `change` makes on a replica of `doc`. */
function updateOf(doc: Y.Doc, change: (d: Y.Doc) => void): Uint8Array {
  const client = new Y.Doc()
  Y.applyUpdate(client, Y.encodeStateAsUpdate(doc))
  const sv = Y.encodeStateVector(client)
  change(client)
  return Y.encodeStateAsUpdate(client, sv)
}

/** The full check, as the server makes it: the update tried on a mirror of `doc`. */
function fullCheck(doc: Y.Doc, update: Uint8Array, who: Principal): Refusal | null {
  const mirror = new Y.Doc()
  defineRoots(mirror)
  Y.applyUpdate(mirror, Y.encodeStateAsUpdate(doc))
  let r: Refusal | null = null
  mirror.transact(tr => { Y.applyUpdate(mirror, update); r = checkChange(doc, mirror, tr, who) })
  return r
}

const quick = (doc: Y.Doc, update: Uint8Array, who: Principal) => quickCellCheck(doc, update, Y.decodeUpdate(update), who)

/** A plan (header, 8 data rows, a totals row) and a summary sheet summing it, with protections. */
function plan(): Y.Doc {
  const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 12, cols: 4 }, { name: 'Sum', id: 's1', rows: 3, cols: 2 }])
  defineRoots(doc)
  type(doc, 's0', 'A1', 'item'); type(doc, 's0', 'B1', 'amount')
  ;[30, 10, 50, 20, 40, 10, 60, 25].forEach((v, i) => {
    type(doc, 's0', `A${i + 2}`, `item ${i}`); type(doc, 's0', `B${i + 2}`, String(v)); type(doc, 's0', `C${i + 2}`, `=B${i + 2}*2`)
  })
  type(doc, 's0', 'B10', '=SUM(B2:B9)'); type(doc, 's0', 'C10', '=SUM(C3:C6)'); type(doc, 's0', 'D4', '=B3+B5')
  setTotalsRow(doc, 's0', visibleRowIds(sheetsOf(doc).get('s0')!)[9]!)
  type(doc, 's1', 'A1', '=SUM(Plan!B2:B5)'); type(doc, 's1', 'B1', '=Plan!B4')
  setProtections(doc, [
    { id: 'total', sheet: 's0', rows: ['s0r9'], names: ['王经理'], label: 'totals' },
    { id: 'row3', sheet: 's0', rows: ['s0r3'], cols: ['s0c1'], names: ['小张'], label: 'row 3' },
    { id: 'colD', sheet: 's0', cols: ['s0c3'], names: ['王经理'], label: 'column D' },
    { id: 'sum', sheet: 's1', names: ['王经理'], label: 'summary' },
  ])
  return doc
}

/** Takes an id out of an order and puts it back before `beforeId` (at the end when null). */
const moveId = (sid: string, axis: 'rows' | 'cols', id: string, beforeId: string | null) => (d: Y.Doc) => d.transact(() => {
  const order = sheetParts(sheetsOf(d).get(sid)!)[axis]
  order.delete(order.toArray().indexOf(id), 1)
  order.insert(beforeId === null ? order.length : order.toArray().indexOf(beforeId), [id])
})

const sortBy = (col: number, desc: boolean, block: { from: number; to: number } | null) => (d: Y.Doc) => {
  const e = new FormulaEngine(d)
  try {
    const rows = e.layout.sheet('s0')!.rows.ids
    sortRows(d, 's0', [{ colId: e.layout.sheet('s0')!.cols.ids[col]!, desc }], (r, c) => e.getValueById('s0', r, c),
      block ? { fromRow: rows[block.from]!, toRow: rows[block.to]! } : {})
  } finally { e.destroy() }
}

describe('the quick check of reordered rows and columns', () => {
  it('decides sorts and moved ids as the full check does, refusals and all', () => {
    const doc = plan()
    const people = [OWNER, editor('王经理'), editor('小张'), editor('小李'), editor(''), { role: 'viewer', name: 'v' } as Principal]
    const r = rng(Number(process.env.QUICK_MOVES_SEED ?? 20261204))
    let decided = 0, refused = 0, allowed = 0, tries = 0
    const codes = new Set<string>()
    for (let i = 0; i < 300; i++) {
      if (i % 60 === 20) lockSheet(doc, r.pick(['s0', 's1']), '王经理')
      if (i % 60 === 40) { unlockSheet(doc, 's0'); unlockSheet(doc, 's1') }
      const rows = visibleRowIds(sheetsOf(doc).get('s0')!)
      const cols = sheetParts(sheetsOf(doc).get('s0')!).cols.toArray()
      const roll = r.next()
      const move = (axis: 'rows' | 'cols', ids: string[]) => {
        const id = r.pick(ids), before = r.next() < 0.2 ? null : r.pick(ids.filter(x => x !== id))
        return moveId('s0', axis, id, before)
      }
      const change = roll < 0.5
        ? sortBy(r.int(0, 3), r.next() < 0.5, r.next() < 0.5 ? null : { from: r.int(1, 5), to: r.int(5, 10) })
        : roll < 0.85 ? move('rows', rows) : move('cols', cols)
      const update = updateOf(doc, change)
      if (Y.decodeUpdate(update).structs.length === 0) continue // already in that order
      tries++
      const who = r.pick(people)
      const full = fullCheck(doc, update, who)
      const q = quick(doc, update, who)
      if (q !== undefined) { decided++; expect(q).toEqual(full) }
      if (full) { refused++; codes.add(full.code) } else allowed++
      // the doc moves on (so that later changes build on moved orders and rewritten formulas)
      if (!full && r.next() < 0.5) Y.applyUpdate(doc, update)
    }
    expect(decided).toBeGreaterThan(tries * 0.9)
    expect(refused).toBeGreaterThan(30)
    expect(allowed).toBeGreaterThan(30)
    expect([...codes].sort()).toEqual(expect.arrayContaining(['locked', 'protected', 'protected-range-moved', 'read-only']))
  })

  it('leaves to the full check what does more than reorder, or lands among inserts it has not seen', () => {
    const doc = plan()
    const rows = () => visibleRowIds(sheetsOf(doc).get('s0')!)
    const order = (d: Y.Doc) => sheetParts(sheetsOf(d).get('s0')!).rows
    // a sort decides quickly, as a baseline
    expect(quick(doc, updateOf(doc, sortBy(1, false, null)), OWNER)).toBeNull()
    // an id moved and a new one inserted at once; an id taken away and put back twice
    expect(quick(doc, updateOf(doc, d => { moveId('s0', 'rows', 's0r2', 's0r5')(d); insertRows(d, 's0', 3, 1) }), OWNER)).toBeUndefined()
    expect(quick(doc, updateOf(doc, d => d.transact(() => { const o = order(d); o.delete(o.toArray().indexOf('s0r2'), 1); o.insert(4, ['s0r2', 's0r2']) })), OWNER)).toBeUndefined()
    // an id taken out and put back with another's place taken too (a row lost): not a reordering
    expect(quick(doc, updateOf(doc, d => d.transact(() => { const o = order(d); o.delete(1, 2); o.insert(3, ['s0r1']) })), OWNER)).toBeUndefined()
    // deleting rows, as before, is the full check's
    expect(quick(doc, updateOf(doc, d => deleteRows(d, 's0', 2, 1)), OWNER)).toBeUndefined()
    // a move made on a replica that lacks an insert the doc has between its neighbours
    const stale = new Y.Doc()
    Y.applyUpdate(stale, Y.encodeStateAsUpdate(doc))
    insertRows(doc, 's0', 2, 1) // between s0r1 and s0r2
    expect(rows().slice(0, 4)).toEqual(['s0r0', 's0r1', expect.any(String), 's0r2'])
    const sv = Y.encodeStateVector(stale)
    moveId('s0', 'rows', 's0r5', 's0r2')(stale) // lands between s0r1 and s0r2 too
    const late = Y.encodeStateAsUpdate(stale, sv)
    expect(quick(doc, late, OWNER)).toBeUndefined()
    expect(fullCheck(doc, late, OWNER)).toBeNull()
    // two clients' moves in one update
    const a = new Y.Doc(), b = new Y.Doc()
    Y.applyUpdate(a, Y.encodeStateAsUpdate(doc)); Y.applyUpdate(b, Y.encodeStateAsUpdate(doc))
    const base = Y.encodeStateVector(doc)
    moveId('s0', 'rows', 's0r2', 's0r7')(a)
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a, base))
    moveId('s0', 'rows', 's0r4', 's0r1')(b)
    const both = Y.encodeStateAsUpdate(b, base)
    expect(quick(doc, both, OWNER)).toBeUndefined()
  })
})
