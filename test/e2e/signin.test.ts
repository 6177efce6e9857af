/**
 * Sign-in in real Chromium (issue 23): a real OpenID provider in the test (oidc-provider on 127.0.0.1);
 * the person signs in from the workbook's header, lands back on the workbook and is named there and by
 * /api/me. A page of another origin cannot open the collab socket or POST with the session cookie.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { launchBrowser, watchErrors } from '../helpers/browser'
import { createWorkbook, ownerTokens, startTestServer, type TestServer } from '../helpers/server'
import { Jar, PEOPLE, signIn, startOidcPair, type Idp } from '../helpers/idp'

const DIST = join(import.meta.dirname, '..', '..', 'dist')
const cleanups: (() => unknown)[] = []
let s: TestServer
let idp: Idp
let base: string
let browser: Browser
let evil: Server
let evilUrl: string

beforeAll(async () => {
  const pair = await startOidcPair(o => startTestServer({ ...o, staticDir: DIST }), cleanups, PEOPLE)
  s = pair.s
  idp = pair.idp!
  base = pair.base
  cleanups.push(() => s.close())
  browser = await launchBrowser()
  // another origin (another port on 127.0.0.1: the same *site*, so SameSite=Lax cookies do go along)
  evil = createServer((_req, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end('<!doctype html><title>elsewhere</title>') })
  await new Promise<void>(r => evil.listen(0, '127.0.0.1', () => r()))
  evilUrl = `http://127.0.0.1:${(evil.address() as { port: number }).port}`
})
afterAll(async () => {
  await browser?.close()
  evil?.closeAllConnections()
  await new Promise<void>(r => (evil ? evil.close(() => r()) : r()))
  for (const f of cleanups.reverse()) await f()
})

describe('sign-in in the browser', () => {
  it('signs in from the workbook header, lands on the workbook, is named there and by /api/me; another origin can neither open the socket nor POST with the cookie', async () => {
    const id = await createWorkbook(s, { name: '张总' })
    const ctx = await browser.newContext({ locale: 'zh-CN' })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    await page.goto(`${base}/w/${id}?token=${ownerTokens.get(id)}`)
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    await page.click('[data-testid="sign-in"]')
    await page.waitForURL(u => u.pathname === `/w/${id}` && u.origin === base)
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    expect(await page.textContent('[data-testid="account-name"]')).toBe('张三')
    expect(page.url()).toBe(`${base}/w/${id}`) // no code, state or token left in the address
    const me = await page.evaluate(() => fetch('/api/me').then(r => r.json()))
    expect(me).toMatchObject({ signedIn: true, name: '张三', email: 'zhangsan@example.com' })
    const cookies = await ctx.cookies(base)
    expect(cookies.find(c => c.name === 'pw_session')).toMatchObject({ httpOnly: true, sameSite: 'Lax' })

    // the owner binds 王经理's link to 王经理 (who has signed in before, elsewhere) in the share dialog
    idp.user = 'wang'
    await signIn(base, new Jar())
    idp.user = 'zhang'
    const made = await s.api('POST', `/api/workbooks/${id}/links`, { role: 'editor', name: '王经理' })
    await page.click('[data-testid="share"]')
    const row = page.locator(`[data-link="${made.json.id}"]`)
    await row.locator('[data-testid="link-bind-email"]').fill('wang@example.com')
    await row.locator('[data-testid="link-bind"]').click()
    await row.locator('.bound').waitFor()
    expect(await row.locator('.bound').textContent()).toBe('仅限 王经理 登录后使用')
    const forwarded = await fetch(`${base}/api/workbooks/${id}`, { headers: { authorization: `Bearer ${made.json.token}` } })
    expect(forwarded.status).toBe(403)
    // … and adds 王经理 as a member (a commenter) there
    await page.fill('[data-testid="member-email"]', 'wang@example.com')
    await page.selectOption('[data-testid="member-role"]', 'commenter')
    await page.click('[data-testid="member-add"]')
    await page.locator('[data-testid="members"] li').waitFor()
    expect(await page.locator('[data-testid="members"] li').textContent()).toContain('王经理')
    expect((await s.store.accounts.members(id)).map(m => m.role)).toEqual(['commenter'])
    await page.click('[data-testid="share-close"]')
    await page.waitForSelector('[data-testid="share-dialog"]', { state: 'detached' })

    // a page of another origin, in the same browser (the cookie would go along)
    const other = await ctx.newPage()
    await other.goto(evilUrl)
    const before = (await s.store.listWorkbooks()).length
    const attempt = await other.evaluate(async ({ base, id, token }) => {
      const socket = await new Promise<string>(resolve => {
        const ws = new WebSocket(`${base.replace('http', 'ws')}/collab/${id}?token=${token}`)
        ws.onopen = () => { ws.close(); resolve('open') }
        ws.onerror = () => resolve('refused')
      })
      // simple requests (no preflight) that carry the cookie: creating a workbook, signing out
      await fetch(`${base}/api/workbooks`, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{}' })
      await fetch(`${base}/auth/logout`, { method: 'POST', mode: 'no-cors', credentials: 'include' })
      return socket
    }, { base, id, token: ownerTokens.get(id)! })
    expect(attempt).toBe('refused')
    expect((await s.store.listWorkbooks()).length).toBe(before)
    expect(await page.evaluate(() => fetch('/api/me').then(r => r.status))).toBe(200)
    expect(s.log.lines.some(l => l.includes('cross-site'))).toBe(false) // refused quietly, nothing of the cookie logged

    // sign out from the header: /api/me says so
    await page.click('[data-testid="account"]')
    await page.click('[data-testid="sign-out"]')
    await page.waitForSelector('[data-testid="sign-in"]')
    expect(await page.evaluate(() => fetch('/api/me').then(r => r.status))).toBe(401)
    expect(errors).toEqual([])
    await ctx.close()
  })

  it('a member signs in on the home page and opens the workbook with no link at all', async () => {
    const id = await createWorkbook(s, { name: '张总' })
    idp.user = 'zhang'
    await signIn(base, new Jar()) // 张三 has signed in before, so the owner can add him by email
    expect((await s.api('POST', `/api/workbooks/${id}/members`, { email: 'zhangsan@example.com', role: 'editor' })).status).toBe(201)
    const ctx = await browser.newContext({ locale: 'zh-CN' })
    const page = await ctx.newPage()
    const errors = watchErrors(page)
    await page.goto(`${base}/w/${id}`)
    await page.waitForSelector('[data-testid="no-access"]') // no link, not signed in
    await page.goto(`${base}/`)
    await page.click('[data-testid="sign-in"]')
    await page.waitForSelector('[data-testid="account-name"]')
    expect(new URL(page.url()).pathname).toBe('/')
    // "my workbooks" lists it; it opens from there
    await page.click(`[data-testid="my-workbooks"] [data-workbook="${id}"]`)
    await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td')
    expect(await page.textContent('[data-testid="account-name"]')).toBe('张三')
    expect(errors).toEqual([])
    await ctx.close()
  })
})
