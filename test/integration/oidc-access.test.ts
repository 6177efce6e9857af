/**
 * Sign-in and access (issue 23): with cookie sessions, state-changing requests and the collab socket
 * must come from our origin (CSRF, cross-site WebSocket hijacking); bearer-token requests are as before.
 * A link bound to a person works only with that person's session, so the manager-only column takes the
 * manager's account and refuses 张三's, on the server.
 */
import { describe, it, expect } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { createWorkbook, docUntil, nextEvent, until, ownerTokens, refusedUpgradeStatus, socketUrl, testScope, type TestServer } from '../helpers/server'
import { Jar, PEOPLE, hop, signIn, startOidcPair, type Idp } from '../helpers/idp'
import { cellKey, sheetIds, sheetParts, sheetsOf, visibleColIds, visibleRowIds, type ColumnMeta } from '../../src/core/workbook/schema'
import { editCells } from '../../src/core/workbook/mutations'
import { readProtections, setProtections } from '../../src/core/access/access'

const { server, cleanups } = testScope()
const EVIL = 'http://127.0.0.1:1'
const firstSheet = (doc: Y.Doc) => sheetIds(doc)[0]!

/** Status of an upgrade with these headers, or 101 when it opens. */
function upgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); ws.terminate() })
    ws.once('open', () => { ws.terminate(); resolve(101) })
    ws.once('error', reject)
  })
}

/** A stock provider whose socket carries a session cookie (what the browser sends). */
function cookieClient(s: TestServer, id: string, token: string, cookie: string) {
  class CookieSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) { super(url, protocols, { headers: { cookie, origin: s.url } }) }
  }
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(s.wsUrl + '/collab', id, doc, {
    WebSocketPolyfill: CookieSocket as unknown as typeof globalThis.WebSocket, disableBc: true, params: { token },
  })
  cleanups.push(() => { provider.destroy(); doc.destroy() })
  const synced = provider.synced ? Promise.resolve() : nextEvent(provider as never, 'sync', (x: boolean) => x)
  const closedWith = () => nextEvent<[{ code: number; reason: string } | null]>(provider as never, 'connection-close', e => e !== null).then(([e]) => e!.code)
  return { doc, provider, synced, closedWith }
}

async function signedIn(base: string, idp: Idp, who: string): Promise<Jar> {
  idp.user = who
  const jar = new Jar()
  expect((await signIn(base, jar)).status).toBe(302)
  return jar
}

