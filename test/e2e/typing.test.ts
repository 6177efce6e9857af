/**
 * Typing into a cell after the keyboard went somewhere else for a moment. Handsontable takes two
 * clicks on the same cell within half a second for a double-click, whatever happened between them:
 * typing and Enter, or a click outside the grid (the connection status). That phantom double-click
 * opened the cell's editor with its text and the caret after it, so what was typed next was added to
 * the text: A1 "100", Enter, a click on the status, a click back on A1 and "200" gave "100200".
 *
 * The quick sequences below are the trigger (each step follows the last at once, as a person's hand
 * does); each checks that it ran inside the double-click window, so a pass means the bug's conditions
 * were met. A real double-click still opens the editor on the cell's text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, typeCell, cellLocator, cellText, waitForTypingFocus } from '../helpers/browser'
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

/** Handsontable's double-click window (DBLCLICK_MOUSEUP_TIMEOUT in walkontable/event): the second click must come inside it. */
const DOUBLE_CLICK_WINDOW_MS = 500

async function open(): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: 'Typing 输入' })
  await page.goto(server.url + res.json.url)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  await expect.poll(() => page.getByTestId('connection-status').innerText()).toBe('Connected')
  // A1 is selected and the grid has the keyboard: setups type without clicking, so no earlier click
  // can pair with the ones a test makes
  await waitForTypingFocus(page)
  return { ctx, page, errors }
}

/** The middle of an element on screen (read before a quick sequence, so the sequence itself is only clicks and keys). */
async function centre(target: Locator): Promise<{ x: number; y: number }> {
  await target.scrollIntoViewIfNeeded()
  const box = await target.boundingBox()
  if (!box) throw new Error('not on screen')
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 }
}

/** Runs a quick sequence and checks it ran inside the double-click window (otherwise it would prove nothing). */
async function quickly(steps: () => Promise<void>): Promise<void> {
  const start = Date.now()
  await steps()
  const took = Date.now() - start
  expect(took, `the sequence took ${took} ms, longer than the ${DOUBLE_CLICK_WINDOW_MS} ms it has to reproduce the bug in`).toBeLessThan(DOUBLE_CLICK_WINDOW_MS)
}

/** Waits until a cell no longer shows `was`, and returns what it shows then (a wrong result fails at once, not on a timeout). */
async function changedFrom(page: Page, row: number, col: number, was: string): Promise<string> {
  await expect.poll(() => cellText(page, row, col)).not.toBe(was)
  return cellText(page, row, col)
}

/** Whether the cell's editor is open (the typing field shown over the cell). */
const editorOpen = (page: Page) => page.locator('[data-testid="grid"] .handsontableInputHolder:not(.ht_editor_hidden)').count().then(n => n > 0)

