/**
 * A phone (390×844, touch, a phone browser's user agent) against the real server: the workbook opens
 * readable (the page never wider than the screen, the first column frozen, the format toolbar folded
 * into one button, the header's menu usable), a cell is edited by tap + typing and by double-tap, and a select column's value is
 * chosen from its list; a colleague at a desk sees each edit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, CDPSession, Locator, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, waitForTypingFocus, cellLocator, cellText } from '../helpers/browser'
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

const PHONE = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
  // Handsontable takes touch alone (no mouse events) only for a phone browser's user agent
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
}

interface Opened { ctx: BrowserContext; page: Page; errors: string[]; cdp: CDPSession }

async function openPhone(url: string, locale: string): Promise<Opened> {
  const ctx = await browser.newContext({ ...PHONE, locale })
  // the widest the page ever was, frame by frame from the first one (it widened while loading once)
  await ctx.addInitScript(() => {
    const w = window as unknown as { widest: number }
    w.widest = 0
    const look = () => { w.widest = Math.max(w.widest, document.documentElement?.scrollWidth ?? 0); requestAnimationFrame(look) }
    requestAnimationFrame(look)
  })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  await page.waitForSelector('[data-testid="connection-status"].connected')
  return { ctx, page, errors, cdp: await ctx.newCDPSession(page) }
}

async function openDesk(url: string): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  return { ctx, page, errors }
}

/** A finger's tap on the visible middle of an element. */
async function tap(page: Page, target: Locator): Promise<void> {
  const box = await target.boundingBox()
  if (!box) throw new Error('nothing to tap: the element is not on screen')
  const { width, height } = page.viewportSize()!
  const left = Math.max(box.x, 0), right = Math.min(box.x + box.width, width)
  const top = Math.max(box.y, 0), bottom = Math.min(box.y + box.height, height)
  if (right <= left || bottom <= top) throw new Error('nothing to tap: the element is outside the screen')
  await page.touchscreen.tap((left + right) / 2, (top + bottom) / 2)
}

/**
 * A finger drawn sideways across `scroller` from (x, y) by dx pixels, as the touch events a phone
 * sends; resolves once the scroll, its fling included, has ended (a tap during a fling only stops it).
 */
async function swipe(cdp: CDPSession, scroller: Locator, x: number, y: number, dx: number): Promise<void> {
  type Watched = HTMLElement & { scrollEnded?: Promise<void> }
  await scroller.evaluate((el: Watched) => { el.scrollEnded = new Promise(resolve => el.addEventListener('scrollend', () => resolve(), { once: true })) })
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x, y }] })
  const steps = 20
  for (let i = 1; i <= steps; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: x + (dx * i) / steps, y }] })
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] })
  await scroller.evaluate((el: Watched) => el.scrollEnded)
}

/** The grid's cell editor is open (its field shown, over the cell, and holding the focus). */
async function waitForEditor(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const el = document.activeElement
    return el instanceof HTMLTextAreaElement && el.classList.contains('handsontableInput')
      && !!el.parentElement && !el.parentElement.classList.contains('ht_editor_hidden') && el.getBoundingClientRect().width > 0
  })
}

/** A cell of the frozen columns, as drawn over the grid (the main table leaves those columns out). */
const frozenCell = (page: Page, row: number, col: number) =>
  page.locator(`[data-testid="grid"][data-live] .ht_clone_inline_start tbody tr[aria-rowindex="${row + 2}"] td[aria-colindex="${col + 2}"]`)

const pageWidth = (page: Page) => page.evaluate(() => ({
  inner: window.innerWidth, scroll: document.documentElement.scrollWidth, widest: (window as unknown as { widest: number }).widest,
}))

