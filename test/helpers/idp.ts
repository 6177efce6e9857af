/**
 * Identity providers inside the tests (issue 23).
 *
 *  - `startIdp`: a real OpenID provider (the `oidc-provider` package) on 127.0.0.1. Its login and
 *    consent pages are replaced by a handler that signs in `idp.user` (the test chooses who), through the
 *    provider's own interaction API; everything else (authorize, token, JWKS, userinfo) is the package's.
 *  - `startRogueIdp`: discovery, JWKS and a token endpoint made with `jose`, answering with the ID token
 *    the test asks for (signed by another key, expired), to see the server refuse it.
 *  - `Browser`-less sign-in: `signIn` follows the redirects with a cookie jar, as a browser would.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type AddressInfo } from 'node:net'
import type { OidcSettings } from '../../server/oidc/config'
import type { ServerOptions } from '../../server/index'
import type { TestServer } from './server'
import Provider from 'oidc-provider'
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose'

export interface Person { email: string; name: string }

export const CLIENT = { id: 'planning-workbooks', secret: 'test-client-secret-0123456789abcdef' }

async function listen(server: Server): Promise<string> {
  await new Promise<void>(r => server.listen(0, '127.0.0.1', () => r()))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const closeServer = (server: Server) => new Promise<void>(r => { server.closeAllConnections(); server.close(() => r()) })

export interface Idp { issuer: string; user: string; people: Record<string, Person>; close(): Promise<void> }

/** A real provider; `redirectUris` are the relying party's callbacks. */
export async function startIdp(redirectUris: string[], people: Record<string, Person>): Promise<Idp> {
  const server = createServer()
  const issuer = await listen(server)
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  const idp: Idp = { issuer, user: Object.keys(people)[0]!, people, close: () => closeServer(server) }
  const provider = new Provider(issuer, {
    clients: [{ client_id: CLIENT.id, client_secret: CLIENT.secret, redirect_uris: redirectUris, grant_types: ['authorization_code'], response_types: ['code'] }],
    jwks: { keys: [jwk] },
    cookies: { keys: ['idp-cookie-key-for-tests'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: async (_ctx, sub) => {
      const p = people[sub]
      return p ? { accountId: sub, claims: async () => ({ sub, email: p.email, email_verified: true, name: p.name }) } : undefined
    },
  })
  const callback = provider.callback()
  const interact = async (req: IncomingMessage, res: ServerResponse) => {
    const details = await provider.interactionDetails(req, res)
    const accountId = idp.user
    const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) })
    grant.addOIDCScope(String(details.params.scope))
    const grantId = await grant.save()
    await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false })
  }
  server.on('request', (req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interact(req, res).catch(e => { res.statusCode = 500; res.end(String(e)) })
    } else {
      void callback(req, res)
    }
  })
  return idp
}

export interface RogueIdp {
  issuer: string
  /** the next ID token's nonce, key and times */
  next: { nonce: string; signWith: 'published' | 'foreign'; expiresIn: number; sub: string; email: string }
  close(): Promise<void>
}

