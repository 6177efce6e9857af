/**
 * The timeline of a campaign progress workbook in real Chromium: the 618 stages drawn in order, a bar
 * dragged by whole days with the mouse moves both dates in the grid, an end pulled moves only the end,
 * Escape cancels a drag, Ctrl+Z takes each drop back, and neither a viewer's link nor a locked sheet drags.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { launchBrowser, startAppServer, watchErrors, waitForCell, cellText } from '../helpers/browser'
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

const START = 4, END = 5, DURATION = 11

/** The bars as drawn: phase, first and last day, state, overdue. */
function bars(page: Page) {
  return page.getByTestId('timeline-bar').evaluateAll(els => els.map(e => {
    const d = (e as SVGGElement).dataset
    return { phase: d.phase, from: d.from, to: d.to, state: d.state, overdue: d.overdue }
  }))
}
const bar = (page: Page, phase: string) => page.locator(`[data-testid="timeline-bar"][data-phase="${phase}"]`)

/** Presses at a point of a bar (`at`: 0 = its left edge, 1 = its right edge), moves by `days`, and releases (or not). */
async function dragBar(page: Page, phase: string, at: number, days: number, release = true): Promise<void> {
  const dayW = Number(await page.getByTestId('timeline').getAttribute('data-day-width'))
  expect(dayW).toBeGreaterThan(0)
  const box = (await bar(page, phase).locator('rect.track').boundingBox())!
  const x = box.x + box.width * at + (at === 0 ? 2 : at === 1 ? -2 : 0), y = box.y + box.height / 2
  await page.mouse.move(x, y)
  await page.mouse.down()
  // in steps, as a hand moves; the drop lands a little past the whole days (it snaps back to them)
  await page.mouse.move(x + days * dayW + dayW * 0.3, y, { steps: 8 })
  if (release) await page.mouse.up()
}

async function openProgressWorkbook(url: string, locale: string): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const ctx = await browser.newContext({ locale, viewport: { width: 1400, height: 900 } })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(server.url + url)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
  await waitForCell(page, 2, START, '2024-05-26')
  return { page, errors, close: () => ctx.close() }
}

