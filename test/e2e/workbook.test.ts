import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, typeCell, cellText, cellLocator, waitForTypingFocus } from '../helpers/browser'
import { createWorkbook, nextEvent, ownerTokens, syncedClient, type TestServer } from '../helpers/server'
import { insertRows, setCells, type CellWrite } from '../../src/core/workbook/mutations'
import { inputFromText } from '../../src/core/workbook/input'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { sheetIds } from '../../src/core/workbook/schema'

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
    const id = new URL(pageA.url()).pathname.split('/').pop()!
    await pageA.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await expect.poll(() => pageA.getByTestId('connection-status').innerText()).toBe('Connected')

    await clickCell(pageA, 0, 0)
    await typeCell(pageA, '2')
    await typeCell(pageA, '3')
    await typeCell(pageA, '=A1*A2')
    await waitForCell(pageA, 2, 0, '6')
    await clickCell(pageA, 2, 0)
    expect(await pageA.getByTestId('formula-bar').inputValue()).toBe('=A1*A2')
    expect(await pageA.getByTestId('cell-address').innerText()).toBe('A3')

    // the address alone opens nothing in another browser: access comes with a share link
    const ctxB = await browser.newContext({ locale: 'zh-CN' })
    const pageB = await ctxB.newPage()
    const errorsB = watchErrors(pageB)
    await pageB.goto(pageA.url())
    await expect.poll(() => pageB.getByTestId('no-access').innerText()).toContain('共享链接')

    // A makes an editor link for B in the share dialog
    await pageA.getByTestId('share').click()
    await pageA.getByTestId('share-name').fill('小王')
    await pageA.getByTestId('share-role').selectOption('editor')
    await pageA.getByTestId('share-create').click()
    const link = await pageA.getByTestId('share-url').inputValue()
    expect(link).toMatch(new RegExp(`/w/${id}\\?token=[\\w-]{32}$`))
    await expect.poll(() => pageA.getByTestId('share-links').innerText()).toContain('小王')
    await pageA.getByTestId('share-close').click()
    await pageB.goto(link)
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

  it('shows a clear state for a workbook without a link, and for a link that does not open it', async () => {
    const ctx = await browser.newContext({ locale: 'en-US' })
    const page = await ctx.newPage()
    await page.goto(server.url + '/w/does-not-exist-000000')
    await expect.poll(() => page.getByTestId('no-access').innerText()).toContain('share link')
    await page.goto(server.url + '/w/does-not-exist-000000?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
    await expect.poll(() => page.getByTestId('no-access').innerText()).toContain('not valid')
    await ctx.close()
  })
})

describe('editing habits', () => {
  it('types Chinese text straight into a cell, sets a column type from the context menu, and inserts rows keeping formulas', async () => {
    const ctx = await browser.newContext({ locale: 'zh-CN' })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '<img src=x onerror=alert(1)>' })
    await page.goto(server.url + res.json.url)
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await clickCell(page, 0, 0)
    // an input method composes on the selected cell (no editor opened first), then commits the text
    await waitForTypingFocus(page)
    const cdp = await ctx.newCDPSession(page)
    await cdp.send('Input.imeSetComposition', { text: 'tianmao', selectionStart: 7, selectionEnd: 7 })
    await cdp.send('Input.insertText', { text: '天猫' })
    await page.keyboard.press('Enter')
    await waitForCell(page, 0, 0, '天猫')
    // the title is shown as text, never as HTML
    expect(await page.getByTestId('workbook-title').inputValue()).toBe('<img src=x onerror=alert(1)>')

    await clickCell(page, 0, 1)
    await typeCell(page, '0.6')
    await typeCell(page, '=B1/2')
    await waitForCell(page, 1, 1, '0.3')
    await cellLocator(page, 0, 1).click({ button: 'right' })
    await page.locator('.htContextMenu td', { hasText: '列类型' }).hover()
    await page.locator('.htContextMenu td', { hasText: '百分比' }).click()
    await waitForCell(page, 0, 1, '60.00%')
    await waitForCell(page, 1, 1, '30.00%')

    // insert a row above row 1 from the context menu: the formula follows its cells
    await cellLocator(page, 0, 0).click({ button: 'right' })
    await page.locator('.htContextMenu td', { hasText: '在上方插入行' }).click()
    await waitForCell(page, 1, 0, '天猫')
    await waitForCell(page, 2, 1, '30.00%')
    await clickCell(page, 2, 1)
    expect(await page.getByTestId('formula-bar').inputValue()).toBe('=B2/2')

    // Ctrl+Z undoes the insert
    await page.keyboard.press('Control+z')
    await waitForCell(page, 0, 0, '天猫')
    expect(errors).toEqual([])
    await ctx.close()
  })
})