describe('typing after a click outside the grid', () => {
  it('(a) type + Enter, a click on the connection status, a click back on the cell: what is typed replaces the text', async () => {
    const { ctx, page, errors } = await open()
    const a1 = await centre(cellLocator(page, 0, 0))
    const status = await centre(page.getByTestId('connection-status'))
    await quickly(async () => {
      await page.mouse.click(a1.x, a1.y)
      await page.keyboard.type('100')
      await page.keyboard.press('Enter')
      await page.mouse.click(status.x, status.y)
      await page.mouse.click(a1.x, a1.y)
    })
    // a click selects; it opens no editor
    expect.soft(await editorOpen(page), 'a single click opened the editor').toBe(false)
    await typeCell(page, '200')
    expect(await changedFrom(page, 0, 0, '100')).toBe('200')
    // (Enter moved down; back up with the keyboard)
    await page.keyboard.press('ArrowUp')
    await expect.poll(() => page.getByTestId('cell-address').innerText()).toBe('A1')
    expect(await page.getByTestId('formula-bar').inputValue()).toBe('200')
    expect(errors).toEqual([])
    await ctx.close()
  })

  it('(b) single clicks in a quick sequence (cell, status, the cell again) are no double-click', async () => {
    const { ctx, page, errors } = await open()
    await typeCell(page, '100')
    await waitForCell(page, 0, 0, '100')
    const a1 = await centre(cellLocator(page, 0, 0))
    const status = await centre(page.getByTestId('connection-status'))
    await quickly(async () => {
      await page.mouse.click(a1.x, a1.y)
      await page.mouse.click(status.x, status.y)
      // the click back comes a moment later, as a person's does (inside 300 ms: the reported trigger)
      await page.waitForTimeout(150)
      await page.mouse.click(a1.x, a1.y)
    })
    expect.soft(await editorOpen(page), 'a single click opened the editor').toBe(false)
    await typeCell(page, '7')
    expect(await changedFrom(page, 0, 0, '100')).toBe('7')
    expect(errors).toEqual([])
    await ctx.close()
  })

  it('(b) a second click where the first was, with typing between: no double-click, even when the browser counts two clicks', async () => {
    const { ctx, page, errors } = await open()
    const a1 = await centre(cellLocator(page, 0, 0))
    await quickly(async () => {
      await page.mouse.click(a1.x, a1.y)
      await page.keyboard.type('100')
      await page.keyboard.press('Enter')
      // at the same place within the system's double-click time, a browser reports the second click of a pair
      await page.mouse.move(a1.x, a1.y)
      await page.mouse.down({ clickCount: 2 })
      await page.mouse.up({ clickCount: 2 })
    })
    expect.soft(await editorOpen(page), 'a single click opened the editor').toBe(false)
    await typeCell(page, '200')
    expect(await changedFrom(page, 0, 0, '100')).toBe('200')
    expect(errors).toEqual([])
    await ctx.close()
  })

  it('(c) an input method composes into the cell after the same sequence: the cell holds exactly the composed text', async () => {
    const { ctx, page, errors } = await open()
    const a1 = await centre(cellLocator(page, 0, 0))
    const status = await centre(page.getByTestId('connection-status'))
    await quickly(async () => {
      await page.mouse.click(a1.x, a1.y)
      await page.keyboard.type('100')
      await page.keyboard.press('Enter')
      await page.mouse.click(status.x, status.y)
      await page.mouse.click(a1.x, a1.y)
    })
    // an input method composes only in an editable element: the typing field takes the focus
    await waitForTypingFocus(page)
    const cdp = await ctx.newCDPSession(page)
    await cdp.send('Input.imeSetComposition', { text: 'tianmao', selectionStart: 7, selectionEnd: 7 })
    await cdp.send('Input.insertText', { text: '天猫' })
    await page.keyboard.press('Enter')
    expect(await changedFrom(page, 0, 0, '100')).toBe('天猫')
    // and on an empty cell, as always
    await clickCell(page, 2, 2)
    await waitForTypingFocus(page)
    await cdp.send('Input.imeSetComposition', { text: 'zhibo', selectionStart: 5, selectionEnd: 5 })
    await cdp.send('Input.insertText', { text: '直播' })
    await page.keyboard.press('Enter')
    await waitForCell(page, 2, 2, '直播')
    expect(errors).toEqual([])
    await ctx.close()
  })

  it('(d) a formula typed after the same sequence is the formula, computed', async () => {
    const { ctx, page, errors } = await open()
    await page.keyboard.press('ArrowRight')
    await typeCell(page, '7')
    await waitForCell(page, 0, 1, '7')
    const a1 = await centre(cellLocator(page, 0, 0))
    const status = await centre(page.getByTestId('connection-status'))
    await quickly(async () => {
      await page.mouse.click(a1.x, a1.y)
      await page.keyboard.type('100')
      await page.keyboard.press('Enter')
      await page.mouse.click(status.x, status.y)
      await page.mouse.click(a1.x, a1.y)
    })
    await typeCell(page, '=B1*3')
    expect(await changedFrom(page, 0, 0, '100')).toBe('21')
    await page.keyboard.press('ArrowUp')
    await expect.poll(() => page.getByTestId('cell-address').innerText()).toBe('A1')
    expect(await page.getByTestId('formula-bar').inputValue()).toBe('=B1*3')
    expect(errors).toEqual([])
    await ctx.close()
  })

  it('a real double-click still opens the editor on the cell\'s text, the caret after it', async () => {
    const { ctx, page, errors } = await open()
    await typeCell(page, '100')
    await waitForCell(page, 0, 0, '100')
    await cellLocator(page, 0, 0).dblclick()
    await expect.poll(() => editorOpen(page)).toBe(true)
    await typeCell(page, '5')
    expect(await changedFrom(page, 0, 0, '100')).toBe('1005')
    expect(errors).toEqual([])
    await ctx.close()
  })
})
