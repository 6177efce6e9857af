/** Find and replace: in one sheet or all, case, whole cell, typed text or shown values; replace-all one undo step, protected cells skipped. */
import { describe, expect, it } from 'vitest'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { findCells, replaceCells, replacedText } from '../../src/core/workbook/find'
import { personalUndo } from '../../src/sync/undo'
import { makeDoc, textAt, type } from '../helpers/workbook'

function book() {
  const doc = makeDoc([{ name: '计划', id: 's0', rows: 6, cols: 3 }, { name: '预算', id: 's1', rows: 4, cols: 2 }])
  type(doc, 's0', 'A1', '天猫旗舰店'); type(doc, 's0', 'A2', '京东自营'); type(doc, 's0', 'A3', '天猫')
  type(doc, 's0', 'B1', '100'); type(doc, 's0', 'B2', '=B1*2'); type(doc, 's0', 'C1', 'Tmall'); type(doc, 's0', 'C2', 'tmall store')
  type(doc, 's1', 'A1', '天猫预算'); type(doc, 's1', 'B1', '=计划!B1+200')
  return doc
}

describe('find and replace', () => {
  it('finds in this sheet or all sheets, by case, whole cell, typed text or shown values', () => {
    const doc = book()
    const e = new FormulaEngine(doc)
    const v = (s: string, r: string, c: string) => e.getValueById(s, r, c)
    const where = (o: Parameters<typeof findCells>[1]) => findCells(doc, o, v).found.map(f => `${f.sheetId}:${f.row},${f.col}`)
    expect(where({ query: '天猫', scope: 'sheet', sheetId: 's0' })).toEqual(['s0:0,0', 's0:2,0'])
    expect(where({ query: '天猫', scope: 'all', sheetId: 's0' })).toEqual(['s0:0,0', 's0:2,0', 's1:0,0'])
    expect(where({ query: '天猫', scope: 'sheet', sheetId: 's0', wholeCell: true })).toEqual(['s0:2,0'])
    expect(where({ query: 'tmall', scope: 'sheet', sheetId: 's0' })).toEqual(['s0:0,2', 's0:1,2'])
    expect(where({ query: 'tmall', scope: 'sheet', sheetId: 's0', matchCase: true })).toEqual(['s0:1,2'])
    // typed text has the formula; shown values have its result
    expect(where({ query: 'B1*2', scope: 'sheet', sheetId: 's0' })).toEqual(['s0:1,1'])
    expect(where({ query: '200', scope: 'sheet', sheetId: 's0', lookIn: 'values' })).toEqual(['s0:1,1'])
    expect(where({ query: '300', scope: 'all', sheetId: 's1', lookIn: 'values' })).toEqual(['s1:0,1'])
    expect(where({ query: '', scope: 'all', sheetId: 's0' })).toEqual([])
    // regular-expression characters are text
    expect(replacedText('a.b*c', { query: '.', scope: 'sheet', sheetId: 's0' }, '$1')).toBe('a$1b*c')
    e.destroy()
  })

  it('replaces all in one undo step, formulas too, and skips cells the person may not edit', () => {
    const doc = book()
    const e = new FormulaEngine(doc)
    const o = { query: '天猫', scope: 'all' as const, sheetId: 's0' }
    const found = findCells(doc, o, (s, r, c) => e.getValueById(s, r, c)).found
    const origin = { who: 'me' }
    const undo = personalUndo(doc, origin)
    const protectedCell = found.find(f => f.sheetId === 's1')!
    const res = replaceCells(doc, found, o, '淘宝', c => c !== protectedCell, origin)
    expect(res).toMatchObject({ replaced: 2, skipped: 1 })
    expect(res.firstSkipped).toBe(protectedCell)
    expect(textAt(doc, 's0', 'A1')).toBe('淘宝旗舰店')
    expect(textAt(doc, 's0', 'A3')).toBe('淘宝')
    expect(textAt(doc, 's1', 'A1')).toBe('天猫预算')
    // a replace inside formulas keeps them formulas
    const inBudget = { query: 'B1', scope: 'sheet' as const, sheetId: 's1' }
    const f = findCells(doc, inBudget, (s, r, c) => e.getValueById(s, r, c)).found
    expect(f.length).toBe(1)
    replaceCells(doc, f, inBudget, 'B2', () => true, origin)
    expect(textAt(doc, 's1', 'B1')).toBe("='计划'!B2+200")
    expect(e.getValue('s1', 0, 1)).toBe(400)
    undo.undo()
    expect(textAt(doc, 's1', 'B1')).toBe("='计划'!B1+200")
    undo.undo()
    expect(textAt(doc, 's0', 'A1')).toBe('天猫旗舰店')
    expect(textAt(doc, 's0', 'A3')).toBe('天猫')
    undo.destroy()
    e.destroy()
  })
})
