/**
 * Share-link tokens and the checks every request and socket goes through.
 *
 *  - A token is 192 random bits (base64url). Only its SHA-256 is stored; a token is looked up by that
 *    hash, so nothing secret is ever compared character by character.
 *  - A request carries its token as `Authorization: Bearer <token>` or `?token=` (page URLs and the
 *    socket, where WebsocketProvider's `params` put it).
 *  - Missing or unknown tokens → 401; a revoked link or one for another workbook → 403.
 *  - Each address has a small budget of failed attempts (a minute from its first failure); past it,
 *    every failing attempt is answered 429 until the minute is over. A correct token always gets in, so
 *    guessing from behind the same proxy locks nobody out.
 *  - Creating workbooks is open unless a create secret is configured; then it (and listing every
 *    workbook) needs `Authorization: Bearer <secret>`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Role } from '../src/core/access/access'
import type { LinkRecord, Store } from './store/types'
import { HttpError } from './http/util'

export const newToken = (): string => randomBytes(24).toString('base64url')
export const newLinkId = (): string => randomBytes(9).toString('base64url')
export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex')

/** Plausible token text: what a token of ours can look like (anything else is refused unread). */
const TOKEN = /^[A-Za-z0-9_-]{16,128}$/

/** The token a request carries, or '' when it carries none. */
export function tokenOf(req: IncomingMessage, url: URL): string {
  const h = req.headers.authorization
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h)
    if (m) return m[1]!
  }
  return url.searchParams.get('token') ?? ''
}

export function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest(), y = createHash('sha256').update(b).digest()
  return timingSafeEqual(x, y)
}

/** Failed attempts per remote address, counted in a window that starts at the first failure. */
export class FailureBudget {
  private readonly seen = new Map<string, { count: number; since: number }>()
  constructor(readonly max = 30, readonly windowMs = 60_000) {}
  private entry(addr: string, now: number) {
    let e = this.seen.get(addr)
    if (!e || now - e.since >= this.windowMs) {
      e = { count: 0, since: now }
      this.seen.set(addr, e)
      // keep the map small: forget addresses whose minute is over
      if (this.seen.size > 10_000) for (const [k, v] of this.seen) if (now - v.since >= this.windowMs) this.seen.delete(k)
    }
    return e
  }
  exhausted(addr: string, now = Date.now()): boolean { return this.entry(addr, now).count >= this.max }
  fail(addr: string, now = Date.now()): void { this.entry(addr, now).count++ }
}

export const remoteAddress = (req: IncomingMessage): string => req.socket.remoteAddress ?? '?'

export interface AuthContext {
  store: Store
  failures: FailureBudget
  /** with sign-in configured: the request's signed-in account, for links bound to a person */
  accountOf?: (req: IncomingMessage) => Promise<string | null>
  /** with sign-in configured: a signed-in member's access, in the shape of a link */
  memberLink?: (req: IncomingMessage, workbookId: string) => Promise<LinkRecord | null>
}

/**
 * The live link behind the request's token for workbook `id`, with one of `roles`. Throws HttpError
 * 401/403/429; failures count against the caller's address.
 */
export async function authorize(req: IncomingMessage, url: URL, ctx: AuthContext, id: string, roles: readonly Role[]): Promise<LinkRecord> {
  const addr = remoteAddress(req)
  const token = tokenOf(req, url)
  // a good token always gets in (behind a proxy everyone shares one address); once an address has used
  // up its failures, anything else is 429 until its minute is over
  const fail = (status: number, message: string): never => {
    if (ctx.failures.exhausted(addr)) throw new HttpError(429, 'too many failed attempts; try again in a minute', { 'Retry-After': '60' })
    ctx.failures.fail(addr)
    throw new HttpError(status, message, status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {})
  }
  if (!token && ctx.memberLink) {
    // no link, but signed in: a member of the workbook gets in with their role
    const member = await ctx.memberLink(req, id)
    if (member && !roles.includes(member.role)) throw new HttpError(403, `this needs the role ${roles.join(' or ')}`)
    if (member) return member
  }
  if (!token) return fail(401, 'a share link token is required')
  if (!TOKEN.test(token)) return fail(401, 'invalid token')
  const link = await ctx.store.findLink(hashToken(token))
  if (!link) return fail(401, 'invalid token')
  if (link.workbookId !== id) return fail(403, 'this link is for another workbook')
  if (link.revokedAt !== null) return fail(403, 'this link has been revoked')
  if (!roles.includes(link.role)) throw new HttpError(403, `this needs a link with the role ${roles.join(' or ')}`)
  if (ctx.accountOf) {
    // a link bound to a person works only with that person's session (a forwarded link does not)
    const bound = await ctx.store.accounts.linkBinding(link.id)
    if (bound && bound !== await ctx.accountOf(req)) throw new HttpError(403, 'this link is bound to a person: sign in as that person to use it')
  }
  return link
}

/** For creating (and listing) workbooks: open, or the configured secret. */
export function requireCreateSecret(req: IncomingMessage, url: URL, ctx: AuthContext, secret: string | undefined): void {
  if (!secret) return
  const addr = remoteAddress(req)
  const given = tokenOf(req, url)
  if (given && sameSecret(given, secret)) return
  if (ctx.failures.exhausted(addr)) throw new HttpError(429, 'too many failed attempts; try again in a minute', { 'Retry-After': '60' })
  ctx.failures.fail(addr)
  if (!given) throw new HttpError(401, 'this server needs its create secret (Authorization: Bearer <secret>)', { 'WWW-Authenticate': 'Bearer' })
  throw new HttpError(403, 'wrong create secret')
}

/**
 * The create secret as `X-Create-Secret`, for what makes something of the server's on top of a link (a
 * template in the gallery, a workbook copied from a version): wrong guesses count against the address
 * like wrong tokens, so a link holder cannot try secrets without end.
 */
export function requireSecretHeader(req: IncomingMessage, ctx: AuthContext, secret: string | undefined, what: string): void {
  if (!secret) return
  const addr = remoteAddress(req)
  const given = req.headers['x-create-secret']
  if (typeof given === 'string' && sameSecret(given, secret)) return
  if (ctx.failures.exhausted(addr)) throw new HttpError(429, 'too many failed attempts; try again in a minute', { 'Retry-After': '60' })
  ctx.failures.fail(addr)
  throw new HttpError(403, `${what} needs the server's create secret (X-Create-Secret)`)
}
