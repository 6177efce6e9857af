/** Combining sources into a roll-up (server/rollup/), its smallest writes, and its read-only sheet (issue 21). */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { aggregateRows, derivedRowId, measure, stackRows, type Block } from '../../server/rollup/combine'
import { applyRows } from '../../server/rollup/apply'
import { matchColumns, readContribution } from '../../server/rollup/read'
import { buildRollup } from '../../server/rollup/build'
import { readPlan } from '../../src/core/rollup/plan'
import { loadTemplates } from '../../server/templates'
import { buildWorkbook } from '../../src/core/templates/template'
import { checkChange, cellRefusal, readAccess, sheetRefusal, defineRoots } from '../../src/core/access/access'
import { setCell, insertRows } from '../../src/core/workbook/mutations'
import { addChart, listCharts } from '../../src/core/charts/charts'
import { sheetParts, sheetsOf, visibleIds, cellKey } from '../../src/core/workbook/schema'
import { colByKey, kpiSheet, setKpi } from '../helpers/rollup'

const row = (id: string, ...values: (number | string | null)[]) => ({ id, values })
const blocks: Block[] = [
  { workbookId: 'a', title: 'A', rows: [row('r1', 'DAU', 10, 2), row('r2', 'ROI', 3, 1)] },
  { workbookId: 'b', title: 'B', rows: [row('r1', 'DAU', 20, 6), row('r3', '', 99, 1)] },
]
const cols = ['cm', 'cv', 'cw']

describe('combining', () => {
  it('stacks blocks in source order with a source column and ids from source and row', () => {
    const out = stackRows(blocks, cols, 'src')
    expect(out.map(r => r.cells.get('src'))).toEqual(['A', 'A', 'B', 'B'])
    expect(out[0]!.id).toBe(derivedRowId('a:r1'))
    expect(out[2]!.id).not.toBe(out[0]!.id)
    expect(out[0]!.id).toMatch(/^r[a-z0-9]{16}$/)
  })

  it('aggregates by key: sum, avg, min, max, count, weighted average; empty keys left out', () => {
    const m = (fn: 'sum' | 'avg' | 'min' | 'max' | 'count' | 'wavg') => aggregateRows(blocks, cols, 'cm', [{ col: 'cv', fn, weight: 'cw' }])
    expect(m('sum').map(r => [r.cells.get('cm'), r.cells.get('cv')])).toEqual([['DAU', 30], ['ROI', 3]])
    expect(m('avg')[0]!.cells.get('cv')).toBe(15)
    expect(m('min')[0]!.cells.get('cv')).toBe(10)
    expect(m('max')[0]!.cells.get('cv')).toBe(20)
    expect(m('count')[0]!.cells.get('cv')).toBe(2)
    expect(m('wavg')[0]!.cells.get('cv')).toBeCloseTo((10 * 2 + 20 * 6) / 8)
    // other columns: the first value
    expect(m('sum')[0]!.cells.get('cw')).toBe(2)
    expect(m('sum')[0]!.id).toBe(derivedRowId('key:DAU'))
  })

  it('measures: text is not a number, nothing to average is empty, not zero', () => {
    expect(measure('sum', ['x', 2])).toBe(2)
    expect(measure('avg', [null])).toBeNull()
    expect(measure('wavg', [1, 2], [0, 0])).toBeNull()
  })
})

describe('writing the roll-up sheet', () => {
  const sheetDoc = () => {
    const doc = new Y.Doc()
    buildWorkbook(doc, { schemaVersion: 2, id: 't', title: 't', sheets: [{ name: 'S', rows: 0, cols: 3 }] } as never)
    const sid = [...sheetsOf(doc).keys()][0]!
    return { doc, sid, p: sheetParts(sheetsOf(doc).get(sid)!) }
  }
  const rowsOf = (ids: string[], v = 1) => ids.map(id => ({ id, cells: new Map([['c', v as number | null]]) }))

  it('writes nothing when nothing changed, and only what changed otherwise', () => {
    const { doc, sid, p } = sheetDoc()
    applyRows(doc, sid, rowsOf(['ra', 'rb', 'rc']), {}, 'server')
    let updates = 0
    doc.on('update', () => updates++)
    expect(applyRows(doc, sid, rowsOf(['ra', 'rb', 'rc']), {}, 'server')).toEqual({ inserted: 0, removed: 0, moved: 0, cells: 0 })
    expect(updates).toBe(0)
    // one row in between, one gone, one value changed
    const next = rowsOf(['ra', 'rx', 'rc'])
    next[2]!.cells.set('c', 5)
    expect(applyRows(doc, sid, next, {}, 'server')).toEqual({ inserted: 1, removed: 1, moved: 0, cells: 2 })
    expect(visibleIds(p.rows, p.rowsGone)).toEqual(['ra', 'rx', 'rc'])
    expect(p.cells.get(cellKey('rc', 'c'))).toBe(5)
    expect(p.cells.has(cellKey('rb', 'c'))).toBe(false)
    // a row back where it was, and an order mended by moving one row
    applyRows(doc, sid, rowsOf(['rc', 'ra', 'rb', 'rx']), {}, 'server')
    expect(visibleIds(p.rows, p.rowsGone)).toEqual(['rc', 'ra', 'rb', 'rx'])
  })
})

