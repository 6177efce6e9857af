/**
 * The date cells' calendar (issue 18), in real Chromium against the real server: it opens under a date
 * cell on the cell's month, goes to the next month, and a day clicked is written as typing that date
 * would be (a colleague sees it; the doc holds the DateInput); it follows a typed date; arrows still move
 * the caret; Escape leaves the cell as it was; Today gives today; it is labelled in the reader's language;
 * it leaves nothing behind when the editor closes; and on a 390×844 phone it fits, above the cell near
 * the bottom, and a tap picks a day.
 */
import { DEFAULT_TIME_ZONE, zonedToday } from '../../src/core/workbook/zone'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, cellLocator, cellText } from '../helpers/browser'
import { createLink, createWorkbook, docUntil, ownerTokens, syncedClient, type Client, type TestServer } from '../helpers/server'
import { cellKey, sheetIds, sheetParts, sheetsOf, type CellInput } from '../../src/core/workbook/schema'
import { layoutOf } from '../helpers/workbook'
import type * as Y from 'yjs'

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
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
}

/** the 结束时间 (end date) column of the activity-progress template */
const END = 5

interface Opened { ctx: BrowserContext; page: Page; errors: string[] }

async function open(url: string, options: Parameters<Browser['newContext']>[0]): Promise<Opened> {
  const ctx = await browser.newContext(options)
  // the window's and the visual viewport's resize/scroll listeners, counted as they come and go
  await ctx.addInitScript(() => {
    const live = new Map<string, Set<unknown>>()
    for (const [name, target] of [['window', window], ['viewport', window.visualViewport]] as const) {
      if (!target) continue
      const add = target.addEventListener.bind(target), remove = target.removeEventListener.bind(target)
      target.addEventListener = ((type: string, fn: EventListenerOrEventListenerObject, o?: boolean | AddEventListenerOptions) => {
        if (type === 'resize' || type === 'scroll') { const k = `${name}:${type}`; if (!live.has(k)) live.set(k, new Set()); live.get(k)!.add(fn) }
        add(type, fn, o)
      }) as typeof target.addEventListener
      target.removeEventListener = ((type: string, fn: EventListenerOrEventListenerObject, o?: boolean | EventListenerOptions) => {
        live.get(`${name}:${type}`)?.delete(fn)
        remove(type, fn, o)
      }) as typeof target.removeEventListener
    }
    (window as unknown as { viewportListeners: () => number }).viewportListeners = () => [...live.values()].reduce((n, s) => n + s.size, 0)
  })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  await page.waitForSelector('[data-testid="connection-status"].connected')
  return { ctx, page, errors }
}

const picker = (page: Page) => page.locator('.pw-datepicker')
const pickerTitle = (page: Page) => picker(page).locator('.dp-title').innerText()
const selectedDay = (page: Page) => picker(page).locator('.dp-selected').evaluateAll(els => els.map(e => (e as HTMLElement).dataset.date))
const viewportListeners = (page: Page) => page.evaluate(() => (window as unknown as { viewportListeners: () => number }).viewportListeners())
const pickers = (page: Page) => page.evaluate(() => document.querySelectorAll('.pw-datepicker').length)
/** the text in the open editor */
const editorText = (page: Page) => page.evaluate(() => (document.activeElement as HTMLTextAreaElement).value)
/** today in the workbook's time zone (made over the API without one: Asia/Shanghai), as its TODAY() */
const workbookToday = async () => {
  const iso = zonedToday(DEFAULT_TIME_ZONE)
  return { iso, y: Number(iso.slice(0, 4)), m: Number(iso.slice(5, 7)) }
}

/** The cell's stored input in a doc, by visible row and column of the first sheet. */
function inputAt(doc: Y.Doc, row: number, col: number): CellInput | undefined {
  const sid = sheetIds(doc)[0]!
  const sl = layoutOf(doc).sheet(sid)!
  return sheetParts(sheetsOf(doc).get(sid)!).cells.get(cellKey(sl.rows.ids[row]!, sl.cols.ids[col]!)) as CellInput | undefined
}
const sameInput = (a: CellInput | undefined, b: CellInput) => JSON.stringify(a) === JSON.stringify(b)

