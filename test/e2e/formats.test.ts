/**
 * Formats between two people in two browser contexts, through the real server: a colour scale and a
 * data bar chosen by A in the rules dialog colour B's grid by each number's place between the lowest
 * and the highest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, typeCell, cellLocator, cellText } from '../helpers/browser'
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

async function open(url: string, locale: string): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ locale, viewport: { width: 1280, height: 800 } })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  return { ctx, page, errors }
}

async function shared(title: string) {
  const res = await server.api('POST', '/api/workbooks', { template: 'blank', title })
  const invite = await server.api('POST', `/api/workbooks/${res.json.id}/links`, { role: 'editor', name: '李雷' }, { headers: { authorization: `Bearer ${res.json.token}` } })
  return { owner: server.url + res.json.url, editor: server.url + invite.json.url }
}

const paint = (p: Page, r: number, c: number) => cellLocator(p, r, c).evaluate(td => {
  const s = getComputedStyle(td as HTMLElement)
  return { bg: s.backgroundColor, image: s.backgroundImage }
})

describe('colour scales and data bars', () => {
  it('a colour scale, then a data bar, chosen by A colour B\'s cells from the lowest number to the highest', async () => {
    const urls = await shared('色阶 Scales')
    const A = await open(urls.owner, 'zh-CN')
    const B = await open(urls.editor, 'en-US')
    await clickCell(A.page, 0, 1)
    for (const x of ['10', '20', '30']) await typeCell(A.page, x)
    await waitForCell(B.page, 2, 1, '30')
    const dialogOf = async () => {
      await cellLocator(A.page, 0, 1).click({ button: 'right' })
      await A.page.locator('.htContextMenu td', { hasText: '条件格式' }).click()
      return A.page.getByTestId('rules-dialog')
    }
    let dialog = await dialogOf()
    // the first preset: red → yellow → green
    await dialog.getByTestId('scale-preset-0').click()
    expect(await dialog.getByTestId('scale-kind').inputValue()).toBe('scale3')
    await dialog.getByTestId('rules-save').click()
    await expect.poll(() => paint(B.page, 0, 1).then(p => p.bg), { timeout: 10_000 }).toBe('rgb(248, 105, 107)')
    expect((await paint(B.page, 1, 1)).bg).toBe('rgb(255, 235, 132)')
    expect((await paint(B.page, 2, 1)).bg).toBe('rgb(99, 190, 123)')
    // a new lowest number moves the scale: 20 is now above the middle
    await clickCell(A.page, 3, 1)
    await typeCell(A.page, '-10')
    await expect.poll(() => paint(B.page, 3, 1).then(p => p.bg), { timeout: 10_000 }).toBe('rgb(248, 105, 107)')
    expect((await paint(B.page, 1, 1)).bg).not.toBe('rgb(255, 235, 132)')
    // a data bar instead: as long as the number's place from -10 to 30
    dialog = await dialogOf()
    await dialog.getByTestId('scale-preset-3').click()
    await dialog.getByTestId('rules-save').click()
    await expect.poll(() => paint(B.page, 2, 1).then(p => p.image), { timeout: 10_000 }).toContain('100%')
    expect((await paint(B.page, 1, 1)).image).toContain('75%')
    expect((await paint(B.page, 3, 1)).image).toContain('0%')
    expect((await paint(B.page, 0, 1)).bg).not.toBe('rgb(248, 105, 107)')
    // and none: the cells are plain again
    dialog = await dialogOf()
    await dialog.getByTestId('scale-kind').selectOption('none')
    await dialog.getByTestId('rules-save').click()
    await expect.poll(() => paint(B.page, 2, 1).then(p => p.image), { timeout: 10_000 }).toBe('none')
    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })
})

describe('the workbook time zone', () => {
  it('A changes the workbook\'s time zone from the footer: TODAY() moves for B too', async () => {
    const urls = await shared('时区 Zone')
    const A = await open(urls.owner, 'zh-CN')
    const B = await open(urls.editor, 'en-US')
    // blank template: a workbook made over the API has no zone, so it is on Asia/Shanghai
    await expect.poll(() => A.page.getByTestId('time-zone').innerText()).toContain('中国标准时间')
    await clickCell(A.page, 0, 0)
    await typeCell(A.page, '=TODAY()')
    const serial = async (p: Page) => Number((await cellText(p, 0, 0)).replace(/,/g, ''))
    await expect.poll(() => serial(B.page), { timeout: 10_000 }).toBeGreaterThan(40_000)
    const pick = async (zone: string) => {
      await A.page.getByTestId('time-zone').click()
      await A.page.getByTestId('time-zone-search').fill(zone.split('/')[1]!)
      await A.page.locator(`[data-testid=time-zone-menu] button[data-zone="${zone}"]`).click()
    }
    // UTC-11, then UTC+14: 25 hours apart, so the dates differ
    await pick('Pacific/Pago_Pago')
    await expect.poll(() => B.page.getByTestId('time-zone').innerText(), { timeout: 10_000 }).toMatch(/Samoa/)
    const west = await serial(B.page)
    await pick('Pacific/Kiritimati')
    await expect.poll(async () => (await serial(B.page)) - west, { timeout: 10_000 }).toBeGreaterThanOrEqual(1)
    expect(await serial(A.page)).toBe(await serial(B.page))
    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })
})

describe('cut and paste', () => {
  it('a cut stays outlined until pasted; the paste moves the cells for everyone and a formula reading them follows', async () => {
    const urls = await shared('剪切 Move')
    const A = await open(urls.owner, 'zh-CN')
    const B = await open(urls.editor, 'en-US')
    await A.ctx.grantPermissions(['clipboard-read', 'clipboard-write'])
    await clickCell(A.page, 0, 0)
    for (const x of ['10', '20']) await typeCell(A.page, x)
    await clickCell(A.page, 0, 1)
    await typeCell(A.page, '=A1+A2')
    await waitForCell(B.page, 0, 1, '30')
    // A1:A2 cut: still there, outlined
    await clickCell(A.page, 0, 0)
    await A.page.keyboard.press('Shift+ArrowDown')
    await A.page.keyboard.press('Control+X')
    const cut = (p: Page, r: number, c: number) => cellLocator(p, r, c).evaluate(td => td.classList.contains('cell-cut'))
    await expect.poll(() => cut(A.page, 0, 0)).toBe(true)
    expect(await cellText(A.page, 0, 0)).toBe('10')
    // pasted at D5: moved
    await clickCell(A.page, 4, 3)
    await A.page.keyboard.press('Control+V')
    await waitForCell(B.page, 4, 3, '10')
    await waitForCell(B.page, 5, 3, '20')
    await waitForCell(B.page, 0, 0, '')
    expect(await cellText(B.page, 0, 1)).toBe('30')
    expect(await cut(A.page, 4, 3)).toBe(false)
    // the formula reads the moved cells
    await clickCell(B.page, 0, 1)
    await expect.poll(() => B.page.getByTestId('formula-bar').inputValue()).toBe('=D5+D6')
    // one Ctrl+Z of A's puts everything back
    await A.page.keyboard.press('Control+Z')
    await waitForCell(B.page, 0, 0, '10')
    await waitForCell(B.page, 4, 3, '')
    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })
})

describe('a filter and what acts on rows', () => {
  it('with A\'s filter on, Ctrl+D fills the rows shown only and a chart of the rows leaves out the filtered ones', async () => {
    const urls = await shared('筛选填充 Filtered fill')
    const A = await open(urls.owner, 'en-US')
    const B = await open(urls.editor, 'zh-CN')
    await clickCell(A.page, 0, 0)
    for (const x of ['east', 'south', 'east', 'north']) await typeCell(A.page, x)
    await clickCell(A.page, 0, 1)
    for (const x of ['1', '2', '3', '4']) await typeCell(A.page, x)
    await clickCell(A.page, 0, 2)
    await typeCell(A.page, '=B1*10')
    await waitForCell(B.page, 0, 2, '10')
    // A keeps the east rows
    await clickCell(A.page, 0, 0)
    await A.page.getByTestId('filter-open').click()
    await A.page.getByTestId('filter-none').click()
    await A.page.getByTestId('filter-values').locator('label', { hasText: 'east' }).locator('input').check()
    await A.page.getByTestId('filter-apply').click()
    await expect.poll(() => A.page.getByTestId('filter-banner').innerText()).toContain('2 of 4')
    // C1 down over C1:C3 (A sees two rows of it: C2 is filtered out, and A's grid numbers the rows it
    // shows): C3 gets the formula for its row, C2 nothing
    await clickCell(A.page, 0, 2)
    await cellLocator(A.page, 1, 2).click({ modifiers: ['Shift'] })
    await A.page.keyboard.press('Control+D')
    await waitForCell(B.page, 2, 2, '30')
    expect(await cellText(B.page, 1, 2)).toBe('')
    // a chart of A1:B3 (the two east rows A sees): the filtered row between them is not in it
    await clickCell(A.page, 0, 0)
    await cellLocator(A.page, 1, 1).click({ modifiers: ['Shift'] })
    await A.page.getByTestId('charts-toggle').click()
    await A.page.getByTestId('chart-insert').click()
    await A.page.getByTestId('chart-title').fill('East')
    await A.page.getByTestId('chart-save').click()
    const table = A.page.getByTestId('chart-table').first()
    await expect.poll(() => table.textContent({ timeout: 1000 }).catch(() => ''), { timeout: 10_000 }).toContain('east')
    expect(await table.textContent()).not.toContain('south')
    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })
})

describe('my filter after a reload', () => {
  it('is still applied in my browser, and a filter someone wrote into storage by hand is ignored', async () => {
    const urls = await shared('筛选保留 Kept filter')
    const A = await open(urls.owner, 'en-US')
    await clickCell(A.page, 0, 0)
    for (const x of ['east', 'south', 'east', 'north']) await typeCell(A.page, x)
    await clickCell(A.page, 0, 0)
    await A.page.getByTestId('filter-open').click()
    await A.page.getByTestId('filter-none').click()
    await A.page.getByTestId('filter-values').locator('label', { hasText: 'east' }).locator('input').check()
    await A.page.getByTestId('filter-apply').click()
    await expect.poll(() => A.page.getByTestId('filter-banner').innerText()).toContain('2 of 4')
    await A.page.reload()
    await A.page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await expect.poll(() => A.page.getByTestId('filter-banner').innerText(), { timeout: 10_000 }).toContain('2 of 4')
    // a broken entry is dropped, not applied
    await A.page.evaluate(() => { for (const k of Object.keys(localStorage)) if (k.startsWith('pw-filters:')) localStorage.setItem(k, '{"x": {"c": {"kind": "nope"}}}') })
    await A.page.reload()
    await A.page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await A.page.waitForSelector('[data-testid="connection-status"].connected')
    expect(await A.page.getByTestId('filter-banner').count()).toBe(0)
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })
})

describe('the format toolbar\'s more menu', () => {
  it('vertical alignment from the more menu is seen by B; the toolbar stays one line at 1280 px', async () => {
    const urls = await shared('垂直对齐 Align')
    const A = await open(urls.owner, 'zh-CN')
    const B = await open(urls.editor, 'en-US')
    await clickCell(A.page, 0, 0)
    await typeCell(A.page, '顶端')
    await clickCell(A.page, 0, 0)
    await A.page.getByTestId('format-more').click()
    await A.page.getByTestId('format-va-top').click()
    const has = (p: Page, cls: string) => cellLocator(p, 0, 0).evaluate((td, c) => td.classList.contains(c), cls)
    await expect.poll(() => has(B.page, 'htTop'), { timeout: 10_000 }).toBe(true)
    await A.page.getByTestId('format-more').click()
    expect(await A.page.getByTestId('format-va-top').getAttribute('aria-checked')).toBe('true')
    await A.page.getByTestId('format-va-bottom').click()
    await expect.poll(() => has(B.page, 'htBottom'), { timeout: 10_000 }).toBe(true)
    expect(await has(B.page, 'htTop')).toBe(false)
    const bar = await A.page.getByTestId('format-bar').boundingBox()
    expect(bar!.height).toBeLessThan(40)
    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })
})

