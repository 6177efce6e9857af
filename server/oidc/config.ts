/**
 * Sign-in with OpenID Connect (issue 23): what the environment configures. Unset OIDC_ISSUER: no
 * sign-in at all, links only, exactly as before.
 *
 *   OIDC_ISSUER  OIDC_CLIENT_ID  OIDC_CLIENT_SECRET  OIDC_REDIRECT_URL (default <PUBLIC_URL>/auth/callback)
 *   OIDC_SCOPES ("openid email profile")  OIDC_ALLOWED_DOMAINS (comma separated; unset: any)
 *   SESSION_TTL_MS (7 days)  SESSION_SECRET (default: the client secret)  ADMIN_EMAILS (comma separated)
 */

export interface OidcSettings {
  issuer: string
  clientId: string
  clientSecret: string
  /** where the provider sends people back; default `<public origin>/auth/callback` */
  redirectUrl?: string
  /** default "openid email profile" */
  scopes?: string
  /** lower-case email domains that may sign in; empty: any */
  allowedDomains?: string[]
  /** how long a session lasts (default 7 days) */
  sessionTtlMs?: number
  /** keys the short-lived login cookie (state, nonce, PKCE verifier); default: the client secret */
  sessionSecret?: string
  /** lower-case emails of admins */
  adminEmails?: string[]
  /** http issuers (tests, a provider on the LAN); https is required otherwise */
  allowHttp?: boolean
  /** a session older than this gets a new id at the next GET /api/me (default: a day; 0: at every one) */
  rotateAfterMs?: number
  /** login and callback attempts per address and minute (default 30) */
  maxLoginsPerMinute?: number
}

const list = (v: string | undefined): string[] => (v ?? '').split(',').map(s => s.trim().toLowerCase()).filter(Boolean)

/** The settings the environment gives, or undefined when OIDC_ISSUER is unset. Throws on a half configuration. */
export function oidcFromEnv(env: NodeJS.ProcessEnv = process.env): OidcSettings | undefined {
  const issuer = env.OIDC_ISSUER?.trim()
  if (!issuer) return undefined
  const clientId = env.OIDC_CLIENT_ID?.trim()
  const clientSecret = env.OIDC_CLIENT_SECRET?.trim()
  if (!clientId || !clientSecret) throw new Error('OIDC_ISSUER is set: OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are needed too')
  const ttl = env.SESSION_TTL_MS?.trim()
  if (ttl && !(Number.isInteger(Number(ttl)) && Number(ttl) > 0)) throw new Error(`SESSION_TTL_MS must be a whole number of milliseconds, got ${JSON.stringify(ttl)}`)
  return {
    issuer, clientId, clientSecret,
    redirectUrl: env.OIDC_REDIRECT_URL?.trim() || undefined,
    scopes: env.OIDC_SCOPES?.trim() || undefined,
    allowedDomains: list(env.OIDC_ALLOWED_DOMAINS),
    sessionTtlMs: ttl ? Number(ttl) : undefined,
    sessionSecret: env.SESSION_SECRET?.trim() || undefined,
    adminEmails: list(env.ADMIN_EMAILS),
    allowHttp: env.OIDC_ALLOW_HTTP === '1' || env.OIDC_ALLOW_HTTP === 'true',
  }
}
