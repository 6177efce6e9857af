/**
 * Version history in the browser, against the real server: two people edit (the owner's page and an
 * editor's socket client); the owner saves a named version from the panel, more edits follow, and the
 * owner compares: the changed cells are marked in the grid with their old value in the tooltip, the
 * list names who changed what, next/previous select the changes, Escape leaves. A cell's history (from
 * the context menu) lists both people in order. Restoring from the panel brings the old values back for
 * everyone, and one Ctrl+Z takes the whole restore back. A viewer sees the history without the writers'
 * actions; the header stays one line at 1280 px and the panel is a full-width sheet on a phone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, typeCell, cellLocator } from '../helpers/browser'
import { connectClient, createLink, createWorkbook, docUntil, ownerTokens, type Client, type TestServer } from '../helpers/server'
import { sheetIds } from '../../src/core/workbook/schema'
import { layoutOf, textAt, type } from '../helpers/workbook'
import { setProtections } from '../../src/core/access/access'

let server: TestServer
let browser: Browser
const clients: Client[] = []

beforeAll(async () => {
  server = await startAppServer()
  browser = await launchBrowser()
})
afterAll(async () => {
  for (const c of clients) c.destroy()
  await browser?.close()
  await server?.close()
})

async function open(url: string, opts: { locale?: string; width?: number; height?: number } = {}): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ locale: opts.locale ?? 'zh-CN', viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 } })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  await expect.poll(() => page.getByTestId('connection-status').getAttribute('class')).toContain('connected')
  return { ctx, page, errors }
}

const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })
const address = (page: Page) => page.getByTestId('cell-address').innerText()

/**
 * Types into a cell as a person does: clicked, then typed once the grid's typing field has the focus
 * with the cell's text selected (typing replaces it; from outside the grid the focus comes a moment later).
 */
async function typeAt(page: Page, row: number, col: number, text: string): Promise<void> {
  await clickCell(page, row, col)
  await page.waitForFunction(() => {
    const ta = document.activeElement
    return ta instanceof HTMLTextAreaElement && ta.classList.contains('handsontableInput') && ta.selectionStart === 0 && ta.selectionEnd === ta.value.length
  })
  await typeCell(page, text)
}

/** The audit trail of the workbook, oldest first. */
async function audit(id: string, token: string): Promise<{ by: string; cell: string | null; afterText: string; action: string }[]> {
  const res = await server.api('GET', `/api/workbooks/${id}/audit`, undefined, auth(token))
  expect(res.status).toBe(200)
  return res.json
}