describe('cross-site requests with a session cookie', () => {
  it('a POST carrying the cookie must come from our origin; bearer-token requests and cookie-less ones are unaffected', async () => {
    const { s, idp, base } = await startOidcPair(server, cleanups, PEOPLE)
    const jar = await signedIn(base, idp!, 'zhang')
    const create = (headers: Record<string, string>) => fetch(`${base}/api/workbooks`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' })
    expect((await create({ cookie: jar.header(base), origin: EVIL })).status).toBe(403)
    expect((await create({ cookie: jar.header(base) })).status).toBe(403) // no Origin, no Sec-Fetch-Site
    expect((await create({ cookie: jar.header(base), origin: base })).status).toBe(201)
    expect((await create({ origin: EVIL })).status).toBe(201) // no cookie: links only, as before
    const id = await createWorkbook(s)
    const link = await fetch(`${base}/api/workbooks/${id}/links`, {
      method: 'POST', body: JSON.stringify({ role: 'editor', name: '小李' }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ownerTokens.get(id)}`, cookie: jar.header(base), origin: EVIL },
    })
    expect(link.status).toBe(201)
    // logging out from another site is refused too; the session lives on
    expect((await hop(jar, `${base}/auth/logout`, { method: 'POST', headers: { origin: EVIL } })).status).toBe(403)
    expect((await hop(jar, `${base}/api/me`)).status).toBe(200)
  })

  it('the collab socket refuses a page of another origin (403), with or without a cookie; our origin and non-browser clients get in', async () => {
    const { s, idp, base } = await startOidcPair(server, cleanups, PEOPLE)
    const jar = await signedIn(base, idp!, 'zhang')
    const id = await createWorkbook(s)
    const url = socketUrl(s, id)
    expect(await upgrade(url, { origin: EVIL, cookie: jar.header(base) })).toBe(403)
    expect(await upgrade(url, { origin: EVIL })).toBe(403)
    expect(await upgrade(url, { origin: base, cookie: jar.header(base) })).toBe(101)
    expect(await upgrade(url, {})).toBe(101)
  })

  it('without OIDC nothing of this applies: another origin may POST and open the socket with a token', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    expect(await upgrade(socketUrl(s, id), { origin: EVIL })).toBe(101)
    expect((await fetch(`${s.url}/api/workbooks`, { method: 'POST', headers: { origin: EVIL, cookie: 'pw_session=x' }, body: '{}' })).status).toBe(201)
  })
})

describe('links bound to a person', () => {
  it('a link bound to 张三 is refused to others (403) and works with 张三\'s session; the manager-only column takes the manager\'s account and refuses 张三\'s', async () => {
    const { s, idp, base } = await startOidcPair(server, cleanups, PEOPLE)
    const zhang = await signedIn(base, idp!, 'zhang')
    const wang = await signedIn(base, idp!, 'wang')
    const li = await signedIn(base, idp!, 'li')
    const id = await createWorkbook(s, { template: 'performance-appraisal', name: '张总' })
    const owner = (method: string, path: string, body?: unknown) => s.api(method, path, body)
    const mkLink = async (name: string) => (await owner('POST', `/api/workbooks/${id}/links`, { role: 'editor', name })).json as { id: string; token: string }
    const zl = await mkLink('张三'), wl = await mkLink('王经理')
    expect((await owner('PUT', `/api/workbooks/${id}/links/${zl.id}/person`, { email: 'nobody@example.com' })).status).toBe(404)
    const bound = await owner('PUT', `/api/workbooks/${id}/links/${zl.id}/person`, { email: 'ZhangSan@example.com' })
    expect(bound.status).toBe(200)
    expect(bound.json.person).toMatchObject({ name: '张三', email: 'zhangsan@example.com' })
    expect((await owner('PUT', `/api/workbooks/${id}/links/${wl.id}/person`, { email: 'wang@example.com' })).status).toBe(200)
    const people = await owner('GET', `/api/workbooks/${id}/accounts`)
    expect(people.json.links[zl.id]).toMatchObject({ name: '张三' })

    // the forwarded link: no session, another person's session → 403 for the API and the socket
    const get = (jar: Jar | null, token: string) => fetch(`${base}/api/workbooks/${id}`, { headers: { authorization: `Bearer ${token}`, cookie: jar?.header(base) ?? '' } })
    const refused = await get(null, zl.token)
    expect(refused.status).toBe(403)
    expect((await refused.json()).error).toMatch(/bound to a person/)
    expect((await get(li, zl.token)).status).toBe(403)
    expect((await get(zhang, zl.token)).status).toBe(200)
    expect(await refusedUpgradeStatus(socketUrl(s, id, zl.token))).toBe(403)
    expect(await upgrade(socketUrl(s, id, zl.token), { cookie: li.header(base), origin: base })).toBe(403)
    // 张三 signed in cannot use the manager's link
    expect(await upgrade(socketUrl(s, id, wl.token), { cookie: zhang.header(base), origin: base })).toBe(403)

    // the protected 得分 column, editable by 王经理 only
    const z = cookieClient(s, id, zl.token, zhang.header(base))
    await z.synced
    const sid = firstSheet(z.doc)
    const sheet = sheetsOf(z.doc).get(sid)!
    const meta = sheetParts(sheet).colMeta
    const score = visibleColIds(sheet).find(c => (meta.get(c) as ColumnMeta | undefined)?.title === '得分')!
    const row = visibleRowIds(sheet)[0]!
    const ownerClient = cookieClient(s, id, ownerTokens.get(id)!, '')
    await ownerClient.synced
    setProtections(ownerClient.doc, [{ id: 'score', sheet: sid, cols: [score], names: ['王经理'], label: '得分' }], 'owner')
    await docUntil(z.doc, '张三 sees the protection', d => readProtections(d).length === 1)
    const closed = z.closedWith()
    editCells(z.doc, sid, [{ rowId: row, colId: score, value: 100 }], 'zhang')
    expect(await closed).toBe(4409)
    const w = cookieClient(s, id, wl.token, wang.header(base))
    await w.synced
    editCells(w.doc, sid, [{ rowId: row, colId: score, value: 38 }], 'wang')
    const cell = (d: Y.Doc) => sheetParts(sheetsOf(d).get(sid)!).cells.get(cellKey(row, score))
    await docUntil(ownerClient.doc, 'the owner sees the manager\'s score', d => cell(d) === 38)

    // presence names the signed-in person beside the link (set by the server, whatever the client claims)
    w.provider.awareness.setLocalStateField('user', { name: '冒充', color: '#123456', account: 'ceo@example.com' })
    const seen = () => [...ownerClient.provider.awareness.getStates().values()].map(st => (st as { user?: { name: string; account?: string } }).user).find(u => u?.name === '王经理')
    await until('the owner sees the manager present', () => seen(), recheck => {
      ownerClient.provider.awareness.on('change', recheck)
      return () => ownerClient.provider.awareness.off('change', recheck)
    })
    expect(seen()).toMatchObject({ name: '王经理', account: 'wang@example.com' })

    // unbinding makes it a plain link again
    expect((await owner('PUT', `/api/workbooks/${id}/links/${zl.id}/person`, { email: null })).status).toBe(200)
    expect((await get(null, zl.token)).status).toBe(200)
  })
})
