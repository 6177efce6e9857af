/**
 * The diff of two versions of a workbook doc: cells whose inputs changed (with their A1 text and
 * computed values), rows and columns inserted and deleted, sheets added, removed and renamed, a sort
 * that changes no cell, protection, lock and chart flags; and how long 10,000 rows take.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { diffDocs, type CellDiff, type SheetDiff } from '../../src/core/history/diff'
import {
  addSheet, deleteCols, deleteRows, deleteSheet, insertCols, insertRows, renameSheet, setCells, setTitle, setTotalsRow, type CellWrite,
} from '../../src/core/workbook/mutations'
import { cellKey, sheetParts, sheetsOf, visibleRowIds, type CellInput } from '../../src/core/workbook/schema'
import { sortRows } from '../../src/core/workbook/sort'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { CLOSE, OPEN } from '../../src/core/formulas/references'
import { lockSheet, setProtections, unlockSheet } from '../../src/core/access/model'
import { addChart, chartsOf, updateChart } from '../../src/core/charts/charts'
import { makeDoc, textAt, type } from '../helpers/workbook'

/** a second version: the same doc's state, edited from here on */
function next(doc: Y.Doc): Y.Doc {
  const out = new Y.Doc()
  Y.applyUpdate(out, Y.encodeStateAsUpdate(doc))
  return out
}

const sheetOf = (d: { sheets: SheetDiff[] }, id: string) => d.sheets.find(s => s.sheetId === id)
const cellsOf = (d: { sheets: SheetDiff[] }, id = 's0'): CellDiff[] => sheetOf(d, id)?.cells ?? []
const brief = (c: CellDiff) => [c.cell, c.kind, c.beforeText, c.afterText]
const storedAt = (doc: Y.Doc, sheet: string, rowId: string, colId: string): CellInput | undefined =>
  sheetParts(sheetsOf(doc).get(sheet)!).cells.get(cellKey(rowId, colId))

describe('cells', () => {
  it('two equal versions differ in nothing', () => {
    const doc = makeDoc([{ name: 'Plan', rows: 5, cols: 3 }])
    type(doc, 's0', 'A1', '5'); type(doc, 's0', 'B1', '=A1*2')
    const d = diffDocs(doc, next(doc))
    expect(d).toEqual({ sheets: [], titleChanged: false, counts: { cells: 0, sheetsAdded: 0, sheetsRemoved: 0, sheetsRenamed: 0 } })
  })

  it('an edited cell: inputs, texts and values of both versions; the formula reading it is not listed', () => {
    const before = makeDoc([{ name: 'Plan', rows: 5, cols: 3 }])
    type(before, 's0', 'A1', '5'); type(before, 's0', 'B1', '=A1*2'); type(before, 's0', 'C2', '2025-06-18')
    const after = next(before)
    type(after, 's0', 'A1', '7'); type(after, 's0', 'C2', '2025-07-01')
    const d = diffDocs(before, after)
    expect(d.sheets.map(s => [s.sheetId, s.status])).toEqual([['s0', 'changed']])
    expect(d.counts.cells).toBe(2)
    const [a1, c2] = cellsOf(d)
    expect(a1).toEqual({
      cell: 'A1', rowId: 's0r0', colId: 's0c0', kind: 'changed', before: 5, after: 7,
      beforeText: '5', afterText: '7', beforeValue: 5, afterValue: 7,
    })
    // B1's value went from 10 to 14, its input did not change: not listed
    expect(cellsOf(d).some(c => c.cell === 'B1')).toBe(false)
    expect(c2).toMatchObject({ cell: 'C2', kind: 'changed', before: { t: 'd', v: '2025-06-18' }, after: { t: 'd', v: '2025-07-01' }, beforeText: '2025-06-18', afterText: '2025-07-01' })
    // dates compute to their serials
    expect(c2!.afterValue).toBe(45839)
  })

  it('added and cleared cells; text that looks like a number keeps its apostrophe', () => {
    const before = makeDoc([{ name: 'Plan', rows: 5, cols: 3 }])
    type(before, 's0', 'A1', 'old'); type(before, 's0', 'B2', '3')
    const after = next(before)
    type(after, 's0', 'A1', ''); type(after, 's0', 'C3', "'007"); type(after, 's0', 'B2', 'TRUE')
    const d = diffDocs(before, after)
    expect(cellsOf(d).map(brief)).toEqual([['A1', 'removed', 'old', ''], ['B2', 'changed', '3', 'TRUE'], ['C3', 'added', '', "'007"]])
    const [a1, b2, c3] = cellsOf(d)
    expect([a1!.before, a1!.after, a1!.beforeValue, a1!.afterValue]).toEqual(['old', null, 'old', null])
    expect([b2!.beforeValue, b2!.afterValue]).toEqual([3, true])
    expect([c3!.before, c3!.after, c3!.beforeValue, c3!.afterValue]).toEqual([null, '007', null, '007'])
  })

  it('a changed formula shows its A1 text (quoted Chinese sheet names too); its result changes and a formula reading it is not listed', () => {
    const before = makeDoc([{ name: 'Plan', rows: 5, cols: 3 }, { name: '市场分析', rows: 5, cols: 3 }])
    type(before, 's1', 'B2', '40'); type(before, 's1', 'B3', '60')
    type(before, 's0', 'A1', "='市场分析'!B2"); type(before, 's0', 'A2', '=A1+1')
    const after = next(before)
    type(after, 's0', 'A1', "=SUM('市场分析'!B2:B3)")
    const d = diffDocs(before, after)
    expect(cellsOf(d)).toEqual([{
      cell: 'A1', rowId: 's0r0', colId: 's0c0', kind: 'changed',
      before: { t: 'f', v: `=${OPEN}s1!s1r1,s1c1${CLOSE}` }, after: { t: 'f', v: `=SUM(${OPEN}s1!s1r1,s1c1:s1r2,s1c1${CLOSE})` },
      beforeText: "='市场分析'!B2", afterText: "=SUM('市场分析'!B2:B3)", beforeValue: 40, afterValue: 100,
    }])
    // A2 went from 41 to 101 and is not a change; 市场分析 did not change at all
    expect(d.sheets.map(s => s.sheetId)).toEqual(['s0'])
  })

  it('ignores cells whose row or column is not in the layout', () => {
    const before = makeDoc([{ name: 'Plan', rows: 3, cols: 3 }])
    const after = next(before)
    const cells = sheetParts(sheetsOf(after).get('s0')!).cells
    after.transact(() => { cells.set('nope:s0c0', 1); cells.set('s0r0:nope', 2); cells.set('junk', 3) })
    expect(diffDocs(before, after).sheets).toEqual([])
  })
})

