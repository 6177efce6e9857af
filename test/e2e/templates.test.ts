import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, typeCell, cellText, cellLocator } from '../helpers/browser'
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

const td = cellLocator

async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole('tab', { name, exact: true }).click()
  await expect.poll(() => page.getByRole('tab', { name, exact: true }).getAttribute('aria-selected')).toBe('true')
}

describe('the operations plan from the template gallery', () => {
  it('creates the workbook from its card and shows the computed seed figures, colours and a growing table', async () => {
    const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1400, height: 900 } })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    await page.goto(server.url + '/')
    const card = page.locator('[data-template="operations-plan"]')
    await card.click()
    await expect.poll(() => card.getAttribute('aria-checked')).toBe('true')
    // the card previews its first sheet with the seed's rows
    expect(await card.locator('table.preview').innerText()).toContain('宏观环境')
    await expect.poll(() => page.getByTestId('chosen-template').innerText()).toContain('运营规划')
    await page.getByTestId('new-title').fill('2024 运营规划')
    await page.getByTestId('create').click()
    await page.waitForURL(/\/w\/[\w-]+$/)
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')

    // 商品运营: 动销率 = 30天销量 / 库存量, slow movers (< 30 %) in red
    await openTab(page, '商品运营')
    await waitForCell(page, 0, 7, '60.00%')
    expect(await cellText(page, 1, 7)).toBe('18.75%')
    expect(await cellText(page, 2, 7)).toBe('70.00%')
    expect(await td(page, 1, 7).getAttribute('class')).toContain('cell-bad')
    expect(await td(page, 0, 7).getAttribute('class')).not.toContain('cell-bad')
    // the header says the column is calculated and explains itself
    const header = page.locator('.ht_clone_top thead th', { hasText: '动销率' }).first()
    expect(await header.getAttribute('class')).toContain('col-calculated')
    expect(await header.getAttribute('title')).toContain('库存量')

    // a product typed into the row below the table gets the column formulas
    await clickCell(page, 3, 0)
    await typeCell(page, 'MB004')
    await clickCell(page, 3, 5)
    await typeCell(page, '200')
    await clickCell(page, 3, 6)
    await typeCell(page, '50')
    await waitForCell(page, 3, 7, '25.00%')
    expect(await td(page, 3, 7).getAttribute('class')).toContain('cell-bad')

    // 绩效考核: 38 / 32 / 15 / 10 → 95 → 良好, weights total 100 %
    await openTab(page, '绩效考核')
    await waitForCell(page, 4, 5, '95')
    expect(await cellText(page, 4, 6)).toBe('良好')
    for (const [r, score, grade] of [[0, '38', '良好'], [1, '32', '优秀'], [2, '15', '优秀'], [3, '10', '待改进']] as const) {
      expect(await cellText(page, r, 5)).toBe(score)
      expect(await cellText(page, r, 6)).toBe(grade)
    }
    expect(await td(page, 4, 5).getAttribute('class')).toContain('cell-totals')
    expect(await td(page, 4, 2).getAttribute('class')).toContain('cell-good')
    // a weight changed so they no longer total 100 % is flagged at once
    await clickCell(page, 0, 2)
    await typeCell(page, '30%')
    await waitForCell(page, 4, 2, '90%')
    expect(await td(page, 4, 2).getAttribute('class')).toContain('cell-bad')
    expect(await cellText(page, 4, 1)).toContain('100%')

    // a dropdown column offers its options
    await clickCell(page, 0, 8)
    await page.keyboard.press('Enter')
    await page.waitForSelector('.autocompleteEditor:visible, .handsontableEditor:visible')
    expect(await page.locator('.autocompleteEditor td, .handsontableEditor td').allInnerTexts()).toEqual(expect.arrayContaining(['越高越好', '越低越好', '比值', '手工评分']))
    await page.keyboard.press('Escape')

    // a date column: Enter opens the date picker on the ISO date; typing straight in still works
    await openTab(page, '活动进度')
    await waitForCell(page, 0, 5, '2024-05-10')
    await clickCell(page, 0, 5)
    await page.keyboard.press('Enter')
    const picker = page.locator('.pw-datepicker')
    await picker.waitFor({ state: 'visible' })
    expect(await picker.locator('.dp-selected').getAttribute('data-date')).toBe('2024-05-10')
    await page.keyboard.press('Escape')
    await clickCell(page, 1, 5)
    await typeCell(page, '2024-5-28')
    await waitForCell(page, 1, 5, '2024-05-28')

    expect(errors).toEqual([])
    await ctx.close()
  })
})

describe('column settings', () => {
  it('gives a blank sheet a titled dropdown column whose stray values are flagged', async () => {
    const ctx = await browser.newContext({ locale: 'zh-CN' })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: 'columns' })
    await page.goto(server.url + res.json.url)
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await clickCell(page, 0, 0)
    await typeCell(page, 'maybe')
    await waitForCell(page, 0, 0, 'maybe')
    await cellLocator(page, 0, 0).click({ button: 'right' })
    await page.locator('.htContextMenu td', { hasText: '列设置' }).click()
    const dialog = page.getByTestId('column-dialog')
    await dialog.waitFor()
    await page.getByTestId('column-title').fill('状态')
    await page.getByTestId('column-type').selectOption('select')
    await page.getByTestId('column-save').click()
    // a dropdown needs options: the dialog says so and stays open
    await expect.poll(() => dialog.getByRole('alert').innerText()).toContain('至少需要一个选项')
    await page.getByTestId('column-options').fill('未开始\n进行中\n已完成')
    await page.getByTestId('column-help').fill('任务当前所处的状态')
    await page.getByTestId('column-save').click()
    await dialog.waitFor({ state: 'detached' })
    const header = page.locator('.ht_clone_top thead th', { hasText: '状态' }).first()
    await expect.poll(() => header.innerText()).toContain('A · 状态')
    expect(await header.getAttribute('title')).toContain('任务当前所处的状态')
    // the value typed before is kept, and flagged as not one of the options
    await expect.poll(() => cellLocator(page, 0, 0).getAttribute('class')).toContain('cell-invalid')
    expect(await cellLocator(page, 0, 0).getAttribute('title')).toContain('未开始 / 进行中 / 已完成')
    // the dropdown offers the options; picking one writes it
    await clickCell(page, 1, 0)
    await page.keyboard.press('Enter')
    await page.locator('.autocompleteEditor td, .handsontableEditor td', { hasText: '进行中' }).first().click()
    await waitForCell(page, 1, 0, '进行中')
    expect(await cellLocator(page, 1, 0).getAttribute('class')).not.toContain('cell-invalid')
    expect(errors).toEqual([])
    await ctx.close()
  })
})
