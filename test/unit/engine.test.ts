import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { HyperFormula } from 'hyperformula'
import { FormulaEngine, HF_CONFIG, sheetContent } from '../../src/core/formulas/engine'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { sheetsOf, sheetParts, cellKey } from '../../src/core/workbook/schema'
import {
  addSheet, deleteCols, deleteRows, deleteSheet, insertCols, insertRows, renameSheet, setColumnMeta, setFrozen, setTotalsRow,
} from '../../src/core/workbook/mutations'
import { makeDoc, pair, rng, textAt, type } from '../helpers/workbook'
import { FIRST_SCREEN_ROWS, computeView, firstScreenOf, firstScreenValue, viewMatches, viewOf, type WorkbookView } from '../../src/core/workbook/view'

describe('concurrent structure and formulas', () => {
  it('a formula typed while another replica inserts a row keeps meaning the same cells', () => {
    const a = makeDoc([{ name: 'Sheet1', id: 's0', rows: 10, cols: 3 }], 1)
    const b = new Y.Doc(); b.clientID = 2
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const link = pair(a, b)
    for (const [i, v] of [2, 3, 4, 5].entries()) type(a, 's0', `B${i + 2}`, String(v))
    link.exchange()
    const ea = new FormulaEngine(a), eb = new FormulaEngine(b)
    // concurrently: replica 1 types the total, replica 2 inserts a row at position 3
    type(a, 's0', 'B6', '=SUM(B2:B5)')
    insertRows(b, 's0', 2, 1)
    link.exchange()
    for (const d of [a, b]) expect(textAt(d, 's0', 'B7')).toBe('=SUM(B2:B6)')
    expect(ea.getValue('s0', 6, 1)).toBe(14)
    expect(eb.getValue('s0', 6, 1)).toBe(14)
    // the new row is inside the range: a value typed there counts
    type(b, 's0', 'B3', '10')
    link.exchange()
    expect(ea.getValue('s0', 6, 1)).toBe(24)
    expect(eb.getValue('s0', 6, 1)).toBe(24)
    expect(ea.hf.getCellFormula({ sheet: 0, row: 6, col: 1 })).toBe('=SUM(B2:B6)')
  })

  it('deleting a referenced row gives #REF! on every replica', () => {
    const a = makeDoc([{ name: 'Sheet1', id: 's0', rows: 10, cols: 3 }], 1)
    const b = new Y.Doc(); b.clientID = 2
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const link = pair(a, b)
    const ea = new FormulaEngine(a), eb = new FormulaEngine(b)
    type(a, 's0', 'A1', '7')
    type(a, 's0', 'A2', '=A1*2')
    link.exchange()
    expect(eb.getValue('s0', 1, 0)).toBe(14)
    deleteRows(b, 's0', 0, 1)
    link.exchange()
    for (const e of [ea, eb]) expect(e.getValue('s0', 0, 0)).toEqual({ error: '#REF!', message: expect.any(String) })
    expect(textAt(a, 's0', 'A1')).toBe('=#REF!*2')
  })

  it('shows Excel error values', () => {
    const d = makeDoc([{ name: '市场分析', id: 's0' }, { name: 'Other', id: 's1' }])
    const e = new FormulaEngine(d)
    type(d, 's0', 'A1', '=1/0')
    type(d, 's0', 'A2', '=NOSUCHFN(1)')
    type(d, 's1', 'A1', "='市场分析'!B1+5")
    type(d, 's0', 'B1', '10')
    expect(e.getValue('s0', 0, 0)).toMatchObject({ error: '#DIV/0!' })
    expect(e.getValue('s0', 1, 0)).toMatchObject({ error: '#NAME?' })
    expect(e.getValue('s1', 0, 0)).toBe(15)
    renameSheet(d, 's0', '竞品')
    type(d, 's0', 'B1', '20')
    expect(e.getValue('s1', 0, 0)).toBe(25)
    expect(textAt(d, 's1', 'A1')).toBe("='竞品'!B1+5")
  })
})

/** A fresh HyperFormula built from the doc alone, to compare the incremental adapter against. */
function fresh(doc: Y.Doc) {
  const layout = new WorkbookLayout(doc)
  const sheets: Record<string, ReturnType<typeof sheetContent>> = {}
  for (const id of layout.order) sheets[id] = sheetContent(sheetsOf(doc).get(id)!, layout.sheet(id)!, layout)
  return { hf: HyperFormula.buildFromSheets(sheets, HF_CONFIG), layout }
}

