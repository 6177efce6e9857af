import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Locator, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, clickCell, typeCell, waitForCell } from '../helpers/browser'
import type { TestServer } from '../helpers/server'

let server: TestServer
let browser: Browser

beforeAll(async () => {
  server = await startAppServer()
  browser = await launchBrowser()
})
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole('tab', { name, exact: true }).click()
  await expect.poll(() => page.getByRole('tab', { name, exact: true }).getAttribute('aria-selected')).toBe('true')
}

/** Pixels of the chart's canvas in a colour (within a tolerance), and how many are painted at all. */
function paint(card: Locator, rgb: [number, number, number]): Promise<{ painted: number; matching: number }> {
  return card.locator('canvas').first().evaluate((c, want) => {
    const canvas = c as HTMLCanvasElement
    const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data
    let painted = 0, matching = 0
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3]! > 0) painted++
      if (Math.abs(px[i]! - want[0]) < 12 && Math.abs(px[i + 1]! - want[1]) < 12 && Math.abs(px[i + 2]! - want[2]) < 12) matching++
    }
    return { painted, matching }
  }, rgb)
}

/** The figures behind a chart (its accessible table), by category. */
async function figures(card: Locator): Promise<Record<string, string[]>> {
  const rows = await card.getByTestId('chart-table').locator('tbody tr').evaluateAll(trs => trs.map(tr => Array.from(tr.children).map(x => x.textContent ?? '')))
  return Object.fromEntries(rows.map(r => [r[0]!, r.slice(1)]))
}

describe('charts', () => {
  it('the KPI dashboard of the operations plan renders its chart, coloured by deviation, and a screenshot shows it', async () => {
    const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    const res = await server.api('POST', '/api/workbooks', { template: 'operations-plan', title: '看板' })
    await page.goto(server.url + res.json.url)
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await openTab(page, '数据监控')
    // the sheet has a dashboard: the panel opens by itself
    const card = page.locator('[data-testid="chart-card"][data-title="KPI 目标与实际"]')
    await card.locator('canvas').first().waitFor()
    expect(await figures(card)).toMatchObject({ DAU: ['10', '8.5'], '7日留存率': ['40', '35'] })
    // drawn: the canvas has content, and the actual bars that miss their target are red
    await expect.poll(async () => (await paint(card, [0xd9, 0x30, 0x25])).matching).toBeGreaterThan(50)
    expect((await paint(card, [0xd9, 0x30, 0x25])).painted).toBeGreaterThan(2000)
    // the bars grow in (animation): the picture is complete once two frames paint the same
    let last = -1
    await expect.poll(async () => { const now = (await paint(card, [0, 0, 0])).painted; const same = now === last; last = now; return same }, { interval: 250, timeout: 15_000 }).toBe(true)
    const dir = join(import.meta.dirname, '..', '..', 'test-results')
    mkdirSync(dir, { recursive: true })
    const shot = await card.screenshot({ path: join(dir, 'kpi-dashboard.png') })
    expect(shot.length).toBeGreaterThan(5000)
    expect(errors).toEqual([])
    await ctx.close()
  })

  it('a chart inserted from a selection reaches a colleague and follows the cells they edit', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: 'charts' })
    const ctxA = await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 900 } })
    const ctxB = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } })
    const a = await ctxA.newPage(), b = await ctxB.newPage()
    const errorsA = watchErrors(a), errorsB = watchErrors(b)
    await a.goto(server.url + res.json.url)
    await a.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await clickCell(a, 0, 0)
    for (const v of ['North', 'South', 'East']) await typeCell(a, v)
    await clickCell(a, 0, 1)
    for (const v of ['120', '80', '45']) await typeCell(a, v)
    await waitForCell(a, 2, 1, '45')
    // select A1:B3 and insert a chart of it
    await clickCell(a, 0, 0)
    await a.keyboard.down('Shift')
    await clickCell(a, 2, 1)
    await a.keyboard.up('Shift')
    await a.getByTestId('charts-toggle').click()
    await expect.poll(() => a.getByTestId('charts-empty').innerText()).toContain('No charts')
    await a.getByTestId('chart-insert').click()
    await a.getByTestId('chart-title').fill('Sales by region')
    await a.getByTestId('chart-kind-line').check()
    await a.getByTestId('chart-save').click()
    const cardA = a.locator('[data-testid="chart-card"][data-title="Sales by region"]')
    await cardA.locator('canvas').first().waitFor()
    expect(await figures(cardA)).toEqual({ North: ['120'], South: ['80'], East: ['45'] })

    // a colleague opens the workbook: the chart is there; they change a figure and A's chart follows
    await b.goto(server.url + res.json.url)
    await b.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    const cardB = b.locator('[data-testid="chart-card"][data-title="Sales by region"]')
    await cardB.locator('canvas').first().waitFor()
    await clickCell(b, 1, 1)
    await typeCell(b, '=B1*2')
    await expect.poll(() => figures(cardA)).toEqual({ North: ['120'], South: ['240'], East: ['45'] })
    expect(errorsA).toEqual([])
    expect(errorsB).toEqual([])

    // A undoes their last step, the chart's insertion: it goes for both
    await a.getByTestId('undo').click()
    await expect.poll(() => b.locator('[data-testid="chart-card"]').count()).toBe(0)
    await ctxA.close()
    await ctxB.close()
  })

  it('the appraisal summary ranks and grades from the appraisal sheet, live as a colleague scores', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'performance-appraisal', title: '考核' })
    const ctxA = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } })
    const ctxB = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } })
    const a = await ctxA.newPage(), b = await ctxB.newPage()
    const errors = watchErrors(a)
    await a.goto(server.url + res.json.url)
    await a.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await b.goto(server.url + res.json.url)
    await b.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await a.getByTestId('appraisal-open').click()
    const row = a.getByTestId('appraisal-row').first()
    const cells = () => row.locator('td').allInnerTexts()
    await expect.poll(cells).toEqual(expect.arrayContaining(['1', '绩效考核']))
    const before = Number((await cells())[2])
    // the grade agrees with the sheet's own totals row (F5 score, G5 grade)
    const totals = await b.locator('[data-testid="grid"][data-live] .ht_master tbody tr[aria-rowindex="6"] td').allInnerTexts()
    expect(Number(before)).toBeCloseTo(Number(totals[5]), 2)
    expect((await cells())[4]).toBe(totals[6])
    await a.getByTestId('appraisal-summary').locator('canvas').first().waitFor()
    // B raises the GMV attainment from 95 to 100 (the weight caps it): A's summary follows
    await clickCell(b, 0, 4)
    await typeCell(b, '100')
    await expect.poll(async () => Number((await cells())[2])).toBeCloseTo(before + 2, 2)
    expect(errors).toEqual([])
    await ctxA.close()
    await ctxB.close()
  })
})
