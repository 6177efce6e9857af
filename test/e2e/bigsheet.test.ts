/**
 * 100,000-row workbooks in the browser: a 100,000 × 10 sheet (3 formula columns and a totals row, built
 * as a doc by test/helpers/bigSheet.ts and stored as the server's state) opens with computed totals; the
 * person goes to the bottom with the scroll bar, types into the last data row, and the totals row shows
 * the new total.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Browser } from 'playwright-core'
import { cellSelector, cellText, clickCell, launchBrowser, startAppServer, typeCell, waitForTypingFocus, watchErrors } from '../helpers/browser'
import { ownerTokens, type TestServer } from '../helpers/server'
import { buildBigSheet, type BigSheet } from '../helpers/bigSheet'
import { hashToken, newLinkId, newToken } from '../../server/auth'

const ROWS = 100_000
let server: TestServer
let browser: Browser
let big: BigSheet
let token: string

beforeAll(async () => {
  server = await startAppServer()
  browser = await launchBrowser()
  big = buildBigSheet(ROWS)
  token = newToken()
  // the workbook's state goes to the store as one update, as an import does (writing 1,000,000 cells
  // through a synced client would measure the socket, not the sheet)
  await server.store.createWorkbook({ id: 'big100k', title: '100k rows', template: 'blank', createdAt: 0, updatedAt: 0 }, Y.encodeStateAsUpdate(big.doc),
    { link: { id: newLinkId(), workbookId: 'big100k', role: 'owner', name: 'test', createdAt: 0, revokedAt: null }, tokenHash: hashToken(token) })
  ownerTokens.set('big100k', token)
}, 180_000)
afterAll(async () => {
  await browser?.close()
  await server?.close()
})

/** "1,234.50" → 1234.5 */
const num = (text: string) => Number(text.replace(/[,\s]/g, ''))

describe('a 100,000-row workbook', () => {
  it('opens, scrolls to the bottom, takes an edit and shows the new total', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    page.on('console', m => { if (m.type() === 'error') errors.push(m.text()) })
    await page.goto(`${server.url}/w/big100k?token=${token}`)
    // the first data row's computed "Per order" (H2), in the editable grid (grid rows are the doc's rows:
    // row 0 is the header row)
    await page.waitForFunction(sel => /^-?\d/.test(document.querySelector(sel)?.textContent ?? ''), cellSelector(1, 7), { timeout: 90_000, polling: 'raf' })

    // scroll the grid to the bottom, as a person dragging the scroll bar does: the totals row comes into view
    const totalsRow = big.totalsRow
    const lastRow = totalsRow - 1
    await page.locator('[data-testid="grid"][data-live] .ht_master .wtHolder').evaluate(el => { el.scrollTop = el.scrollHeight })
    await page.waitForSelector(cellSelector(totalsRow, 6), { timeout: 30_000 })
    const revenueTotal = big.totals[5]! // BIG_SUM_COLS[5] is G
    await expect.poll(async () => num(await cellText(page, totalsRow, 6)), { timeout: 30_000 }).toBeCloseTo(revenueTotal, 1)
    const before = num(await cellText(page, totalsRow, 9))

    // the last data row's Revenue goes up by 1,000: the G total goes up by exactly that, J's changes too
    const old = big.a1[lastRow]![6] as number
    await clickCell(page, lastRow, 6)
    await waitForTypingFocus(page)
    await typeCell(page, String(old + 1000))
    await expect.poll(async () => num(await cellText(page, totalsRow, 6)), { timeout: 30_000 }).toBeCloseTo(revenueTotal + 1000, 1)
    expect(num(await cellText(page, lastRow, 6))).toBeCloseTo(old + 1000, 2)
    expect(num(await cellText(page, totalsRow, 9))).not.toBe(before)
    expect(errors).toEqual([])
    await ctx.close()
  }, 240_000)
})