function snapshot(hf: HyperFormula, layout: WorkbookLayout) {
  const out: Record<string, unknown> = {}
  for (const id of layout.order) {
    const sheet = hf.getSheetId(id)!
    const sl = layout.sheet(id)!
    const vals: unknown[] = []
    for (let r = 0; r < sl.rows.length; r++) for (let c = 0; c < sl.cols.length; c++) {
      const addr = { sheet, row: r, col: c }
      const v = hf.getCellValue(addr)
      vals.push([hf.getCellFormula(addr) ?? null, typeof v === 'object' && v !== null ? (v as { value: string }).value : v])
    }
    out[id] = vals
  }
  return out
}

const FORMULAS = ['=SUM(A1:B3)', '=A1*2', '=IFERROR(B2/C2,0)', "=SUM('Two'!A1:A4)", '=$A$1+B$2', '=SUM(A:A)', '=AVERAGE(B2:C5)', '=COUNT(2:3)', '=A1&"x"', "='Two'!B2-A3"]

function randomOps(seed: number, steps: number) {
  const r = rng(seed)
  const doc = makeDoc([{ name: 'One', id: 's0', rows: 8, cols: 5 }, { name: 'Two', id: 's1', rows: 8, cols: 5 }])
  const engine = new FormulaEngine(doc)
  const undo = new Y.UndoManager([sheetsOf(doc), doc.getArray('sheetOrder')], { trackedOrigins: new Set(['me']), captureTimeout: 0 })
  let extra = 0
  for (let i = 0; i < steps; i++) {
    const ids = engine.layout.order
    const sheetId = r.pick(ids)
    const sl = engine.layout.sheet(sheetId)!
    const op = r.int(0, 19)
    if (op < 9 && sl.rows.length && sl.cols.length) {
      const addr = String.fromCharCode(65 + r.int(0, sl.cols.length - 1)) + (r.int(0, sl.rows.length - 1) + 1)
      const text = r.next() < 0.45 ? r.pick(FORMULAS) : r.next() < 0.1 ? '' : String(r.int(-5, 50))
      if (!(sl.cols.length > 26)) type(doc, sheetId, addr, text, 'me')
    } else if (op < 11) insertRows(doc, sheetId, r.int(0, sl.rows.length), r.int(1, 2), 'me')
    else if (op < 13 && sl.rows.length > 2) { const at = r.int(0, sl.rows.length - 2); deleteRows(doc, sheetId, at, r.int(1, Math.min(2, sl.rows.length - at - 1)), 'me') }
    else if (op < 14 && sl.cols.length < 20) insertCols(doc, sheetId, r.int(0, sl.cols.length), 1, 'me')
    else if (op < 15 && sl.cols.length > 2) deleteCols(doc, sheetId, r.int(0, sl.cols.length - 2), 1, 'me')
    else if (op < 17) { if (undo.canUndo()) undo.undo() }
    else if (op < 18) { if (undo.canRedo()) undo.redo() }
    else if (op < 19 && ids.length < 4) addSheet(doc, { name: `Extra${extra++}`, rows: 5, cols: 4 }, 'me')
    else if (ids.length > 2 && sheetId !== 's1' && sheetId !== 's0') deleteSheet(doc, sheetId, 'me')
  }
  return { doc, engine }
}

describe('the incremental adapter equals a freshly built HyperFormula', () => {
  const seeds = Array.from({ length: Number(process.env.ENGINE_SEEDS ?? 40) }, (_, i) => 1000 + i * 7919)
  it.each(seeds)('seed %i', (seed) => {
    const { doc, engine } = randomOps(seed, 150)
    const f = fresh(doc)
    try {
      expect(snapshot(engine.hf, engine.layout)).toEqual(snapshot(f.hf, f.layout))
    } catch (e) {
      console.error(`adapter diverged from a fresh build; replay with seed ${seed}`)
      throw e
    }
  })
})

describe('cells', () => {
  it('text that looks like a number or formula stays text', () => {
    const d = makeDoc()
    const e = new FormulaEngine(d)
    type(d, 's0', 'A1', "'=1+1")
    type(d, 's0', 'A2', "'0012")
    type(d, 's0', 'A3', '2026-06-18')
    type(d, 's0', 'A4', '=A3+1')
    expect(e.getValue('s0', 0, 0)).toBe('=1+1')
    expect(e.getValue('s0', 1, 0)).toBe('0012')
    expect(e.getValue('s0', 3, 0)).toBe(46192)
    const cells = sheetParts(sheetsOf(d).get('s0')!).cells
    expect(cells.get(cellKey('s0r2', 's0c0'))).toEqual({ t: 'd', v: '2026-06-18' })
  })
})

