/**
 * Two people in two browser contexts on one workbook, through the real server: presence, editing
 * undisturbed by a colleague's changes, per-person undo, and offline work that merges on reconnect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, typeCell, cellLocator, cellSelector, cellText } from '../helpers/browser'
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

async function open(url: string, locale = 'en-US'): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ locale })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  return { ctx, page, errors }
}

const status = (page: Page) => page.getByTestId('connection-status').innerText()

/** The text in the open cell editor of a page ('' when no editor is open). */
const editorText = (page: Page) => page.evaluate(() => {
  const ta = document.querySelector<HTMLTextAreaElement>('.handsontableInputHolder textarea')
  const holder = ta?.closest<HTMLElement>('.handsontableInputHolder')
  return holder && holder.style.display !== 'none' && getComputedStyle(holder).visibility !== 'hidden' && holder.offsetParent !== null ? ta!.value : ''
})

describe('two people on one workbook', () => {
  it('presence, undisturbed typing, per-person undo and offline work that merges', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: 'Collab 协作' })
    const url = server.url + res.json.url
    // B is an editor, invited by name: the name on the link is what everyone sees
    const invite = await server.api('POST', `/api/workbooks/${res.json.id}/links`, { role: 'editor', name: '李雷 Lei' }, { headers: { authorization: `Bearer ${res.json.token}` } })
    expect(invite.status).toBe(201)
    const A = await open(url)
    const B = await open(server.url + invite.json.url, 'zh-CN')
    await expect.poll(() => status(A.page)).toBe('Connected')
    await expect.poll(() => status(B.page)).toBe('已连接')

    // ── presence ─────────────────────────────────────────────────────────────────────────────────
    await expect.poll(() => B.page.getByTestId('my-name').innerText()).toContain('李雷 Lei')
    expect(await B.page.getByTestId('my-role').innerText()).toBe('编辑者')
    // the token left the address bar (a copied address hands on nothing)
    expect(B.page.url()).not.toContain('token')
    await clickCell(B.page, 2, 2)
    // A sees B's cell outlined, with B's name on it, and B's avatar
    const tag = A.page.locator(`${cellSelector(2, 2)} .presence-tag`)
    await expect.poll(() => tag.textContent(), { timeout: 10_000 }).toBe('李雷 Lei')
    expect(await cellLocator(A.page, 2, 2).evaluate(td => (td as HTMLElement).style.boxShadow)).toMatch(/inset/)
    await expect.poll(() => A.page.getByTestId('peer-avatar').getAttribute('title')).toContain('李雷 Lei')
    // the link is remembered by B's browser: the plain address opens it again, as the same person
    await B.page.reload()
    await B.page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await expect.poll(() => B.page.getByTestId('my-name').innerText()).toContain('李雷 Lei')
    // B goes to a new sheet; clicking B's avatar takes A there, to B's cell
    await B.page.getByTestId('sheet-add').click()
    await clickCell(B.page, 1, 1)
    await expect.poll(() => A.page.getByTestId('peer-avatar').getAttribute('title')).toContain('工作表2')
    await A.page.getByTestId('peer-avatar').click()
    await expect.poll(() => A.page.locator('[role=tab][aria-selected=true]').innerText()).toBe('工作表2')
    await expect.poll(() => A.page.getByTestId('cell-address').innerText()).toBe('B2')
    await A.page.locator('[role=tab]', { hasText: 'Sheet1' }).click()
    await B.page.locator('[role=tab]', { hasText: 'Sheet1' }).click()

    // ── A keeps typing while B inserts rows above and edits the same row ─────────────────────────
    await clickCell(A.page, 0, 0)
    await typeCell(A.page, 'top')
    await waitForCell(B.page, 0, 0, 'top')
    await clickCell(A.page, 3, 1)
    await A.page.keyboard.type('hello')
    expect(await editorText(A.page)).toBe('hello')
    await cellLocator(B.page, 0, 0).click({ button: 'right' })
    await B.page.locator('.htContextMenu td', { hasText: '在上方插入行' }).click()
    await cellLocator(B.page, 0, 0).click({ button: 'right' })
    await B.page.locator('.htContextMenu td', { hasText: '在上方插入行' }).click()
    await waitForCell(A.page, 2, 0, 'top')
    // B writes into the row A is typing in (it is row 6 now)
    await clickCell(B.page, 5, 3)
    await typeCell(B.page, 'from B')
    await waitForCell(A.page, 5, 3, 'from B')
    // A's editor is still open on A's cell, with A's text
    expect(await editorText(A.page)).toBe('hello')
    await A.page.keyboard.type(' world')
    await A.page.keyboard.press('Enter')
    await waitForCell(A.page, 5, 1, 'hello world')
    await waitForCell(B.page, 5, 1, 'hello world')
    expect(await cellText(B.page, 3, 1)).toBe('')

    // ── per-person undo ──────────────────────────────────────────────────────────────────────────
    await clickCell(A.page, 8, 3)
    await typeCell(A.page, 'mine')
    await clickCell(B.page, 8, 4)
    await typeCell(B.page, 'theirs')
    await waitForCell(A.page, 8, 4, 'theirs')
    await A.page.keyboard.press('Control+z')
    await waitForCell(A.page, 8, 3, '')
    await waitForCell(B.page, 8, 3, '')
    expect(await cellText(A.page, 8, 4)).toBe('theirs')
    expect(await cellText(B.page, 8, 4)).toBe('theirs')
    // redo from the toolbar
    await A.page.getByTestId('redo').click()
    await waitForCell(B.page, 8, 3, 'mine')
    // B undoes B's own steps only: 'theirs', 'from B', then both row inserts; A's edits stay
    await clickCell(B.page, 12, 0)
    for (let i = 0; i < 4; i++) await B.page.keyboard.press('Control+z')
    await waitForCell(A.page, 0, 0, 'top')
    await waitForCell(A.page, 3, 1, 'hello world')
    await waitForCell(A.page, 6, 3, 'mine')
    await waitForCell(B.page, 6, 3, 'mine')
    expect(await cellText(A.page, 6, 4)).toBe('')
    expect(await cellText(A.page, 3, 3)).toBe('')

    // ── offline: edit, come back, merge ──────────────────────────────────────────────────────────
    await A.page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
    await A.ctx.setOffline(true)
    await expect.poll(() => status(A.page)).toBe('Offline')
    await clickCell(A.page, 10, 0)
    await typeCell(A.page, 'offline edit')
    await expect.poll(() => status(A.page)).toMatch(/^Offline · [1-9]\d* unsent changes$/)
    await clickCell(B.page, 10, 1)
    await typeCell(B.page, 'online edit')
    await A.ctx.setOffline(false)
    await expect.poll(() => status(A.page), { timeout: 15_000 }).toBe('Connected')
    await waitForCell(A.page, 10, 1, 'online edit')
    await waitForCell(B.page, 10, 0, 'offline edit')

    // ── offline reload: the app and the workbook come from the browser's copy ────────────────────
    await A.ctx.setOffline(true)
    await expect.poll(() => status(A.page)).toBe('Offline')
    await A.page.reload()
    await A.page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await expect.poll(() => A.page.getByTestId('local-copy').isVisible()).toBe(true)
    await waitForCell(A.page, 10, 0, 'offline edit')
    await waitForCell(A.page, 10, 1, 'online edit')
    await clickCell(A.page, 11, 0)
    await typeCell(A.page, 'after reload')
    await A.ctx.setOffline(false)
    await expect.poll(() => status(A.page), { timeout: 15_000 }).toBe('Connected')
    await waitForCell(B.page, 11, 0, 'after reload')
    expect(await A.page.getByTestId('local-copy').count()).toBe(0)

    // ── a colleague deletes the row being typed in: the text is not silently lost ────────────────
    await clickCell(A.page, 13, 2)
    await A.page.keyboard.type('unsaved 草稿')
    await cellLocator(B.page, 13, 0).click({ button: 'right' })
    await B.page.locator('.htContextMenu td', { hasText: '删除行' }).click()
    await expect.poll(() => A.page.getByTestId('notice').innerText()).toContain('unsaved 草稿')

    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })

  it('a sheet with no rows shows its columns once a colleague adds rows', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: 'Empty 空表' })
    const id = res.json.id as string
    const { syncedClient } = await import('../helpers/server')
    const { deleteRows, insertRows } = await import('../../src/core/workbook/mutations')
    const { sheetIds } = await import('../../src/core/workbook/schema')
    const { WorkbookLayout } = await import('../../src/core/workbook/layout')
    const { type } = await import('../helpers/workbook')
    const colleague = await syncedClient(server, id, { token: res.json.token })
    const sid = sheetIds(colleague.doc)[0]!
    deleteRows(colleague.doc, sid, 0, new WorkbookLayout(colleague.doc).sheet(sid)!.rows.length)
    await server.rooms.flushAll()
    const ctx = await browser.newContext({ locale: 'en-US' })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    await page.goto(server.url + res.json.url)
    await page.waitForSelector('[data-testid="grid"][data-live]')
    expect(await page.locator('[data-testid="grid"][data-live] .ht_master tbody tr').count()).toBe(0)
    // the colleague adds rows and types into the third column: it shows, under its letter
    insertRows(colleague.doc, sid, 0, 3)
    type(colleague.doc, sid, 'C2', 'back again')
    await waitForCell(page, 1, 2, 'back again')
    expect(await page.locator('[data-testid="grid"][data-live] .ht_clone_top thead th').filter({ hasText: /^C$/ }).count()).toBeGreaterThan(0)
    expect(errors).toEqual([])
    colleague.destroy()
    await ctx.close()
  })
})

