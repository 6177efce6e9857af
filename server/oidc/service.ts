/**
 * The relying party (issue 23): authorization code + PKCE (S256) with state and nonce, through
 * `openid-client`; the ID token's signature and claims are verified again with `jose` against the
 * issuer's JWKS (so a token signed by another key, or expired, is refused whatever the token endpoint
 * says). Sessions are server-side (the store keeps the SHA-256 of the cookie value), made anew at each
 * sign-in, expire, and can be revoked one by one or all at once.
 *
 * The login's state, nonce and PKCE verifier travel in a short-lived encrypted cookie (jose, A256GCM,
 * key derived from SESSION_SECRET or the client secret), so any instance can finish a login another
 * began; each is good for one callback.
 */
import { createHash, hkdfSync, randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import * as client from 'openid-client'
import { EncryptJWT, createRemoteJWKSet, jwtDecrypt, jwtVerify, type JWTPayload } from 'jose'
import type { Store } from '../store/types'
import type { AccountRecord } from '../store/accounts'
import type { Logger } from '../log'
import { FailureBudget, remoteAddress } from '../auth'
import { HttpError } from '../http/util'
import type { OidcSettings } from './config'

export const SESSION_COOKIE = 'pw_session'
const LOGIN_COOKIE = 'pw_login'
const LOGIN_TTL_S = 600
const DAY = 86_400_000

/** Cookies of a request, by name (the first of each name). */
export function cookiesOf(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i < 1) continue
    const k = part.slice(0, i).trim(), v = part.slice(i + 1).trim()
    if (!out.has(k)) out.set(k, v)
  }
  return out
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/

/** A path of ours to go back to after sign-in (`/w/<id>`, `/`); anything else (another host, `//x`): `/`. */
export function safeReturn(v: string | null): string {
  if (!v || !/^\/(?![/\\])[A-Za-z0-9/_\-.~%?=&]*$/.test(v) || v.length > 512) return '/'
  return v
}

export interface SignedIn { account: AccountRecord; idHash: string; admin: boolean; createdAt: number; expiresAt: number }

export class OidcService {
  readonly redirectUrl: string
  /** the one origin that may make cookie-carrying state-changing requests and open sockets */
  readonly origin: string
  readonly secure: boolean
  private readonly ttlMs: number
  private readonly key: Uint8Array
  private readonly attempts: FailureBudget
  private readonly used = new Map<string, number>()
  private config: Promise<{ config: client.Configuration; jwks: ReturnType<typeof createRemoteJWKSet> }> | null = null

  constructor(readonly settings: OidcSettings, private readonly store: Store, publicOrigin: string, private readonly log: Logger) {
    this.redirectUrl = settings.redirectUrl ?? `${publicOrigin}/auth/callback`
    this.origin = new URL(publicOrigin).origin
    this.secure = new URL(this.redirectUrl).protocol === 'https:'
    this.ttlMs = settings.sessionTtlMs ?? 7 * DAY
    this.key = new Uint8Array(hkdfSync('sha256', settings.sessionSecret ?? settings.clientSecret, 'planning-workbooks', 'oidc-login-cookie', 32))
    this.attempts = new FailureBudget(settings.maxLoginsPerMinute ?? 30)
  }

  /** Discovery, once (again after a failure, so a provider that was down is found later). */
  /** The provider's configuration, or 502 when it cannot be read (logged without anything secret). */
  private async discover() {
    try {
      return await this.discoverOnce()
    } catch (e) {
      this.log.warn(`[oidc] discovery at ${this.settings.issuer} failed: ${(e as Error).message}`)
      throw new HttpError(502, 'the identity provider does not answer; try again later')
    }
  }

  private discoverOnce() {
    this.config ??= (async () => {
      const s = this.settings
      const config = await client.discovery(new URL(s.issuer), s.clientId, s.clientSecret, undefined,
        s.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined)
      const jwksUri = config.serverMetadata().jwks_uri
      if (!jwksUri) throw new Error('the issuer publishes no jwks_uri')
      return { config, jwks: createRemoteJWKSet(new URL(jwksUri)) }
    })()
    this.config.catch(() => { this.config = null })
    return this.config
  }

