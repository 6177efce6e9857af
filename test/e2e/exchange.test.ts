/**
 * Exports and imports in the browser: the Export menu downloads a real .xlsx and a CSV, the review pack
 * renders every chosen sheet and prints to a paginated PDF, and the home page imports an .xlsx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import type { Browser } from 'playwright-core'
import ExcelJS from 'exceljs'
import { launchBrowser, startAppServer, watchErrors, waitForCell } from '../helpers/browser'
import { createWorkbook, docUntil, ownerTokens, syncedClient, type TestServer } from '../helpers/server'
import { sheetIds } from '../../src/core/workbook/schema'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { cellStyle, setCellStyle } from '../../src/core/workbook/styles'
import { mergeCells, sheetMerges } from '../../src/core/workbook/merges'
import { hiddenIds, setHidden } from '../../src/core/workbook/hidden'

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

describe('export and the review pack', () => {
  it('the Export menu downloads the workbook and a sheet; the review pack shows every chosen sheet and prints', async () => {
    const id = await createWorkbook(server, { template: 'operations-plan', title: '年度运营计划', lang: 'zh-CN' })
    const ctx = await browser.newContext({ locale: 'zh-CN', acceptDownloads: true })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.url}/w/${id}?token=${ownerTokens.get(id)}`)
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')

    await page.getByTestId('export').click()
    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-xlsx').click()])
    expect(xlsx.suggestedFilename()).toBe('年度运营计划.xlsx')
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(readFileSync((await xlsx.path())!) as unknown as ArrayBuffer)
    const tabs = await page.locator('[role=tab]').allInnerTexts()
    expect(wb.worksheets.filter(w => w.state === 'visible').map(w => w.name)).toEqual(tabs.map(x => x.trim()))
    // the template's five dashboards, drawn by the page, are pictures beside their sheets
    expect(wb.worksheets.filter(w => w.getImages().length).map(w => w.name)).toEqual(['运营目标', '数据监控', '预算分配', '收入预测', '渠道规划'])
    expect(wb.model.media.every(m => m.extension === 'png' && (m.buffer as unknown as Uint8Array).length > 2000)).toBe(true)
    await expect.poll(() => page.getByTestId('notice').innerText()).toContain('年度运营计划.xlsx')

    await page.getByTestId('export').click()
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()])
    const text = readFileSync((await csv.path())!, 'utf8')
    expect(text.charCodeAt(0)).toBe(0xfeff)
    expect(csv.suggestedFilename()).toMatch(/\.csv$/)

    // saved as a template, it shows in the gallery
    await page.getByTestId('export').click()
    page.once('dialog', d => void d.accept('我们的模板'))
    await page.getByTestId('export-template').click()
    await expect.poll(() => page.getByTestId('notice').innerText()).toContain('我们的模板')

    // formats, a merge and a hidden column made by a colleague are in the review pack as in the grid:
    // on 数据监控, B1 bold and filled, C2:D2 merged, the 单位 column (I) hidden
    const colleague = await syncedClient(server, id), watcher = await syncedClient(server, id)
    const kpiId = sheetIds(colleague.doc).find(x => new WorkbookLayout(colleague.doc).sheet(x)!.name === '数据监控')!
    const cellAt = (r: number, c: number) => { const sl = new WorkbookLayout(colleague.doc).sheet(kpiId)!; return { rowId: sl.rows.ids[r]!, colId: sl.cols.ids[c]! } }
    setCellStyle(colleague.doc, kpiId, [cellAt(0, 1)], { b: true, bg: '#fff2cc' })
    mergeCells(colleague.doc, new WorkbookLayout(colleague.doc), kpiId, cellAt(1, 2), cellAt(1, 3))
    setHidden(colleague.doc, kpiId, 'cols', [cellAt(0, 8).colId], true)
    // (the server has them once they reach another client through it)
    await docUntil(watcher.doc, 'the formats at the server', d => cellStyle(d, kpiId, cellAt(0, 1).rowId, cellAt(0, 1).colId).bg === '#fff2cc'
      && sheetMerges(d, new WorkbookLayout(d), kpiId).length === 1 && hiddenIds(d, kpiId, 'cols').size === 1)
    colleague.destroy(); watcher.destroy()

    // the review pack
    await page.getByTestId('export').click()
    await page.getByTestId('export-print').click()
    await page.waitForSelector('[data-testid=print-section]')
    const sheetsWithData = await page.locator('[data-testid=print-sheet]:checked').count()
    expect(sheetsWithData).toBeGreaterThan(5)
    expect(await page.getByTestId('print-section').count()).toBe(sheetsWithData)
    expect(await page.getByTestId('print-cover').innerText()).toContain('年度运营计划')
    const kpi = page.locator('[data-testid=print-section][data-sheet="数据监控"]')
    expect(await kpi.locator('tbody tr').count()).toBeGreaterThan(2)
    expect(await kpi.locator('thead th').first().innerText()).not.toBe('A')
    const dau = kpi.locator('tbody tr').first().locator('td').nth(1)
    expect(await dau.innerText()).toBe('DAU')
    expect(await dau.evaluate(el => { const s = getComputedStyle(el); return [s.fontWeight, s.backgroundColor] })).toEqual(['700', 'rgb(255, 242, 204)'])
    // C2:D2 is one cell over two columns, the row one cell short; the hidden column is not printed
    const second = kpi.locator('tbody tr').nth(1)
    expect(await second.locator('td[colspan="2"]').count()).toBe(1)
    expect(await second.locator('td').count()).toBe(await kpi.locator('thead th').count() - 1)
    expect(await kpi.locator('thead th').allInnerTexts()).not.toContain('单位')
    // its dashboard is drawn under the table, as SVG (crisp on paper)
    await expect.poll(() => kpi.locator('[data-testid=print-chart] svg path').count()).toBeGreaterThan(10)
    // leave one sheet out
    await page.locator('[data-testid=print-sheet][data-sheet="数据监控"]').uncheck()
    await expect.poll(() => page.getByTestId('print-section').count()).toBe(sheetsWithData - 1)
    // printed: the controls are not on paper, and the pack spans a cover and a page per sheet at least
    await page.emulateMedia({ media: 'print' })
    expect(await page.locator('.controls').isVisible()).toBe(false)
    // fills and borders are printed, not dropped as background graphics
    expect(await page.locator('[data-testid=print-section] tbody td').first().evaluate(el => getComputedStyle(el).printColorAdjust)).toBe('exact')
    const pdf = await page.pdf({ preferCSSPageSize: true })
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length
    expect(pages).toBeGreaterThanOrEqual(sheetsWithData)
    await page.emulateMedia({ media: 'screen' })
    await page.goto(server.url + '/')
    const card = page.locator('[data-testid=gallery] .tpl', { hasText: '我们的模板' })
    await card.waitFor()
    expect(await card.innerText()).toContain('自定义')
    expect(errors).toEqual([])
    await ctx.close()
  })
})

describe('import', () => {
  it('the home page imports an .xlsx and opens it', async () => {
    const wb = new ExcelJS.Workbook()
    const ws = wb.addWorksheet('预算')
    ws.addRow(['项目', '金额'])
    ws.getRow(1).font = { bold: true }
    ws.addRow(['直通车', 12000])
    ws.addRow(['合计', { formula: 'SUM(B2:B2)', result: 12000 }])
    const file = Buffer.from(await wb.xlsx.writeBuffer())
    const ctx = await browser.newContext({ locale: 'en-US' })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    await page.goto(server.url + '/')
    await page.waitForSelector('[data-testid=gallery] .tpl')
    await page.getByTestId('import-file').setInputFiles({ name: 'budget 2027.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: file })
    await page.waitForURL(/\/w\/[\w-]+$/)
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await waitForCell(page, 1, 1, '12000')
    expect(await page.getByTestId('workbook-title').inputValue()).toBe('budget 2027')
    // a broken file says so, and nothing opens
    await page.goto(server.url + '/')
    await page.waitForSelector('[data-testid=gallery] .tpl')
    await page.getByTestId('import-file').setInputFiles({ name: 'broken.xlsx', mimeType: 'application/octet-stream', buffer: Buffer.from('not a workbook at all') })
    await expect.poll(() => page.getByTestId('import-error').innerText()).toContain('ZIP')
    expect(errors).toEqual([])
    await ctx.close()
  })
})