describe('rows and columns', () => {
  it('a row inserted: its cells are added at their address, the cells below moved but did not change', () => {
    const before = makeDoc([{ name: 'Plan', rows: 5, cols: 3 }])
    type(before, 's0', 'A1', '1'); type(before, 's0', 'A2', '2'); type(before, 's0', 'A3', '=SUM(A1:A2)')
    const after = next(before)
    const [id] = insertRows(after, 's0', 1, 1, null, ['new1'])
    type(after, 's0', 'A2', '9')
    expect(textAt(after, 's0', 'A4')).toBe('=SUM(A1:A3)')
    const d = diffDocs(before, after)
    const s = sheetOf(d, 's0')!
    expect(s).toMatchObject({ status: 'changed', rowsInserted: [id], rowsDeleted: [], colsInserted: [], colsDeleted: [], rowsReordered: false })
    // A4's formula reads one more row now (the inserted one is inside its range): its input is the same
    expect(s.cells.map(brief)).toEqual([['A2', 'added', '', '9']])
    expect(s.cells[0]).toMatchObject({ rowId: 'new1', afterValue: 9, beforeValue: null })
  })

  it('a row deleted: its cells are removed, at the address they had', () => {
    const before = makeDoc([{ name: 'Plan', rows: 5, cols: 3 }])
    type(before, 's0', 'A2', 'gone'); type(before, 's0', 'B2', '=A4'); type(before, 's0', 'A4', 'stays'); type(before, 's0', 'A5', '=A4')
    const after = next(before)
    deleteRows(after, 's0', 1)
    const d = diffDocs(before, after)
    const s = sheetOf(d, 's0')!
    expect(s.rowsDeleted).toEqual(['s0r1'])
    expect(s.cells.map(brief)).toEqual([['A2', 'removed', 'gone', ''], ['B2', 'removed', '=A4', '']])
    expect(s.cells[1]).toMatchObject({ rowId: 's0r1', before: { t: 'f', v: `=${OPEN}s0r3,s0c0${CLOSE}` }, beforeValue: 'stays', afterValue: null })
    // a row already deleted before is not deleted again, and its cells are not listed
    const later = next(after)
    deleteRows(later, 's0', 0)
    expect(sheetOf(diffDocs(after, later), 's0')).toMatchObject({ rowsDeleted: ['s0r0'], cells: [] })
  })

  it('columns inserted and deleted', () => {
    const before = makeDoc([{ name: 'Plan', rows: 3, cols: 3 }])
    type(before, 's0', 'A1', 'a'); type(before, 's0', 'B1', 'b'); type(before, 's0', 'C1', 'c')
    const after = next(before)
    deleteCols(after, 's0', 1)
    const [nc] = insertCols(after, 's0', 0, 1, null, ['newc'])
    type(after, 's0', 'A1', 'x')
    const d = diffDocs(before, after)
    const s = sheetOf(d, 's0')!
    expect([s.colsInserted, s.colsDeleted]).toEqual([[nc], ['s0c1']])
    // A1 (new column) added; B1 of before (now gone) removed at its old address; a and c moved, unchanged
    expect(s.cells.map(brief)).toEqual([['A1', 'added', '', 'x'], ['B1', 'removed', 'b', '']])
  })

  it('cells of a row that came back (undeleted) count as added', () => {
    const before = makeDoc([{ name: 'Plan', rows: 3, cols: 2 }])
    type(before, 's0', 'A2', 'back')
    const middle = next(before)
    deleteRows(middle, 's0', 1)
    const after = next(middle)
    sheetParts(sheetsOf(after).get('s0')!).rowsGone.delete('s0r1')
    const s = sheetOf(diffDocs(middle, after), 's0')!
    expect(s.rowsInserted).toEqual(['s0r1'])
    expect(s.cells.map(brief)).toEqual([['A2', 'added', '', 'back']])
  })
})