describe('phone (390×844)', () => {
  it('opens a workbook readable: no sideways page, the first column frozen, the format toolbar folded', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'activity-progress', title: '618 大促时间线', lang: 'zh-CN' })
    const A = await openPhone(server.url + res.json.url, 'zh-CN')
    const { page } = A
    await page.getByTestId('share').waitFor({ state: 'attached' })

    // the page is the screen's width, and was at every frame while it loaded (a phone's browser widens
    // its layout to whatever is wider, so innerWidth staying 390 says the same)
    const w = await pageWidth(page)
    expect(w.inner).toBe(390)
    expect(w.scroll).toBeLessThanOrEqual(w.inner)
    expect(w.widest).toBeLessThanOrEqual(390)

    // the header holds more than fits and scrolls by itself under the finger, the page staying put
    const bar = page.locator('header.bar')
    expect(await bar.evaluate(el => el.scrollWidth > el.clientWidth)).toBe(true)
    const barBox = (await bar.boundingBox())!
    await swipe(A.cdp, bar, 360, barBox.y + barBox.height / 2, -330)
    expect(await bar.evaluate(el => el.scrollLeft)).toBeGreaterThan(100)
    expect(await page.evaluate(() => window.scrollX)).toBe(0)

    // the format toolbar is one button, on the formula bar's row; the grid starts high on the screen
    const fold = page.getByTestId('format-fold')
    expect(await fold.isVisible()).toBe(true)
    expect(await fold.getAttribute('aria-expanded')).toBe('false')
    expect(await page.getByTestId('format-b').isVisible()).toBe(false)
    const foldBox = (await fold.boundingBox())!, formulaBox = (await page.getByTestId('formula-bar').boundingBox())!
    expect(Math.abs((foldBox.y + foldBox.height / 2) - (formulaBox.y + formulaBox.height / 2))).toBeLessThan(4)
    const gridTop = (await page.getByTestId('grid').boundingBox())!.y
    expect(gridTop).toBeLessThan(110)
    await page.screenshot({ path: '/tmp/phone-open.png' })

    // the first column stays while the rest scroll under it (the sheet freezes two, 290 px of 390:
    // on a phone only the first is kept)
    expect(await page.locator('.ht_clone_inline_start thead tr').first().locator('th').count()).toBe(2)
    const row1 = (await cellLocator(page, 0, 1).boundingBox())!
    const y1 = row1.y + row1.height / 2
    const at = (x: number) => page.evaluate(([px, py]) => {
      const td = document.elementFromPoint(px!, py!)?.closest('td')
      return { text: td?.textContent ?? '', frozen: !!td?.closest('.ht_clone_inline_start') }
    }, [x, y1])
    expect(await at(330)).toEqual({ text: '活动方案确定', frozen: false })
    const gridBox = (await page.getByTestId('grid').boundingBox())!
    const holder = page.locator('.ht_master .wtHolder')
    await swipe(A.cdp, holder, 340, gridBox.y + 300, -300)
    expect(await holder.evaluate(el => el.scrollLeft)).toBeGreaterThan(200)
    expect(await at(70)).toEqual({ text: '策划阶段', frozen: true })
    expect((await at(330)).text).not.toBe('活动方案确定')
    // a swipe scrolls; it selects nothing
    expect(await page.getByTestId('cell-address').innerText()).toBe('A1')

    // unfolded: one row of finger-sized buttons that scrolls sideways, never wrapping, the page unchanged
    await tap(page, fold)
    await expect.poll(() => fold.getAttribute('aria-expanded')).toBe('true')
    const toolbar = page.getByTestId('format-bar')
    expect(await page.getByTestId('format-b').isVisible()).toBe(true)
    const rows = await toolbar.evaluate(el => new Set(Array.from(el.children).filter(c => (c as HTMLElement).offsetParent)
      .map(c => Math.round(c.getBoundingClientRect().top + c.getBoundingClientRect().height / 2))).size)
    expect(rows).toBe(1)
    expect(await toolbar.evaluate(el => el.scrollWidth > el.clientWidth)).toBe(true)
    expect((await page.getByTestId('format-b').boundingBox())!.height).toBeGreaterThanOrEqual(32)
    expect((await pageWidth(page)).scroll).toBeLessThanOrEqual(390)
    // and it formats: A1 (in the frozen column) bold, by two taps
    const frozenA1 = frozenCell(page, 0, 0)
    await tap(page, frozenA1)
    await expect.poll(() => page.getByTestId('cell-address').innerText()).toBe('A1')
    await tap(page, page.getByTestId('format-b'))
    await expect.poll(() => frozenA1.evaluate(td => getComputedStyle(td).fontWeight)).toBe('700')
    await page.screenshot({ path: '/tmp/phone-toolbar.png' })
    await tap(page, fold)
    await expect.poll(() => page.getByTestId('format-b').isVisible()).toBe(false)

    // the header's export menu: not clipped by the header's scrolling, on screen, and each item takes
    // its tap (the grid's touch selection handles, over A1, once lay on top of it)
    await tap(page, page.getByTestId('export'))
    await page.getByTestId('export-menu').waitFor()
    for (const id of ['export-xlsx', 'export-csv', 'export-print', 'export-template']) {
      const item = page.getByTestId(id)
      const reachable = await item.evaluate(el => {
        const r = el.getBoundingClientRect()
        return r.left >= 0 && r.right <= window.innerWidth && document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)?.closest('[data-testid]') === el
      })
      expect(reachable, id).toBe(true)
    }
    await page.screenshot({ path: '/tmp/phone-export.png' })
    await tap(page, page.getByTestId('export'))
    await expect.poll(() => page.getByTestId('export-menu').count()).toBe(0)

    expect((await pageWidth(page)).widest).toBeLessThanOrEqual(390)
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })

  it('a sheet that freezes nothing still keeps its first column in view on a phone', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '空白 Blank' })
    const A = await openPhone(server.url + res.json.url, 'en-US')
    expect(await A.page.locator('.ht_clone_inline_start thead tr').first().locator('th').count()).toBe(2)
    const widths = await pageWidth(A.page)
    expect(widths.inner).toBe(390)
    expect(widths.widest).toBeLessThanOrEqual(390)
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })

  it('a cell is edited by tap + typing and by double-tap, a status chosen from its list; a colleague at a desk sees each', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'activity-progress', title: '618 大促时间线', lang: 'zh-CN' })
    const invite = await server.api('POST', `/api/workbooks/${res.json.id}/links`, { role: 'editor', name: '韩梅梅' }, { headers: { authorization: `Bearer ${res.json.token}` } })
    expect(invite.status).toBe(201)
    const A = await openPhone(server.url + res.json.url, 'zh-CN')
    const B = await openDesk(server.url + invite.json.url)
    const { page } = A

    // tap an empty cell and type, through the input method as on a phone's keyboard
    await tap(page, cellLocator(page, 5, 1))
    await expect.poll(() => page.getByTestId('cell-address').innerText()).toBe('B6')
    await waitForTypingFocus(page)
    await A.cdp.send('Input.imeSetComposition', { text: 'zhibo', selectionStart: 5, selectionEnd: 5 })
    await A.cdp.send('Input.insertText', { text: '直播预热' })
    await page.keyboard.press('Enter')
    await waitForCell(page, 5, 1, '直播预热')
    await waitForCell(B.page, 5, 1, '直播预热')

    // a double-tap (on the frozen column's 复盘阶段) opens the editor on the cell with its text, the
    // caret after it (the browser's own double-tap no longer selects a word there): what is typed is added
    const cell = frozenCell(page, 3, 0)
    expect(await cell.innerText()).toBe('复盘阶段')
    const box = (await cell.boundingBox())!
    await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2)
    await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2)
    await waitForEditor(page)
    const field = page.locator('textarea.handsontableInput:focus')
    expect(await field.inputValue()).toBe('复盘阶段')
    expect(await field.evaluate((t: HTMLTextAreaElement) => [t.selectionStart, t.selectionEnd])).toEqual([4, 4])
    const fieldBox = (await field.boundingBox())!
    expect(Math.abs(fieldBox.x - box.x)).toBeLessThan(4)
    expect(Math.abs(fieldBox.y - box.y)).toBeLessThan(4)
    await page.screenshot({ path: '/tmp/phone-editor.png' })
    await A.cdp.send('Input.insertText', { text: '（6月）' })
    await page.keyboard.press('Enter')
    await expect.poll(() => cell.innerText()).toBe('复盘阶段（6月）')
    // (the colleague's grid freezes the sheet's two columns: the phone's one is the phone's own)
    await expect.poll(() => frozenCell(B.page, 3, 0).innerText(), { timeout: 10_000 }).toBe('复盘阶段（6月）')
    expect(await B.page.locator('.ht_clone_inline_start thead tr').first().locator('th').count()).toBe(3)

    // the status column (H) brought into view with a swipe; its list opened by a double-tap, a status tapped
    const gridBox = (await page.getByTestId('grid').boundingBox())!
    const holder = page.locator('.ht_master .wtHolder')
    const status = cellLocator(page, 3, 7)
    const frozenRight = (await cellLocator(page, 3, 1).boundingBox())!.x
    // as a person does: swipe, look, swipe again (by what is left) until the column is in full view
    for (let i = 0; i < 8; i++) {
      const b = await status.count() ? await status.boundingBox() : null
      if (b && b.x >= frozenRight && b.x + b.width <= 390) break
      const dx = b ? Math.max(-300, Math.min(300, (frozenRight + 390) / 2 - (b.x + b.width / 2))) : -300
      await swipe(A.cdp, holder, dx < 0 ? 370 : 160, gridBox.y + 400, dx)
    }
    const b = (await status.boundingBox())!
    expect(b.x).toBeGreaterThanOrEqual(frozenRight)
    expect(b.x + b.width).toBeLessThanOrEqual(390)
    expect(await cellText(page, 3, 7)).toBe('未开始')
    const sBox = (await status.boundingBox())!
    await page.touchscreen.tap(sBox.x + sBox.width / 2, sBox.y + sBox.height / 2)
    await page.touchscreen.tap(sBox.x + sBox.width / 2, sBox.y + sBox.height / 2)
    const list = page.locator('.autocompleteEditor')
    await list.locator('tbody td', { hasText: '延期' }).waitFor()
    expect(await list.locator('tbody td').allInnerTexts()).toEqual(['未开始', '进行中', '已完成', '延期'])
    const listBox = (await list.boundingBox())!
    expect(listBox.x).toBeGreaterThanOrEqual(0)
    expect(listBox.x + listBox.width).toBeLessThanOrEqual(390)
    await page.screenshot({ path: '/tmp/phone-dropdown.png' })
    await tap(page, list.locator('tbody td', { hasText: '延期' }))
    await waitForCell(page, 3, 7, '延期')
    await waitForCell(B.page, 3, 7, '延期')
    // the tap chose; it did not go on to the cell under the list
    expect(await page.getByTestId('cell-address').innerText()).toBe('H4')
    expect((await pageWidth(page)).widest).toBeLessThanOrEqual(390)

    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })
})

