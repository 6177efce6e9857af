import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { encodeFormula } from '../../src/core/formulas/references'
import { sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { editCells, insertRows, deleteRows, setColumnFormula, setColumnMeta, setTotalsRow } from '../../src/core/workbook/mutations'
import { inputFromText } from '../../src/core/workbook/input'
import { matchRule, ruleStyle, toColumnFormula, totalsRowOf, validationProblem } from '../../src/core/workbook/table'
import { layoutOf, makeDoc, pair, textAt, type } from '../helpers/workbook'

/** A sheet s0 (20×4): A = qty, B = price, C = calculated A*B, with rows 1–3 filled and a totals row 4. */
function tableDoc(withTotals = true, clientID?: number): Y.Doc {
  const doc = makeDoc([{ name: 'Sheet1', id: 's0', rows: 20, cols: 4 }], clientID)
  const layout = layoutOf(doc)
  const rows = layout.sheet('s0')!.rows.ids
  const stored = encodeFormula('=IF(OR(A1="",B1=""),"",A1*B1)', { layout, sheetId: 's0' })
  setColumnMeta(doc, 's0', 's0c2', { formula: toColumnFormula(stored, rows[0]!) })
  ;[[1, 10], [2, 20], [3, 30]].forEach(([q, p], i) => {
    edit(doc, `A${i + 1}`, String(q))
    edit(doc, `B${i + 1}`, String(p))
  })
  if (withTotals) {
    type(doc, 's0', 'A4', 'Total')
    type(doc, 's0', 'C4', '=SUM(C1:C3)')
    setTotalsRow(doc, 's0', rows[3]!)
  }
  return doc
}

/** Types into a cell the way the grid does (editCells, so the table can grow). */
function edit(doc: Y.Doc, addr: string, text: string, origin: unknown = null): void {
  const layout = layoutOf(doc)
  const sl = layout.sheet('s0')!
  const m = /^([A-Z])(\d+)$/.exec(addr)!
  const col = m[1]!.charCodeAt(0) - 65, row = Number(m[2]) - 1
  const meta = sheetParts(sheetsOf(doc).get('s0')!).colMeta.get(sl.cols.ids[col]!) as ColumnMeta | undefined
  editCells(doc, 's0', [{ rowId: sl.rows.ids[row]!, colId: sl.cols.ids[col]!, value: inputFromText(text, { layout, sheetId: 's0' }, meta) }], origin)
}

describe('calculated columns', () => {
  it('rows typed into get the column formula, each pointing at its own row', () => {
    const doc = tableDoc(false)
    const engine = new FormulaEngine(doc)
    expect(textAt(doc, 's0', 'C2')).toBe('=IF(OR(A2="",B2=""),"",A2*B2)')
    expect(engine.getValue('s0', 2, 2)).toBe(90)
    // the row right below the table grows it
    edit(doc, 'A4', '4')
    expect(textAt(doc, 's0', 'C4')).toBe('=IF(OR(A4="",B4=""),"",A4*B4)')
    expect(engine.getValue('s0', 3, 2)).toBe('')
    edit(doc, 'B4', '5')
    expect(engine.getValue('s0', 3, 2)).toBe(20)
    // a row typed further down, after an empty row, is not part of the table
    edit(doc, 'A7', 'note')
    expect(textAt(doc, 's0', 'C7')).toBe('')
  })

  it('a pasted block below the table extends it row by row', () => {
    const doc = tableDoc(false)
    const layout = layoutOf(doc)
    const sl = layout.sheet('s0')!
    editCells(doc, 's0', [4, 5, 6].map(r => ({ rowId: sl.rows.ids[r - 1]!, colId: 's0c0', value: r })))
    for (const r of [4, 5, 6]) expect(textAt(doc, 's0', `C${r}`)).toBe(`=IF(OR(A${r}="",B${r}=""),"",A${r}*B${r})`)
  })

  it('a value typed over a calculated cell stays; an existing row never gets refilled', () => {
    const doc = tableDoc(false)
    edit(doc, 'C2', '7')
    edit(doc, 'A2', '9')
    expect(textAt(doc, 's0', 'C2')).toBe('7')
  })

  it('inserted rows inside the table get the formula; rows inserted below the totals row do not', () => {
    const doc = tableDoc()
    const engine = new FormulaEngine(doc)
    insertRows(doc, 's0', 1, 2)
    expect(textAt(doc, 's0', 'C2')).toBe('=IF(OR(A2="",B2=""),"",A2*B2)')
    expect(textAt(doc, 's0', 'C3')).toBe('=IF(OR(A3="",B3=""),"",A3*B3)')
    expect(engine.getValue('s0', 1, 2)).toBe('')
    expect(textAt(doc, 's0', 'C6')).toBe('=SUM(C1:C5)')
    insertRows(doc, 's0', 6, 1) // below the totals row (now row 6)
    expect(textAt(doc, 's0', 'C7')).toBe('')
  })
})

describe('making a column calculated from the grid', () => {
  it('fills every data row above the totals row with the formula for its row, and new rows follow', () => {
    const doc = tableDoc()
    const engine = new FormulaEngine(doc)
    type(doc, 's0', 'D2', '=B2-A2')
    const layout = layoutOf(doc)
    const stored = (sheetParts(sheetsOf(doc).get('s0')!).cells.get('s0r1:s0c3') as { v: string }).v
    setColumnFormula(doc, 's0', 's0c3', { rowId: layout.sheet('s0')!.rows.ids[1]!, stored })
    expect(['D1', 'D2', 'D3', 'D4'].map(a => textAt(doc, 's0', a))).toEqual(['=B1-A1', '=B2-A2', '=B3-A3', ''])
    expect(engine.getValue('s0', 2, 3)).toBe(27)
    insertRows(doc, 's0', 3, 1)
    expect(textAt(doc, 's0', 'D4')).toBe('=B4-A4')
    setColumnFormula(doc, 's0', 's0c3', null)
    insertRows(doc, 's0', 4, 1)
    expect(textAt(doc, 's0', 'D5')).toBe('')
    expect(textAt(doc, 's0', 'D1')).toBe('=B1-A1')
  })
})

describe('references to other rows in calculated columns', () => {
  it('keep their distance from the row: a running balance filled down the column', () => {
    const doc = makeDoc([{ name: 'Sheet1', id: 's0', rows: 12, cols: 3 }])
    ;['5', '7', '9'].forEach((v, i) => type(doc, 's0', `A${i + 1}`, v))
    type(doc, 's0', 'A6', 'notes below the table')
    type(doc, 's0', 'B3', '=B2+A3')
    const stored = (sheetParts(sheetsOf(doc).get('s0')!).cells.get('s0r2:s0c1') as { v: string }).v
    setColumnFormula(doc, 's0', 's0c1', { rowId: 's0r2', stored })
    // row 1 has no row above it: #REF!, as when Excel fills a formula past the edge
    expect(['B1', 'B2', 'B3', 'B6'].map(a => textAt(doc, 's0', a))).toEqual(['=#REF!', '=B1+A2', '=B2+A3', ''])
    type(doc, 's0', 'B1', '=A1')
    edit(doc, 'A4', '11')
    expect(textAt(doc, 's0', 'B4')).toBe('=B3+A4')
    const engine = new FormulaEngine(doc)
    expect(engine.getValue('s0', 3, 1)).toBe(32)
    // inserted between rows 2 and 3, the new row points at the row above it
    insertRows(doc, 's0', 2, 1)
    expect(textAt(doc, 's0', 'B3')).toBe('=B2+A3')
  })
})

describe('totals row', () => {
  it('leaves a running total ("up to this row") alone when rows are added above the totals row', () => {
    const doc = tableDoc()
    type(doc, 's0', 'D1', '=SUM($C$1:C1)')
    type(doc, 's0', 'D3', '=SUM($C$1:C3)')
    insertRows(doc, 's0', 3, 1)
    expect(textAt(doc, 's0', 'D3')).toBe('=SUM($C$1:C3)')
    expect(textAt(doc, 's0', 'C5')).toBe('=SUM(C1:C4)')
  })

  it('grows ranges inside column formulas too, so rows added later share the same total', () => {
    const doc = tableDoc()
    const layout = layoutOf(doc)
    const stored = encodeFormula('=IF(C1="","",C1/SUM($C$1:$C$3))', { layout, sheetId: 's0' })
    setColumnFormula(doc, 's0', 's0c3', { rowId: 's0r0', stored })
    insertRows(doc, 's0', 3, 1)
    insertRows(doc, 's0', 1, 1)
    expect(textAt(doc, 's0', 'D2')).toBe('=IF(C2="","",C2/SUM($C$1:$C$5))')
    expect(textAt(doc, 's0', 'D1')).toBe('=IF(C1="","",C1/SUM($C$1:$C$5))')
  })

  it('rows inserted right above the totals row join its ranges, and undo takes both back', () => {
    const doc = tableDoc()
    const engine = new FormulaEngine(doc)
    const undo = new Y.UndoManager(sheetsOf(doc), { trackedOrigins: new Set(['me']) })
    expect(engine.getValue('s0', 3, 2)).toBe(140)
    insertRows(doc, 's0', 3, 2, 'me')
    expect(textAt(doc, 's0', 'C6')).toBe('=SUM(C1:C5)')
    edit(doc, 'A5', '2', 'me'); edit(doc, 'B5', '50', 'me')
    expect(engine.getValue('s0', 5, 2)).toBe(240)
    undo.undo()
    expect(textAt(doc, 's0', 'C4')).toBe('=SUM(C1:C3)')
    expect(engine.getValue('s0', 3, 2)).toBe(140)
  })

  it('formulas on other sheets over the table column grow too; single cells and absolute ends are kept apart', () => {
    const doc = makeDoc([{ name: 'Data', id: 's0', rows: 10, cols: 3 }, { name: 'Report', id: 's1', rows: 5, cols: 3 }])
    for (const [i, v] of [1, 2, 3].entries()) type(doc, 's0', `B${i + 1}`, String(v))
    type(doc, 's0', 'B4', '=SUM(B1:B3)')
    setTotalsRow(doc, 's0', 's0r3')
    type(doc, 's1', 'A1', '=SUM(Data!B1:B3)')
    type(doc, 's1', 'A2', '=Data!B3')
    type(doc, 's1', 'A3', '=SUM(Data!$B$1:$B$3)')
    insertRows(doc, 's0', 3, 1)
    expect(textAt(doc, 's1', 'A1')).toBe('=SUM(Data!B1:B4)')
    expect(textAt(doc, 's1', 'A2')).toBe('=Data!B3')
    expect(textAt(doc, 's1', 'A3')).toBe('=SUM(Data!$B$1:$B$4)')
  })

  it('a deleted totals row is no longer the totals row', () => {
    const doc = tableDoc()
    expect(totalsRowOf(sheetsOf(doc).get('s0')!)).toBe('s0r3')
    deleteRows(doc, 's0', 3, 1)
    expect(totalsRowOf(sheetsOf(doc).get('s0')!)).toBeUndefined()
  })

  it('two people adding rows above the totals row at once converge to the same sums', () => {
    const a = tableDoc(true, 1)
    const b = new Y.Doc(); b.clientID = 2
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const link = pair(a, b)
    insertRows(a, 's0', 3, 1)
    insertRows(b, 's0', 3, 1)
    link.exchange()
    expect(textAt(a, 's0', 'C6')).toBe(textAt(b, 's0', 'C6'))
    expect(Y.encodeStateVector(a)).toEqual(Y.encodeStateVector(b))
    const cells = (d: Y.Doc) => sheetParts(sheetsOf(d).get('s0')!).cells.toJSON()
    expect(cells(a)).toEqual(cells(b))
    // both new rows got the column formula
    for (const r of [4, 5]) expect(textAt(a, 's0', `C${r}`)).toBe(`=IF(OR(A${r}="",B${r}=""),"",A${r}*B${r})`)
  })
})

describe('colour rules and validation', () => {
  it('matches numbers with a tolerance and text exactly', () => {
    expect(matchRule({ op: '=', value: 1, style: 'good' }, 0.4 + 0.3 + 0.15 + 0.15)).toBe(true)
    expect(matchRule({ op: '<>', value: 1, style: 'bad' }, 0.95)).toBe(true)
    expect(matchRule({ op: '<>', value: 1, style: 'bad' }, null)).toBe(false)
    expect(matchRule({ op: '<', value: 0.3, style: 'bad' }, 0.1875)).toBe(true)
    expect(matchRule({ op: '<', value: 0.3, style: 'bad' }, 'x')).toBe(false)
    expect(matchRule({ op: 'between', value: 1, value2: 3, style: 'warn' }, 3)).toBe(true)
    expect(matchRule({ op: '=', value: '滞销', style: 'bad' }, '滞销')).toBe(true)
    expect(matchRule({ op: 'notEmpty', style: 'bad' }, '')).toBe(false)
  })

  it('takes the first matching rule, tests other columns, and scopes to data or totals rows', () => {
    const meta: ColumnMeta = { rules: [
      { op: '=', value: 'off', colId: 'status', style: 'bad' },
      { op: '>=', value: 0, style: 'good' },
      { op: '<>', value: 1, rows: 'totals', style: 'bad' },
    ] }
    const values: Record<string, unknown> = { self: 0.5, status: 'off' }
    const v = (id?: string) => values[id ?? 'self'] as never
    expect(ruleStyle(meta, v, false)).toBe('bad')
    values.status = 'on'
    expect(ruleStyle(meta, v, false)).toBe('good')
    expect(ruleStyle(meta, v, true)).toBe('bad')
  })

  it('flags values outside a dropdown or bounds, never empty cells', () => {
    expect(validationProblem({ type: 'select', options: ['是', '否'] }, '也许')).toMatchObject({ code: 'not-in-options' })
    expect(validationProblem({ type: 'select', options: ['是', '否'] }, '是')).toBeUndefined()
    expect(validationProblem({ validation: { min: 1, max: 5, integer: true } }, 6)).toMatchObject({ code: 'above-max', max: 5 })
    expect(validationProblem({ validation: { min: 1, max: 5, integer: true } }, 2.5)).toMatchObject({ code: 'not-integer' })
    expect(validationProblem({ validation: { min: 1 } }, 'abc')).toMatchObject({ code: 'not-number' })
    expect(validationProblem({ validation: { min: 1 } }, null)).toBeUndefined()
  })
})

describe('boolean literals', () => {
  it('TRUE and FALSE work as Excel literals, also next to sheet references and in strings', () => {
    const doc = makeDoc([{ name: '规则', id: 's0', rows: 5, cols: 3 }])
    type(doc, 's0', 'A1', '0'); type(doc, 's0', 'B1', 'low')
    type(doc, 's0', 'A2', '0.5'); type(doc, 's0', 'B2', 'high')
    type(doc, 's0', 'C1', "=VLOOKUP(0.7,'规则'!A1:B2,2,TRUE)")
    type(doc, 's0', 'C2', '=IF(FALSE,"TRUE","FALSE")')
    type(doc, 's0', 'C3', '=AND(TRUE,true)')
    const engine = new FormulaEngine(doc)
    expect(engine.getValue('s0', 0, 2)).toBe('high')
    expect(engine.getValue('s0', 1, 2)).toBe('FALSE')
    expect(engine.getValue('s0', 2, 2)).toBe(true)
  })
})
