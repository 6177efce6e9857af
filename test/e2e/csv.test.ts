/**
 * CSV import in the browser: a GBK file chosen on the home page and another dropped on the dialog —
 * the preview shows its Chinese headers, the detected encoding, the skipped title line and the guessed
 * types; importing opens the workbook with the values in the grid. The sheet menu's "导入到此工作表"
 * appends a dropped file's rows by column title. The dialog fits a 390 px phone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import iconv from 'iconv-lite'
import { launchBrowser, startAppServer, waitForCell, watchErrors } from '../helpers/browser'
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

const gbk = (text: string) => [...iconv.encode(text, 'gbk')]

/** Drops a file (its bytes) on an element, as a person dragging it from the desktop does. */
async function dropFile(page: Page, selector: string, name: string, bytes: number[]) {
  const dt = await page.evaluateHandle(([n, b]) => {
    const t = new DataTransfer()
    t.items.add(new File([new Uint8Array(b)], n, { type: 'text/csv' }))
    return t
  }, [name, bytes] as const)
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: dt })
  await page.dispatchEvent(selector, 'drop', { dataTransfer: dt })
}

describe('CSV import dialog', () => {
  it('previews a dropped GBK file with its Chinese headers and the detected encoding, imports it, and appends another into the sheet', async () => {
    const ctx = await browser.newContext({ locale: 'zh-CN' })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    await page.goto(server.url)
    // dropped on the home page's new-workbook card, a CSV opens the dialog
    await dropFile(page, '[data-testid="home-create"]', 'first.csv', [...Buffer.from('a,b\n1,2\n')])
    await page.getByTestId('csv-dialog').waitFor()
    await expect.poll(() => page.getByTestId('csv-drop').innerText()).toBe('first.csv')
    // another file dropped on the dialog takes its place
    await dropFile(page, '[data-testid="csv-drop"]', '店铺日报.csv', gbk('2025年6月 店铺日报\n店铺,销售额,转化率,日期\n天猫旗舰店,"1,234.50",12.5%,2025年6月18日\n京东自营,3.2万,8%,2025年6月19日\n<img src=x onerror=alert(1)>,1,1%,2025-06-20\n'))
    await expect.poll(() => page.getByTestId('csv-preview').locator('thead tr').first().innerText()).toContain('店铺')
    expect((await page.getByTestId('csv-preview').locator('thead tr').first().innerText()).split('\t').map(s => s.trim())).toEqual(['#', '店铺', '销售额', '转化率', '日期'])
    expect(await page.getByTestId('csv-preview').locator('thead tr').nth(1).innerText()).toMatch(/文本\s+数字\s+百分比\s+日期/)
    expect(await page.getByTestId('csv-encoding').locator('option').first().innerText()).toContain('GBK')
    expect(await page.getByTestId('csv-summary').innerText()).toContain('跳过表格上方 1 行标题')
    expect(await page.getByTestId('csv-preview').locator('tbody').innerText()).toContain('<img src=x onerror=alert(1)>')

    // at 390 px the dialog stays on the screen (its table scrolls inside it)
    await page.setViewportSize({ width: 390, height: 800 })
    const box = (await page.getByTestId('csv-dialog').boundingBox())!
    expect(box.x).toBeGreaterThanOrEqual(0)
    expect(box.x + box.width).toBeLessThanOrEqual(390)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await page.setViewportSize({ width: 1280, height: 800 })

    await page.getByTestId('csv-import').click()
    // the report of what was converted, then the workbook
    await expect.poll(() => page.getByTestId('csv-report').innerText(), { timeout: 20_000 }).toContain('已导入 3 行、4 列')
    expect(await page.getByTestId('csv-report').innerText()).toMatch(/1 个“万\/亿”金额已换算为数值[\s\S]*3 个日期|3 个日期[\s\S]*1 个“万\/亿”金额/)
    await page.getByTestId('csv-close').click()
    await page.waitForURL(/\/w\//, { timeout: 30_000 })
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await waitForCell(page, 0, 0, '天猫旗舰店')
    await waitForCell(page, 0, 1, '1,234.50')
    await waitForCell(page, 1, 1, '32,000.00')
    await waitForCell(page, 0, 2, '12.5%')
    await waitForCell(page, 0, 3, '2025-06-18')
    await waitForCell(page, 2, 0, '<img src=x onerror=alert(1)>')

    // the sheet menu: import into this sheet, columns matched by title
    await page.locator('[role=tab]').first().click({ button: 'right' })
    await page.getByTestId('sheet-import').click()
    await page.getByTestId('csv-dialog').waitFor()
    await dropFile(page, '[data-testid="csv-drop"]', 'more.csv', gbk('日期,店铺,销售额,渠道\n2025/6/21,拼多多,"2,000",百亿补贴\n'))
    await expect.poll(() => page.getByTestId('csv-matches').innerText()).toContain('渠道')
    expect(await page.getByTestId('csv-matches').innerText()).toMatch(/店铺 — 按标题匹配[\s\S]*渠道 — 此工作表没有同名列/)
    await page.getByTestId('csv-import').click()
    await expect.poll(() => page.getByTestId('csv-report').innerText(), { timeout: 20_000 }).toContain('已导入 1 行')
    await page.getByTestId('csv-close').click()
    await waitForCell(page, 3, 0, '拼多多')
    await waitForCell(page, 3, 1, '2,000.00')
    expect(errors).toEqual([])
    await ctx.close()
  }, 90_000)
})