describe('the timeline of a campaign progress sheet', () => {
  it('draws the 618 stages in order; dragging a bar moves its dates in the grid and Ctrl+Z moves them back', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'activity-progress', title: '618 大促时间线' })
    expect(res.status).toBe(201)
    const { page, errors, close } = await openProgressWorkbook(res.json.url, 'zh-CN')

    const toggle = page.getByTestId('timeline-toggle')
    expect(await toggle.innerText()).toBe('时间线')
    await toggle.click()
    await page.getByTestId('timeline').waitFor()
    // the stages, read from the SVG, in the seed's order, with their dates and states
    expect(await page.getByTestId('timeline-phase').allTextContents()).toEqual(['策划阶段', '准备阶段', '执行阶段', '复盘阶段'])
    expect(await page.getByTestId('timeline-task').first().textContent()).toBe('活动方案确定')
    // shown over the grid: the labels on the left are not under the grid's frozen columns
    expect(await page.getByTestId('timeline-phase').first().evaluate(el => {
      const r = el.getBoundingClientRect()
      return !!document.elementFromPoint(r.x + 4, r.y + r.height / 2)?.closest('[data-testid=timeline]')
    })).toBe(true)
    expect(await bars(page)).toEqual([
      { phase: '策划阶段', from: '2024-05-01', to: '2024-05-10', state: 'done', overdue: 'false' },
      { phase: '准备阶段', from: '2024-05-11', to: '2024-05-25', state: 'done', overdue: 'false' },
      // the campaign is long over: the unfinished stages are overdue
      { phase: '执行阶段', from: '2024-05-26', to: '2024-06-18', state: 'active', overdue: 'true' },
      { phase: '复盘阶段', from: '2024-06-19', to: '2024-06-30', state: 'todo', overdue: 'true' },
    ])
    expect(await page.getByTestId('timeline-overdue').allTextContents()).toEqual(['逾期', '逾期'])
    expect(await page.getByTestId('timeline-legend').innerText()).toContain('已完成')

    // ── drag the execution stage 3 days later: a preview while dragging, both dates at the drop ──
    await dragBar(page, '执行阶段', 0.5, 3, false)
    await expect.poll(() => page.getByTestId('timeline-preview').textContent()).toMatch(/05-29\s*–\s*06-21/)
    await page.mouse.up()
    await expect.poll(() => bar(page, '执行阶段').getAttribute('data-from')).toBe('2024-05-29')
    expect(await bar(page, '执行阶段').getAttribute('data-to')).toBe('2024-06-21')
    expect(await page.getByTestId('timeline-preview').count()).toBe(0)

    // ── Escape cancels a drag: nothing moves ──
    await dragBar(page, '策划阶段', 0.5, 4, false)
    await expect.poll(() => bar(page, '策划阶段').getAttribute('data-from')).toBe('2024-05-05')
    await page.keyboard.press('Escape')
    await expect.poll(() => bar(page, '策划阶段').getAttribute('data-from')).toBe('2024-05-01')
    await page.mouse.up()

    // ── pull the review stage's end 2 days out: only its end moves ──
    await dragBar(page, '复盘阶段', 1, 2)
    await expect.poll(() => bar(page, '复盘阶段').getAttribute('data-to')).toBe('2024-07-02')
    expect(await bar(page, '复盘阶段').getAttribute('data-from')).toBe('2024-06-19')

    // ── the grid has the new dates, and the calculated duration follows ──
    await toggle.click()
    await expect.poll(() => page.getByTestId('timeline').count()).toBe(0)
    await waitForCell(page, 2, START, '2024-05-29')
    expect(await cellText(page, 2, END)).toBe('2024-06-21')
    expect(await cellText(page, 2, DURATION)).toBe('24')
    await waitForCell(page, 3, END, '2024-07-02')
    expect(await cellText(page, 3, START)).toBe('2024-06-19')
    expect(await cellText(page, 3, DURATION)).toBe('14')
    // the cancelled drag wrote nothing
    expect(await cellText(page, 0, START)).toBe('2024-05-01')

    // ── Ctrl+Z on the timeline takes the drops back, one at a time ──
    await toggle.click()
    await page.getByTestId('timeline').waitFor()
    await page.keyboard.press('Control+z')
    await expect.poll(() => bar(page, '复盘阶段').getAttribute('data-to')).toBe('2024-06-30')
    expect(await bar(page, '执行阶段').getAttribute('data-from')).toBe('2024-05-29')
    await page.keyboard.press('Control+z')
    await expect.poll(() => bar(page, '执行阶段').getAttribute('data-from')).toBe('2024-05-26')
    expect(await bar(page, '执行阶段').getAttribute('data-to')).toBe('2024-06-18')
    await toggle.click()
    await waitForCell(page, 2, START, '2024-05-26')
    expect(await cellText(page, 2, END)).toBe('2024-06-18')
    expect(await cellText(page, 3, END)).toBe('2024-06-30')

    // ── the review pack draws the same timeline, still, under the sheet's table ──
    await page.getByTestId('export').click()
    await page.getByTestId('export-print').click()
    const printed = page.getByTestId('print-timeline')
    await printed.waitFor()
    expect(await printed.getByTestId('timeline-phase').allTextContents()).toEqual(['策划阶段', '准备阶段', '执行阶段', '复盘阶段'])
    expect(await printed.getByTestId('timeline-bar').evaluateAll(els => els.map(e => `${(e as SVGGElement).dataset.from}/${(e as SVGGElement).dataset.to}`)))
      .toEqual(['2024-05-01/2024-05-10', '2024-05-11/2024-05-25', '2024-05-26/2024-06-18', '2024-06-19/2024-06-30'])
    expect(await printed.getByTestId('timeline-overdue').count()).toBe(2)
    expect(await printed.locator('.bar.movable').count()).toBe(0)
    expect(await printed.getByTestId('timeline-hint').count()).toBe(0)

    expect(errors).toEqual([])
    await close()
  })

  it('in English too; a viewer\'s link shows the timeline but cannot drag it', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'activity-progress', title: 'Campaign', lang: 'en' })
    expect(res.status).toBe(201)
    const link = await server.api('POST', `/api/workbooks/${res.json.id}/links`, { role: 'viewer', name: 'Reviewer' }, { headers: { authorization: `Bearer ${res.json.token}` } })
    expect(link.status).toBe(201)
    const { page, errors, close } = await openProgressWorkbook(link.json.url, 'en-US')
    await expect.poll(() => page.getByTestId('read-only').isVisible()).toBe(true)
    const toggle = page.getByTestId('timeline-toggle')
    expect(await toggle.innerText()).toBe('Timeline')
    await toggle.click()
    await page.getByTestId('timeline').waitFor()
    const phases = await page.getByTestId('timeline-phase').allTextContents()
    expect(phases).toEqual(['Planning', 'Preparation', 'Execution', 'Review'])
    expect(await page.getByTestId('timeline-overdue').allTextContents()).toEqual(['Overdue', 'Overdue'])
    expect(await page.getByTestId('timeline-hint').innerText()).toMatch(/Read-only/)
    expect(await bar(page, phases[2]!).getAttribute('class')).not.toContain('movable')
    await dragBar(page, phases[2]!, 0.5, 3, false)
    // no preview while the mouse is held: nothing follows it
    expect(await page.getByTestId('timeline-preview').count()).toBe(0)
    expect(await bar(page, phases[2]!).getAttribute('data-from')).toBe('2024-05-26')
    await page.mouse.up()
    await toggle.click()
    expect(await cellText(page, 2, START)).toBe('2024-05-26')
    expect(errors).toEqual([])
    await close()
  })

  it('a locked sheet\'s timeline cannot be dragged, not even by its owner', async () => {
    const res = await server.api('POST', '/api/workbooks', { template: 'activity-progress', title: '锁定' })
    const { page, errors, close } = await openProgressWorkbook(res.json.url, 'zh-CN')
    page.once('dialog', d => void d.accept())
    await page.getByTestId('lock').click()
    await page.getByTestId('locked').waitFor()
    await page.getByTestId('timeline-toggle').click()
    await page.getByTestId('timeline').waitFor()
    expect(await page.getByTestId('timeline-hint').innerText()).toContain('已锁定')
    expect(await page.locator('.bar.movable').count()).toBe(0)
    await dragBar(page, '执行阶段', 0.5, 3, false)
    expect(await page.getByTestId('timeline-preview').count()).toBe(0)
    await page.mouse.up()
    expect(await bar(page, '执行阶段').getAttribute('data-from')).toBe('2024-05-26')
    expect(errors).toEqual([])
    await close()
  })
})
