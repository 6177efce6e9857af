// @vitest-environment node
/**
 * The seed figures, computed from workbooks created through the real server's API and read by a stock
 * y-websocket client into the formula engine: nothing here builds a template by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { FormulaEngine, type CellValue } from '../../src/core/formulas/engine'
import { formatValue } from '../../src/core/format'
import { sheetParts, sheetsOf } from '../../src/core/workbook/schema'
import { createWorkbook, startTestServer, syncedClient, type Client, type TestServer } from '../helpers/server'

let s: TestServer
const open: { c: Client; e: FormulaEngine }[] = []
beforeAll(async () => { s = await startTestServer() })
afterAll(async () => {
  for (const { c, e } of open) { e.destroy(); c.destroy() }
  await s.close()
  rmSync(s.dataDir, { recursive: true, force: true })
  rmSync(dirname(s.staticDir), { recursive: true, force: true })
})

/** Creates a workbook from a template through the API, syncs a client, and computes it. */
async function computed(template: string, lang: 'zh-CN' | 'en') {
  const id = await createWorkbook(s, { template, lang })
  const c = await syncedClient(s, id)
  const e = new FormulaEngine(c.doc)
  open.push({ c, e })
  /** the computed value and its display text in a sheet (by name) and column (by title), 1-based data row */
  const at = (sheet: string, column: string, row: number): { v: CellValue; text: string } => {
    const sheetId = e.layout.sheetIdByName(sheet)
    if (!sheetId) throw new Error(`no sheet ${sheet}: ${e.layout.order.map(x => e.layout.sheet(x)!.name).join(', ')}`)
    const sl = e.layout.sheet(sheetId)!
    const meta = sheetParts(sheetsOf(c.doc).get(sheetId)!).colMeta
    const col = sl.cols.ids.findIndex(cid => meta.get(cid)?.title === column)
    if (col < 0) throw new Error(`no column ${column} on ${sheet}`)
    const v = e.getValue(sheetId, row - 1, col)
    return { v, text: formatValue(v, meta.get(sl.cols.ids[col]!)) }
  }
  return { at, sheets: e.layout.order.map(x => e.layout.sheet(x)!.name) }
}

describe('seed figures from workbooks created through the API', () => {
  it('lists every template with a preview in both languages', async () => {
    for (const lang of ['zh-CN', 'en']) {
      const res = await s.api('GET', `/api/templates?lang=${lang}`)
      expect(res.status).toBe(200)
      expect(res.json.length).toBe(12)
      for (const t of res.json) {
        expect(t.preview.columns.length, t.id).toBeGreaterThan(0)
        if (t.id !== 'blank') expect(t.preview.rows.length, t.id).toBeGreaterThan(0)
      }
    }
    const zh = await s.api('GET', '/api/templates?lang=zh-CN')
    const product = zh.json.find((t: { id: string }) => t.id === 'product-operations')
    expect(product.preview.columns.slice(0, 2)).toEqual(['商品SKU', '商品名称'])
    expect(product.preview.rows[0][0]).toBe('MB001')
  })

  it('every template id creates a workbook', async () => {
    const list = (await s.api('GET', '/api/templates')).json as { id: string; sheets: string[] }[]
    for (const t of list) {
      const res = await s.api('POST', '/api/workbooks', { template: t.id, lang: 'en' })
      expect(res.status, t.id).toBe(201)
      expect(res.json.template).toBe(t.id)
    }
  })

  it('operations-plan (zh-CN): 动销率, scores and grades, deviations', async () => {
    const { at, sheets } = await computed('operations-plan', 'zh-CN')
    expect(sheets).toEqual(expect.arrayContaining(['市场分析', '运营目标', '商品运营', '活动进度', '数据监控', '绩效考核', '评分规则', '岗位职责']))
    expect([1, 2, 3].map(r => at('商品运营', '动销率', r).text)).toEqual(['60.00%', '18.75%', '70.00%'])
    expect([1, 2, 3].map(r => at('商品运营', '动销率', r).v)).toEqual([0.6, 0.1875, 0.7])
    expect([1, 2, 3, 4].map(r => at('绩效考核', '得分', r).v)).toEqual([38, 32, 15, 10])
    expect([1, 2, 3, 4].map(r => at('绩效考核', '考核等级', r).v)).toEqual(['良好', '优秀', '优秀', '待改进'])
    expect(at('绩效考核', '得分', 5).v).toBe(95)
    expect(at('绩效考核', '考核等级', 5).v).toBe('良好')
    expect(at('绩效考核', '权重', 5).text).toBe('100%')
    expect([1, 2, 3, 4].map(r => at('数据监控', '偏差率', r).text)).toEqual(['-15.0%', '-28.0%', '-12.5%', '-26.7%'])
    const dev = [1, 2, 3, 4].map(r => at('数据监控', '偏差率', r).v as number)
    ;[-0.15, -0.28, -0.125, -0.8 / 3].forEach((x, i) => expect(dev[i]).toBeCloseTo(x, 10))
  })

  it('the same figures in the English templates', async () => {
    const appraisal = await computed('performance-appraisal', 'en')
    expect([1, 2, 3, 4, 5].map(r => appraisal.at('Appraisal', 'Score', r).v)).toEqual([38, 32, 15, 10, 95])
    expect([1, 2, 3, 4, 5].map(r => appraisal.at('Appraisal', 'Grade', r).v)).toEqual(['Good', 'Excellent', 'Excellent', 'Needs improvement', 'Good'])
    const products = await computed('product-operations', 'en')
    expect([1, 2, 3].map(r => products.at('Products', 'Sell-through', r).text)).toEqual(['60.00%', '18.75%', '70.00%'])
    const kpi = await computed('kpi-monitoring', 'en')
    expect([1, 2, 3, 4].map(r => kpi.at('KPI monitor', 'Deviation', r).text)).toEqual(['-15.0%', '-28.0%', '-12.5%', '-26.7%'])
  })
})
