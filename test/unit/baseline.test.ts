/**
 * BASELINE("name", cell): the value the cell had in a named version, found by the cell's ids (so rows
 * inserted or sorted since do not move it), #N/A while the version loads, #REF! for a name no version has.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { baselineNames, baselineSource } from '../../src/core/formulas/baseline'
import { sourceOf, versionValues } from '../../src/core/history/baselines'
import { insertRows } from '../../src/core/workbook/mutations'
import { sortRows } from '../../src/core/workbook/sort'
import { makeDoc, textAt, type } from '../helpers/workbook'

const snapshot = (doc: Y.Doc) => Y.encodeStateAsUpdate(doc)

describe('BASELINE()', () => {
  it('reads the version by the cell\'s ids, loads names on demand, and says #REF! for a name no version has', () => {
    const doc = makeDoc([{ name: 'KPI', id: 's1', rows: 6, cols: 4 }])
    type(doc, 's1', 'A1', '100'); type(doc, 's1', 'A2', '50')
    const approved = snapshot(doc)
    type(doc, 's1', 'A1', '120')
    type(doc, 's1', 'B1', '=BASELINE("Q3 计划", A1)')
    type(doc, 's1', 'C1', '=A1-BASELINE("Q3 计划", A1)')
    type(doc, 's1', 'D1', '=BASELINE("没有", A1)')
    const engine = new FormulaEngine(doc)
    try {
      const asked: string[] = []
      const src = baselineSource(name => asked.push(name))
      engine.setBaselines(src)
      expect(engine.getValue('s1', 0, 1)).toMatchObject({ error: '#N/A' })
      expect(asked).toContain('Q3 计划')
      const v = new Y.Doc(); Y.applyUpdate(v, approved)
      src.versions.set('Q3 计划', versionValues(v))
      src.versions.set('没有', null)
      engine.setBaselines(src)
      expect(engine.getValue('s1', 0, 1)).toBe(100)
      expect(engine.getValue('s1', 0, 2)).toBe(20)
      expect(engine.getValue('s1', 0, 3)).toMatchObject({ error: '#REF!' })

      // a row inserted above and a sort: the formula and its row move, the version's value follows the row
      insertRows(doc, 's1', 0, 1)
      expect(textAt(doc, 's1', 'B2')).toBe('=BASELINE("Q3 计划", A2)')
      expect(engine.getValue('s1', 1, 1)).toBe(100)
      const colA = (doc.getMap('sheets').get('s1') as Y.Map<Y.Array<string>>).get('cols')!.get(0)
      sortRows(doc, 's1', [{ colId: colA, desc: true }], (rowId, colId) => engine.getValueById('s1', rowId, colId))
      const row = [0, 1, 2].find(r => engine.getValue('s1', r, 0) === 120)!
      expect(engine.getValue('s1', row, 1)).toBe(100)
    } finally {
      engine.destroy()
    }
  })

  it('a complete source (an export) answers at once', () => {
    const doc = makeDoc([{ name: 'KPI', id: 's1', rows: 3, cols: 3 }])
    type(doc, 's1', 'A1', '7')
    const v1 = snapshot(doc)
    type(doc, 's1', 'A1', '9')
    type(doc, 's1', 'B1', '=BASELINE("v1", A1)')
    type(doc, 's1', 'C1', '=BASELINE("v2", A1)')
    const engine = new FormulaEngine(doc)
    try {
      engine.setBaselines(sourceOf([['v1', v1]]))
      expect([engine.getValue('s1', 0, 1), (engine.getValue('s1', 0, 2) as { error: string }).error]).toEqual([7, '#REF!'])
    } finally {
      engine.destroy()
    }
    expect([...baselineNames(['=BASELINE("Q3 ""A""", F2)', '=SUM(A1)', '=baseline("b",A1)+BASELINE( "c" , B2)'])]).toEqual(['Q3 "A"', 'b', 'c'])
  })
})
