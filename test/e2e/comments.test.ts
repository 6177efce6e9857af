/**
 * Comments in the browser, against the real server, with two (then three) people in their own browser
 * contexts: 王芳 (owner) comments on B3 with Ctrl+Alt+M and mentions 张三 picked from the @ list; 张三's
 * header counts one unread, his inbox opens the workbook at B3 with the thread; he resolves it and the
 * corner mark goes for both. Comments holding HTML and script show as text and raise no dialog; a
 * mark follows its cell when rows are inserted above it; a commenter's link has a read-only grid and
 * comments all the same. The header stays one line at 1280 px with the comments button and the badge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, clickCell, cellLocator } from '../helpers/browser'
import { createLink, createWorkbook, ownerTokens, type TestServer } from '../helpers/server'

let server: TestServer
let browser: Browser
const contexts: BrowserContext[] = []

beforeAll(async () => {
  server = await startAppServer()
  browser = await launchBrowser()
})
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close()
  await server?.close()
})

async function open(url: string, width = 1280): Promise<{ page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width, height: 800 } })
  contexts.push(ctx)
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await live(page)
  return { page, errors }
}
async function live(page: Page): Promise<void> {
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  await expect.poll(() => page.getByTestId('connection-status').getAttribute('class')).toContain('connected')
}

const marked = (page: Page, row: number, col: number) => cellLocator(page, row, col).locator('.comment-mark').count()
const address = (page: Page) => page.getByTestId('cell-address').innerText()

/** Opens a new comment on a cell with Ctrl+Alt+M; the card's field has the keyboard. */
async function startComment(page: Page, row: number, col: number): Promise<void> {
  await clickCell(page, row, col)
  await page.keyboard.press('Control+Alt+KeyM')
  await page.getByTestId('comment-card').waitFor()
  await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'comment-input')
}