/** Discovery + JWKS + token endpoint; the ID token is what `next` says. */
export async function startRogueIdp(): Promise<RogueIdp> {
  const server = createServer()
  const issuer = await listen(server)
  const published = await generateKeyPair('RS256', { extractable: true })
  const foreign = await generateKeyPair('RS256', { extractable: true })
  const pub = { ...(await exportJWK(published.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  const rogue: RogueIdp = { issuer, next: { nonce: '', signWith: 'published', expiresIn: 600, sub: 'rogue-1', email: 'rogue@example.com' }, close: () => closeServer(server) }
  server.on('request', (req, res) => {
    const json = (status: number, body: unknown) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(body)) }
    const path = (req.url ?? '').split('?')[0]
    if (path === '/.well-known/openid-configuration') {
      return json(200, {
        issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'], token_endpoint_auth_methods_supported: ['client_secret_basic'],
      })
    }
    if (path === '/jwks') return json(200, { keys: [pub] })
    if (path === '/token') {
      req.resume()
      req.on('end', () => {
        const n = rogue.next
        const now = Math.floor(Date.now() / 1000)
        const key = n.signWith === 'published' ? published.privateKey : foreign.privateKey
        void new SignJWT({ nonce: n.nonce, email: n.email, email_verified: true, name: 'Rogue' })
          .setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(issuer).setAudience(CLIENT.id).setSubject(n.sub)
          .setIssuedAt(now - 1200 + (n.expiresIn > 0 ? 1200 : 0)).setExpirationTime(now + n.expiresIn)
          .sign(key).then(idToken => json(200, { access_token: 'at-' + now, token_type: 'Bearer', expires_in: 600, id_token: idToken }))
      })
      return
    }
    json(404, { error: 'not_found' })
  })
  return rogue
}

/** Cookies by host, as a browser keeps them (paths and expiry are not needed here; Max-Age=0 deletes). */
export class Jar {
  private readonly byHost = new Map<string, Map<string, string>>()
  take(url: string, res: Response): void {
    const host = new URL(url).host
    const jar = this.byHost.get(host) ?? new Map<string, string>()
    this.byHost.set(host, jar)
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const i = pair!.indexOf('=')
      const k = pair!.slice(0, i).trim(), v = pair!.slice(i + 1).trim()
      if (/max-age=0/i.test(line) || v === '') jar.delete(k)
      else jar.set(k, v)
    }
  }
  header(url: string): string {
    return [...(this.byHost.get(new URL(url).host) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ')
  }
  get(url: string, name: string): string | undefined { return this.byHost.get(new URL(url).host)?.get(name) }
  set(url: string, name: string, value: string): void {
    const host = new URL(url).host
    const jar = this.byHost.get(host) ?? new Map<string, string>()
    this.byHost.set(host, jar)
    jar.set(name, value)
  }
}

/** One request with the jar's cookies, no redirect following. */
export async function hop(jar: Jar, url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), cookie: jar.header(url) } })
  jar.take(url, res)
  return res
}

/**
 * Follows redirects from `url` until one leads to `stopAt` (the relying party's callback), which is
 * returned unvisited (to be replayed or tampered with), or a non-redirect answer.
 */
export async function followUntil(jar: Jar, url: string, stopAt: string): Promise<string> {
  let at = url
  for (let i = 0; i < 10; i++) {
    if (at.startsWith(stopAt)) return at
    const res = await hop(jar, at)
    const loc = res.headers.get('location')
    if (res.status < 300 || res.status >= 400 || !loc) throw new Error(`${at} answered ${res.status}: ${await res.text()}`)
    at = new URL(loc, at).href
  }
  throw new Error('too many redirects')
}

export const PEOPLE: Record<string, Person> = {
  zhang: { email: 'zhangsan@example.com', name: '张三' },
  wang: { email: 'wang@example.com', name: '王经理' },
  li: { email: 'li@example.com', name: '李四' },
}

/** A free port, so the relying party's redirect URL is known before it starts. */
export async function freePort(): Promise<number> {
  const s = createTcpServer()
  await new Promise<void>(r => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>(r => s.close(() => r()))
  return port
}

/** The server with sign-in at a real provider (or at `issuer`); both are closed after the test. */
export async function startOidcPair(
  server: (o: ServerOptions) => Promise<TestServer>, cleanups: (() => unknown)[], people: Record<string, Person>,
  extra: Partial<OidcSettings> = {}, issuer?: string,
): Promise<{ s: TestServer; idp: Idp | null; base: string }> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const idp = issuer ? null : await startIdp([`${base}/auth/callback`], people)
  if (idp) cleanups.push(() => idp.close())
  const s = await server({
    port, oidc: { issuer: issuer ?? idp!.issuer, clientId: CLIENT.id, clientSecret: CLIENT.secret, allowHttp: true, adminEmails: ['wang@example.com'], ...extra },
  })
  return { s, idp, base }
}

/** Signs in through the provider as `idp.user`; the jar then holds the session cookie. Returns the callback's answer. */
export async function signIn(base: string, jar: Jar, returnTo = '/'): Promise<Response> {
  const start = await hop(jar, `${base}/auth/login?return=${encodeURIComponent(returnTo)}`)
  if (start.status !== 302) throw new Error(`login answered ${start.status}`)
  const callback = await followUntil(jar, start.headers.get('location')!, `${base}/auth/callback`)
  return hop(jar, callback)
}
