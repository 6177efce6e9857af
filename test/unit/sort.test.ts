/**
 * Sorting rows: Excel's order (numbers, text in pinyin order, booleans, errors, empty last), the
 * header and totals rows in place, formulas in the sorted rows moving with their row, references from
 * elsewhere and range ends keeping their positions (the totals give the same values), one undo step,
 * and a colleague's concurrent edit landing on the row its author meant.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { setFrozen, setTotalsRow } from '../../src/core/workbook/mutations'
import { sheetsOf, visibleRowIds } from '../../src/core/workbook/schema'
import { compareValues, dataRows, sortRows } from '../../src/core/workbook/sort'
import { personalUndo } from '../../src/sync/undo'
import { checkChange, defineRoots } from '../../src/core/access/access'
import { makeDoc, pair, textAt, type } from '../helpers/workbook'

const col = (doc: Y.Doc, sheet: string, c: number) => {
  const e = new FormulaEngine(doc)
  try { return e.layout.sheet(sheet)!.cols.ids[c]! } finally { e.destroy() }
}

/** The computed values of column `c` (0-based), rows 1..n */
function column(engine: FormulaEngine, sheet: string, c: number, n: number): unknown[] {
  return Array.from({ length: n }, (_v, r) => engine.getValue(sheet, r, c))
}

function plan() {
  // A: item, B: amount, C: =B*2 (own row), row 7 the totals row; sheet 2 reads Plan!B2 and a range
  const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 10, cols: 4 }, { name: 'Other', id: 's1', rows: 3, cols: 2 }])
  const items: [string, string][] = [['上海', '30'], ['北京', '10'], ['', ''], ['杭州', '50'], ['成都', ''], ['广州', '20']]
  items.forEach(([a, b], i) => {
    if (a) type(doc, 's0', `A${i + 1}`, a)
    if (b) type(doc, 's0', `B${i + 1}`, b)
    if (a) type(doc, 's0', `C${i + 1}`, `=B${i + 1}*2`)
  })
  type(doc, 's0', 'A7', '合计'); type(doc, 's0', 'B7', '=SUM(B1:B6)'); type(doc, 's0', 'C7', '=MAX(C1:C6)')
  setTotalsRow(doc, 's0', visibleRowIds(sheetsOf(doc).get('s0')!)[6]!)
  type(doc, 's1', 'A1', '=Plan!B2'); type(doc, 's1', 'B1', '=SUM(Plan!B1:B3)')
  return doc
}

