import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, typeCell, cellText } from '../helpers/browser'
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

describe('a blank workbook in the browser', () => {
  it('computes a formula typed into the grid and shares every edit live with a second browser', async () => {
    const ctxA = await browser.newContext({ locale: 'en-US' })
    const pageA = await ctxA.newPage()
    const errorsA = watchErrors(pageA)
    await pageA.goto(server.url + '/')
    await pageA.getByTestId('new-title').fill('E2E plan 计划')
    await pageA.getByTestId('create').click()
    await pageA.waitForURL(/\/w\/[\w-]+$/)
    await pageA.waitForSelector('.ht_master tbody td')
    await expect.poll(() => pageA.getByTestId('connection-status').innerText()).toBe('Connected')

    await clickCell(pageA, 0, 0)
    await typeCell(pageA, '2')
    await typeCell(pageA, '3')
    await typeCell(pageA, '=A1*A2')
    await waitForCell(pageA, 2, 0, '6')
    await clickCell(pageA, 2, 0)
    expect(await pageA.getByTestId('formula-bar').inputValue()).toBe('=A1*A2')
    expect(await pageA.getByTestId('cell-address').innerText()).toBe('A3')

    // a second person opens the same URL
    const ctxB = await browser.newContext({ locale: 'zh-CN' })
    const pageB = await ctxB.newPage()
    const errorsB = watchErrors(pageB)
    await pageB.goto(pageA.url())
    await waitForCell(pageB, 2, 0, '6')
    expect(await cellText(pageB, 0, 0)).toBe('2')
    // the UI follows the browser language
    expect(await pageB.getByTestId('connection-status').innerText()).toBe('已连接')

    // B's edit appears in A, and A's formula recomputes from it
    await clickCell(pageB, 0, 0)
    await typeCell(pageB, '5')
    await waitForCell(pageA, 2, 0, '15')
    await clickCell(pageB, 0, 1)
    await typeCell(pageB, '=SUM(A1:A3)')
    await waitForCell(pageA, 0, 1, '23')

    // the workbook is listed on the home page with its title
    await pageA.goto(server.url + '/')
    await expect.poll(() => pageA.getByTestId('workbooks').innerText()).toContain('E2E plan 计划')

    expect(errorsA).toEqual([])
    expect(errorsB).toEqual([])
    await ctxA.close()
    await ctxB.close()
  })

  it('shows a clear state for an unknown workbook', async () => {
    const ctx = await browser.newContext({ locale: 'en-US' })
    const page = await ctx.newPage()
    await page.goto(server.url + '/w/does-not-exist-000000')
    await expect.poll(() => page.getByTestId('not-found').innerText()).toContain('does not exist')
    await ctx.close()
  })
})
