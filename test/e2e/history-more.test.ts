/**
 * More of the history in the browser, against the real server: the activity tab (the audit trail
 * newest first, a sentence per entry, filtered by person and by sheet, a click selecting the cell,
 * "load more" past the first page, the export as filtered); the owner's setting that keeps the history
 * from view-only links (a viewer's panel says so, live, and loads again when it is turned back on);
 * and BASELINE() in the grid reading a version saved from the panel.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, typeCell, cellText } from '../helpers/browser'
import { connectClient, createLink, createWorkbook, docUntil, ownerTokens, type Client, type TestServer } from '../helpers/server'
import { sheetIds } from '../../src/core/workbook/schema'
import { addSheet, insertRows, setCells } from '../../src/core/workbook/mutations'
import { layoutOf, textAt, type } from '../helpers/workbook'

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

async function open(url: string, opts: { locale?: string } = {}): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ locale: opts.locale ?? 'zh-CN', viewport: { width: 1280, height: 800 }, acceptDownloads: true })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  await expect.poll(() => page.getByTestId('connection-status').getAttribute('class')).toContain('connected')
  return { ctx, page, errors }
}

const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })
const address = (page: Page) => page.getByTestId('cell-address').innerText()

/** Types into a cell as a person does, once the grid's typing field has the focus with the text selected. */
async function typeAt(page: Page, row: number, col: number, text: string): Promise<void> {
  await clickCell(page, row, col)
  await page.waitForFunction(() => {
    const ta = document.activeElement
    return ta instanceof HTMLTextAreaElement && ta.classList.contains('handsontableInput') && ta.selectionStart === 0 && ta.selectionEnd === ta.value.length
  }, undefined, { timeout: 10_000 }).catch(async (e: Error) => {
    // say where the focus was instead
    const at = await page.evaluate(() => { const a = document.activeElement as HTMLTextAreaElement | null; return `${a?.tagName}.${a?.className} value=${JSON.stringify(a?.value)} selection=${a?.selectionStart}-${a?.selectionEnd}` })
    throw new Error(`typing at (${row}, ${col}): the grid's typing field never had the focus with its text selected; the focus: ${at} (selected ${await address(page)})\n${e.message.split('\n')[0]}`)
  })
  await typeCell(page, text)
}

/** Types into a cell through the formula bar: the cell clicked, the text typed in the bar, Enter. */
async function typeInBar(page: Page, row: number, col: number, text: string): Promise<void> {
  await clickCell(page, row, col)
  const want = `${String.fromCharCode(65 + col)}${row + 1}`
  await expect.poll(() => address(page)).toBe(want)
  const bar = page.getByTestId('formula-bar')
  await bar.click()
  await bar.fill(text)
  await bar.press('Enter')
}

async function auditCount(id: string, token: string): Promise<number> {
  const res = await server.api('GET', `/api/workbooks/${id}/audit?limit=10000`, undefined, auth(token))
  expect(res.status).toBe(200)
  return (res.json as unknown[]).length
}

/** The activity's entries as shown, top (newest) first: "person|sentence". */
const shown = (page: Page) => page.getByTestId('activity-entry').evaluateAll(els => els.map(e =>
  `${e.getAttribute('data-by')}|${e.querySelector('[data-testid="activity-text"]')?.textContent ?? ''}`))

