/**
 * Roll-up workbooks in the browser (issue 21): made from two KPI workbooks, the roll-up opens with the
 * template's chart over the combined rows, its banner names the sources, its cells are read-only (also
 * for its owner), and it follows a source's edit; the banner fits a phone's width.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Locator } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, clickCell, cellText, waitForCell } from '../helpers/browser'
import { createLink, createWorkbook, syncedClient, type TestServer } from '../helpers/server'
import { setKpi } from '../helpers/rollup'

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

async function figures(card: Locator): Promise<Record<string, string[]>> {
  const rows = await card.getByTestId('chart-table').locator('tbody tr').evaluateAll(trs => trs.map(tr => Array.from(tr.children).map(x => x.textContent ?? '')))
  return Object.fromEntries(rows.map(r => [r[0]!, r.slice(1)]))
}

describe('roll-up workbooks', () => {
  it('open with their chart, read-only cells and a banner of sources, and follow a source', async () => {
    const sources: { id: string; view: string }[] = []
    const editors = []
    for (const actual of [3, 4]) {
      const id = await createWorkbook(server, { template: 'kpi-monitoring', title: `门店${actual}` })
      const c = await syncedClient(server, id)
      setKpi(c.doc, 'DAU', 'actual', actual)
      editors.push(c)
      sources.push({ id, view: await createLink(server, id, 'viewer', '总部') })
    }
    await server.rooms.flushAll()
    const made = await server.api('POST', '/api/rollups', {
      title: '区域汇总', template: 'kpi-monitoring', sheetKey: 'kpi', mode: 'aggregate', key: '核心指标',
      measures: [{ column: '目标值', fn: 'sum' }, { column: '实际值', fn: 'sum' }], sources: sources.map(s => ({ workbookId: s.id, token: s.view })),
    })
    expect(made.status, made.text).toBe(201)

    const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.url}/w/${made.json.id}?token=${made.json.token}`)
    // (the roll-up sheet may have no rows yet: the first pass starts as the page opens it)
    await page.waitForSelector('[data-testid="grid"][data-live]', { timeout: 15_000 }).catch(e => { throw new Error(`${e.message}; page errors: ${errors.join(' | ')}`) })
    // the chart of the template, over the summed rows
    const card = page.locator('[data-testid="chart-card"][data-title="KPI 目标与实际"]')
    await card.locator('canvas').first().waitFor()
    await expect.poll(() => figures(card), { timeout: 10_000 }).toMatchObject({ DAU: ['20', '7'] })
    await expect.poll(() => page.getByTestId('rollup-banner').innerText()).toContain('2')
    // the roll-up cells are read-only, for the owner too: typing changes nothing
    await waitForCell(page, 0, 5, '7')
    await clickCell(page, 0, 5)
    await page.keyboard.type('999')
    await page.keyboard.press('Enter')
    expect(await cellText(page, 0, 5)).toBe('7')
    // a source edits: the roll-up follows
    setKpi(editors[0]!.doc, 'DAU', 'actual', 30)
    await waitForCell(page, 0, 5, '34')
    expect(await page.getByTestId('refused').count()).toBe(0)
    expect(errors).toEqual([])

    // a phone: the banner stays within the screen
    const phone = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 800 } })
    const p2 = await phone.newPage()
    await p2.goto(`${server.url}/w/${made.json.id}?token=${made.json.token}`)
    const banner = p2.getByTestId('rollup-banner')
    await banner.waitFor()
    await banner.getByTestId('rollup-sources').click()
    await p2.getByTestId('rollup-panel').waitFor()
    const box = await banner.boundingBox()
    expect(box!.x + box!.width).toBeLessThanOrEqual(391)
    expect(await p2.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(391)
    await phone.close()
    await ctx.close()
    for (const c of editors) c.destroy()
  })
})