describe('roll-up workbooks from the KPI template', () => {
  const templates = loadTemplates(new URL('../../templates', import.meta.url).pathname)
  const kpi = templates.get('kpi-monitoring')!

  it('reads a source by template keys (computed values of formulas), whatever its column order and language', () => {
    const src = new Y.Doc()
    buildWorkbook(src, kpi, { locale: 'en' })
    setKpi(src, 'DAU', 'actual', 12)
    const rollup = new Y.Doc()
    const plan = buildRollup(rollup, { template: kpi, sheetIndex: 0, title: 'r', locale: 'zh-CN', mode: 'stack' })
    const p = sheetParts(sheetsOf(rollup).get(plan.sheet)!)
    const out = visibleIds(p.cols, p.colsGone).filter(c => c !== plan.sourceCol).map(colId => ({ colId, key: p.colMeta.get(colId)?.key, title: p.colMeta.get(colId)?.title }))
    const s = kpiSheet(src)
    expect(matchColumns(sheetsOf(src).get(s)!, out).every(c => c !== null)).toBe(true)
    const c = readContribution(src, { key: 'kpi', name: '数据监控' }, out)
    if (!c.ok) throw new Error('no sheet')
    const dau = c.rows.find(r => r.values.includes('DAU'))!
    const dev = out.findIndex(o => o.key === 'deviation'), status = out.findIndex(o => o.key === 'status')
    expect(dau.values[dev]).toBeCloseTo(0.2)
    expect(dau.values[status]).toBe('On track')
  })

  it('marks the roll-up sheet read-only for every client (owners too), its mark included; charts over it stay', () => {
    const doc = new Y.Doc()
    defineRoots(doc)
    const plan = buildRollup(doc, { template: kpi, sheetIndex: 0, title: 'r', locale: 'zh-CN', mode: 'aggregate', key: '核心指标', measures: [{ column: '实际值', fn: 'sum' }] })
    expect(readPlan(doc)?.keyCol).toBe(colByKey(doc, plan.sheet, 'metric'))
    expect(listCharts(doc, plan.sheet)).toHaveLength(1)
    applyRows(doc, plan.sheet, [{ id: 'rk', cells: new Map([[colByKey(doc, plan.sheet, 'actual'), 1]]) }], plan.formulas, 'server')
    const owner = { role: 'owner' as const, name: 'o' }
    const view = readAccess(doc)
    expect(cellRefusal(view, doc, owner, plan.sheet, 'rk', colByKey(doc, plan.sheet, 'actual'))?.code).toBe('rollup-read-only')
    expect(sheetRefusal(view, owner, plan.sheet)?.code).toBe('rollup-read-only')
    const tryChange = (fn: (d: Y.Doc) => void) => {
      const copy = new Y.Doc({ gc: false })
      defineRoots(copy)
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
      let r: ReturnType<typeof checkChange> = null
      copy.transact(tr => { fn(copy); r = checkChange(doc, copy, tr, owner) })
      return (r as { code: string } | null)?.code ?? null
    }
    expect(tryChange(d => setCell(d, plan.sheet, 'rk', colByKey(d, plan.sheet, 'actual'), 5))).toBe('rollup-read-only')
    expect(tryChange(d => insertRows(d, plan.sheet, 0, 1))).toBe('rollup-read-only')
    expect(tryChange(d => d.getMap('access').delete(`rollup:${plan.sheet}`))).toBe('rollup-read-only')
    expect(tryChange(d => d.getMap('rollup').set('sources', []))).toBe('not-workbook')
    // a chart over the roll-up's cells, and other sheets, stay the editors'
    expect(tryChange(d => addChart(d, { kind: 'bar', title: 'x', sheet: plan.sheet, labels: colByKey(d, plan.sheet, 'metric'), series: [colByKey(d, plan.sheet, 'actual')] }))).toBeNull()
  })
})