describe('the activity tab', () => {
  it('lists everyone’s actions newest first, filters by person and sheet, selects cells, loads more, exports as filtered', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: '活动 记录', lang: 'zh-CN', name: '王芳' })
    const ownerToken = ownerTokens.get(id)!
    const lei = connectClient(server, id, undefined, { token: await createLink(server, id, 'editor', '李雷') })
    clients.push(lei)
    await lei.synced()
    const sheet = sheetIds(lei.doc)[0]!

    const A = await open(`${server.url}/w/${id}?token=${ownerToken}`)
    // 王芳 fills A1 in her page; 李雷 edits B1 twice, inserts two rows, adds a sheet and fills C3 on it
    await typeAt(A.page, 0, 0, '100')
    await docUntil(lei.doc, 'A1 reaching 李雷', d => textAt(d, sheet, 'A1') === '100')
    type(lei.doc, sheet, 'B1', '100')
    type(lei.doc, sheet, 'B1', '120')
    insertRows(lei.doc, sheet, 10, 2)
    const market = addSheet(lei.doc, { name: '市场' })
    type(lei.doc, market, 'C3', '华东')
    // (the first entry is the owner's link for 李雷)
    await expect.poll(() => auditCount(id, ownerToken)).toBe(7)

    await A.page.getByTestId('history-open').click()
    await A.page.getByTestId('history-tab-activity').click()
    await expect.poll(() => shown(A.page)).toEqual([
      '李雷|填写了 C3：华东',
      '李雷|新增了工作表“市场”',
      '李雷|插入了 2 行',
      '李雷|编辑了 B1：100 → 120',
      '李雷|填写了 B1：100',
      '王芳|填写了 A1：100',
      '王芳|创建了编辑者链接：李雷',
    ])
    const first = A.page.getByTestId('activity-entry').first()
    expect(await first.locator('.role').innerText()).toBe('编辑者')
    expect(await first.locator('.sheet-tag').innerText()).toBe('市场')
    expect(await first.locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(await A.page.getByTestId('activity-more').count()).toBe(0)

    // by person: the names seen; 李雷's entries only
    expect(await A.page.getByTestId('activity-person').locator('option').allInnerTexts()).toEqual(['所有人', '李雷', '王芳'])
    await A.page.getByTestId('activity-person').selectOption('李雷')
    await expect.poll(() => shown(A.page)).toHaveLength(5)
    expect((await shown(A.page)).every(s => s.startsWith('李雷|'))).toBe(true)
    await A.page.getByTestId('activity-person').selectOption('王芳')
    await expect.poll(() => shown(A.page)).toEqual(['王芳|填写了 A1：100', '王芳|创建了编辑者链接：李雷'])
    // by sheet (with the person filter off): 市场's entries only
    await A.page.getByTestId('activity-person').selectOption('')
    await A.page.getByTestId('activity-sheet').selectOption(market)
    await expect.poll(() => shown(A.page)).toEqual(['李雷|填写了 C3：华东', '李雷|新增了工作表“市场”'])
    // a person and a sheet with nothing in common: the empty state
    await A.page.getByTestId('activity-person').selectOption('王芳')
    await A.page.getByTestId('activity-empty').waitFor()
    expect(await A.page.getByTestId('activity-empty').innerText()).toBe('没有符合筛选条件的记录。')
    await A.page.getByTestId('activity-person').selectOption('')

    // a click on an entry with a cell selects it, on its sheet
    await A.page.getByTestId('activity-entry').first().locator('button').click()
    await expect.poll(() => address(A.page)).toBe('C3')
    expect(await A.page.locator(`[data-testid="sheet-tabs"] [data-sheet-id="${market}"]`).getAttribute('aria-selected')).toBe('true')
    await A.page.getByTestId('activity-sheet').selectOption('')
    await A.page.locator('[data-testid="activity-entry"][data-cell="B1"]').first().locator('button').click()
    await expect.poll(() => address(A.page)).toBe('B1')
    expect(await A.page.locator(`[data-testid="sheet-tabs"] [data-sheet-id="${sheet}"]`).getAttribute('aria-selected')).toBe('true')
    // an entry without a cell is not a button
    expect(await A.page.locator('[data-testid="activity-entry"][data-action="rows"] button').count()).toBe(0)

    // ── past the first page: 600 cells at once (one entry each), then "load more" ─────────────────
    const l = layoutOf(lei.doc).sheet(sheet)!
    setCells(lei.doc, sheet, Array.from({ length: 600 }, (_, i) => ({ rowId: l.rows.ids[i % 100]!, colId: l.cols.ids[4 + Math.floor(i / 100)]!, value: `v${i}` })))
    await expect.poll(() => auditCount(id, ownerToken)).toBe(607)
    await A.page.getByTestId('activity-refresh').click()
    await expect.poll(() => A.page.getByTestId('activity-entry').count()).toBe(500)
    expect(await A.page.getByTestId('activity-entry').first().getAttribute('data-n')).toBe('607')
    expect(await A.page.getByTestId('activity-more').innerText()).toBe('加载更多')
    await A.page.getByTestId('activity-more').click()
    await expect.poll(() => A.page.getByTestId('activity-entry').count()).toBe(607)
    expect(await A.page.getByTestId('activity-entry').last().getAttribute('data-n')).toBe('1')
    expect(await A.page.getByTestId('activity-more').count()).toBe(0)
    // numbers strictly falling: no entry twice, none missing
    const ns = await A.page.getByTestId('activity-entry').evaluateAll(els => els.map(e => Number(e.getAttribute('data-n'))))
    expect(ns).toEqual(Array.from({ length: 607 }, (_, i) => 607 - i))

    // ── the export follows the filters ───────────────────────────────────────────────────────────
    await A.page.getByTestId('activity-person').selectOption('王芳')
    await expect.poll(() => shown(A.page)).toEqual(['王芳|填写了 A1：100', '王芳|创建了编辑者链接：李雷'])
    const download = A.page.waitForEvent('download')
    await A.page.getByTestId('audit-csv').click()
    const file = await download
    expect(file.suggestedFilename()).toMatch(/\.csv$/)
    const lines = readFileSync((await file.path())!, 'utf8').replace(/^\uFEFF/, '').trim().split(/\r\n/)
    expect(lines).toHaveLength(3)
    expect(lines[0]).toBe('#,time,by,role,action,sheet,cell,before,after,detail,hash')
    expect(lines[1]).toMatch(/^1,.*,王芳,owner,link-create,/)
    expect(lines[2]).toMatch(/^2,.*,王芳,owner,edit,.*,A1,,100,/)
    expect(A.errors).toEqual([])

    // ── in English ───────────────────────────────────────────────────────────────────────────────
    const E = await open(`${server.url}/w/${id}?token=${ownerToken}`, { locale: 'en-US' })
    await E.page.getByTestId('history-open').click()
    await E.page.getByTestId('history-tab-activity').click()
    await E.page.getByTestId('activity-person').selectOption('李雷')
    await E.page.getByTestId('activity-sheet').selectOption(sheet)
    // (the newest page, as filtered, read before more is asked for)
    await expect.poll(() => E.page.getByTestId('activity-entries').getAttribute('aria-busy')).toBe('false')
    await E.page.getByTestId('activity-more').click()
    await expect.poll(async () => (await shown(E.page)).slice(-3)).toEqual(['李雷|Inserted 2 rows', '李雷|Edited B1: 100 → 120', '李雷|Filled in B1: 100'])
    expect(E.errors).toEqual([])
    await E.ctx.close()
    await A.ctx.close()
  })
})