describe('sheets', () => {
  it('a sheet added lists its cells; one removed lists none, only its rows and columns; a rename is noted; tab order with removed last', () => {
    const before = makeDoc([{ name: 'Plan', rows: 3, cols: 2 }, { name: 'Old', rows: 4, cols: 2 }, { name: 'Data', rows: 2, cols: 2 }])
    type(before, 's1', 'A1', 'x'); type(before, 's0', 'A1', '=Data!A1'); type(before, 's2', 'A1', '5')
    const after = next(before)
    deleteSheet(after, 's1')
    addSheet(after, { id: 'sN', name: 'New', rowIds: ['n0', 'n1'], colIds: ['nc0'] }, null, 0)
    type(after, 'sN', 'A2', '=Plan!A1')
    renameSheet(after, 's2', '数据')
    setTitle(after, 'new title')
    const d = diffDocs(before, after)
    expect(d.titleChanged).toBe(true)
    expect(d.counts).toEqual({ cells: 1, sheetsAdded: 1, sheetsRemoved: 1, sheetsRenamed: 1 })
    expect(d.sheets.map(s => [s.sheetId, s.name, s.status, s.renamedFrom])).toEqual([
      ['sN', 'New', 'added', undefined], ['s2', '数据', 'changed', 'Data'], ['s1', 'Old', 'removed', undefined],
    ])
    const [added, renamed, removed] = d.sheets
    expect(added!.cells.map(brief)).toEqual([['A2', 'added', '', '=Plan!A1']])
    expect(added!.cells[0]!.afterValue).toBe(5)
    expect([added!.rowsInserted, added!.colsInserted]).toEqual([['n0', 'n1'], ['nc0']])
    expect(renamed!.cells).toEqual([])
    expect(removed).toMatchObject({ cells: [], rowsDeleted: ['s1r0', 's1r1', 's1r2', 's1r3'], colsDeleted: ['s1c0', 's1c1'] })
    // Plan!A1 now reads =数据!A1: the rename is no change of its input
    expect(sheetOf(d, 's0')).toBeUndefined()
    expect(textAt(after, 's0', 'A1')).toBe("='数据'!A1")
  })
})