describe('undo of another structure change', () => {
  it('undoing an insert that a colleague referenced gives #REF! in the engine too, as on a fresh load', () => {
    const a = makeDoc([{ name: 'Sheet1', id: 's0', rows: 10, cols: 3 }], 1)
    const b = new Y.Doc(); b.clientID = 2
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const link = pair(a, b)
    for (let i = 1; i <= 5; i++) type(a, 's0', `A${i}`, String(i))
    link.exchange()
    const ea = new FormulaEngine(a)
    const undo = new Y.UndoManager([sheetsOf(a)], { trackedOrigins: new Set(['me']) })
    insertRows(a, 's0', 5, 1, 'me')
    link.exchange()
    type(b, 's0', 'C1', '=SUM(A1:A6)')
    link.exchange()
    undo.undo()
    link.exchange()
    const f = fresh(a)
    expect(snapshot(ea.hf, ea.layout)).toEqual(snapshot(f.hf, f.layout))
    expect(ea.getValue('s0', 0, 2)).toMatchObject({ error: '#REF!' })
  })

  it('renaming a sheet re-reads formulas that name it as text', () => {
    const d = makeDoc([{ name: 'One', id: 's0', rows: 5, cols: 3 }, { name: 'Data', id: 's1', rows: 5, cols: 3 }])
    const e = new FormulaEngine(d)
    type(d, 's1', 'A1', '42')
    type(d, 's0', 'A1', '=Foo!A1+1') // no sheet Foo yet: kept as text
    renameSheet(d, 's1', 'Foo')
    const f = fresh(d)
    expect(snapshot(e.hf, e.layout)).toEqual(snapshot(f.hf, f.layout))
    expect(e.getValue('s0', 0, 0)).toBe(43)
  })
})

describe('structure changes that arrive out of the order they were made', () => {
  const values = (d: Y.Doc) => { for (let i = 1; i <= 6; i++) type(d, 's0', `A${i}`, String(i)) }

  it('a row inserted inside a range and the range\'s end row deleted, in one update, leave the new row inside', () => {
    const a = makeDoc([{ name: 'Sheet1', id: 's0', rows: 8, cols: 3 }], 1)
    values(a)
    type(a, 's0', 'B1', '=SUM(A2:A5)')
    const b = new Y.Doc(); b.clientID = 2
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const eb = new FormulaEngine(b)
    const sv = Y.encodeStateVector(b)
    // on a: a row above A5 (inside the range), a value in it, then the old end row A5 goes
    insertRows(a, 's0', 4, 1)
    type(a, 's0', 'A5', '100')
    deleteRows(a, 's0', 5, 1)
    expect(textAt(a, 's0', 'B1')).toBe('=SUM(A2:A5)')
    // b gets all three in one update: its engine sees the removal and the insert together
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a, sv))
    expect(textAt(b, 's0', 'B1')).toBe('=SUM(A2:A5)')
    expect(eb.getValue('s0', 0, 1)).toBe(2 + 3 + 4 + 100)
    const f = fresh(b)
    expect(snapshot(eb.hf, eb.layout)).toEqual(snapshot(f.hf, f.layout))
  })

  it('a row inserted before a range\'s end row while another replica deletes that row stays outside everywhere', () => {
    const a = makeDoc([{ name: 'Sheet1', id: 's0', rows: 8, cols: 3 }], 1)
    values(a)
    type(a, 's0', 'B1', '=SUM(A2:A5)')
    const b = new Y.Doc(); b.clientID = 2
    const c = new Y.Doc(); c.clientID = 3
    for (const d of [b, c]) Y.applyUpdate(d, Y.encodeStateAsUpdate(a))
    const ec = new FormulaEngine(c)
    const base = Y.encodeStateVector(a)
    // concurrently: a deletes the end row A5; b inserts a row right above it and types there
    deleteRows(a, 's0', 4, 1)
    insertRows(b, 's0', 4, 1)
    type(b, 's0', 'A5', '100')
    const fromA = Y.encodeStateAsUpdate(a, base), fromB = Y.encodeStateAsUpdate(b, base)
    // c hears b first, then a; a and b then hear each other
    Y.applyUpdate(c, fromB)
    expect(ec.getValue('s0', 0, 1)).toBe(2 + 3 + 4 + 100 + 5)
    Y.applyUpdate(c, fromA)
    Y.applyUpdate(a, fromB)
    Y.applyUpdate(b, fromA)
    // the deleted end resolves to the row that was above it when it was deleted: A4
    for (const d of [a, b, c]) expect(textAt(d, 's0', 'B1')).toBe('=SUM(A2:A4)')
    expect(ec.getValue('s0', 0, 1)).toBe(2 + 3 + 4)
    const f = fresh(c)
    expect(snapshot(ec.hf, ec.layout)).toEqual(snapshot(f.hf, f.layout))
  })
})