describe('view-only links and the history', () => {
  it('the owner turns it off: a viewer’s panel says so (live) and loads again once it is back on', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: '只读 历史', lang: 'zh-CN', name: '王芳' })
    const ownerToken = ownerTokens.get(id)!
    const viewerToken = await createLink(server, id, 'viewer', '韩梅梅')
    const editorToken = await createLink(server, id, 'editor', '李雷')
    const saved = await server.api('POST', `/api/workbooks/${id}/versions`, { name: '初稿' }, auth(ownerToken))
    expect(saved.status).toBe(201)

    const O = await open(`${server.url}/w/${id}?token=${ownerToken}`)
    const V = await open(`${server.url}/w/${id}?token=${viewerToken}`, { locale: 'en-US' })
    await V.page.getByTestId('history-open').click()
    await V.page.locator('[data-testid="version"][data-name="初稿"]').waitFor()
    expect(await V.page.getByTestId('history-viewers').count()).toBe(0)

    // the owner's setting, on by default
    await O.page.getByTestId('history-open').click()
    const box = O.page.getByTestId('history-viewers')
    expect(await box.isChecked()).toBe(true)
    expect(await O.page.locator('label', { has: box }).innerText()).toBe('只读链接可查看历史')
    await box.uncheck()
    // the server keeps the history from the viewer's link; the viewer's open panel says so in place of the list
    await expect.poll(async () => (await server.api('GET', `/api/workbooks/${id}/versions`, undefined, auth(viewerToken))).status).toBe(403)
    await V.page.getByTestId('history-shut').waitFor()
    expect(await V.page.getByTestId('history-shut').locator('p').first().innerText()).toBe('The owner has turned the history off for view-only links.')
    expect(await V.page.getByTestId('versions').count()).toBe(0)
    expect(await V.page.getByTestId('versions-error').count()).toBe(0)
    // opened again while it is off: the same message, not an error
    await V.page.getByTestId('history-close').click()
    await V.page.getByTestId('history-open').click()
    await V.page.getByTestId('history-shut').waitFor()
    expect(await V.page.getByTestId('history-panel').locator('[role="alert"]').count()).toBe(0)
    // an editor still reads it
    expect((await server.api('GET', `/api/workbooks/${id}/audit`, undefined, auth(editorToken))).status).toBe(200)

    // back on: the viewer's panel loads the versions by itself
    expect(await box.isChecked()).toBe(false)
    await box.check()
    await V.page.locator('[data-testid="version"][data-name="初稿"]').waitFor()
    expect(await V.page.getByTestId('history-shut').count()).toBe(0)
    await V.page.getByTestId('history-tab-activity').click()
    await expect.poll(() => shown(V.page)).toContain('王芳|Saved the version “初稿”')
    expect(V.errors).toEqual([])
    expect(O.errors).toEqual([])
    await V.ctx.close()
    await O.ctx.close()
  })
})

describe('BASELINE() in the grid', () => {
  it('reads the value a cell had in a version saved from the panel; an unknown name is #REF!', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: '基线', lang: 'zh-CN', name: '王芳' })
    const A = await open(`${server.url}/w/${id}?token=${ownerTokens.get(id)!}`)
    await typeAt(A.page, 0, 0, '100')
    await A.page.getByTestId('history-open').click()
    await A.page.getByTestId('version-save').click()
    await A.page.getByTestId('version-name').fill('Q3 计划')
    await A.page.getByTestId('version-name').press('Enter')
    await A.page.locator('[data-testid="version"][data-name="Q3 计划"]').waitFor()
    // (typed in the formula bar: back from the panel, the grid's own typing field can still hold the
    // last text with the caret after it for a moment, and what is typed then is added to it)
    await typeInBar(A.page, 0, 0, '130')
    await waitForCell(A.page, 0, 0, '130')
    await typeInBar(A.page, 0, 1, '=BASELINE("Q3 计划", A1)')
    // #N/A while the version loads, then its value
    await waitForCell(A.page, 0, 1, '100')
    expect(await cellText(A.page, 0, 0)).toBe('130')
    await typeInBar(A.page, 1, 1, '=BASELINE("没有", A1)')
    await waitForCell(A.page, 1, 1, '#REF!')
    // the formula as written, in the formula bar
    await clickCell(A.page, 0, 1)
    await expect.poll(() => A.page.getByTestId('formula-bar').inputValue()).toBe('=BASELINE("Q3 计划", A1)')
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })
})