describe('sorting rows', () => {
  it('orders values as Excel does: numbers, text by pinyin, booleans, errors; empty last both ways', () => {
    const vals = ['上海', 3, null, true, '北京', { error: '#DIV/0!' }, 1, '', 'abc', '成都', 'ABD']
    const asc = [...vals].sort((a, b) => compareValues(a as never, b as never))
    // (Intl.Collator('zh-CN') puts Chinese, by pinyin, before Latin letters)
    expect(asc.slice(0, 7)).toEqual([1, 3, '北京', '成都', '上海', 'abc', 'ABD'])
    expect(asc[7]).toBe(true)
    expect(asc[8]).toEqual({ error: '#DIV/0!' })
    expect(asc.slice(9).every(v => v === null || v === '')).toBe(true)
    const desc = [...vals].sort((a, b) => compareValues(a as never, b as never, true))
    expect(desc.slice(0, 3)).toEqual([{ error: '#DIV/0!' }, true, 'ABD'])
    expect(desc.slice(-2).every(v => v === null || v === '')).toBe(true)
  })

  it('sorts the data rows by a column: the totals row stays and sums the same, own-row formulas move, references from elsewhere keep their cells; one undo step', () => {
    const doc = plan()
    const engine = new FormulaEngine(doc)
    const totalsBefore = [engine.getValue('s0', 6, 1), engine.getValue('s0', 6, 2)]
    const other = [engine.getValue('s1', 0, 0), engine.getValue('s1', 0, 1)]
    expect(dataRows(sheetsOf(doc).get('s0')!).length).toBe(6)
    const origin = { who: 'me' }
    const undo = personalUndo(doc, origin)
    const res = sortRows(doc, 's0', [{ colId: col(doc, 's0', 1) }], (r, c) => engine.getValueById('s0', r, c), {}, origin)
    expect(res.rows).toBe(6)
    // empty amounts last, in the order they had (the empty row, then 成都)
    expect(column(engine, 's0', 0, 7)).toEqual(['北京', '广州', '上海', '杭州', null, '成都', '合计'])
    expect(column(engine, 's0', 1, 6)).toEqual([10, 20, 30, 50, null, null])
    // =B*2 went with its row
    expect(column(engine, 's0', 2, 4)).toEqual([20, 40, 60, 100])
    expect(textAt(doc, 's0', 'C1')).toBe('=B1*2')
    expect([engine.getValue('s0', 6, 1), engine.getValue('s0', 6, 2)]).toEqual(totalsBefore)
    expect(textAt(doc, 's0', 'B7')).toBe('=SUM(B1:B6)')
    // Other!A1 still reads Plan!B2 (now 广州's 20), its range still B1:B3
    expect(textAt(doc, 's1', 'A1')).toBe('=Plan!B2')
    expect(textAt(doc, 's1', 'B1')).toBe('=SUM(Plan!B1:B3)')
    expect(engine.getValue('s1', 0, 0)).toBe(20)
    expect(engine.getValue('s1', 0, 1)).toBe(60)
    undo.undo()
    expect(column(engine, 's0', 0, 7)).toEqual(['上海', '北京', null, '杭州', '成都', '广州', '合计'])
    expect([engine.getValue('s1', 0, 0), engine.getValue('s1', 0, 1)]).toEqual(other)
    expect(textAt(doc, 's1', 'A1')).toBe('=Plan!B2')
    undo.destroy()
    engine.destroy()
  })

  it('by text in pinyin order, descending, by two keys, below frozen header rows; stable for ties', () => {
    const doc = makeDoc([{ name: 'S', id: 's0', rows: 8, cols: 3 }])
    const rows = [['品类', '城市', '销量'], ['服装', '上海', '5'], ['食品', '北京', '7'], ['服装', '北京', '9'], ['食品', '上海', '7'], ['服装', '成都', '5']]
    rows.forEach((r, i) => r.forEach((v, c) => type(doc, 's0', `${'ABC'[c]}${i + 1}`, v)))
    setFrozen(doc, 's0', { rows: 1 })
    const engine = new FormulaEngine(doc)
    sortRows(doc, 's0', [{ colId: col(doc, 's0', 0) }, { colId: col(doc, 's0', 2), desc: true }], (r, c) => engine.getValueById('s0', r, c))
    const table = Array.from({ length: 6 }, (_v, r) => [0, 1, 2].map(c => engine.getValue('s0', r, c)))
    expect(table).toEqual([['品类', '城市', '销量'], ['服装', '北京', 9], ['服装', '上海', 5], ['服装', '成都', 5], ['食品', '北京', 7], ['食品', '上海', 7]])
    sortRows(doc, 's0', [{ colId: col(doc, 's0', 1), desc: true }], (r, c) => engine.getValueById('s0', r, c))
    expect(column(engine, 's0', 1, 6)).toEqual(['城市', '上海', '上海', '成都', '北京', '北京'])
    engine.destroy()
  })

  it('a colleague\'s edit made while the sort is made lands on the row its author meant, on both replicas; the server check passes the sort', () => {
    const a = plan()
    const b = new Y.Doc()
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const link = pair(a, b)
    const ea = new FormulaEngine(a), eb = new FormulaEngine(b)
    // B types 55 into 上海's amount (row 1) while A sorts by amount
    type(b, 's0', 'B1', '55')
    const before = new Y.Doc()
    Y.applyUpdate(before, Y.encodeStateAsUpdate(a))
    const sv = Y.encodeStateVector(a)
    sortRows(a, 's0', [{ colId: col(a, 's0', 1) }], (r, c) => ea.getValueById('s0', r, c))
    const update = Y.encodeStateAsUpdate(a, sv)
    const mirror = new Y.Doc()
    defineRoots(mirror)
    Y.applyUpdate(mirror, Y.encodeStateAsUpdate(before))
    defineRoots(before)
    let refusal: unknown = 'unchecked'
    mirror.transact(tr => { Y.applyUpdate(mirror, update); refusal = checkChange(before, mirror, tr, { role: 'editor', name: '小李' }) })
    expect(refusal).toBeNull()
    link.exchange()
    for (const e of [ea, eb]) {
      // 上海 went to the third place (amount 30 when A sorted); B's 55 is on 上海's row
      expect(column(e, 's0', 0, 3)).toEqual(['北京', '广州', '上海'])
      expect(e.getValue('s0', 2, 1)).toBe(55)
      expect(e.getValue('s0', 2, 2)).toBe(110)
      expect(e.getValue('s0', 6, 1)).toBe(10 + 20 + 55 + 50)
    }
    expect(a.getMap('sheets').toJSON()).toEqual(b.getMap('sheets').toJSON())
    ea.destroy(); eb.destroy()
  })
})