  private countAttempt(req: IncomingMessage): void {
    const addr = remoteAddress(req)
    if (this.attempts.exhausted(addr)) throw new HttpError(429, 'too many sign-in attempts; try again in a minute', { 'Retry-After': '60' })
    this.attempts.fail(addr)
  }

  private cookie(name: string, value: string, maxAgeS: number, path = '/'): string {
    return `${name}=${value}; Path=${path}; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${this.secure ? '; Secure' : ''}`
  }

  /** Begins a sign-in: where to send the browser, and the login cookie to set. */
  async begin(req: IncomingMessage, returnTo: string): Promise<{ location: string; cookie: string }> {
    this.countAttempt(req)
    const { config } = await this.discover()
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState(), nonce = client.randomNonce()
    const location = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUrl, scope: this.settings.scopes ?? 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce,
    })
    const jwt = await new EncryptJWT({ state, nonce, verifier, ret: safeReturn(returnTo) })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' }).setJti(randomBytes(12).toString('base64url'))
      .setIssuedAt().setExpirationTime(`${LOGIN_TTL_S}s`).encrypt(this.key)
    return { location: location.href, cookie: this.cookie(LOGIN_COOKIE, jwt, LOGIN_TTL_S, '/auth/callback') }
  }

  /** Finishes a sign-in at the callback: the account, and where to go. Throws HttpError 400/403/429. */
  async finish(req: IncomingMessage, url: URL): Promise<{ account: AccountRecord; returnTo: string }> {
    this.countAttempt(req)
    const raw = cookiesOf(req).get(LOGIN_COOKIE)
    if (!raw) throw new HttpError(400, 'no sign-in is under way in this browser; start again')
    let login: JWTPayload & { state?: string; nonce?: string; verifier?: string; ret?: string }
    try { login = (await jwtDecrypt(raw, this.key)).payload } catch { throw new HttpError(400, 'the sign-in expired or is not ours; start again') }
    const now = Date.now()
    for (const [k, exp] of this.used) if (exp < now) this.used.delete(k)
    if (!login.jti || this.used.has(login.jti)) throw new HttpError(400, 'this sign-in was already used; start again')
    this.used.set(login.jti, (login.exp ?? 0) * 1000)
    const { config, jwks } = await this.discover()
    const callbackUrl = new URL(this.redirectUrl)
    callbackUrl.search = url.search
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>
    try {
      tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: login.verifier, expectedState: login.state, expectedNonce: login.nonce, idTokenExpected: true,
      })
    } catch (e) {
      // the message names the check that failed (the library's own reason, when it has one); never the code or a token
      const why = (e as Error).cause instanceof Error ? `${(e as Error).message}: ${((e as Error).cause as Error).message}` : (e as Error).message
      this.log.warn(`[oidc] sign-in refused: ${why}`)
      throw new HttpError(400, `sign-in refused: ${why}`)
    }
    let claims: JWTPayload
    try {
      claims = (await jwtVerify(tokens.id_token!, jwks, { issuer: config.serverMetadata().issuer, audience: this.settings.clientId })).payload
      if (claims.nonce !== login.nonce) throw new Error('nonce mismatch')
    } catch (e) {
      this.log.warn(`[oidc] ID token refused: ${(e as Error).message}`)
      throw new HttpError(400, `sign-in refused: the ID token does not verify (${(e as Error).message})`)
    }
    let info: Record<string, unknown> = claims
    if (!claims.email || !claims.name) {
      try { info = { ...(await client.fetchUserInfo(config, tokens.access_token, claims.sub!)), ...claims } } catch (e) {
        this.log.warn(`[oidc] userinfo failed: ${(e as Error).message}`)
      }
    }
    const str = (v: unknown) => (typeof v === 'string' ? v : '')
    const email = info.email_verified === false ? '' : str(info.email).trim().toLowerCase()
    const domains = this.settings.allowedDomains ?? []
    if (domains.length && !domains.includes(email.split('@')[1] ?? '')) throw new HttpError(403, 'this email domain may not sign in here')
    const account = await this.store.accounts.upsertAccount({
      issuer: config.serverMetadata().issuer, subject: claims.sub!, email,
      name: (str(info.name) || str(info.preferred_username) || str(info.nickname) || email || claims.sub!).slice(0, 100),
      avatar: /^https:\/\//.test(str(info.picture)) ? str(info.picture).slice(0, 1000) : '',
    }, randomBytes(12).toString('base64url'), now)
    return { account, returnTo: safeReturn(login.ret ?? '/') }
  }

  /** A fresh session for the account (an old one this browser had is ended: the id rotates at sign-in). */
  async startSession(req: IncomingMessage, accountId: string): Promise<string[]> {
    const old = cookiesOf(req).get(SESSION_COOKIE)
    if (old && SESSION_ID.test(old)) await this.store.accounts.deleteSession(sha256(old))
    const id = randomBytes(32).toString('base64url')
    const now = Date.now()
    await this.store.accounts.createSession(sha256(id), accountId, now, now + this.ttlMs)
    return [this.cookie(SESSION_COOKIE, id, Math.floor(this.ttlMs / 1000)), this.cookie(LOGIN_COOKIE, '', 0, '/auth/callback')]
  }

  /** The signed-in person of the request, or null. */
  async signedIn(req: IncomingMessage): Promise<SignedIn | null> {
    const id = cookiesOf(req).get(SESSION_COOKIE)
    if (!id || !SESSION_ID.test(id)) return null
    const idHash = sha256(id)
    const session = await this.store.accounts.findSession(idHash, Date.now())
    if (!session) return null
    const account = await this.store.accounts.getAccount(session.accountId)
    if (!account) return null
    return { account, idHash, admin: !!account.email && (this.settings.adminEmails ?? []).includes(account.email), createdAt: session.createdAt, expiresAt: session.expiresAt }
  }

  /**
   * Rotation: a session older than `rotateAfterMs` is replaced by a new id (same account and expiry), so a
   * copied cookie stops working soon; the old id ends at once. The cookie to set, or null.
   */
  async rotate(who: SignedIn): Promise<string | null> {
    const now = Date.now()
    if (now - who.createdAt < (this.settings.rotateAfterMs ?? DAY)) return null
    const id = randomBytes(32).toString('base64url')
    await this.store.accounts.createSession(sha256(id), who.account.id, now, who.expiresAt)
    await this.store.accounts.deleteSession(who.idHash)
    return this.cookie(SESSION_COOKIE, id, Math.max(0, Math.floor((who.expiresAt - now) / 1000)))
  }

  accountOf = async (req: IncomingMessage): Promise<string | null> => (await this.signedIn(req))?.account.id ?? null

  async endSession(req: IncomingMessage): Promise<string> {
    const id = cookiesOf(req).get(SESSION_COOKIE)
    if (id && SESSION_ID.test(id)) await this.store.accounts.deleteSession(sha256(id))
    return this.cookie(SESSION_COOKIE, '', 0)
  }

  /**
   * Cross-site request forgery: a state-changing request that carries the session cookie (and no
   * Authorization header, which no cross-site form can set) must come from our own origin.
   */
  originAllowed(req: IncomingMessage): boolean {
    const m = req.method ?? 'GET'
    if (m === 'GET' || m === 'HEAD' || m === 'OPTIONS') return true
    if (req.headers.authorization) return true
    if (!cookiesOf(req).has(SESSION_COOKIE)) return true
    const origin = req.headers.origin
    if (origin) return origin === this.origin
    return req.headers['sec-fetch-site'] === 'same-origin'
  }

  /** Cross-site WebSocket hijacking: a browser's socket must come from our own origin. */
  upgradeAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin
    return origin === undefined || origin === this.origin
  }
}