describe('a sort', () => {
  function plan() {
    const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 8, cols: 3 }, { name: 'Other', id: 's1', rows: 2, cols: 2 }])
    const items: [string, string][] = [['上海', '30'], ['北京', '10'], ['杭州', '50'], ['广州', '20']]
    items.forEach(([a, b], i) => { type(doc, 's0', `A${i + 1}`, a); type(doc, 's0', `B${i + 1}`, b); type(doc, 's0', `C${i + 1}`, `=B${i + 1}*2`) })
    type(doc, 's0', 'A5', '合计'); type(doc, 's0', 'B5', '=SUM(B1:B4)')
    setTotalsRow(doc, 's0', visibleRowIds(sheetsOf(doc).get('s0')!)[4]!)
    type(doc, 's1', 'A1', '=Plan!B2'); type(doc, 's1', 'B1', '=SUM(Plan!B1:B3)')
    addChart(doc, { kind: 'bar', title: 'c', sheet: 's0', labels: 's0c0', series: ['s0c1'], from: 's0r0', to: 's0r3' }, null, 'ch1')
    return doc
  }

  it('reorders rows and changes no cell, though it rewrote the formulas and the chart that keep their positions', () => {
    const before = plan()
    const after = next(before)
    const engine = new FormulaEngine(after)
    sortRows(after, 's0', [{ colId: 's0c1' }], (r, c) => engine.getValueById('s0', r, c))
    engine.destroy()
    // the sort did rewrite stored inputs (range ends, Other's references) and the chart's rows …
    expect(storedAt(after, 's0', 's0r4', 's0c1')).not.toEqual(storedAt(before, 's0', 's0r4', 's0c1'))
    expect(storedAt(after, 's1', 's1r0', 's1c0')).not.toEqual(storedAt(before, 's1', 's1r0', 's1c0'))
    expect(chartsOf(after).get('ch1')!.from).not.toBe('s0r0')
    expect(textAt(after, 's0', 'A1')).toBe('北京')
    // … which read the same cells by position, as before: no change of theirs is listed
    const d = diffDocs(before, after)
    expect(d.sheets).toHaveLength(1)
    expect(d.sheets[0]).toMatchObject({
      sheetId: 's0', status: 'changed', cells: [], rowsReordered: true, rowsInserted: [], rowsDeleted: [], chartsChanged: false, protectionsChanged: false,
    })
    expect(d.counts.cells).toBe(0)
    // an edit after the sort is listed at the row's new address
    const later = next(after)
    type(later, 's0', 'A1', 'Beijing')
    expect(cellsOf(diffDocs(before, later)).map(brief)).toEqual([['A1', 'changed', '北京', 'Beijing']])
    expect(cellsOf(diffDocs(before, later))[0]!.rowId).toBe('s0r1')
  })

  it('a formula retyped to the same text on a row that did not exist before is a change', () => {
    const before = makeDoc([{ name: 'Plan', rows: 5, cols: 2 }])
    type(before, 's0', 'A2', '1'); type(before, 's0', 'B1', '=A2')
    const after = next(before)
    insertRows(after, 's0', 1, 1, null, ['ins'])
    type(after, 's0', 'B1', '=A2')
    expect(cellsOf(diffDocs(before, after)).map(brief)).toEqual([['B1', 'changed', '=A2', '=A2']])
  })
})

describe('protections, locks, charts', () => {
  it('flags the sheet whose protections, lock or charts changed', () => {
    const before = makeDoc([{ name: 'A', rows: 3, cols: 2 }, { name: 'B', rows: 3, cols: 2 }, { name: 'C', rows: 3, cols: 2 }])
    addChart(before, { kind: 'bar', title: 'c', sheet: 's2', labels: 's2c0', series: ['s2c1'] }, null, 'ch1')
    lockSheet(before, 's1', '王经理', null, 1000)
    const same = next(before)
    // writing no protections over none is no change
    setProtections(same, [])
    expect(diffDocs(before, same).sheets).toEqual([])

    const after = next(before)
    setProtections(after, [{ id: 'p1', sheet: 's0', cols: ['s0c1'], names: ['李四'] }])
    unlockSheet(after, 's1')
    updateChart(after, 'ch1', { title: 'renamed chart' })
    const d = diffDocs(before, after)
    const flags = (s: SheetDiff) => [s.sheetId, s.status, s.protectionsChanged, s.lockChanged, s.chartsChanged, s.cells.length]
    expect(d.sheets.map(flags)).toEqual([['s0', 'changed', true, false, false, 0], ['s1', 'changed', false, true, false, 0], ['s2', 'changed', false, false, true, 0]])

    const again = next(after)
    setProtections(again, [{ id: 'p2', sheet: 's0', cols: ['s0c0'] }, { id: 'p1', sheet: 's0', cols: ['s0c1'], names: ['李四'] }])
    const reordered = next(again)
    setProtections(reordered, [{ id: 'p1', sheet: 's0', cols: ['s0c1'], names: ['李四'] }, { id: 'p2', sheet: 's0', cols: ['s0c0'] }])
    expect(diffDocs(after, again).sheets.map(flags)).toEqual([['s0', 'changed', true, false, false, 0]])
    expect(diffDocs(again, reordered).sheets).toEqual([])
  })
})

