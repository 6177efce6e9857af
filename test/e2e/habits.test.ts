/**
 * Formats and sorting between two people in two browser contexts, through the real server: bold and a
 * fill made by A are seen by B, a format is undone by A's Ctrl+Z alone, the toolbar stays one line at
 * 1280 px in both languages; A sorts while B is typing into a row, and B's text lands in B's row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, typeCell, cellLocator, cellText } from '../helpers/browser'
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

async function open(url: string, locale: string): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ locale, viewport: { width: 1280, height: 800 } })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(url)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  return { ctx, page, errors }
}

const look = (page: Page, r: number, c: number) => cellLocator(page, r, c).evaluate(td => {
  const s = getComputedStyle(td as HTMLElement)
  return { weight: s.fontWeight, bg: s.backgroundColor, line: s.textDecorationLine, align: s.textAlign }
})

describe('cell formats', () => {
  it('bold and a fill by A are seen by B; A undoes the fill alone; the toolbar is one line at 1280 px in zh-CN and en', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '格式 Format' })
    const invite = await server.api('POST', `/api/workbooks/${res.json.id}/links`, { role: 'editor', name: '韩梅梅' }, { headers: { authorization: `Bearer ${res.json.token}` } })
    expect(invite.status).toBe(201)
    const A = await open(server.url + res.json.url, 'en-US')
    const B = await open(server.url + invite.json.url, 'zh-CN')

    for (const p of [A.page, B.page]) {
      const h = await p.getByTestId('format-bar').evaluate(el => (el as HTMLElement).getBoundingClientRect().height)
      expect(h).toBeLessThan(40)
    }
    expect(await A.page.getByTestId('format-b').getAttribute('title')).toBe('Bold (Ctrl+B)')
    expect(await B.page.getByTestId('format-b').getAttribute('title')).toBe('加粗 (Ctrl+B)')

    await clickCell(A.page, 0, 0)
    await typeCell(A.page, 'Total')
    await waitForCell(B.page, 0, 0, 'Total')
    // A1:B2 selected, then Ctrl+B
    await clickCell(A.page, 0, 0)
    await A.page.keyboard.down('Shift')
    await cellLocator(A.page, 1, 1).click()
    await A.page.keyboard.up('Shift')
    await A.page.keyboard.press('Control+b')
    await expect.poll(() => A.page.getByTestId('format-b').getAttribute('aria-pressed')).toBe('true')
    await expect.poll(async () => (await look(B.page, 0, 0)).weight, { timeout: 10_000 }).toBe('700')
    expect((await look(B.page, 1, 1)).weight).toBe('700')
    expect((await look(B.page, 2, 2)).weight).toBe('400')
    // a fill colour from the toolbar, and centring
    await A.page.getByTestId('format-bg').evaluate(el => {
      const input = el as HTMLInputElement
      input.value = '#fff2cc'
      input.dispatchEvent(new Event('change', { bubbles: true }))
    })
    await A.page.getByTestId('format-ha-center').click()
    await expect.poll(async () => (await look(B.page, 1, 0)).bg, { timeout: 10_000 }).toBe('rgb(255, 242, 204)')
    await expect.poll(async () => (await look(B.page, 0, 1)).align).toBe('center')

    // B underlines A1 meanwhile; A's undo takes back A's centring, then A's fill, never B's underline
    await clickCell(B.page, 0, 0)
    await B.page.keyboard.press('Control+u')
    await expect.poll(async () => (await look(A.page, 0, 0)).line, { timeout: 10_000 }).toBe('underline')
    await clickCell(A.page, 3, 3)
    await A.page.keyboard.press('Control+z')
    await expect.poll(async () => (await look(B.page, 0, 1)).align, { timeout: 10_000 }).not.toBe('center')
    await A.page.keyboard.press('Control+z')
    const plain = (await look(B.page, 5, 5)).bg
    await expect.poll(async () => (await look(B.page, 1, 0)).bg, { timeout: 10_000 }).toBe(plain)
    expect((await look(B.page, 0, 0)).weight).toBe('700')
    expect((await look(B.page, 0, 0)).line).toBe('underline')

    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })

  it('A sorts while B types into a row: the rows are sorted for both and B\'s text is in B\'s row', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '排序 Sort' })
    const invite = await server.api('POST', `/api/workbooks/${res.json.id}/links`, { role: 'editor', name: '李雷' }, { headers: { authorization: `Bearer ${res.json.token}` } })
    const A = await open(server.url + res.json.url, 'en-US')
    const B = await open(server.url + invite.json.url, 'zh-CN')
    await clickCell(A.page, 0, 0)
    for (const x of ['c', 'a', 'd', 'b']) await typeCell(A.page, x)
    await clickCell(A.page, 0, 1)
    for (const x of ['3', '1', '4', '2']) await typeCell(A.page, x)
    await waitForCell(B.page, 3, 1, '2')
    // B opens an editor on row "a" (the second row) and types, not yet committed
    await clickCell(B.page, 1, 2)
    await B.page.keyboard.type('mine')
    // A sorts by column A, ascending
    await clickCell(A.page, 0, 0)
    await A.page.getByTestId('sort-asc').click()
    for (const p of [A.page, B.page]) {
      await waitForCell(p, 0, 0, 'a')
      await waitForCell(p, 3, 0, 'd')
      await waitForCell(p, 0, 1, '1')
    }
    // B's editor followed its row to the top; Enter commits there
    await B.page.keyboard.press('Enter')
    for (const p of [A.page, B.page]) await waitForCell(p, 0, 2, 'mine')
    expect(await cellText(A.page, 1, 2)).toBe('')
    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })

  it('the fill handle shifts formulas and continues a series, as one undo step', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '填充 Fill' })
    const A = await open(server.url + res.json.url, 'zh-CN')
    await clickCell(A.page, 0, 0)
    for (const x of ['W01', '10', '20']) await typeCell(A.page, x)
    await clickCell(A.page, 1, 1)
    await typeCell(A.page, '=A2*2')
    // the second column's formula dragged down two rows (selected with the keyboard: Enter moved down)
    await A.page.keyboard.press('ArrowUp')
    const drag = async (toRow: number, toCol: number) => {
      const corner = A.page.locator('.ht_master .wtBorder.current.corner').first()
      const box = (await corner.boundingBox())!
      await A.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
      await A.page.mouse.down()
      const target = (await cellLocator(A.page, toRow, toCol).boundingBox())!
      await A.page.mouse.move(target.x + target.width / 2, target.y + target.height / 2, { steps: 5 })
      await A.page.mouse.up()
    }
    await drag(3, 1)
    await waitForCell(A.page, 2, 1, '40')
    await waitForCell(A.page, 3, 1, '0')
    await clickCell(A.page, 2, 1)
    expect(await A.page.getByTestId('formula-bar').inputValue()).toBe('=A3*2')
    // W01 dragged right: W02, W03 (the counted-text series, zeros kept)
    await clickCell(A.page, 1, 0)
    await A.page.keyboard.press('ArrowUp')
    await drag(0, 2)
    await waitForCell(A.page, 0, 1, 'W02')
    await waitForCell(A.page, 0, 2, 'W03')
    await A.page.keyboard.press('Control+z')
    await waitForCell(A.page, 0, 1, '')
    await waitForCell(A.page, 0, 2, '')
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })

  it('the header stays one line at 1280 px for an owner of a workbook with every panel, in zh-CN and in en', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'performance-appraisal', title: '2025年第三季度运营团队绩效考核表（经理评分）', lang: 'zh-CN' })
    for (const locale of ['zh-CN', 'en-US']) {
      const A = await open(server.url + res.json.url, locale)
      await A.page.getByTestId('share').waitFor()
      const bar = A.page.locator('header.bar')
      const heights = await bar.evaluate(el => [el.getBoundingClientRect().height, ...Array.from(el.querySelectorAll('button')).map(b => b.getBoundingClientRect().height)])
      // one line: the bar as tall as a button and its padding, no button taller than one text line
      expect(heights[0], locale).toBeLessThan(56)
      for (const h of heights.slice(1)) expect(h, locale).toBeLessThan(40)
      expect(await bar.evaluate(el => el.scrollWidth <= el.clientWidth + 1), locale).toBe(true)
      await A.ctx.close()
    }
  })

  it('Ctrl+F finds and goes to each match; Ctrl+H replace-all is undone by one Ctrl+Z', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '查找 Find' })
    const A = await open(server.url + res.json.url, 'en-US')
    await clickCell(A.page, 0, 0)
    for (const x of ['tmall', 'jd', 'Tmall shop']) await typeCell(A.page, x)
    await waitForCell(A.page, 2, 0, 'Tmall shop')
    await A.page.keyboard.press('Control+f')
    await A.page.getByTestId('find-query').fill('tmall')
    await expect.poll(() => A.page.getByTestId('find-count').innerText()).toBe('– of 2')
    await A.page.keyboard.press('Enter')
    await expect.poll(() => A.page.getByTestId('cell-address').innerText()).toBe('A1')
    await A.page.keyboard.press('Enter')
    await expect.poll(() => A.page.getByTestId('cell-address').innerText()).toBe('A3')
    expect(await A.page.getByTestId('find-count').innerText()).toBe('2 of 2')
    await A.page.getByTestId('find-case').check()
    await expect.poll(() => A.page.getByTestId('find-count').innerText()).toContain('of 1')
    await A.page.getByTestId('find-case').uncheck()
    // Ctrl+H: the replace line; replace all, one step back with Ctrl+Z
    await A.page.keyboard.press('Control+h')
    await A.page.getByTestId('find-replacement').fill('taobao')
    await A.page.getByTestId('find-replace-all').click()
    await waitForCell(A.page, 0, 0, 'taobao')
    await waitForCell(A.page, 2, 0, 'taobao shop')
    await expect.poll(() => A.page.getByTestId('notice').innerText()).toContain('Replaced 2')
    await expect.poll(() => A.page.getByTestId('find-count').innerText()).toBe('No results')
    await A.page.getByTestId('find-close').click()
    await A.page.keyboard.press('Control+z')
    await waitForCell(A.page, 0, 0, 'tmall')
    await waitForCell(A.page, 2, 0, 'Tmall shop')
    expect(await cellText(A.page, 1, 0)).toBe('jd')
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })

  it('a column hidden from the context menu is hidden for a colleague too, and shown again', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '隐藏 Hide' })
    const invite = await server.api('POST', `/api/workbooks/${res.json.id}/links`, { role: 'editor', name: '韩梅梅' }, { headers: { authorization: `Bearer ${res.json.token}` } })
    const A = await open(server.url + res.json.url, 'en-US')
    const B = await open(server.url + invite.json.url, 'zh-CN')
    const shown = (p: Page) => p.locator('[data-testid="grid"][data-live] .ht_master thead th .colHeader').evaluateAll(els => els.map(e => e.textContent ?? ''))
    await expect.poll(async () => (await shown(B.page)).some(t => t.trim() === 'B')).toBe(true)
    await cellLocator(A.page, 0, 1).click({ button: 'right' })
    await A.page.locator('.htContextMenu td', { hasText: 'Hide columns' }).click()
    await expect.poll(async () => (await shown(B.page)).some(t => t.trim() === 'B'), { timeout: 10_000 }).toBe(false)
    expect((await shown(B.page)).some(t => t.trim() === 'C')).toBe(true)
    // A selects A1:C1 across the hidden column and shows it again
    await clickCell(A.page, 0, 0)
    await A.page.keyboard.down('Shift')
    await cellLocator(A.page, 0, 2).click()
    await A.page.keyboard.up('Shift')
    await cellLocator(A.page, 0, 2).click({ button: 'right' })
    await A.page.locator('.htContextMenu td', { hasText: 'Unhide columns' }).click()
    await expect.poll(async () => (await shown(B.page)).some(t => t.trim() === 'B'), { timeout: 10_000 }).toBe(true)
    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })

  it('a number format from the menu (万, dates in Chinese) and a custom code; a bad code is refused with a message', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '数字格式 Number formats' })
    const A = await open(server.url + res.json.url, 'zh-CN')
    await clickCell(A.page, 0, 0)
    await typeCell(A.page, '123456')
    await typeCell(A.page, '45826')
    await clickCell(A.page, 0, 0)
    await A.page.getByTestId('format-nf').selectOption('0\\.0,"万"')
    await waitForCell(A.page, 0, 0, '12.3万')
    await clickCell(A.page, 1, 0)
    await A.page.getByTestId('format-nf').selectOption('yyyy"年"m"月"d"日"')
    await waitForCell(A.page, 1, 0, '2025年6月18日')
    // the formula bar keeps what was typed
    expect(await A.page.getByTestId('formula-bar').inputValue()).toBe('45826')
    await clickCell(A.page, 0, 0)
    await A.page.getByTestId('format-nf').selectOption('*custom')
    await A.page.getByTestId('format-nf-code').fill('0.0.0"')
    await A.page.getByTestId('format-nf-code').press('Enter')
    await expect.poll(() => A.page.getByTestId('notice').innerText()).toContain('不是有效的数字格式代码')
    await A.page.getByTestId('format-nf-code').fill('#,##0.0')
    await A.page.getByTestId('format-nf-code').press('Enter')
    await waitForCell(A.page, 0, 0, '123,456.0')
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })

  it('A\'s filter hides rows for A only; B applies the filter view A saved', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '筛选 Filter' })
    const invite = await server.api('POST', `/api/workbooks/${res.json.id}/links`, { role: 'editor', name: '李雷' }, { headers: { authorization: `Bearer ${res.json.token}` } })
    const A = await open(server.url + res.json.url, 'en-US')
    const B = await open(server.url + invite.json.url, 'zh-CN')
    await clickCell(A.page, 0, 0)
    for (const x of ['east', 'south', 'east', 'north']) await typeCell(A.page, x)
    await waitForCell(B.page, 3, 0, 'north')
    const rowsShown = (p: Page) => p.locator('[data-testid="grid"][data-live] .ht_master tbody tr').evaluateAll(trs => trs.slice(0, 4).map(tr => Array.from(tr.querySelector('td')?.childNodes ?? [])
      .filter(n => !(n instanceof HTMLElement && n.classList.contains('presence-tag'))).map(n => n.textContent ?? '').join('')))
    await clickCell(A.page, 0, 0)
    await A.page.getByTestId('filter-open').click()
    await A.page.getByTestId('filter-none').click()
    await A.page.getByTestId('filter-values').locator('label', { hasText: 'east' }).locator('input').check()
    await A.page.getByTestId('filter-apply').click()
    await expect.poll(() => rowsShown(A.page)).toEqual(['east', 'east', '', ''])
    await expect.poll(() => A.page.getByTestId('filter-banner').innerText()).toContain('2 of 4')
    // B sees every row
    expect(await rowsShown(B.page)).toEqual(['east', 'south', 'east', 'north'])
    expect(await B.page.getByTestId('filter-banner').count()).toBe(0)
    // A saves the filter as a view; B applies it
    await A.page.getByTestId('filter-open').click()
    await A.page.getByTestId('filter-view-name').fill('East only')
    await A.page.getByTestId('filter-view-save').click()
    await expect.poll(() => A.page.getByTestId('notice').innerText()).toContain('East only')
    await A.page.keyboard.press('Escape')
    await clickCell(B.page, 0, 0)
    await B.page.getByTestId('filter-open').click()
    await B.page.getByTestId('filter-view-East only').click()
    await expect.poll(() => rowsShown(B.page)).toEqual(['east', 'east', '', ''])
    // A clears; B's view stays applied
    await A.page.getByTestId('filter-clear').click()
    await expect.poll(() => rowsShown(A.page)).toEqual(['east', 'south', 'east', 'north'])
    expect(await rowsShown(B.page)).toEqual(['east', 'east', '', ''])
    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })

  it('a merge made by A is seen by B, and unmerged', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '合并 Merge' })
    const invite = await server.api('POST', `/api/workbooks/${res.json.id}/links`, { role: 'editor', name: '韩梅梅' }, { headers: { authorization: `Bearer ${res.json.token}` } })
    const A = await open(server.url + res.json.url, 'en-US')
    const B = await open(server.url + invite.json.url, 'zh-CN')
    await clickCell(A.page, 0, 0)
    await typeCell(A.page, 'Q3 plan')
    await waitForCell(B.page, 0, 0, 'Q3 plan')
    await clickCell(A.page, 0, 0)
    await A.page.keyboard.down('Shift')
    await cellLocator(A.page, 1, 1).click()
    await A.page.keyboard.up('Shift')
    await cellLocator(A.page, 1, 1).click({ button: 'right' })
    await A.page.locator('.htContextMenu td', { hasText: /^Merge cells$/ }).click()
    const span = (p: Page) => cellLocator(p, 0, 0).evaluate(td => [(td as HTMLTableCellElement).rowSpan, (td as HTMLTableCellElement).colSpan])
    await expect.poll(() => span(B.page), { timeout: 10_000 }).toEqual([2, 2])
    await clickCell(A.page, 0, 0)
    await cellLocator(A.page, 0, 0).click({ button: 'right' })
    await A.page.locator('.htContextMenu td', { hasText: 'Unmerge cells' }).click()
    await expect.poll(() => span(B.page), { timeout: 10_000 }).toEqual([1, 1])
    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })

  it('Ctrl+Enter fills a selection with what is typed, Ctrl+D fills down with formulas shifted, Ctrl+/ lists the shortcuts', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '快捷键 Keys' })
    const A = await open(server.url + res.json.url, 'zh-CN')
    await clickCell(A.page, 0, 0)
    await A.page.keyboard.down('Shift')
    await cellLocator(A.page, 2, 0).click()
    await A.page.keyboard.up('Shift')
    await A.page.keyboard.press('F2')
    await A.page.keyboard.type('7')
    await A.page.keyboard.press('Control+Enter')
    for (const r of [0, 1, 2]) await waitForCell(A.page, r, 0, '7')
    await clickCell(A.page, 0, 1)
    await typeCell(A.page, '=A1*2')
    await clickCell(A.page, 0, 1)
    await A.page.keyboard.down('Shift')
    await cellLocator(A.page, 2, 1).click()
    await A.page.keyboard.up('Shift')
    await A.page.keyboard.press('Control+d')
    await waitForCell(A.page, 2, 1, '14')
    await clickCell(A.page, 2, 1)
    expect(await A.page.getByTestId('formula-bar').inputValue()).toBe('=A3*2')
    await A.page.keyboard.press('Control+/')
    await expect.poll(() => A.page.getByTestId('shortcuts').innerText()).toContain('把输入的内容填入选中的所有单元格')
    await A.page.getByTestId('shortcuts-close').click()
    expect(await A.page.getByTestId('shortcuts').count()).toBe(0)
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })

  it('a fill shows on the totals row too', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'performance-appraisal', title: '合计行 Totals', lang: 'zh-CN' })
    const A = await open(server.url + res.json.url, 'zh-CN')
    // a totals cell without a conditional colour (one of those goes over a fill, as in Excel), outside the frozen columns
    const totals = A.page.locator('[data-testid="grid"][data-live] .ht_master tbody td.cell-totals:not(.cell-good):not(.cell-warn):not(.cell-bad):not(.cell-info):not([aria-colindex="2"])').first()
    await totals.waitFor()
    const grey = await totals.evaluate(td => getComputedStyle(td).backgroundColor)
    const [row, col] = await totals.evaluate(td => [Number(td.parentElement!.getAttribute('aria-rowindex')) - 2, Number(td.getAttribute('aria-colindex')) - 2])
    await clickCell(A.page, row!, col!)
    await A.page.getByTestId('format-bg').evaluate(el => {
      const input = el as HTMLInputElement
      input.value = '#ddebf7'
      input.dispatchEvent(new Event('change', { bubbles: true }))
    })
    await expect.poll(() => cellLocator(A.page, row!, col!).evaluate(td => getComputedStyle(td).backgroundColor)).toBe('rgb(221, 235, 247)')
    expect(grey).not.toBe('rgb(221, 235, 247)')
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })

  it('the format painter gives the next selection the active cell\'s format', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '格式刷 Painter' })
    const A = await open(server.url + res.json.url, 'en-US')
    await clickCell(A.page, 2, 2)
    await typeCell(A.page, 'plain')
    await clickCell(A.page, 0, 0)
    await A.page.keyboard.press('Control+b')
    await A.page.getByTestId('format-bg').evaluate(el => {
      const input = el as HTMLInputElement
      input.value = '#fff2cc'
      input.dispatchEvent(new Event('change', { bubbles: true }))
    })
    await A.page.getByTestId('format-painter').click()
    expect(await A.page.getByTestId('format-painter').getAttribute('aria-pressed')).toBe('true')
    await clickCell(A.page, 2, 2)
    await expect.poll(() => cellLocator(A.page, 2, 2).evaluate(td => [getComputedStyle(td).fontWeight, getComputedStyle(td).backgroundColor])).toEqual(['700', 'rgb(255, 242, 204)'])
    expect(await A.page.getByTestId('format-painter').getAttribute('aria-pressed')).toBe('false')
    // the painter is used once: the next cell keeps its own format
    await clickCell(A.page, 3, 3)
    expect(await cellLocator(A.page, 3, 3).evaluate(td => getComputedStyle(td).fontWeight)).toBe('400')
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })

  it('borders from the toolbar: all of a block\'s edges, then its outline only', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '边框 Borders' })
    const A = await open(server.url + res.json.url, 'zh-CN')
    const edges = (r: number, c: number) => cellLocator(A.page, r, c).evaluate(td => { const s = getComputedStyle(td); return [s.borderBottomColor, s.borderRightColor] })
    const plain = await edges(5, 5)
    await clickCell(A.page, 1, 1)
    await A.page.keyboard.down('Shift')
    await cellLocator(A.page, 2, 2).click()
    await A.page.keyboard.up('Shift')
    const select = async () => {
      await clickCell(A.page, 1, 1)
      await A.page.keyboard.down('Shift')
      await cellLocator(A.page, 2, 2).click()
      await A.page.keyboard.up('Shift')
    }
    // (measured with the selection elsewhere: a selected cell has the selection's own edges)
    const away = () => clickCell(A.page, 6, 6)
    await A.page.getByTestId('format-borders').selectOption('all')
    await away()
    const ink = 'rgb(32, 33, 36)'
    // the top edge of B2 is A2's... the cell above draws it: row 0's bottom
    await expect.poll(() => edges(0, 1)).toEqual([ink, plain[1]])
    await expect.poll(() => edges(1, 1)).toEqual([ink, ink])
    expect(await edges(2, 2)).toEqual([ink, ink])
    await select()
    await A.page.getByTestId('format-borders').selectOption('none')
    await away()
    await expect.poll(() => edges(1, 1)).toEqual(plain)
    await select()
    await A.page.getByTestId('format-borders').selectOption('outer')
    await away()
    await expect.poll(() => edges(2, 2)).toEqual([ink, ink])
    // inside the outline: no line between B2 and C2
    expect((await edges(1, 1))[1]).toBe(plain[1])
    expect(A.errors).toEqual([])
    await A.ctx.close()
  })

  it('conditional colours from the context menu: a rule added, then moved above another, colours the cells for everyone', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'blank', title: '条件格式 Rules' })
    const invite = await server.api('POST', `/api/workbooks/${res.json.id}/links`, { role: 'editor', name: '李雷' }, { headers: { authorization: `Bearer ${res.json.token}` } })
    const A = await open(server.url + res.json.url, 'en-US')
    const B = await open(server.url + invite.json.url, 'zh-CN')
    await clickCell(A.page, 0, 1)
    for (const x of ['150', '50']) await typeCell(A.page, x)
    await waitForCell(B.page, 1, 1, '50')
    await cellLocator(A.page, 0, 1).click({ button: 'right' })
    await A.page.locator('.htContextMenu td', { hasText: 'Conditional colours' }).click()
    const dialog = A.page.getByTestId('rules-dialog')
    await dialog.getByTestId('rule-add').click()
    await dialog.getByTestId('rule-0').getByTestId('rule-op').selectOption('>')
    await dialog.getByTestId('rule-0').getByTestId('rule-value').fill('100')
    await dialog.getByTestId('rule-0').getByTestId('rule-style').selectOption('bad')
    await dialog.getByTestId('rules-save').click()
    const has = (p: Page, r: number, cls: string) => cellLocator(p, r, 1).evaluate((td, c) => td.classList.contains(c), cls)
    await expect.poll(() => has(B.page, 0, 'cell-bad'), { timeout: 10_000 }).toBe(true)
    expect(await has(B.page, 1, 'cell-bad')).toBe(false)
    // a second rule (> 10, good) first: it wins for both cells
    await cellLocator(A.page, 0, 1).click({ button: 'right' })
    await A.page.locator('.htContextMenu td', { hasText: 'Conditional colours' }).click()
    await dialog.getByTestId('rule-add').click()
    await dialog.getByTestId('rule-1').getByTestId('rule-op').selectOption('>')
    await dialog.getByTestId('rule-1').getByTestId('rule-value').fill('10')
    await dialog.getByTestId('rule-1').getByTestId('rule-style').selectOption('good')
    await dialog.getByTestId('rule-1').getByRole('button', { name: 'Move up' }).click()
    await dialog.getByTestId('rules-save').click()
    await expect.poll(() => has(B.page, 0, 'cell-good'), { timeout: 10_000 }).toBe(true)
    expect(await has(B.page, 1, 'cell-good')).toBe(true)
    // an empty value is refused with a message, nothing saved
    await cellLocator(A.page, 0, 1).click({ button: 'right' })
    await A.page.locator('.htContextMenu td', { hasText: 'Conditional colours' }).click()
    await dialog.getByTestId('rule-add').click()
    await dialog.getByTestId('rules-save').click()
    await expect.poll(() => dialog.getByRole('alert').innerText()).toContain('Rule 3 needs a value')
    await A.page.keyboard.press('Escape')
    expect(A.errors).toEqual([])
    expect(B.errors).toEqual([])
    await A.ctx.close()
    await B.ctx.close()
  })
})
