/**
 * Fill-in rounds in the browser, against the real server: a weekly round for three people; 张三 and 李四
 * each open their personal form link on a phone (390×844): only their own row, the round's columns with
 * help text, the manager's score read-only; a bad number shows its message and keeps the form from being
 * sent; they submit, the values reach the workbook. The owner's board (share dialog → fill-in rounds)
 * shows two submitted and one not yet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors } from '../helpers/browser'
import { createWorkbook, ownerTokens, type TestServer } from '../helpers/server'
import { setProtections } from '../../src/core/access/access'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { cellKey, sheetIds, sheetName, sheetParts, sheetsOf } from '../../src/core/workbook/schema'
import { setCell, setColumnMeta } from '../../src/core/workbook/mutations'

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

async function open(url: string, viewport = { width: 390, height: 844 }): Promise<{ page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ locale: 'zh-CN', viewport, hasTouch: viewport.width < 500, isMobile: viewport.width < 500 })
  contexts.push(ctx)
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(server.url + url)
  return { page, errors }
}

const field = (page: Page, colId: string) => page.locator(`[data-testid="form-field"][data-col="${colId}"]`)

describe('fill-in rounds', () => {
  it('two people fill their rows on a phone, the owner\'s board shows two submitted and one not yet', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: '周报', lang: 'zh-CN', name: '王芳' })
    const w = await server.rooms.withDoc(id, doc => {
      const sid = sheetIds(doc)[0]!
      const l = new WorkbookLayout(doc).sheet(sid)!
      const [a, b, c, d] = l.cols.ids as [string, string, string, string]
      setColumnMeta(doc, sid, a, { title: '姓名', type: 'person' })
      setColumnMeta(doc, sid, b, { title: '销售额', type: 'number', validation: { min: 0 }, help: '本周销售额（元）' })
      setColumnMeta(doc, sid, c, { title: '自评', type: 'text' })
      setColumnMeta(doc, sid, d, { title: '经理评分', type: 'number' })
      ;['张三', '李四', '王五'].forEach((n, i) => setCell(doc, sid, l.rows.ids[i]!, a, n))
      setProtections(doc, [{ id: 'p1', sheet: sid, cols: [d], names: ['王经理'] }])
      return { sid, name: sheetName(doc, sid), rows: l.rows.ids.slice(0, 3), b, c, d }
    })
    const due = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 16) + 'Z'
    const made = await server.api('POST', `/api/workbooks/${id}/rounds`, { sheet: w.name, columns: ['销售额', '自评', '经理评分'], people: ['张三', '李四', '王五'], due, repeat: 'weekly' })
    expect(made.status, made.text).toBe(201)
    const link = (name: string) => (made.json.links as { name: string; url: string }[]).find(l => l.name === name)!.url

    // 张三 on a phone: his row only, help text, the manager's score read-only; a bad value says why
    const zs = await open(link('张三'))
    await zs.page.getByTestId('form-row').first().waitFor()
    expect(await zs.page.getByTestId('form-row').count()).toBe(1)
    await expect.poll(() => zs.page.url()).not.toContain('token=')
    expect(await zs.page.getByTestId('form-row').innerText()).toContain('张三')
    expect(await field(zs.page, w.b).getByTestId('form-help').innerText()).toBe('本周销售额（元）')
    expect(await field(zs.page, w.d).locator('input').isDisabled()).toBe(true)
    expect(await field(zs.page, w.d).getByTestId('form-readonly').count()).toBe(1)
    await field(zs.page, w.b).locator('input').fill('一千')
    await expect.poll(() => field(zs.page, w.b).getByTestId('form-error').innerText()).toBe('请输入数字')
    expect(await zs.page.getByTestId('form-submit').isDisabled()).toBe(true)
    await field(zs.page, w.b).locator('input').fill('-3')
    await expect.poll(() => field(zs.page, w.b).getByTestId('form-error').innerText()).toBe('不能小于 0')
    await field(zs.page, w.b).locator('input').fill('1200')
    expect(await field(zs.page, w.b).getByTestId('form-error').count()).toBe(0)
    await field(zs.page, w.c).locator('textarea').fill('<b>完成</b>目标')
    // phone layout: nothing wider than the screen, the button within reach
    expect(await zs.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    const box = await zs.page.getByTestId('form-submit').boundingBox()
    expect(box!.width).toBeGreaterThan(300)
    await zs.page.getByTestId('form-submit').click()
    await zs.page.getByTestId('form-done').waitFor()
    await expect.poll(() => zs.page.getByTestId('form-state').innerText()).toContain('已于')

    const ls = await open(link('李四'))
    await ls.page.getByTestId('form-row').first().waitFor()
    await field(ls.page, w.b).locator('input').fill('800')
    await ls.page.getByTestId('form-submit').click()
    await ls.page.getByTestId('form-done').waitFor()

    const cell = (rowId: string, colId: string) => server.rooms.withDoc(id, doc => sheetParts(sheetsOf(doc).get(w.sid)!).cells.get(cellKey(rowId, colId)) ?? null)
    expect(await cell(w.rows[0]!, w.b)).toBe(1200)
    expect(await cell(w.rows[0]!, w.c)).toBe('<b>完成</b>目标')
    expect(await cell(w.rows[1]!, w.b)).toBe(800)
    expect(await cell(w.rows[2]!, w.b)).toBeNull()

    // the owner's board
    const owner = await open(`/w/${id}?token=${ownerTokens.get(id)}`, { width: 1280, height: 800 })
    await owner.page.getByTestId('share').click()
    await owner.page.getByTestId('share-rounds').click()
    await owner.page.getByTestId('round').waitFor()
    const states = await owner.page.getByTestId('round-person').evaluateAll(els => els.map(e => [e.querySelector('.name')?.textContent, e.getAttribute('data-state')]))
    expect(states).toEqual([['张三', 'submitted'], ['李四', 'submitted'], ['王五', 'not-yet']])
    expect(await owner.page.getByTestId('round-counts').innerText()).toBe('已提交 2 · 未提交 1 · 逾期 0')
    // no webhook targets: remind hands the owner the link to send to 王五
    await owner.page.getByTestId('round-remind').click()
    await owner.page.getByTestId('round-links').waitFor()
    expect(await owner.page.getByTestId('round-links').locator('input').inputValue()).toContain(`/f/${id}/${made.json.id}?token=`)
    for (const p of [zs, ls, owner]) expect(p.errors).toEqual([])
  })
})