describe('options', () => {
  it('values: false leaves every value null', () => {
    const before = makeDoc([{ name: 'Plan', rows: 3, cols: 2 }])
    type(before, 's0', 'A1', '1'); type(before, 's0', 'B1', '=A1+1')
    const after = next(before)
    type(after, 's0', 'A1', '2'); type(after, 's0', 'B1', '=A1+2')
    const d = diffDocs(before, after, { values: false })
    expect(cellsOf(d).map(c => [c.cell, c.beforeText, c.afterText, c.beforeValue, c.afterValue])).toEqual([
      ['A1', '1', '2', null, null], ['B1', '=A1+1', '=A1+2', null, null],
    ])
    expect(cellsOf(diffDocs(before, after)).map(c => [c.beforeValue, c.afterValue])).toEqual([[1, 2], [2, 4]])
  })
})

describe('10,000 rows × 10 columns (timing, printed)', () => {
  const ROWS = 10_000, COLS = 10
  function big() {
    const doc = makeDoc([{ name: 'Big', rows: ROWS + 1, cols: COLS }])
    const writes: CellWrite[] = []
    for (let r = 0; r < ROWS; r++) {
      for (let c = 0; c < COLS - 1; c++) writes.push({ rowId: `s0r${r}`, colId: `s0c${c}`, value: c === 0 ? `item ${r}` : r * COLS + c })
      writes.push({ rowId: `s0r${r}`, colId: `s0c${COLS - 1}`, value: { t: 'f', v: `=${OPEN}s0r${r},s0c1${CLOSE}*2` } })
    }
    writes.push({ rowId: `s0r${ROWS}`, colId: 's0c1', value: { t: 'f', v: `=SUM(${OPEN}s0r0,s0c1:s0r${ROWS - 1},s0c1${CLOSE})` } })
    setCells(doc, 's0', writes)
    return doc
  }

  it('diffs 100 edits, an inserted and a deleted row', () => {
    const before = big()
    const after = next(before)
    setCells(after, 's0', Array.from({ length: 100 }, (_v, i) => ({ rowId: `s0r${i * 97}`, colId: 's0c2', value: -i - 1 })))
    insertRows(after, 's0', 5000, 1, null, ['ins'])
    deleteRows(after, 's0', 20)
    const time = (values: boolean) => {
      const t0 = performance.now()
      const d = diffDocs(before, after, { values })
      return { d, ms: performance.now() - t0 }
    }
    const cold = time(false)
    const plain = time(false)
    const valued = time(true)
    console.log(`diff of ${ROWS}×${COLS}: without values ${cold.ms.toFixed(0)} ms (first run), ${plain.ms.toFixed(0)} ms (again); with values (two HyperFormula builds) ${valued.ms.toFixed(0)} ms`)
    const s = plain.d.sheets[0]!
    expect([s.rowsInserted, s.rowsDeleted]).toEqual([['ins'], ['s0r20']])
    // 100 edits (none on the deleted row) + the deleted row's 10 cells
    expect(plain.d.counts.cells).toBe(100 + COLS)
    const edit = valued.d.sheets[0]!.cells.find(c => c.rowId === 's0r97')!
    expect(edit).toMatchObject({ cell: 'C97', kind: 'changed', before: 972, after: -2, beforeValue: 972, afterValue: -2 })
  })

  it('diffs an empty sheet against a full one (every cell added)', () => {
    const empty = makeDoc([{ name: 'Big', rows: ROWS + 1, cols: COLS }])
    const full = big()
    let t0 = performance.now()
    const plain = diffDocs(empty, full, { values: false })
    const plainMs = performance.now() - t0
    t0 = performance.now()
    const valued = diffDocs(empty, full)
    const valuedMs = performance.now() - t0
    console.log(`diff of an empty ${ROWS}×${COLS} sheet against a full one (${plain.counts.cells} cells added): without values ${plainMs.toFixed(0)} ms, with values ${valuedMs.toFixed(0)} ms`)
    expect(plain.counts.cells).toBe(ROWS * COLS + 1)
    expect(valued.sheets[0]!.cells.at(-1)).toMatchObject({ cell: 'B10001', afterText: `=SUM(B1:B${ROWS})`, afterValue: (ROWS * (ROWS - 1) / 2) * COLS + ROWS })
  })
})
