/** Filters: conditions on shown values, by values list and by colour; filter views in the doc, kept to their authors by the server's check. */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { deleteFilterView, filterViewsOf, filteredOut, passes, saveFilterView, sheetFilterViews } from '../../src/core/workbook/filter'
import { checkChange, defineRoots, type Principal } from '../../src/core/access/access'
import { setTotalsRow } from '../../src/core/workbook/mutations'
import { sheetsOf, visibleRowIds } from '../../src/core/workbook/schema'
import { makeDoc, type } from '../helpers/workbook'

function attempt(doc: Y.Doc, who: Principal, change: (d: Y.Doc) => void): string | null {
  const copy = new Y.Doc()
  defineRoots(copy)
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
  defineRoots(doc)
  let r: { code: string } | null = null
  copy.transact(tr => { change(copy); r = checkChange(doc, copy, tr, who) })
  return r ? (r as { code: string }).code : null
}

describe('filters', () => {
  it('conditions: numbers compared as numbers, text case-insensitively, empty and not empty, values lists with blanks, colours', () => {
    const cell = (shown: string, value: number | string | null = shown, bg?: string) => ({ shown, value, bg })
    expect(passes({ kind: 'op', op: '>', value: '100' }, cell('1,200', 1200))).toBe(true)
    expect(passes({ kind: 'op', op: '>', value: '100' }, cell('50', 50))).toBe(false)
    expect(passes({ kind: 'op', op: '>', value: '100' }, cell('abc'))).toBe(false)
    expect(passes({ kind: 'op', op: '<>', value: '100' }, cell('abc'))).toBe(true)
    expect(passes({ kind: 'op', op: 'contains', value: 'TMALL' }, cell('tmall 旗舰店'))).toBe(true)
    expect(passes({ kind: 'op', op: 'notContains', value: '天猫' }, cell('京东'))).toBe(true)
    expect(passes({ kind: 'op', op: 'empty' }, cell(' ', null))).toBe(true)
    expect(passes({ kind: 'op', op: 'notEmpty' }, cell('', null))).toBe(false)
    expect(passes({ kind: 'values', values: ['华东', ''] }, cell('', null))).toBe(true)
    expect(passes({ kind: 'values', values: ['华东'] }, cell('华南'))).toBe(false)
    expect(passes({ kind: 'color', bg: '#fff2cc' }, cell('x', 'x', '#fff2cc'))).toBe(true)
    expect(passes({ kind: 'color', bg: null }, cell('x', 'x', '#fff2cc'))).toBe(false)
  })

  it('hides the data rows failing any condition, never the totals row nor the empty rows below the table', () => {
    const doc = makeDoc([{ name: 'S', id: 's0', rows: 8, cols: 2 }])
    ;[['华东', '120'], ['华南', '80'], ['华东', '60'], ['华北', '200']].forEach(([a, b], i) => { type(doc, 's0', `A${i + 1}`, a!); type(doc, 's0', `B${i + 1}`, b!) })
    type(doc, 's0', 'B6', '=SUM(B1:B5)')
    const rows = visibleRowIds(sheetsOf(doc).get('s0')!)
    setTotalsRow(doc, 's0', rows[5]!)
    const e = new FormulaEngine(doc)
    const cellOf = (r: string, c: string) => { const v = e.getValueById('s0', r, c); return { shown: v === null ? '' : String(v), value: v } }
    const cols = e.layout.sheet('s0')!.cols.ids
    const out = filteredOut(doc, 's0', { [cols[0]!]: { kind: 'values', values: ['华东'] }, [cols[1]!]: { kind: 'op', op: '>=', value: '100' } }, cellOf)
    expect([...out].map(id => rows.indexOf(id)).sort()).toEqual([1, 2, 3])
    expect(filteredOut(doc, 's0', {}, cellOf).size).toBe(0)
    e.destroy()
  })

  it('filter views: saved by anyone who edits, under their own name; changed or deleted by their author or an owner; checked for shape', () => {
    const doc = makeDoc([{ name: 'S', id: 's0', rows: 3, cols: 2 }])
    const view = { name: '华东大单', sheet: 's0', conditions: { s0c0: { kind: 'values' as const, values: ['华东'] } }, by: '小李', at: 1 }
    const li: Principal = { role: 'editor', name: '小李' }, wang: Principal = { role: 'editor', name: '王经理' }, owner: Principal = { role: 'owner', name: 'Boss' }
    expect(attempt(doc, li, d => saveFilterView(d, view, 'fv1'))).toBeNull()
    expect(attempt(doc, wang, d => saveFilterView(d, view, 'fv1'))).toBe('filter-view-not-yours')
    expect(attempt(doc, { role: 'viewer', name: 'v' }, d => saveFilterView(d, { ...view, by: 'v' }, 'fv1'))).toBe('read-only')
    expect(attempt(doc, li, d => filterViewsOf(d).set('fv2', { name: '', sheet: 's0' } as never))).toBe('not-a-filter-view')
    saveFilterView(doc, view, 'fv1')
    expect(sheetFilterViews(doc, 's0').map(v => v.view.name)).toEqual(['华东大单'])
    expect(attempt(doc, wang, d => deleteFilterView(d, 'fv1'))).toBe('filter-view-not-yours')
    expect(attempt(doc, li, d => deleteFilterView(d, 'fv1'))).toBeNull()
    expect(attempt(doc, owner, d => deleteFilterView(d, 'fv1'))).toBeNull()
    expect(() => saveFilterView(doc, { ...view, conditions: { s0c0: { kind: 'op', op: 'like' } } } as never)).toThrow()
  })
})
