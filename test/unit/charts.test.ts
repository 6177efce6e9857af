/**
 * Charts: specs in the doc, data derived from computed values, following rows and columns inserted or
 * deleted; the dashboards of the templates; and what the server lets people write.
 */
import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { loadTemplates } from '../../server/templates'
import { buildWorkbook } from '../../src/core/templates/template'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { addChart, chartData, chartOption, chartProblem, chartsOf, listCharts, removeChart, updateChart, VERDICT_COLOURS, type ChartSpec } from '../../src/core/charts/charts'
import { deleteRows, editCells, insertRows, deleteCols, WorkbookError } from '../../src/core/workbook/mutations'
import { sheetIds, sheetName, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { checkChange, defineRoots, lockSheet, type Principal } from '../../src/core/access/access'
import { personalUndo } from '../../src/sync/undo'

const registry = loadTemplates(fileURLToPath(new URL('../../templates', import.meta.url)))

function built(template: string, locale: 'zh-CN' | 'en' = 'zh-CN') {
  const doc = new Y.Doc()
  defineRoots(doc)
  buildWorkbook(doc, registry.get(template)!, { locale })
  const engine = new FormulaEngine(doc)
  const valueOf = (sheet: string) => (r: string, c: string) => engine.getValueById(sheet, r, c)
  return { doc, engine, valueOf }
}

function colByKey(doc: Y.Doc, sheet: string, key: string): string {
  const meta = sheetParts(sheetsOf(doc).get(sheet)!).colMeta
  let found = ''
  meta.forEach((m, id) => { if ((m as ColumnMeta).key === key) found = id })
  if (!found) throw new Error(`no column ${key}`)
  return found
}

describe('template dashboards', () => {
  it('the KPI monitor charts target vs actual, each actual bar coloured by the direction of its KPI', () => {
    const { doc, valueOf } = built('kpi-monitoring')
    const charts = listCharts(doc)
    expect(charts.map(c => c.spec.title)).toEqual(['KPI 目标与实际'])
    const { spec } = charts[0]!
    const data = chartData(doc, spec, valueOf(spec.sheet))
    expect(data.categories.slice(0, 3)).toEqual(['DAU', '加购-下单转化率', '7日留存率'])
    expect(data.series.map(s => s.name)).toEqual(['目标值', '实际值'])
    expect(data.series[0]!.values.slice(0, 3)).toEqual([10, 25, 40])
    expect(data.series[1]!.values.slice(0, 3)).toEqual([8.5, 18, 35])
    // the seed: every "higher is better" KPI falls short
    expect(data.verdicts!.slice(0, 3)).toEqual(['bad', 'bad', 'bad'])
    const option = chartOption(data) as { series: { data: unknown[] }[] }
    expect(option.series[1]!.data[0]).toEqual({ value: 8.5, itemStyle: { color: VERDICT_COLOURS.bad } })
    expect(option.series[0]!.data[0]).toBe(10)
  })

  it('every template chart names columns that exist and has data, in both languages; the full plan has them all', () => {
    for (const locale of ['zh-CN', 'en'] as const) {
      const { doc, valueOf } = built('operations-plan', locale)
      const charts = listCharts(doc)
      expect(charts.length).toBe(5)
      for (const { spec } of charts) {
        const data = chartData(doc, spec, valueOf(spec.sheet))
        expect(data.empty, `${spec.title} has data`).toBe(false)
        expect(data.series.some(s => s.values.some(v => v !== null)), spec.title).toBe(true)
      }
      const names = charts.map(c => sheetName(doc, c.spec.sheet))
      expect(names).toEqual(locale === 'zh-CN' ? ['运营目标', '数据监控', '预算分配', '收入预测', '渠道规划'] : ['Goals', 'KPI monitor', 'Budget', 'Revenue forecast', 'Channels'])
    }
  })

  it('the GMV forecast is a combo: GMV bars on the left axis, visitors as a line on the right', () => {
    const { doc, valueOf } = built('budget-forecast')
    const spec = listCharts(doc).find(c => c.spec.kind === 'combo')!.spec
    const data = chartData(doc, spec, valueOf(spec.sheet))
    expect(data.categories).toHaveLength(12)
    expect(data.series.map(s => [s.type, s.axis])).toEqual([['bar', 0], ['line', 1]])
    // GMV = UV × CVR × AOV: 130000 × 2.5% × 285 in January
    expect(data.series[0]!.values[0]).toBeCloseTo(130000 * 0.025 * 285, 6)
    const option = chartOption(data) as { yAxis: unknown[] }
    expect(option.yAxis).toHaveLength(2)
  })
})

describe('chart data follows the sheet', () => {
  it('edits, inserted rows and deleted rows and columns keep the chart on the same data', () => {
    const { doc, valueOf } = built('goal-setting')
    const sheet = sheetIds(doc)[0]!
    const layout = () => new WorkbookLayout(doc).sheet(sheet)!
    const metric = colByKey(doc, sheet, 'metric'), target = colByKey(doc, sheet, 'target'), actual = colByKey(doc, sheet, 'actual')
    const rows = layout().rows.ids
    const id = addChart(doc, { kind: 'bar', title: '目标', sheet, labels: metric, series: [target, actual], from: rows[0]!, to: rows[2]! })
    const spec = () => chartsOf(doc).get(id)!
    const data = () => chartData(doc, spec(), valueOf(sheet))
    expect(data().categories).toEqual(['GMV', '新增注册用户', '活动转化率'])
    editCells(doc, sheet, [{ rowId: rows[0]!, colId: actual, value: 1800 }])
    expect(data().series[1]!.values[0]).toBe(1800)
    // a row inserted inside the range joins it; one inserted above stays out
    const [inside] = insertRows(doc, sheet, 1, 1)
    editCells(doc, sheet, [{ rowId: inside!, colId: metric, value: '客单价' }, { rowId: inside!, colId: target, value: 300 }])
    insertRows(doc, sheet, 0, 1)
    expect(data().categories).toEqual(['GMV', '客单价', '新增注册用户', '活动转化率'])
    // deleting the range's last row: the range ends at the row before it, as Excel shrinks a range
    deleteRows(doc, sheet, layout().rows.indexOf(rows[2]!), 1)
    expect(data().categories).toEqual(['GMV', '客单价', '新增注册用户'])
    // deleting a series column drops that series only
    deleteCols(doc, sheet, layout().cols.indexOf(actual), 1)
    expect(data().series.map(s => s.name)).toEqual(['目标值'])
    deleteCols(doc, sheet, layout().cols.indexOf(target), 1)
    expect(data().empty).toBe(true)
  })

  it('a chart over the whole table grows with it and leaves out the totals row and empty rows', () => {
    const { doc, valueOf } = built('budget-forecast')
    const spec = listCharts(doc).find(c => c.spec.kind === 'pie')!.spec
    expect(chartData(doc, spec, valueOf(spec.sheet)).categories).toEqual(['营销推广', '技术研发', '供应链与仓储', '人力与运营'])
    const layout = new WorkbookLayout(doc).sheet(spec.sheet)!
    const [row] = insertRows(doc, spec.sheet, 4, 1)
    editCells(doc, spec.sheet, [{ rowId: row!, colId: spec.labels, value: '客服外包' }, { rowId: row!, colId: spec.series[0]!, value: 200000 }])
    const data = chartData(doc, spec, valueOf(spec.sheet))
    expect(data.categories).toEqual(['营销推广', '技术研发', '供应链与仓储', '人力与运营', '客服外包'])
    expect(data.series[0]!.values[4]).toBe(200000)
    expect(layout.rows.length).toBeGreaterThan(5)
  })
})

describe('chart specs', () => {
  it('are checked: bad kinds, missing series and half ranges are refused with a clear error', () => {
    const { doc } = built('goal-setting')
    const sheet = sheetIds(doc)[0]!
    const c = colByKey(doc, sheet, 'metric')
    expect(() => addChart(doc, { kind: 'radar' as never, title: 'x', sheet, labels: c, series: [c] })).toThrow(WorkbookError)
    expect(() => addChart(doc, { kind: 'bar', title: 'x', sheet, labels: c, series: [] })).toThrow(/1 to 12 series/)
    expect(() => addChart(doc, { kind: 'bar', title: 'x', sheet, labels: c, series: [c], from: 'r1' })).toThrow(/both/)
    expect(() => addChart(doc, { kind: 'bar', title: 'x', sheet: 'nope', labels: c, series: [c] })).toThrow(/unknown sheet/)
    expect(chartProblem({ kind: 'bar', title: 'x', sheet, labels: c, series: [c], createdAt: 1, __proto__: null })).toBeNull()
    expect(chartProblem('bar')).toMatch(/object/)
  })

  it('adding, changing and removing a chart are each one undo step of the person who did it', () => {
    const { doc } = built('goal-setting')
    const sheet = sheetIds(doc)[0]!
    const c = colByKey(doc, sheet, 'target')
    const origin = { who: 'me' }
    const undo = personalUndo(doc, origin)
    const before = listCharts(doc).length
    const id = addChart(doc, { kind: 'bar', title: 'A', sheet, labels: c, series: [c] }, origin)
    undo.newStep()
    updateChart(doc, id, { title: 'B', kind: 'line' }, origin)
    expect(chartsOf(doc).get(id)!.title).toBe('B')
    undo.undo()
    expect(chartsOf(doc).get(id)!.title).toBe('A')
    undo.newStep()
    removeChart(doc, id, origin)
    expect(listCharts(doc).length).toBe(before)
    undo.undo()
    expect(chartsOf(doc).get(id)!.kind).toBe('bar')
  })
})

describe('the server rules for charts', () => {
  const editor: Principal = { role: 'editor', name: '小李' }
  function attempt(doc: Y.Doc, who: Principal, change: (copy: Y.Doc) => void): string | null {
    const client = new Y.Doc()
    Y.applyUpdate(client, Y.encodeStateAsUpdate(doc))
    const sv = Y.encodeStateVector(client)
    change(client)
    const update = Y.encodeStateAsUpdate(client, sv)
    const mirror = new Y.Doc()
    defineRoots(mirror)
    Y.applyUpdate(mirror, Y.encodeStateAsUpdate(doc))
    let r: { code: string } | null = null
    mirror.transact(tr => { Y.applyUpdate(mirror, update); r = checkChange(doc, mirror, tr, who) })
    return r === null ? null : (r as { code: string }).code
  }

  it('let editors add charts, refuse viewers, broken specs, and charts on a signed-off sheet', () => {
    const { doc } = built('goal-setting')
    const sheet = sheetIds(doc)[0]!
    const c = colByKey(doc, sheet, 'target')
    const spec: ChartSpec = { kind: 'bar', title: 'mine', sheet, labels: c, series: [c], createdAt: 5 }
    expect(attempt(doc, editor, d => addChart(d, spec))).toBeNull()
    expect(attempt(doc, { role: 'viewer', name: 'v' }, d => addChart(d, spec))).toBe('read-only')
    expect(attempt(doc, editor, d => chartsOf(d).set('chx', { ...spec, series: [] }))).toBe('not-a-chart')
    expect(attempt(doc, editor, d => chartsOf(d).set('chy', 'a pie' as never))).toBe('not-a-chart')
    const existing = listCharts(doc)[0]!.id
    lockSheet(doc, sheet, '王经理')
    expect(attempt(doc, editor, d => removeChart(d, existing))).toBe('locked')
    expect(attempt(doc, editor, d => addChart(d, spec))).toBe('locked')
  })
})
