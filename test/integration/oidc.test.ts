/**
 * Sign-in with OpenID Connect against a real provider in the test (oidc-provider on 127.0.0.1), and a
 * rogue one (jose) for ID tokens that must be refused: wrong state, replayed code, foreign key, expired.
 * Sessions: hashed in the store, made anew at sign-in, expire, "sign out everywhere".
 */
import { describe, it, expect } from 'vitest'
import { createHash } from 'node:crypto'
import { createWorkbook, testScope } from '../helpers/server'
import { CLIENT, Jar, PEOPLE, followUntil, hop, signIn, startOidcPair, startRogueIdp } from '../helpers/idp'
import type { OidcSettings } from '../../server/oidc/config'

const { server, cleanups } = testScope()

const oidcPair = (extra: Partial<OidcSettings> = {}, issuer?: string) => startOidcPair(server, cleanups, PEOPLE, extra, issuer)

const me = (base: string, jar: Jar) => hop(jar, `${base}/api/me`)

describe('sign-in with OpenID Connect', () => {
  it('login redirects with client_id, redirect_uri, state, nonce and an S256 challenge; the callback sets a session; /api/me names the person', async () => {
    const { s, base, idp } = await oidcPair()
    const id = await createWorkbook(s)
    const jar = new Jar()
    expect((await me(base, jar)).status).toBe(401)
    expect(await (await hop(jar, `${base}/api/auth/config`)).json()).toEqual({ enabled: true, loginUrl: '/auth/login' })

    const start = await hop(jar, `${base}/auth/login?return=${encodeURIComponent(`/w/${id}`)}`)
    expect(start.status).toBe(302)
    const to = new URL(start.headers.get('location')!)
    expect(to.origin).toBe(idp!.issuer)
    expect(to.searchParams.get('client_id')).toBe(CLIENT.id)
    expect(to.searchParams.get('redirect_uri')).toBe(`${base}/auth/callback`)
    expect(to.searchParams.get('state')).toMatch(/^[\w-]{20,}$/)
    expect(to.searchParams.get('nonce')).toMatch(/^[\w-]{20,}$/)
    expect(to.searchParams.get('code_challenge_method')).toBe('S256')
    expect(to.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/)
    const loginCookie = start.headers.getSetCookie().join('\n')
    expect(loginCookie).toMatch(/HttpOnly/)
    expect(loginCookie).toMatch(/SameSite=Lax/)

    const callback = await followUntil(jar, to.href, `${base}/auth/callback`)
    const done = await hop(jar, callback)
    expect(done.status).toBe(302)
    expect(done.headers.get('location')).toBe(`/w/${id}`)
    expect(done.headers.get('referrer-policy')).toBe('no-referrer')
    const set = done.headers.getSetCookie().find(c => c.startsWith('pw_session='))!
    expect(set).toMatch(/HttpOnly/)
    expect(set).toMatch(/SameSite=Lax/)
    expect(set).not.toMatch(/Secure/) // served over http here; https redirect URLs make it Secure
    const res = await me(base, jar)
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body).toMatchObject({ signedIn: true, name: '张三', email: 'zhangsan@example.com' })
    expect(body.id).toMatch(/^[\w-]{16}$/)

    // the store keeps only the session id's hash
    const cookie = jar.get(base, 'pw_session')!
    const hash = createHash('sha256').update(cookie).digest('hex')
    expect(await s.store.accounts.findSession(hash, Date.now())).toMatchObject({ accountId: body.id })
    // … and it expires
    const session = (await s.store.accounts.findSession(hash, Date.now()))!
    expect(await s.store.accounts.findSession(hash, session.expiresAt)).toBeNull()
    // nothing of the code or tokens in the log
    const code = new URL(callback).searchParams.get('code')!
    expect(s.log.lines.join('\n')).not.toContain(code)
    expect(s.log.lines.join('\n')).not.toContain(cookie)

    // the same person signs in again: the same account, a new session id (the old one ends)
    const again = await signIn(base, jar)
    expect(again.status).toBe(302)
    expect(jar.get(base, 'pw_session')).not.toBe(cookie)
    expect(await s.store.accounts.findSession(hash, Date.now())).toBeNull()
    expect((await (await me(base, jar)).json()).id).toBe(body.id)
  })

  it('a wrong state, a replayed code and a return address of another site are refused', async () => {
    const { base } = await oidcPair()
    const jar = new Jar()
    const start = await hop(jar, `${base}/auth/login?return=//evil.example/x`)
    const callback = await followUntil(jar, start.headers.get('location')!, `${base}/auth/callback`)
    const tampered = new URL(callback)
    tampered.searchParams.set('state', 'not-the-state-we-sent-0123456789')
    const wrong = await fetch(tampered.href, { redirect: 'manual', headers: { cookie: jar.header(base) } })
    expect(wrong.status).toBe(400)
    expect((await wrong.json()).error).toMatch(/state/)

    // a fresh login, completed once; the same code (with the same login cookie) a second time is refused
    const jar2 = new Jar()
    const start2 = await hop(jar2, `${base}/auth/login?return=//evil.example/x`)
    const loginCookie = jar2.header(base)
    const cb2 = await followUntil(jar2, start2.headers.get('location')!, `${base}/auth/callback`)
    const ok = await hop(jar2, cb2)
    expect(ok.status).toBe(302)
    expect(ok.headers.get('location')).toBe('/') // never another site
    const replay = await fetch(cb2, { redirect: 'manual', headers: { cookie: loginCookie } })
    expect(replay.status).toBe(400)
    expect(replay.headers.getSetCookie().some(c => c.startsWith('pw_session='))).toBe(false)
  })

  it('an ID token signed by a key the issuer does not publish, and an expired one, are refused', async () => {
    const rogue = await startRogueIdp()
    cleanups.push(() => rogue.close())
    const { base } = await oidcPair({}, rogue.issuer)
    const attempt = async (signWith: 'published' | 'foreign', expiresIn: number) => {
      const jar = new Jar()
      const start = await hop(jar, `${base}/auth/login`)
      const to = new URL(start.headers.get('location')!)
      rogue.next = { ...rogue.next, nonce: to.searchParams.get('nonce')!, signWith, expiresIn }
      const cb = `${base}/auth/callback?code=c-${signWith}-${expiresIn}&state=${to.searchParams.get('state')}`
      const res = await hop(jar, cb)
      return { status: res.status, text: await res.text(), me: (await me(base, jar)).status }
    }
    const foreign = await attempt('foreign', 600)
    expect(foreign.status).toBe(400)
    expect(foreign.text).toMatch(/signature/i)
    expect(foreign.me).toBe(401)
    const expired = await attempt('published', -300)
    expect(expired.status).toBe(400)
    expect(expired.text).toMatch(/exp/i)
    expect(expired.me).toBe(401)
    // the same provider with a good token: accepted (so the refusals above are the key and the time)
    const good = await attempt('published', 600)
    expect(good.status).toBe(302)
    expect(good.me).toBe(200)
  })

  it('logout ends the session; "sign out everywhere" ends every session of the person; login attempts are rate-limited', async () => {
    const { base } = await oidcPair({ maxLoginsPerMinute: 8 })
    const a = new Jar(), b = new Jar()
    await signIn(base, a)
    await signIn(base, b)
    expect((await me(base, a)).status).toBe(200)
    expect((await me(base, b)).status).toBe(200)
    const out = await hop(a, `${base}/auth/logout`, { method: 'POST', headers: { origin: base } })
    expect(out.status).toBe(204)
    expect((await me(base, a)).status).toBe(401)
    expect((await me(base, b)).status).toBe(200)
    await signIn(base, a)
    const all = await hop(a, `${base}/api/me/sessions`, { method: 'DELETE', headers: { origin: base } })
    expect(all.status).toBe(200)
    expect(await all.json()).toEqual({ ended: 2 })
    expect((await me(base, a)).status).toBe(401)
    expect((await me(base, b)).status).toBe(401)
    // 3 sign-ins took 6 attempts (login + callback); the budget of 8 runs out on the 3rd login after it
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await hop(new Jar(), `${base}/auth/login`)).status)
    expect(statuses).toEqual([302, 302, 429])
  })

  it('a session older than rotateAfterMs gets a new id at /api/me (same account and expiry); the old id ends', async () => {
    const { s, base } = await oidcPair({ rotateAfterMs: 0 })
    const jar = new Jar()
    await signIn(base, jar)
    const first = jar.get(base, 'pw_session')!
    const hash = (v: string) => createHash('sha256').update(v).digest('hex')
    const before = (await s.store.accounts.findSession(hash(first), Date.now()))!
    const res = await me(base, jar)
    expect(res.status).toBe(200)
    const second = jar.get(base, 'pw_session')!
    expect(second).not.toBe(first)
    expect(await s.store.accounts.findSession(hash(first), Date.now())).toBeNull()
    expect(await s.store.accounts.findSession(hash(second), Date.now())).toMatchObject({ accountId: before.accountId, expiresAt: before.expiresAt })
    expect((await fetch(`${base}/api/me`, { headers: { cookie: `pw_session=${first}` } })).status).toBe(401)
  })

  it('an issuer that does not answer: 502, logged, and the server goes on; https redirect URLs make the cookies Secure', async () => {
    const { s, base } = await oidcPair({ redirectUrl: 'https://sheets.example.com/auth/callback' }, 'http://127.0.0.1:1')
    const res = await hop(new Jar(), `${base}/auth/login`)
    expect(res.status).toBe(502)
    expect(s.log.lines.some(l => /discovery at http:\/\/127\.0\.0\.1:1 failed/.test(l))).toBe(true)
    expect((await s.api('GET', '/api/health')).status).toBe(200)
    const { OidcService } = await import('../../server/oidc/service')
    const svc = new OidcService({ issuer: 'http://127.0.0.1:1', clientId: 'c', clientSecret: 'secret', redirectUrl: 'https://sheets.example.com/auth/callback' }, s.store, 'https://sheets.example.com', s.log)
    const acct = await s.store.accounts.upsertAccount({ issuer: 'i', subject: 'x', email: '', name: 'x', avatar: '' }, 'acct-secure-00001', Date.now())
    const cookies = await svc.startSession({ headers: {} } as never, acct.id)
    expect(cookies[0]).toMatch(/^pw_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/)
  })

  it('without OIDC: /auth/login is 404, /api/auth/config says so, /api/me is 401', async () => {
    const s = await server()
    expect((await s.api('GET', '/auth/login')).status).toBe(404)
    expect((await s.api('GET', '/api/auth/config')).json).toEqual({ enabled: false, loginUrl: null })
    expect((await s.api('GET', '/api/me')).status).toBe(401)
  })
})