describe('a row deleted twice at once', () => {
  it('the tombstone that wins moves a range end onto a row inserted meanwhile, in the engine too', () => {
    const a = makeDoc([{ name: 'Sheet1', id: 's0', rows: 8, cols: 3 }], 1)
    for (let i = 1; i <= 6; i++) type(a, 's0', `A${i}`, String(i))
    type(a, 's0', 'B1', '=SUM(A2:A5)')
    const b = new Y.Doc(); b.clientID = 2
    const c = new Y.Doc(); c.clientID = 3
    for (const d of [b, c]) Y.applyUpdate(d, Y.encodeStateAsUpdate(a))
    const ec = new FormulaEngine(c)
    const base = Y.encodeStateVector(a)
    // a deletes the end row A5; b inserts a row above it, types there, then deletes A5 too
    deleteRows(a, 's0', 4, 1)
    insertRows(b, 's0', 4, 1)
    type(b, 's0', 'A5', '100')
    deleteRows(b, 's0', 5, 1)
    const fromA = Y.encodeStateAsUpdate(a, base), fromB = Y.encodeStateAsUpdate(b, base)
    Y.applyUpdate(c, fromA)
    expect(ec.getValue('s0', 0, 1)).toBe(2 + 3 + 4)
    Y.applyUpdate(c, fromB)
    Y.applyUpdate(a, fromB)
    Y.applyUpdate(b, fromA)
    // b's tombstone wins (the higher client id): the range ends at the row b inserted
    for (const d of [a, b, c]) expect(textAt(d, 's0', 'B1')).toBe('=SUM(A2:A5)')
    expect(ec.getValue('s0', 0, 1)).toBe(2 + 3 + 4 + 100)
    const f = fresh(c)
    expect(snapshot(ec.hf, ec.layout)).toEqual(snapshot(f.hf, f.layout))
  })
})

describe('formulas naming a sheet that does not exist', () => {
  it('can be typed over, read as #REF!, and work once a sheet gets that name', () => {
    const d = makeDoc([{ name: 'One', id: 's0', rows: 5, cols: 3 }, { name: 'Two', id: 's1', rows: 5, cols: 3 }])
    const e = new FormulaEngine(d)
    type(d, 's1', 'A1', '42')
    // HyperFormula would make a placeholder sheet for 数据, and then throw when the cell is set again
    type(d, 's0', 'A1', "='数据'!A1+1")
    expect(e.getValue('s0', 0, 0)).toMatchObject({ error: '#REF!' })
    type(d, 's0', 'A1', "='数据'!A1+2")
    expect(e.getValue('s0', 0, 0)).toMatchObject({ error: '#REF!' })
    expect(textAt(d, 's0', 'A1')).toBe("='数据'!A1+2")
    renameSheet(d, 's1', '数据')
    expect(e.getValue('s0', 0, 0)).toBe(44)
    const f = fresh(d)
    expect(snapshot(e.hf, e.layout)).toEqual(snapshot(f.hf, f.layout))
  })
})