describe('sheet tabs', () => {
  it('adds, renames (double-click), reorders and deletes sheets; cross-sheet formulas follow', async () => {
    const ctx = await browser.newContext({ locale: 'zh-CN' })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    page.on('dialog', d => { if (d.type() === 'confirm') void d.accept() })
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: 'tabs' })
    await page.goto(server.url + res.json.url)
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await clickCell(page, 0, 0)
    await typeCell(page, '42')
    const tabs = page.locator('[data-sheet-id]')
    await page.getByTestId('sheet-add').click()
    await expect.poll(() => tabs.count()).toBe(2)
    await tabs.nth(1).dblclick()
    await page.getByTestId('sheet-rename-input').fill('市场分析')
    await page.keyboard.press('Enter')
    await expect.poll(() => tabs.nth(1).innerText()).toBe('市场分析')
    await clickCell(page, 0, 0)
    await typeCell(page, '=Sheet1!A1*2')
    await waitForCell(page, 0, 0, '84')

    // rename the inactive first sheet by double-clicking it: the formula's text follows
    await tabs.nth(0).dblclick()
    await page.getByTestId('sheet-rename-input').fill('预算')
    await page.keyboard.press('Enter')
    await expect.poll(() => tabs.nth(0).innerText()).toBe('预算')
    await tabs.nth(1).click()
    await clickCell(page, 0, 0)
    await expect.poll(() => page.getByTestId('formula-bar').inputValue()).toBe("='预算'!A1*2")

    // move 市场分析 left, then delete 预算: the formula shows #REF!
    await tabs.nth(1).click({ button: 'right' })
    await page.getByRole('menuitem', { name: '左移' }).click()
    await expect.poll(() => tabs.allInnerTexts()).toEqual(['市场分析', '预算'])
    await tabs.nth(1).click({ button: 'right' })
    await page.getByRole('menuitem', { name: '删除工作表' }).click()
    await expect.poll(() => tabs.allInnerTexts()).toEqual(['市场分析'])
    await waitForCell(page, 0, 0, '#REF!')
    expect(errors).toEqual([])
    await ctx.close()
  })
})

describe('opening a large workbook', () => {
  it('shows the grid computed from the workbook view first, then the editable grid, whose engine took that computation over', async () => {
    const id = await createWorkbook(server, { title: '三千行' })
    const c = await syncedClient(server, id)
    const sheetId = sheetIds(c.doc)[0]!
    const rows = 3000
    const have = new WorkbookLayout(c.doc).sheet(sheetId)!.rows.length
    if (have < rows) insertRows(c.doc, sheetId, have, rows - have)
    const layout = new WorkbookLayout(c.doc)
    const sl = layout.sheet(sheetId)!
    const writes: CellWrite[] = []
    for (let r = 0; r < rows - 1; r++) {
      writes.push({ rowId: sl.rows.ids[r]!, colId: sl.cols.ids[0]!, value: r + 1 })
      writes.push({ rowId: sl.rows.ids[r]!, colId: sl.cols.ids[1]!, value: inputFromText(`=A${r + 1}*2`, { layout, sheetId }) })
    }
    writes.push({ rowId: sl.rows.ids[rows - 1]!, colId: sl.cols.ids[1]!, value: inputFromText(`=SUM(B1:B${rows - 1})`, { layout, sheetId }) })
    setCells(c.doc, sheetId, writes)
    await server.rooms.flushAll()
    c.destroy()

    // the first page gets the view as soon as it is made; the server then computes its first screen
    const firstScreen = nextEvent(server.rooms, 'view-kept', (rid: string, complete: boolean) => rid === id && complete, 30_000)
    const ctx = await browser.newContext({ locale: 'zh-CN' })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.url}/w/${id}?token=${ownerTokens.get(id)}`)
    // the live grid (cellSelector waits for it: the container is marked live once it is)
    await waitForCell(page, 1, 1, '4')
    const marks = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map(m => [m.name, m.startTime])))
    expect(marks['pw:preview-shown'], 'the grid from the view was on screen').toBeGreaterThan(0)
    expect(marks['pw:preview-shown']!).toBeLessThan(marks['pw:doc-ready']!)
    // a page after it shows the server's first screen, and computes the sheet only once that is on screen
    await firstScreen
    const later = await ctx.newPage()
    const laterErrors = watchErrors(later)
    await later.goto(`${server.url}/w/${id}?token=${ownerTokens.get(id)}`)
    await waitForCell(later, 1, 1, '4')
    const laterMarks = await later.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map(m => [m.name, m.startTime])))
    expect(laterMarks['pw:preview-computed'], 'the view was computed here after it was shown').toBeGreaterThan(laterMarks['pw:preview-shown']!)
    expect(laterMarks['pw:preview-computed']!).toBeLessThan(laterMarks['pw:engine-taken-over']!)
    expect(laterErrors).toEqual([])
    await later.close()
    expect(marks['pw:engine-taken-over'], 'the engine took over the computed view').toBeGreaterThan(0)
    // one grid: the live grid took over the one drawn from the view
    expect(marks['pw:grid-taken-over'], 'the live grid took the drawn one over').toBeGreaterThan(0)
    expect(await page.locator('[data-testid="grid"] .ht_master').count()).toBe(1)
    // the taken-over engine computes edits: the row and the total follow
    await clickCell(page, 1, 0)
    await typeCell(page, '50')
    await waitForCell(page, 1, 1, '100')
    expect(errors).toEqual([])
    await ctx.close()
  })
})
