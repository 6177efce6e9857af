/**
 * The Node side of the sort benchmark (bench/sort.ts): the same 10,000-row sheet sorted by column B with
 * the sortRows mutation on a doc with a FormulaEngine (the sorting client's mutation and engine), and
 * the update it makes applied to a second doc with its own engine (the second client's), and the
 * server's check of that update: the quick one (src/core/access/quick.ts) and the full one (a mirror
 * doc made from the state, the update tried on it). Prints each run's wall and CPU time and the
 * medians; every run checks the totals and a sorted row against the other replica.
 *
 *   node --expose-gc --import tsx bench/tools/sort-engine.ts [runs]
 */
import * as Y from 'yjs'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { setFrozen, setTotalsRow } from '../../src/core/workbook/mutations'
import { sortRows } from '../../src/core/workbook/sort'
import { buildDoc, makeA1Data } from '../formula'
import { median } from '../harness'
import { checkChange, defineRoots, quickCellCheck } from '../../src/core/access/access'

const RUNS = Number(process.argv[2] ?? 7)
const a1 = makeA1Data()
const { doc, sheetId } = buildDoc(a1)
{
  const e = new FormulaEngine(doc)
  setFrozen(doc, sheetId, { rows: 1 })
  setTotalsRow(doc, sheetId, e.layout.sheet(sheetId)!.rows.ids[a1.length - 1]!)
  e.destroy()
}
const state = Y.encodeStateAsUpdate(doc)
const cpu = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000
const out = { sortWall: [] as number[], sortCpu: [] as number[], applyWall: [] as number[], applyCpu: [] as number[], quick: [] as number[], full: [] as number[] }
const owner = { role: 'owner' as const, name: 'bench' }
for (let run = 0; run < RUNS; run++) {
  const a = new Y.Doc(), b = new Y.Doc()
  Y.applyUpdate(a, state); Y.applyUpdate(b, state)
  const ea = new FormulaEngine(a), eb = new FormulaEngine(b)
  const total = ea.getValue(sheetId, a1.length - 1, 9)
  const colB = ea.layout.sheet(sheetId)!.cols.ids[1]!
  globalThis.gc?.()
  const sv = Y.encodeStateVector(a)
  let c0 = process.cpuUsage(), t0 = performance.now()
  // alternately ascending and descending: each run moves every row
  sortRows(a, sheetId, [{ colId: colB, desc: run % 2 === 1 }], (r, c) => ea.getValueById(sheetId, r, c))
  out.sortWall.push(performance.now() - t0); out.sortCpu.push(cpu(process.cpuUsage(c0)))
  const update = Y.encodeStateAsUpdate(a, sv)
  // the server's check (b is the doc as the server has it before the update)
  globalThis.gc?.()
  t0 = performance.now()
  const quick = quickCellCheck(b, update, Y.decodeUpdate(update), owner)
  out.quick.push(performance.now() - t0)
  if (quick !== null) throw new Error(`the quick check did not pass the sort: ${JSON.stringify(quick)}`)
  t0 = performance.now()
  const mirror = new Y.Doc()
  defineRoots(mirror)
  Y.applyUpdate(mirror, Y.encodeStateAsUpdate(b))
  let full: unknown = 'unchecked'
  mirror.transact(tr => { Y.applyUpdate(mirror, update); full = checkChange(b, mirror, tr, owner) })
  out.full.push(performance.now() - t0)
  if (full !== null) throw new Error('the full check did not pass the sort')
  mirror.destroy()
  globalThis.gc?.()
  c0 = process.cpuUsage(); t0 = performance.now()
  Y.applyUpdate(b, update)
  out.applyWall.push(performance.now() - t0); out.applyCpu.push(cpu(process.cpuUsage(c0)))
  const same = [1, 2, 5000, 10000].every(r => JSON.stringify(ea.getValue(sheetId, r, 9)) === JSON.stringify(eb.getValue(sheetId, r, 9)))
  if (ea.getValue(sheetId, a1.length - 1, 9) !== total || eb.getValue(sheetId, a1.length - 1, 9) !== total || !same) throw new Error('the replicas disagree')
  console.log(`run ${run}: sorting client ${out.sortWall.at(-1)!.toFixed(0)} ms (cpu ${out.sortCpu.at(-1)!.toFixed(0)}), second client ${out.applyWall.at(-1)!.toFixed(0)} ms (cpu ${out.applyCpu.at(-1)!.toFixed(0)}), server check quick ${out.quick.at(-1)!.toFixed(1)} ms / full ${out.full.at(-1)!.toFixed(0)} ms, update ${update.length} bytes`)
  ea.destroy(); eb.destroy()
}
const m = (xs: number[]) => median(xs).toFixed(0)
console.log(`median of ${RUNS}: sorting client ${m(out.sortWall)} ms (cpu ${m(out.sortCpu)}), second client ${m(out.applyWall)} ms (cpu ${m(out.applyCpu)}), server check quick ${median(out.quick).toFixed(1)} ms / full ${m(out.full)} ms`)
process.exit(0)