/** A finger's tap on the middle of an element. */
async function tap(page: Page, target: Locator): Promise<void> {
  const box = await target.boundingBox()
  if (!box) throw new Error('nothing to tap: the element is not on screen')
  await page.touchscreen.tap(box.x + box.width / 2, box.y + box.height / 2)
}

describe('the date picker of date cells', () => {
  let id = ''
  let owner: Client | null = null
  afterAll(() => owner?.destroy())

  it('at a desk: the cell\'s month under the cell, next month, a day clicked is stored as a date; typing, arrows, Escape and Today', async () => {
    id = await createWorkbook(server, { template: 'activity-progress', title: '618 活动', lang: 'zh-CN' })
    owner = await syncedClient(server, id)
    const A = await open(`${server.url}/w/${id}?token=${ownerTokens.get(id)}`, { locale: 'zh-CN', viewport: { width: 1280, height: 800 } })
    const B = await open(`${server.url}/w/${id}?token=${await createLink(server, id, 'editor', '韩梅梅')}`, { locale: 'en-US', viewport: { width: 1280, height: 800 } })
    const { page } = A
    await waitForCell(page, 0, END, '2024-05-10')
    const baseline = await viewportListeners(page)
    expect(await pickers(page)).toBe(0)

    // a double-click opens the editor, and the calendar under the cell on the cell's month, its date selected
    await cellLocator(page, 0, END).dblclick()
    await picker(page).waitFor()
    expect(await pickerTitle(page)).toBe('2024年5月')
    expect(await picker(page).locator('.dp-week span').allInnerTexts()).toEqual(['一', '二', '三', '四', '五', '六', '日'])
    expect(await selectedDay(page)).toEqual(['2024-05-10'])
    // May 2024 begins on a Wednesday: two days of April lead, and six weeks are shown
    const days = await picker(page).locator('.dp-day').evaluateAll(els => els.map(e => (e as HTMLElement).dataset.date))
    expect(days.length).toBe(42)
    expect(days.slice(0, 3)).toEqual(['2024-04-29', '2024-04-30', '2024-05-01'])
    expect(await picker(page).locator('.dp-today-btn').innerText()).toBe('今天')
    const cellBox = (await cellLocator(page, 0, END).boundingBox())!
    const box = (await picker(page).boundingBox())!
    expect(box.y).toBeGreaterThanOrEqual(cellBox.y + cellBox.height - 1)
    expect(Math.abs(box.x - cellBox.x)).toBeLessThan(4)
    expect(await viewportListeners(page)).toBeGreaterThan(baseline)
    await page.screenshot({ path: '/tmp/datepicker-desk.png' })

    // the next month; a day clicked is the cell's date for both, and in the doc as typing it gives
    await picker(page).locator('.dp-next').click()
    await expect.poll(() => pickerTitle(page)).toBe('2024年6月')
    expect(await selectedDay(page)).toEqual([])
    await picker(page).locator('[data-date="2024-06-18"]').click()
    await picker(page).waitFor({ state: 'detached' })
    await waitForCell(page, 0, END, '2024-06-18')
    await waitForCell(B.page, 0, END, '2024-06-18')
    await docUntil(owner.doc, 'the picked date', d => sameInput(inputAt(d, 0, END), { t: 'd', v: '2024-06-18' }))
    // the editor closed and left nothing: no calendar, no listener on the window
    expect(await pickers(page)).toBe(0)
    expect(await viewportListeners(page)).toBe(baseline)

    // in English for B: weekdays from Monday, the month by name, Today
    await cellLocator(B.page, 0, END).dblclick()
    await picker(B.page).waitFor()
    expect(await pickerTitle(B.page)).toBe('June 2024')
    expect(await picker(B.page).locator('.dp-week span').allInnerTexts()).toEqual(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'])
    expect(await picker(B.page).locator('.dp-today-btn').innerText()).toBe('Today')
    expect(await picker(B.page).locator('.dp-next').getAttribute('aria-label')).toBe('Next month')
    expect(await selectedDay(B.page)).toEqual(['2024-06-18'])
    await B.page.keyboard.press('Escape')
    await picker(B.page).waitFor({ state: 'detached' })

    // typing into an empty date cell: the calendar opens on today's month, then follows the typed date
    const today = await workbookToday()
    await clickCell(page, 5, END)
    await page.keyboard.type('2')
    await picker(page).waitFor()
    expect(await pickerTitle(page)).toBe(`${today.y}年${today.m}月`)
    expect(await picker(page).locator('.dp-today').evaluateAll(els => els.map(e => (e as HTMLElement).dataset.date))).toEqual([today.iso])
    expect(await selectedDay(page)).toEqual([])
    await page.keyboard.type('025年8月3日')
    await expect.poll(() => pickerTitle(page)).toBe('2025年8月')
    expect(await selectedDay(page)).toEqual(['2025-08-03'])
    await page.keyboard.press('Enter')
    await waitForCell(page, 5, END, '2025-08-03')
    await docUntil(owner.doc, 'the typed date', d => sameInput(inputAt(d, 5, END), { t: 'd', v: '2025-08-03' }))
    expect(await pickers(page)).toBe(0)

    // F2: arrows move the caret in the text (the calendar takes no keys) and the calendar follows the edit
    await clickCell(page, 0, END)
    await page.keyboard.press('F2')
    await picker(page).waitFor()
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft')
    await page.keyboard.press('Backspace')
    await page.keyboard.type('7')
    expect(await editorText(page)).toBe('2024-07-18')
    await expect.poll(() => pickerTitle(page)).toBe('2024年7月')
    expect(await selectedDay(page)).toEqual(['2024-07-18'])
    // Enter takes the typed text
    await page.keyboard.press('Enter')
    await waitForCell(page, 0, END, '2024-07-18')
    await waitForCell(B.page, 0, END, '2024-07-18')

    // Escape: whatever was typed or browsed, the cell stays as it was
    // (back up by the keyboard: a second click on the cell this soon would be Handsontable's double-click)
    await page.keyboard.press('ArrowUp')
    await expect.poll(() => page.getByTestId('cell-address').innerText()).toBe('F1')
    await page.keyboard.press('Enter')
    await picker(page).waitFor()
    await page.keyboard.press('Backspace')
    await page.keyboard.press('Backspace')
    await page.keyboard.type('25')
    await expect.poll(() => selectedDay(page)).toEqual(['2024-07-25'])
    await picker(page).locator('.dp-prev').click()
    await expect.poll(() => pickerTitle(page)).toBe('2024年6月')
    await page.keyboard.press('Escape')
    await picker(page).waitFor({ state: 'detached' })
    expect(await cellText(page, 0, END)).toBe('2024-07-18')

    // Today, on an empty cell opened with Enter: today marked, nothing selected, then today written
    await clickCell(page, 7, END)
    await page.keyboard.press('Enter')
    await picker(page).waitFor()
    expect(await pickerTitle(page)).toBe(`${today.y}年${today.m}月`)
    expect(await selectedDay(page)).toEqual([])
    await picker(page).locator('.dp-today-btn').click()
    await waitForCell(page, 7, END, today.iso)
    await waitForCell(B.page, 7, END, today.iso)
    await docUntil(owner.doc, 'today', d => sameInput(inputAt(d, 7, END), { t: 'd', v: today.iso }))
    // (the cancelled edit would have reached the doc before this one)
    expect(inputAt(owner.doc, 0, END)).toEqual({ t: 'd', v: '2024-07-18' })
    expect(await cellText(page, 0, END)).toBe('2024-07-18')

    // opened and closed again and again: still one calendar at most, and no listener left
    for (let i = 0; i < 3; i++) {
      await cellLocator(page, 1, END).dblclick()
      await picker(page).waitFor()
      expect(await pickers(page)).toBe(1)
      await page.keyboard.press('Escape')
      await picker(page).waitFor({ state: 'detached' })
    }
    expect(await viewportListeners(page)).toBe(baseline)
    // a text column has no calendar
    await cellLocator(page, 1, 6).dblclick()
    await page.waitForFunction(() => {
      const el = document.activeElement
      return el instanceof HTMLTextAreaElement && !el.parentElement?.classList.contains('ht_editor_hidden')
    })
    expect(await pickers(page)).toBe(0)
    await page.keyboard.press('Escape')

    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })

  it('on a 390×844 phone: the calendar fits the screen, goes above a cell near the bottom, and a tap picks a day', async () => {
    const pid = await createWorkbook(server, { template: 'activity-progress', title: '618 手机', lang: 'zh-CN' })
    const A = await open(`${server.url}/w/${pid}?token=${ownerTokens.get(pid)}`, { ...PHONE, locale: 'zh-CN' })
    const { page } = A
    const inView = async () => {
      const b = (await picker(page).boundingBox())!
      const vp = await page.evaluate(() => ({ w: window.visualViewport?.width ?? innerWidth, h: window.visualViewport?.height ?? innerHeight }))
      return b.x >= 0 && b.y >= 0 && b.x + b.width <= vp.w && b.y + b.height <= vp.h
    }
    const editorBox = () => page.evaluate(() => {
      const r = (document.activeElement as HTMLElement).getBoundingClientRect()
      return { top: r.top, bottom: r.bottom }
    })

    // to the end date of the first row by the keyboard (the grid scrolls it into view), then Enter
    await tap(page, page.locator('[data-testid="grid"][data-live] .ht_clone_inline_start tbody tr[aria-rowindex="2"] td[aria-colindex="2"]'))
    await expect.poll(() => page.getByTestId('cell-address').innerText()).toBe('A1')
    for (let i = 0; i < END; i++) await page.keyboard.press('ArrowRight')
    await expect.poll(() => page.getByTestId('cell-address').innerText()).toBe('F1')
    await page.keyboard.press('Enter')
    await picker(page).waitFor()
    expect(await pickerTitle(page)).toBe('2024年5月')
    expect(await inView()).toBe(true)
    // under the cell, and every button a finger's size
    expect((await picker(page).boundingBox())!.y).toBeGreaterThanOrEqual((await editorBox()).bottom - 1)
    const sizes = await picker(page).locator('button').evaluateAll(els => els.map(e => { const r = e.getBoundingClientRect(); return Math.min(r.width, r.height) }))
    expect(sizes.length).toBe(42 + 3)
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(32)
    await page.screenshot({ path: '/tmp/datepicker-phone.png' })
    await page.keyboard.press('Escape')
    await picker(page).waitFor({ state: 'detached' })

    // far down the sheet the selected cell sits at the bottom of the grid: the calendar goes above it
    for (let i = 0; i < 40; i++) await page.keyboard.press('ArrowDown')
    await expect.poll(() => page.getByTestId('cell-address').innerText()).toBe('F41')
    await page.keyboard.press('Enter')
    await picker(page).waitFor()
    expect(await inView()).toBe(true)
    const cell = await editorBox()
    const below = cell.bottom + (await picker(page).boundingBox())!.height
    expect(below).toBeGreaterThan(844)
    expect((await picker(page).boundingBox())!.y + (await picker(page).boundingBox())!.height).toBeLessThanOrEqual(cell.top + 1)
    await page.screenshot({ path: '/tmp/datepicker-phone-above.png' })
    // a tap on a day writes it
    const today = await workbookToday()
    const day = `${today.y}-${String(today.m).padStart(2, '0')}-15`
    await tap(page, picker(page).locator(`[data-date="${day}"]`))
    await picker(page).waitFor({ state: 'detached' })
    await waitForCell(page, 40, END, day)

    expect(A.errors).toEqual([])
    await A.ctx.close()
  })
})
