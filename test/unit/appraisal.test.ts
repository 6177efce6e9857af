/**
 * The appraisal summary: per person total score, rate, grade and rank, from the appraisal template's
 * own formulas and from sheets of several people.
 */
import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { loadTemplates } from '../../server/templates'
import { buildWorkbook } from '../../src/core/templates/template'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { appraisalSummary, gradeFor } from '../../src/core/appraisal/summary'
import { addSheet, editCells } from '../../src/core/workbook/mutations'
import { sheetIds, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { totalsRowOf } from '../../src/core/workbook/table'

const registry = loadTemplates(fileURLToPath(new URL('../../templates', import.meta.url)))

function appraisalDoc(locale: 'zh-CN' | 'en' = 'zh-CN') {
  const doc = new Y.Doc()
  buildWorkbook(doc, registry.get('performance-appraisal')!, { locale })
  const engine = new FormulaEngine(doc)
  return { doc, engine, valueOf: (s: string, r: string, c: string) => engine.getValueById(s, r, c) }
}

const colOf = (doc: Y.Doc, sheet: string, key: string) => {
  let id = ''
  sheetParts(sheetsOf(doc).get(sheet)!).colMeta.forEach((m, c) => { if ((m as ColumnMeta).key === key) id = c })
  return id
}

describe('appraisal summary', () => {
  it('for the template agrees with the sheet\'s own totals row: score, rate and grade (from the scoring rules sheet)', () => {
    for (const locale of ['zh-CN', 'en'] as const) {
      const { doc, engine, valueOf } = appraisalDoc(locale)
      const sheet = sheetIds(doc)[0]!
      const totals = totalsRowOf(sheetsOf(doc).get(sheet)!)!
      const s = appraisalSummary(doc, valueOf, locale)
      expect(s.people).toHaveLength(1)
      const p = s.people[0]!
      expect(p.name).toBe(locale === 'zh-CN' ? '绩效考核' : 'Appraisal')
      expect(p.score).toBeCloseTo(engine.getValueById(sheet, totals, colOf(doc, sheet, 'score')) as number, 6)
      expect(p.rate).toBeCloseTo(engine.getValueById(sheet, totals, colOf(doc, sheet, 'rate')) as number, 6)
      expect(p.grade).toBe(engine.getValueById(sheet, totals, colOf(doc, sheet, 'grade')))
      expect(p.rank).toBe(1)
      expect(s.bands.map(b => b.from)).toEqual([0, 0.7, 0.9, 1])
      engine.destroy()
    }
  })

  it('adds up each person\'s rows across sheets, grades them and ranks them, ties sharing a rank', () => {
    const { doc, valueOf } = appraisalDoc()
    const team = addSheet(doc, {
      name: '团队考核', rows: 10, cols: 3,
      columns: [{ key: 'appraisee', title: '被考核人', type: 'person' }, { key: 'weight', title: '权重', type: 'percent' }, { key: 'score', title: '得分', type: 'number' }],
    })
    const sl = new WorkbookLayout(doc).sheet(team)!
    const rows: [string, number, number | string][] = [['张三', 0.5, 45], ['李四', 0.5, 50], ['张三', 0.5, 40], ['李四', 0.5, 40], ['王五', 1, 90], ['', 1, '=1/0']]
    editCells(doc, team, rows.flatMap(([who, w, sc], r) => [
      ...(who ? [{ rowId: sl.rows.ids[r]!, colId: sl.cols.ids[0]!, value: who }] : []),
      { rowId: sl.rows.ids[r]!, colId: sl.cols.ids[1]!, value: w },
      { rowId: sl.rows.ids[r]!, colId: sl.cols.ids[2]!, value: typeof sc === 'string' ? { t: 'f' as const, v: sc } : sc },
    ]))
    const engine = new FormulaEngine(doc)
    const s = appraisalSummary(doc, (a, b, c) => engine.getValueById(a, b, c))
    void valueOf
    const by = Object.fromEntries(s.people.map(p => [p.name, p]))
    expect(by['张三']).toMatchObject({ score: 85, weight: 1, rate: 0.85, grade: '合格', items: 2, sheets: ['团队考核'] })
    expect(by['李四']).toMatchObject({ score: 90, rate: 0.9, grade: '良好' })
    expect(by['王五']).toMatchObject({ score: 90, rate: 0.9 })
    // the template's own sheet is a person too (its score is above 90): ranks 1, 2, 2, 4
    expect(by['绩效考核']!.score).toBeGreaterThan(90)
    expect(s.people.map(p => p.rank)).toEqual([1, 2, 2, 4])
    expect([by['绩效考核']!.rank, by['李四']!.rank, by['王五']!.rank, by['张三']!.rank]).toEqual([1, 2, 2, 4])
    // the error row names nobody and has no score: it counts for no one
    expect(s.people.map(p => p.name)).not.toContain('团队考核')
    expect(s.sheets).toHaveLength(2)
  })

  it('grades as VLOOKUP does: the last band the rate reaches', () => {
    const bands = [{ from: 0, grade: 'D' }, { from: 0.7, grade: 'C' }, { from: 1, grade: 'A' }]
    expect([0.2, 0.7, 0.6999, 0.99, 1, 1.3].map(r => gradeFor(r, bands))).toEqual(['D', 'C', 'D', 'C', 'A', 'A'])
    expect(gradeFor(null, bands)).toBe('')
  })
})