describe('a tablet', () => {
  it('between a phone and 1280 px the page is never wider than the screen; the header scrolls and its export menu is on screen', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'operations-plan', title: '年度运营计划 平板', lang: 'zh-CN' })
    for (const viewport of [{ width: 768, height: 1024 }, { width: 1024, height: 768 }, { width: 1180, height: 820 }]) {
      const ctx = await browser.newContext({ viewport, locale: 'zh-CN', hasTouch: true })
      await ctx.addInitScript(() => {
        const w = window as unknown as { widest: number }
        w.widest = 0
        const look = () => { w.widest = Math.max(w.widest, document.documentElement?.scrollWidth ?? 0); requestAnimationFrame(look) }
        requestAnimationFrame(look)
      })
      const page = await ctx.newPage()
      const errors = watchErrors(page)
      await page.goto(server.url + res.json.url)
      await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
      await page.waitForSelector('[data-testid="connection-status"].connected')
      // the owner's header holds every button there is: it scrolls in itself
      const widest = await page.evaluate(() => (window as unknown as { widest: number }).widest)
      expect(widest, `${viewport.width}px`).toBeLessThanOrEqual(viewport.width)
      const bar = await page.locator('header.bar').evaluate(h => ({ height: h.getBoundingClientRect().height, scroll: h.scrollWidth, client: h.clientWidth }))
      // one line, never wrapped
      expect(bar.height, `${viewport.width}px`).toBeLessThan(60)
      const exportButton = page.getByTestId('export')
      await exportButton.scrollIntoViewIfNeeded()
      await exportButton.click()
      const menu = (await page.getByTestId('export-menu').boundingBox())!
      expect(menu.x).toBeGreaterThanOrEqual(0)
      expect(menu.x + menu.width, `${viewport.width}px`).toBeLessThanOrEqual(viewport.width)
      expect(menu.height).toBeGreaterThan(60)
      expect(errors).toEqual([])
      await ctx.close()
    }
  })
})