describe('version history', () => {
  it('save, compare (marks, old values, people, next change), cell history, restore and one-step undo', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: '预算 历史', lang: 'zh-CN', name: '王芳' })
    const ownerToken = ownerTokens.get(id)!
    const editorToken = await createLink(server, id, 'editor', '李雷')
    const lei = connectClient(server, id, undefined, { token: editorToken })
    clients.push(lei)
    await lei.synced()
    const sheet = sheetIds(lei.doc)[0]!

    const A = await open(`${server.url}/w/${id}?token=${ownerToken}`)
    // the header stays on one line at 1280 px with the versions button in it
    const bar = await A.page.locator('header.bar').evaluate(h => ({ scroll: h.scrollWidth, client: h.clientWidth, height: h.getBoundingClientRect().height }))
    expect(bar.scroll).toBeLessThanOrEqual(bar.client)
    expect(bar.height).toBeLessThan(60)
    expect(await A.page.getByTestId('history-open').getAttribute('aria-label')).toBe('版本')

    // before the version: 王芳 types A1 in her page, 李雷 B1 through his socket
    await typeAt(A.page, 0, 0, '100')
    type(lei.doc, sheet, 'B1', 'alpha')
    await waitForCell(A.page, 0, 1, 'alpha')
    await docUntil(lei.doc, 'A1 reaching 李雷', d => textAt(d, sheet, 'A1') === '100')

    // 王芳 saves a named version from the panel
    await A.page.getByTestId('history-open').click()
    await A.page.getByTestId('history-panel').waitFor()
    await A.page.getByTestId('version-save').click()
    await A.page.getByTestId('version-name').fill('初稿 v1')
    await A.page.getByTestId('version-name').press('Enter')
    const v1 = A.page.locator('[data-testid="version"][data-name="初稿 v1"]')
    await v1.waitFor()
    expect(await v1.locator('.name').innerText()).toBe('初稿 v1')
    await expect.poll(() => A.page.getByTestId('notice').innerText()).toContain('初稿 v1')

    // after it: 王芳 changes A1 and B1, 李雷 fills B2
    await typeAt(A.page, 0, 0, '150')
    await typeAt(A.page, 0, 1, 'gamma')
    type(lei.doc, sheet, 'B2', 'beta')
    await waitForCell(A.page, 1, 1, 'beta')
    await docUntil(lei.doc, '王芳 edits reaching 李雷', d => textAt(d, sheet, 'A1') === '150' && textAt(d, sheet, 'B1') === 'gamma')
    // the trail has every edit (it is written once the change is stored)
    await expect.poll(async () => (await audit(id, ownerToken)).filter(e => e.action === 'edit').map(e => `${e.by}:${e.cell}=${e.afterText}`))
      .toEqual(['王芳:A1=100', '李雷:B1=alpha', '王芳:A1=150', '王芳:B1=gamma', '李雷:B2=beta'])

    // ── compare with now ─────────────────────────────────────────────────────────────────────────
    await v1.getByTestId('version-compare').click()
    await expect.poll(() => A.page.getByTestId('review-title').innerText()).toBe('正在对比：初稿 v1 → 现在')
    expect(await A.page.getByTestId('review-counts').innerText()).toContain('3 个单元格有变化')
    const a1 = cellLocator(A.page, 0, 0), b1 = cellLocator(A.page, 0, 1), b2 = cellLocator(A.page, 1, 1)
    await expect.poll(() => a1.getAttribute('class')).toContain('cell-diff-changed')
    expect(await b1.getAttribute('class')).toContain('cell-diff-changed')
    expect(await b2.getAttribute('class')).toContain('cell-diff-added')
    expect(await cellLocator(A.page, 0, 2).getAttribute('class') ?? '').not.toContain('cell-diff')
    // hovering a changed cell: its old value in the tooltip, as text
    await a1.hover()
    expect(await a1.getAttribute('title')).toBe('原值：100')
    expect(await b1.getAttribute('title')).toBe('原值：alpha')
    expect(await b2.getAttribute('title')).toBe('原值：（空）')
    // the list groups the changes by person: 李雷's B2, 王芳's A1 and B1
    const changes = A.page.getByTestId('review-changes')
    await changes.waitFor()
    expect(await changes.locator('[data-testid="review-person"][data-person="李雷"] [data-testid="review-cell"]').evaluateAll(els => els.map(e => e.getAttribute('data-cell'))))
      .toEqual(['B2'])
    expect(await changes.locator('[data-testid="review-person"][data-person="王芳"] [data-testid="review-cell"]').evaluateAll(els => els.map(e => e.getAttribute('data-cell'))))
      .toEqual(['A1', 'B1'])
    expect(await changes.locator('[data-testid="review-person"][data-person="李雷"] h5').innerText()).toBe('李雷')
    // next and previous change select the cells in order (the selection moves from where it is)
    await clickCell(A.page, 5, 4)
    await A.page.getByTestId('review-next').click()
    await expect.poll(() => address(A.page)).toBe('A1')
    await A.page.getByTestId('review-next').click()
    await expect.poll(() => address(A.page)).toBe('B1')
    expect(await A.page.getByTestId('review-position').innerText()).toBe('第 2 / 3 处')
    await A.page.getByTestId('review-next').click()
    await expect.poll(() => address(A.page)).toBe('B2')
    await A.page.getByTestId('review-prev').click()
    await expect.poll(() => address(A.page)).toBe('B1')
    // a row of the list selects its cell too
    await changes.locator('[data-testid="review-cell"][data-cell="B2"]').click()
    await expect.poll(() => address(A.page)).toBe('B2')
    // Escape in the panel leaves the review, the panel stays (a second Escape would close it)
    await A.page.keyboard.press('Escape')
    await A.page.getByTestId('review-banner').waitFor({ state: 'detached' })
    await expect.poll(() => a1.getAttribute('class')).not.toContain('cell-diff')
    expect(await A.page.getByTestId('history-panel').isVisible()).toBe(true)
    await v1.getByTestId('version-compare').click()
    await expect.poll(() => a1.getAttribute('class')).toContain('cell-diff-changed')
    // Escape from the grid leaves the review too: the banner and the marks go
    await clickCell(A.page, 3, 3)
    await A.page.keyboard.press('Escape')
    await A.page.getByTestId('review-banner').waitFor({ state: 'detached' })
    await expect.poll(() => a1.getAttribute('class')).not.toContain('cell-diff')
    expect(await a1.getAttribute('title')).toBeNull()

    // ── cell history from the context menu ──────────────────────────────────────────────────────
    await b1.click({ button: 'right' })
    await A.page.locator('.htContextMenu td', { hasText: '单元格历史' }).click()
    const entries = A.page.getByTestId('cell-history-entry')
    await expect.poll(() => entries.count()).toBe(2)
    expect(await entries.evaluateAll(els => els.map(e => e.getAttribute('data-by')))).toEqual(['李雷', '王芳'])
    const vals = (i: number) => entries.nth(i).locator('.was, .now').allInnerTexts()
    expect(await vals(0)).toEqual(['（空）', 'alpha'])
    expect(await vals(1)).toEqual(['alpha', 'gamma'])
    expect(await entries.nth(0).locator('.role').innerText()).toBe('编辑者')
    expect(await entries.nth(1).locator('.role').innerText()).toBe('所有者')
    // a cell nobody edited: the empty state, from the panel's own button
    await clickCell(A.page, 4, 2)
    await A.page.getByTestId('cell-history-selected').click()
    await A.page.getByTestId('cell-history-empty').waitFor()

    // ── restore, and one Ctrl+Z takes it back ────────────────────────────────────────────────────
    await A.page.getByTestId('history-tab-versions').click()
    A.page.once('dialog', d => { expect(d.type()).toBe('confirm'); void d.accept() })
    await v1.getByTestId('version-restore').click()
    await waitForCell(A.page, 0, 0, '100')
    await waitForCell(A.page, 0, 1, 'alpha')
    await waitForCell(A.page, 1, 1, '')
    await expect.poll(() => A.page.getByTestId('notice').innerText()).toContain('已恢复“初稿 v1”：3 处修改')
    // everyone sees it
    await docUntil(lei.doc, 'the restore reaching 李雷', d => textAt(d, sheet, 'A1') === '100' && textAt(d, sheet, 'B1') === 'alpha' && textAt(d, sheet, 'B2') === '')
    await clickCell(A.page, 6, 3)
    await A.page.keyboard.press('Control+z')
    await waitForCell(A.page, 0, 0, '150')
    await waitForCell(A.page, 0, 1, 'gamma')
    await waitForCell(A.page, 1, 1, 'beta')
    await docUntil(lei.doc, 'the undo reaching 李雷', d => textAt(d, sheet, 'A1') === '150' && textAt(d, sheet, 'B1') === 'gamma' && textAt(d, sheet, 'B2') === 'beta')
    // one step: the edits before the restore are still there (the next undo is 王芳's B1)
    await A.page.keyboard.press('Control+z')
    await waitForCell(A.page, 0, 1, 'alpha')
    await waitForCell(A.page, 0, 0, '150')
    await waitForCell(A.page, 1, 1, 'beta')

    // ── copy into a new workbook, opened in a new tab ────────────────────────────────────────────
    const tab = A.ctx.waitForEvent('page')
    await v1.getByTestId('version-copy').click()
    const copy = await tab
    await copy.waitForURL(/\/w\/[^/?]+$/)
    expect(copy.url()).not.toContain(id)
    await copy.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await waitForCell(copy, 0, 0, '100')
    await waitForCell(copy, 0, 1, 'alpha')
    await expect.poll(() => copy.getByTestId('workbook-title').inputValue()).toBe('预算 历史（初稿 v1）')
    await copy.close()

    // ── the audit trail (the activity tab's tools) ───────────────────────────────────────────────
    await A.page.getByTestId('history-tab-activity').click()
    await A.page.getByTestId('activity-entries').waitFor()
    await A.page.getByTestId('audit-verify').click()
    await expect.poll(() => A.page.getByTestId('audit-check').innerText()).toMatch(/审计链完整：共 \d+ 条记录/)
    const download = A.page.waitForEvent('download')
    await A.page.getByTestId('audit-csv').click()
    expect((await download).suggestedFilename()).toMatch(/\.csv$/)
    expect(A.errors).toEqual([])

    // ── a viewer: the history without the writers' actions ─────────────────────────────────────
    const viewerToken = await createLink(server, id, 'viewer', '韩梅梅')
    const V = await open(`${server.url}/w/${id}?token=${viewerToken}`, { locale: 'en-US' })
    await V.page.getByTestId('history-open').click()
    await V.page.locator('[data-testid="version"][data-name="初稿 v1"]').waitFor()
    expect(await V.page.getByTestId('version-save').count()).toBe(0)
    expect(await V.page.getByTestId('version-restore').count()).toBe(0)
    expect(await V.page.getByTestId('version-copy').count()).toBe(0)
    await V.page.locator('[data-testid="version"][data-name="初稿 v1"]').getByTestId('version-compare').click()
    await expect.poll(() => V.page.getByTestId('review-title').innerText()).toBe('Comparing: 初稿 v1 → now')
    await expect.poll(() => cellLocator(V.page, 0, 0).getAttribute('title')).toBe('Was: 100')
    expect(await cellLocator(V.page, 1, 1).getAttribute('title')).toBe('Was: (empty)')
    expect(V.errors).toEqual([])
    await V.ctx.close()

    // ── a phone: the panel is a sheet across the screen ─────────────────────────────────────────
    const P = await open(`${server.url}/w/${id}?token=${editorToken}`, { width: 390, height: 844 })
    const openButton = P.page.getByTestId('history-open')
    await openButton.scrollIntoViewIfNeeded()
    await openButton.click()
    const panel = await P.page.getByTestId('history-panel').boundingBox()
    expect(panel?.x).toBe(0)
    expect(panel?.width).toBe(390)
    expect(await P.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await P.page.locator('[data-testid="version"][data-name="初稿 v1"]').getByTestId('version-compare').click()
    await P.page.getByTestId('review-banner').waitFor()
    // a change picked from the list: the sheet goes, the cell is shown
    await P.page.locator('[data-testid="review-cell"]').first().click()
    await P.page.getByTestId('history-panel').waitFor({ state: 'detached' })
    expect(['A1', 'B1', 'B2']).toContain(await address(P.page))
    expect(P.errors).toEqual([])
    await P.ctx.close()
    await A.ctx.close()
  })

  it('a restore leaves the cells I may not edit as they are, and says so', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: '保护 恢复', lang: 'zh-CN', name: '王经理' })
    const owner = connectClient(server, id)
    clients.push(owner)
    await owner.synced()
    const sheet = sheetIds(owner.doc)[0]!
    type(owner.doc, sheet, 'A1', 'a-old')
    type(owner.doc, sheet, 'B1', 'b-old')
    await expect.poll(async () => (await audit(id, ownerTokens.get(id)!)).length).toBeGreaterThanOrEqual(2)
    const saved = await server.api('POST', `/api/workbooks/${id}/versions`, { name: '定稿' }, auth(ownerTokens.get(id)!))
    expect(saved.status).toBe(201)
    type(owner.doc, sheet, 'A1', 'a-new')
    type(owner.doc, sheet, 'B1', 'b-new')
    // column A is the manager's alone
    setProtections(owner.doc, [{ id: 'pa', sheet, cols: [layoutOf(owner.doc).sheet(sheet)!.cols.ids[0]!], names: ['王经理'], label: '经理评分' }])

    const E = await open(`${server.url}/w/${id}?token=${await createLink(server, id, 'editor', '小李')}`)
    await waitForCell(E.page, 0, 1, 'b-new')
    await E.page.getByTestId('history-open').click()
    const v = E.page.locator('[data-testid="version"][data-name="定稿"]')
    await v.waitFor()
    E.page.once('dialog', d => void d.accept())
    await v.getByTestId('version-restore').click()
    await waitForCell(E.page, 0, 1, 'b-old')
    await expect.poll(() => E.page.getByTestId('notice').innerText()).toContain('已恢复“定稿”：1 处修改')
    expect(await E.page.getByTestId('notice').innerText()).toContain('未恢复：1 处（这些单元格受保护）')
    await docUntil(owner.doc, 'the restore reaching the owner', d => textAt(d, sheet, 'B1') === 'b-old')
    expect(textAt(owner.doc, sheet, 'A1')).toBe('a-new')
    expect(await E.page.getByTestId('refused').count()).toBe(0)
    expect(E.errors).toEqual([])
    await E.ctx.close()
  })
})