describe('a workbook view, computed, taken over by the engine', () => {
  it.each([2001, 2002, 2003])('seed %i: equals the engine built from the doc, then stays in step with edits', (seed) => {
    const { doc, engine: built } = randomOps(seed, 80)
    built.destroy()
    // the view goes as JSON, as the server sends it
    const view = JSON.parse(JSON.stringify(viewOf(doc)))
    expect(viewMatches(view, doc)).toBe(true)
    const taken = new FormulaEngine(doc, {}, computeView(view))
    const fromDoc = fresh(doc)
    expect(snapshot(taken.hf, taken.layout)).toEqual(snapshot(fromDoc.hf, fromDoc.layout))
    fromDoc.hf.destroy()
    // later edits, structure included, reach the taken-over instance as they reach any engine
    const more = rng(seed + 1)
    for (let i = 0; i < 30; i++) {
      const sheetId = more.pick(taken.layout.order)
      const sl = taken.layout.sheet(sheetId)!
      if (i % 7 === 3) insertRows(doc, sheetId, more.int(0, sl.rows.length), 1, 'me')
      else if (sl.rows.length && sl.cols.length && sl.cols.length <= 26) {
        type(doc, sheetId, String.fromCharCode(65 + more.int(0, sl.cols.length - 1)) + (more.int(0, sl.rows.length - 1) + 1), more.next() < 0.5 ? '=SUM(A1:A3)+1' : String(more.int(0, 99)), 'me')
      }
    }
    const after = fresh(doc)
    expect(snapshot(taken.hf, taken.layout)).toEqual(snapshot(after.hf, after.layout))
    after.hf.destroy()
    taken.destroy()
  })

  it('a view is of one version: any change makes it not match, a deletion alone too', () => {
    const doc = makeDoc()
    type(doc, 's0', 'A1', '1')
    type(doc, 's0', 'A2', '2')
    const view = viewOf(doc)
    expect(viewMatches(view, doc)).toBe(true)
    type(doc, 's0', 'A3', '3')
    expect(viewMatches(view, doc)).toBe(false)
    // clearing a cell deletes its entry: the state vector stays as it was, the delete set does not
    const before = viewOf(doc)
    const vector = Y.encodeStateVector(doc)
    type(doc, 's0', 'A2', '')
    expect(Y.encodeStateVector(doc)).toEqual(vector)
    expect(viewMatches(before, doc)).toBe(false)
    // the same content reached another way (a replica) matches
    const replica = new Y.Doc()
    Y.applyUpdate(replica, Y.encodeStateAsUpdate(doc))
    expect(viewMatches(viewOf(doc), replica)).toBe(true)
    expect(viewMatches({ vector: viewOf(doc).vector, snapshot: 'not base64!' }, replica)).toBe(false)
  })

  it('carries column settings, frozen panes and the totals row by visible position', () => {
    const doc = makeDoc([{ name: '计划', id: 's0', rows: 4, cols: 2 }])
    setColumnMeta(doc, 's0', 's0c1', { title: '预算', type: 'currency', decimals: 0 })
    setFrozen(doc, 's0', { rows: 1, cols: 1 })
    setTotalsRow(doc, 's0', 's0r3')
    type(doc, 's0', 'B1', '=1+2')
    const [sheet] = viewOf(doc).sheets
    expect(sheet).toMatchObject({ id: 's0', name: '计划', cols: [null, { title: '预算', type: 'currency', decimals: 0 }], frozenRows: 1, frozenCols: 1, totalsRow: 3 })
    expect(sheet!.content[0]![1]).toBe('=1+2')
  })

  it('the first screen: top rows and a totals row below them as the engine computes them; below, inputs but not formulas', () => {
    const rows = FIRST_SCREEN_ROWS + 80
    const doc = makeDoc([{ name: '计划', id: 's0', rows, cols: 3 }])
    for (let r = 1; r < rows; r++) { type(doc, 's0', `A${r}`, String(r)); type(doc, 's0', `B${r}`, `=A${r}*2`) }
    type(doc, 's0', 'C1', '=1/0')
    type(doc, 's0', 'C2', 'text')
    type(doc, 's0', `C${FIRST_SCREEN_ROWS + 10}`, '华东 旗舰店')
    type(doc, 's0', `A${rows}`, '合计'); type(doc, 's0', `B${rows}`, `=SUM(B1:B${rows - 1})`)
    setTotalsRow(doc, 's0', `s0r${rows - 1}`)
    const view: WorkbookView = JSON.parse(JSON.stringify(viewOf(doc)))
    const hf = computeView(view)
    const first = firstScreenOf(view, hf)!
    hf.destroy()
    expect(first.rows).toBe(FIRST_SCREEN_ROWS)
    expect(first.values[0]).toEqual([1, 2, { error: '#DIV/0!' }])
    expect(first.values[1]).toEqual([2, 4, 'text'])
    const sum = (rows - 1) * rows
    expect(first.totals).toEqual(['合计', sum, null])
    const sheet = view.sheets[0]!
    const engine = new FormulaEngine(doc)
    try {
      expect(firstScreenValue(first, sheet, 5, 1)).toBe(engine.getValue('s0', 5, 1))
      expect(firstScreenValue(first, sheet, rows - 1, 1)).toBe(engine.getValue('s0', rows - 1, 1))
      // below the first screen: the input of a plain cell; a formula is not computed yet
      expect(firstScreenValue(first, sheet, FIRST_SCREEN_ROWS + 3, 0)).toBe(FIRST_SCREEN_ROWS + 4)
      expect(firstScreenValue(first, sheet, FIRST_SCREEN_ROWS + 3, 1)).toBeUndefined()
      expect(firstScreenValue(first, sheet, FIRST_SCREEN_ROWS + 3, 2)).toBeNull()
      expect(firstScreenValue(first, sheet, FIRST_SCREEN_ROWS + 9, 2)).toBe('华东 旗舰店')
      expect(engine.getValue('s0', FIRST_SCREEN_ROWS + 9, 2)).toBe('华东 旗舰店')
    } finally {
      engine.destroy()
    }
  })
})
