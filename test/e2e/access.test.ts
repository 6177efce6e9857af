/**
 * Access in the browser: user text never runs as HTML (cells, sheet names, titles, dropdown options,
 * link names), a viewer link shows a read-only grid, protected cells are read-only for those not
 * allowed, and a signed-off sheet is locked for everyone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import * as Y from 'yjs'
import { launchBrowser, startAppServer, watchErrors, waitForCell, clickCell, cellText, cellLocator } from '../helpers/browser'
import { connectClient, createLink, createWorkbook, docUntil, ownerTokens, type Client, type TestServer } from '../helpers/server'
import { cellKey, sheetIds, sheetParts, sheetsOf } from '../../src/core/workbook/schema'
import { renameSheet, setColumnMeta } from '../../src/core/workbook/mutations'
import { setProtections } from '../../src/core/access/access'
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

const XSS = [
  '<img src=x onerror=alert(1)>',
  '"><script>alert(2)</script>',
  "<svg/onload=alert('3')>",
  'javascript:alert(4)',
  '<iframe srcdoc="<script>parent.alert(5)</script>">',
]

async function ownerClient(id: string): Promise<Client> {
  const c = connectClient(server, id)
  clients.push(c)
  await c.synced()
  return c
}

async function open(path: string, locale = 'en-US'): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const ctx = await browser.newContext({ locale })
  const page = await ctx.newPage()
  const errors = watchErrors(page)
  await page.goto(server.url + path)
  await page.waitForSelector(path.startsWith('/w/') ? '[data-testid="grid"][data-live] .ht_master tbody td' : '[data-testid="gallery"]')
  return { page, errors, close: () => ctx.close() }
}

describe('user text is text', () => {
  it('XSS payloads in cells, sheet names, the title, dropdown options and link names raise no dialog and show as typed', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: XSS[0], lang: 'en', name: XSS[3] })
    const c = await ownerClient(id)
    const sheet = sheetIds(c.doc)[0]!
    XSS.forEach((p, i) => type(c.doc, sheet, `A${i + 1}`, p))
    // sheet names cannot hold / \\ ? * [ ] : (as in Excel), HTML they can
    renameSheet(c.doc, sheet, XSS[0]!)
    const colB = layoutOf(c.doc).sheet(sheet)!.cols.ids[1]!
    setColumnMeta(c.doc, sheet, colB, { type: 'select', options: [...XSS, '计划内 plain'], title: XSS[1] })
    for (const p of XSS) await createLink(server, id, 'editor', p)
    // a colleague present under a hostile link name
    const peer = connectClient(server, id, new Y.Doc(), { token: await createLink(server, id, 'editor', XSS[2]!) })
    clients.push(peer)
    await peer.synced()
    peer.provider.awareness.setLocalStateField('user', { name: 'ignored', color: '#188038' })

    const { page, errors, close } = await open(`/w/${id}?token=${ownerTokens.get(id)}`)
    for (let i = 0; i < XSS.length; i++) await waitForCell(page, i, 0, XSS[i]!)
    expect(await page.getByTestId('workbook-title').inputValue()).toBe(XSS[0])
    await expect.poll(() => page.locator('[role=tab][aria-selected=true]').innerText()).toBe(XSS[0])
    expect(await page.locator('.ht_clone_top th', { hasText: XSS[1]! }).count()).toBeGreaterThan(0)
    await expect.poll(() => page.getByTestId('peer-avatar').getAttribute('title')).toContain(XSS[2])
    // the dropdown's options are text; tag-like ones (the grid's dropdown would strip their tags) are not listed, only typed
    await clickCell(page, 0, 1)
    await page.keyboard.press('Enter')
    await page.waitForSelector('.autocompleteEditor:visible, .handsontableEditor:visible')
    const listed = await page.locator('.autocompleteEditor td, .handsontableEditor td').allInnerTexts()
    expect(listed).toContain('计划内 plain')
    expect(listed).toContain('javascript:alert(4)')
    expect(listed.filter(x => /alert/.test(x) && !XSS.includes(x))).toEqual([])
    await page.keyboard.press('Escape')
    await clickCell(page, 1, 1)
    await page.keyboard.type(XSS[1]!)
    await page.keyboard.press('Enter')
    await docUntil(c.doc, 'a typed option reaching the doc as typed', d => textAt(d, sheet, 'B2') === XSS[1])
    // the share dialog lists the link names as text
    await page.getByTestId('share').click()
    await expect.poll(() => page.getByTestId('share-links').innerText()).toContain(XSS[1])
    for (const p of XSS) expect(await page.getByTestId('share-links').innerText()).toContain(p)
    await page.getByTestId('share-close').click()
    // the home page lists the title as text
    await page.goto(server.url + '/')
    await expect.poll(() => page.getByTestId('workbooks').innerText()).toContain(XSS[0])
    // nothing ran: no dialog, no injected element
    expect(errors).toEqual([])
    expect(await page.evaluate(() => document.querySelectorAll('img[src="x"], iframe, svg[onload]').length)).toBe(0)
    await close()
  })

  it('pages forbid inline script', async () => {
    const res = await fetch(server.url + '/')
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/)
    expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    const { page, errors, close } = await open('/')
    // the policy holds in the browser: an inline script added now does not run
    const ran = await page.evaluate(() => {
      const s = document.createElement('script')
      s.textContent = 'window.__inline = 1'
      document.body.appendChild(s)
      return (window as unknown as { __inline?: number }).__inline === 1
    })
    expect(ran).toBe(false)
    expect(errors).toEqual([])
    await close()
  })
})

describe('roles in the grid', () => {
  it('a viewer link shows a read-only grid; an editor cannot touch the manager\'s column or a locked sheet', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: 'roles', lang: 'en', name: 'Boss' })
    const c = await ownerClient(id)
    const sheet = sheetIds(c.doc)[0]!
    type(c.doc, sheet, 'A1', 'seed')
    type(c.doc, sheet, 'C1', '90')
    const colC = layoutOf(c.doc).sheet(sheet)!.cols.ids[2]!
    setProtections(c.doc, [{ id: 'pscore', sheet, cols: [colC], names: ['王经理'], label: 'Score' }])

    // ── viewer ───────────────────────────────────────────────────────────────────────────────────
    const viewer = await open(`/w/${id}?token=${await createLink(server, id, 'viewer', 'Reviewer')}`)
    await waitForCell(viewer.page, 0, 0, 'seed')
    await expect.poll(() => viewer.page.getByTestId('read-only').isVisible()).toBe(true)
    expect(await viewer.page.getByTestId('my-role').innerText()).toBe('Viewer')
    expect(await viewer.page.getByTestId('workbook-title').isDisabled()).toBe(true)
    expect(await viewer.page.getByTestId('sheet-add').count()).toBe(0)
    await clickCell(viewer.page, 1, 0)
    await viewer.page.keyboard.type('viewer was here')
    await viewer.page.keyboard.press('Enter')
    expect(await cellText(viewer.page, 1, 0)).toBe('')
    // the space typed on the read-only cell did not scroll the grid away
    expect(await viewer.page.locator('[data-testid="grid"][data-live] .ht_master .wtHolder').evaluate(el => el.scrollTop)).toBe(0)
    expect(textAt(c.doc, sheet, 'A2')).toBe('')

    // ── editor: the protected column is read-only, the rest is not ───────────────────────────────
    const editor = await open(`/w/${id}?token=${await createLink(server, id, 'editor', '小李')}`)
    await waitForCell(editor.page, 0, 2, '90')
    expect(await cellLocator(editor.page, 0, 2).getAttribute('class')).toContain('cell-protected')
    await clickCell(editor.page, 0, 2)
    await editor.page.keyboard.type('100')
    await editor.page.keyboard.press('Enter')
    expect(await cellText(editor.page, 0, 2)).toBe('90')
    await clickCell(editor.page, 0, 1)
    await editor.page.keyboard.type('ok')
    await editor.page.keyboard.press('Enter')
    await docUntil(c.doc, 'the editor\'s edit reaching the owner', d => textAt(d, sheet, 'B1') === 'ok')
    expect(textAt(c.doc, sheet, 'C1')).toBe('90')

    // ── the manager (named in the protection) edits the score and signs the sheet off ─────────────
    const manager = await open(`/w/${id}?token=${await createLink(server, id, 'editor', '王经理')}`)
    await waitForCell(manager.page, 0, 2, '90')
    await clickCell(manager.page, 0, 2)
    await manager.page.keyboard.type('95')
    await manager.page.keyboard.press('Enter')
    await waitForCell(editor.page, 0, 2, '95')
    manager.page.once('dialog', d => void d.accept())
    await manager.page.getByTestId('lock').click()
    await expect.poll(() => editor.page.getByTestId('locked').innerText()).toContain('王经理')
    // locked: the editor's unprotected cell is read-only now too
    await clickCell(editor.page, 1, 1)
    await editor.page.keyboard.type('late')
    await editor.page.keyboard.press('Enter')
    expect(await cellText(editor.page, 1, 1)).toBe('')
    expect(sheetParts(sheetsOf(c.doc).get(sheet)!).cells.get(cellKey(layoutOf(c.doc).sheet(sheet)!.rows.ids[1]!, layoutOf(c.doc).sheet(sheet)!.cols.ids[1]!))).toBeUndefined()
    // the editor has no lock button; the manager unlocks
    expect(await editor.page.getByTestId('lock').count()).toBe(0)
    manager.page.once('dialog', d => void d.accept())
    await manager.page.getByTestId('lock').click()
    await expect.poll(() => editor.page.getByTestId('locked').count()).toBe(0)
    await clickCell(editor.page, 1, 1)
    await editor.page.keyboard.type('after unlock')
    await editor.page.keyboard.press('Enter')
    await docUntil(c.doc, 'the edit after unlocking', d => textAt(d, sheet, 'B2') === 'after unlock')

    for (const x of [viewer, editor, manager]) expect(x.errors).toEqual([])
    for (const x of [viewer, editor, manager]) await x.close()
  })

  it('an offline edit of a cell protected meanwhile is refused by the server: the workbook reopens without it, keeps the rest, and says why', async () => {
    const id = await createWorkbook(server, { template: 'blank', title: 'race', lang: 'en', name: 'Boss' })
    const c = await ownerClient(id)
    const sheet = sheetIds(c.doc)[0]!
    type(c.doc, sheet, 'C1', '90')
    const ctx = await browser.newContext({ locale: 'en-US' })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.url}/w/${id}?token=${await createLink(server, id, 'editor', '小李')}`)
    await waitForCell(page, 0, 2, '90')
    await expect.poll(() => page.getByTestId('connection-status').innerText()).toBe('Connected')
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
    await ctx.setOffline(true)
    await expect.poll(() => page.getByTestId('connection-status').innerText()).toBe('Offline')
    // meanwhile the owner protects column C for the manager
    const colC = layoutOf(c.doc).sheet(sheet)!.cols.ids[2]!
    setProtections(c.doc, [{ id: 'pscore', sheet, cols: [colC], names: ['王经理'] }])
    // offline, 小李 does not know yet and edits C1, and B2 (which stays free)
    await clickCell(page, 0, 2)
    await page.keyboard.type('100')
    await page.keyboard.press('Enter')
    await waitForCell(page, 0, 2, '100')
    await clickCell(page, 1, 1)
    await page.keyboard.type('kept offline work')
    await page.keyboard.press('Enter')
    await ctx.setOffline(false)
    // the server refuses the change whole; the page opens the workbook afresh and says why
    await expect.poll(() => page.getByTestId('refused').innerText(), { timeout: 15_000 }).toContain('refused')
    await waitForCell(page, 0, 2, '90')
    await expect.poll(() => page.getByTestId('connection-status').innerText()).toBe('Connected')
    expect(textAt(c.doc, sheet, 'C1')).toBe('90')
    expect(await cellLocator(page, 0, 2).getAttribute('class')).toContain('cell-protected')
    // the rest of the offline work came along into the fresh replica, and reached the server
    await waitForCell(page, 1, 1, 'kept offline work')
    await docUntil(c.doc, 'the carried edit at the owner', d => textAt(d, sheet, 'B2') === 'kept offline work')
    await expect.poll(() => page.getByTestId('refused').innerText()).toMatch(/1 of your other unsent changes were kept; 1 could not be/)
    // the reopened replica is a good one: its next edit goes through
    await clickCell(page, 0, 1)
    await page.keyboard.type('next')
    await page.keyboard.press('Enter')
    await docUntil(c.doc, 'the edit after the reopen', d => textAt(d, sheet, 'B1') === 'next')
    expect(server.log.lines.some(l => /refused a change by editor "小李"/.test(l))).toBe(true)
    expect(errors).toEqual([])
    await ctx.close()
  })

  // a refusal travels as a code (and the protection's id); the page says it in the person's language
  for (const [locale, expected] of [['zh-CN', '你最近的修改被拒绝（受保护：评分）'], ['en-US', 'Your last change was refused (protected: Score)']] as const) {
    it(`a refusal code from the server is shown translated (${locale})`, async () => {
      const id = await createWorkbook(server, { template: 'blank', title: 'codes', lang: 'en', name: 'Boss' })
      const c = await ownerClient(id)
      const sheet = sheetIds(c.doc)[0]!
      type(c.doc, sheet, 'C1', '90')
      const ctx = await browser.newContext({ locale })
      const page = await ctx.newPage()
      const errors = watchErrors(page)
      await page.goto(`${server.url}/w/${id}?token=${await createLink(server, id, 'editor', '小李')}`)
      await waitForCell(page, 0, 2, '90')
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
      await ctx.setOffline(true)
      const colC = layoutOf(c.doc).sheet(sheet)!.cols.ids[2]!
      setProtections(c.doc, [{ id: 'pscore', sheet, cols: [colC], names: ['王经理'], label: locale === 'en-US' ? 'Score' : '评分' }])
      await clickCell(page, 0, 2)
      await page.keyboard.type('100')
      await page.keyboard.press('Enter')
      await waitForCell(page, 0, 2, '100')
      await ctx.setOffline(false)
      await expect.poll(() => page.getByTestId('refused').innerText(), { timeout: 15_000 }).toContain(expected)
      expect(errors).toEqual([])
      await ctx.close()
    })
  }
})