describe('comments', () => {
  it('mention, unread badge, inbox to the cell, resolve for both; text never HTML; marks follow rows; commenters comment', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: '7月 预算', lang: 'zh-CN', name: '王芳' })
    const zhangToken = await createLink(server, id, 'editor', '张三')
    const made = await server.api('POST', `/api/workbooks/${id}/links`, { role: 'commenter', name: '李四' })
    expect(made.status).toBe(201)
    const liToken = made.json.token as string

    const A = await open(`${server.url}/w/${id}?token=${ownerTokens.get(id)}`)
    const B = await open(`${server.url}/w/${id}?token=${zhangToken}`)
    // the header keeps one line at 1280 px with the comments button and the inbox
    const bar = await A.page.locator('header.bar').evaluate(h => ({ scroll: h.scrollWidth, client: h.clientWidth, height: h.getBoundingClientRect().height }))
    expect(bar.scroll).toBeLessThanOrEqual(bar.client)
    expect(bar.height).toBeLessThan(60)
    await A.page.getByTestId('inbox-link').waitFor()
    expect(await B.page.getByTestId('inbox-unread').count()).toBe(0)

    // ── 王芳 comments on B3 and mentions 张三, picked from the suggestions ─────────────────────────
    await startComment(A.page, 2, 1)
    await A.page.keyboard.type('请 @张')
    const option = A.page.getByTestId('mention-option')
    await expect.poll(() => option.allInnerTexts()).toEqual(['@张三'])
    await A.page.keyboard.press('Enter')
    await expect.poll(() => A.page.getByTestId('comment-input').inputValue()).toBe('请 @张三 ')
    await A.page.keyboard.type('在 7月5日 前更新实际值')
    // a mention can be an assignment
    expect(await A.page.getByTestId('comment-assignee').locator('option').allInnerTexts()).toEqual(['不指派', '张三'])
    await A.page.keyboard.press('Control+Enter')
    await expect.poll(() => A.page.getByTestId('comment-text').allInnerTexts()).toEqual(['请 @张三 在 7月5日 前更新实际值'])
    await expect.poll(() => marked(A.page, 2, 1)).toBe(1)
    await expect.poll(() => marked(B.page, 2, 1)).toBe(1)
    expect(await marked(B.page, 1, 1)).toBe(0)

    // ── 张三's header counts it; his inbox opens the workbook at B3 with the thread ───────────────
    await expect.poll(() => B.page.getByTestId('inbox-unread').innerText()).toBe('1')
    await B.page.getByTestId('inbox-link').click()
    const item = B.page.getByTestId('inbox-item')
    await expect.poll(() => item.count()).toBe(1)
    expect(await item.getAttribute('data-kind')).toBe('mention')
    expect(await item.getAttribute('class')).toContain('unread')
    expect(await item.innerText()).toContain('请 @张三 在 7月5日 前更新实际值')
    expect(await item.innerText()).toContain('B3')
    await item.click()
    await B.page.waitForURL(u => u.pathname === `/w/${id}`)
    await live(B.page)
    await expect.poll(() => address(B.page)).toBe('B3')
    const card = B.page.getByTestId('comment-card')
    await expect.poll(() => card.getAttribute('data-cell')).toBe('B3')
    expect(await card.getByTestId('comment-text').innerText()).toBe('请 @张三 在 7月5日 前更新实际值')
    // read: the badge goes
    await expect.poll(() => B.page.getByTestId('inbox-unread').count()).toBe(0)

    // ── 张三 resolves it: the mark goes in both browsers ────────────────────────────────────────
    await card.getByTestId('comment-resolve').click()
    await expect.poll(() => marked(B.page, 2, 1)).toBe(0)
    await expect.poll(() => marked(A.page, 2, 1)).toBe(0)
    // it is in 王芳's panel under resolved, not open
    await A.page.getByTestId('comments-open').click()
    await A.page.getByTestId('comments-panel').waitFor()
    await expect.poll(() => A.page.getByTestId('comments-empty').count()).toBe(1)
    await A.page.getByTestId('comments-filter-resolved').click()
    await expect.poll(() => A.page.getByTestId('comments-item-cell').allInnerTexts()).toEqual(['B3'])
    await A.page.getByTestId('comments-close').click()

    // ── HTML and script in a comment are text, and raise nothing ────────────────────────────────
    const payload = '<img src=x onerror=alert(1)> <script>alert(1)</script> <b>粗</b>'
    await startComment(A.page, 2, 1)
    await A.page.keyboard.type(payload)
    await A.page.keyboard.press('Control+Enter')
    await expect.poll(() => marked(B.page, 2, 1)).toBe(1)
    const aCard = A.page.getByTestId('comment-card')
    await expect.poll(() => aCard.getByTestId('comment-text').innerText()).toBe(payload)
    expect(await aCard.locator('img, script, b').count()).toBe(0)
    // 张三 closes the card he had open, and sees the new comment by pointing at the cell
    await B.page.getByTestId('comment-card').press('Escape')
    await B.page.getByTestId('comment-card').waitFor({ state: 'detached' })
    await cellLocator(B.page, 2, 1).hover()
    await expect.poll(() => B.page.getByTestId('comment-card').getByTestId('comment-text').innerText()).toBe(payload)
    expect(await B.page.getByTestId('comment-card').locator('img, script, b').count()).toBe(0)
    await A.page.keyboard.press('Escape')
    await A.page.getByTestId('comment-card').waitFor({ state: 'detached' })

    // ── 张三 inserts two rows above: the mark follows its cell to B5 ──────────────────────────────
    for (let i = 0; i < 2; i++) {
      await cellLocator(B.page, 0, 0).click({ button: 'right' })
      await B.page.locator('.htContextMenu td', { hasText: '在上方插入行' }).click()
    }
    await expect.poll(() => marked(A.page, 4, 1)).toBe(1)
    expect(await marked(A.page, 2, 1)).toBe(0)
    await A.page.getByTestId('comments-open').click()
    await expect.poll(() => A.page.getByTestId('comments-item-cell').allInnerTexts()).toEqual(['B5'])

    // ── a commenter: read-only cells, no editing menus, but comments ─────────────────────────────
    const C = await open(`${server.url}/w/${id}?token=${liToken}`)
    expect(await C.page.getByTestId('read-only').innerText()).toContain('评论')
    expect(await C.page.getByTestId('my-role').innerText()).toBe('评论者')
    await clickCell(C.page, 0, 0)
    expect(await cellLocator(C.page, 0, 0).getAttribute('class')).toContain('htDimmed')
    await cellLocator(C.page, 0, 0).click({ button: 'right' })
    const menu = C.page.locator('.htContextMenu')
    await menu.locator('td', { hasText: '插入评论' }).waitFor()
    expect(await menu.locator('td', { hasText: '在上方插入行' }).count()).toBe(0)
    await menu.locator('td', { hasText: '插入评论' }).click()
    await C.page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'comment-input')
    await C.page.keyboard.type('评论者的意见')
    await C.page.keyboard.press('Control+Enter')
    await expect.poll(() => marked(A.page, 0, 0)).toBe(1)
    await expect.poll(() => A.page.getByTestId('comments-item-cell').allInnerTexts()).toEqual(['A1', 'B5'])

    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    expect(C.errors).toEqual([])
  })

  it('an assignment with a due date: on the cell, in the assignee\'s inbox (overdue), done by the assignee; on a phone card and panel span the screen; orphaned when its column goes; viewers do not comment', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: '周报', lang: 'zh-CN', name: '王芳' })
    const zhangToken = await createLink(server, id, 'editor', '张三')
    const A = await open(`${server.url}/w/${id}?token=${ownerTokens.get(id)}`)
    // 张三 on a phone
    const B = await open(`${server.url}/w/${id}?token=${zhangToken}`, 390)

    await startComment(A.page, 1, 2)
    await A.page.keyboard.type('@张')
    await A.page.getByTestId('mention-option').first().waitFor()
    await A.page.keyboard.press('Tab')
    await A.page.keyboard.type('请更新实际值')
    await A.page.getByTestId('comment-assignee').selectOption('张三')
    await A.page.getByTestId('comment-due').fill('2020-07-05')
    await A.page.getByTestId('comment-send').click()
    await expect.poll(() => A.page.getByTestId('comment-assignment').innerText()).toBe('指派给 张三 · 7月5日 前')
    // an assignment not done has the other tint
    await expect.poll(() => cellLocator(A.page, 1, 2).locator('.comment-mark.assigned').count()).toBe(1)

    // 张三's inbox: an overdue assignment
    await expect.poll(() => B.page.getByTestId('inbox-unread').innerText()).toBe('1')
    await B.page.getByTestId('inbox-link').click()
    const group = B.page.locator('[data-testid="inbox-group"][data-group="overdue"]')
    await group.getByTestId('inbox-item').waitFor()
    expect(await group.getByTestId('inbox-item').getAttribute('data-kind')).toBe('assignment')
    await group.getByTestId('inbox-item').click()
    await live(B.page)
    await expect.poll(() => address(B.page)).toBe('C2')
    // on a phone the card is a sheet across the bottom of the screen
    const card = B.page.getByTestId('comment-card')
    const box = (await card.boundingBox())!
    expect(box.x).toBe(0)
    expect(box.width).toBe(390)
    await card.getByTestId('comment-done').click()
    await expect.poll(() => card.getByTestId('comment-assignment').innerText()).toContain('已完成')
    // done: the mark keeps the open thread's tint, in both browsers
    await expect.poll(() => cellLocator(A.page, 1, 2).locator('.comment-mark.assigned').count()).toBe(0)
    expect(await cellLocator(A.page, 1, 2).locator('.comment-mark').count()).toBe(1)
    await card.press('Escape')
    await card.waitFor({ state: 'detached' })
    // the panel takes the screen's width, and lists the thread
    await B.page.getByTestId('comments-open').click()
    const panel = B.page.getByTestId('comments-panel')
    await expect.poll(async () => (await panel.boundingBox())?.width).toBe(390)
    await expect.poll(() => panel.getByTestId('comments-item-cell').allInnerTexts()).toEqual(['C2'])
    expect(await B.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)

    // 王芳 deletes column C: the thread is orphaned, still listed and readable
    await cellLocator(A.page, 0, 2).click({ button: 'right' })
    await A.page.locator('.htContextMenu td', { hasText: '删除列' }).click()
    await expect.poll(() => panel.getByTestId('comments-item-cell').allInnerTexts()).toEqual(['已删除的单元格'])
    await panel.getByTestId('comments-item').locator('button.pick').click()
    await expect.poll(() => panel.getByTestId('comment-text').innerText()).toBe('@张三 请更新实际值')

    // a viewer reads comments but writes none: Ctrl+Alt+M says so, and the menu offers no comment
    const viewerToken = await createLink(server, id, 'viewer', '赵六')
    const V = await open(`${server.url}/w/${id}?token=${viewerToken}`)
    await clickCell(V.page, 0, 0)
    await V.page.keyboard.press('Control+Alt+KeyM')
    await expect.poll(() => V.page.getByTestId('notice').innerText()).toContain('你的链接只能查看，不能评论')
    expect(await V.page.getByTestId('comment-card').count()).toBe(0)
    await cellLocator(V.page, 0, 0).click({ button: 'right' })
    await V.page.locator('.htContextMenu td', { hasText: '单元格历史' }).waitFor()
    expect(await V.page.locator('.htContextMenu td', { hasText: '插入评论' }).count()).toBe(0)

    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    expect(V.errors).toEqual([])
  })
})
