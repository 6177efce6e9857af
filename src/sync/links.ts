/**
 * The share links this browser holds: for each workbook, the token it was opened with and who that
 * makes me (role and name, as the server says). Kept in localStorage so that `/w/<id>` opens again
 * without the token in the address bar, and the home page can list "my workbooks".
 */
import type { Role } from '../core/access/access'

export interface HeldLink { token: string; role?: Role; name?: string; title?: string; seenAt?: number }

const KEY = 'pw.links'

function read(): Record<string, HeldLink> {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '{}') as unknown
    if (!v || typeof v !== 'object' || Array.isArray(v)) return {}
    const out: Record<string, HeldLink> = {}
    for (const [id, l] of Object.entries(v as Record<string, unknown>)) {
      if (l && typeof l === 'object' && typeof (l as HeldLink).token === 'string') out[id] = l as HeldLink
    }
    return out
  } catch { return {} }
}

function write(all: Record<string, HeldLink>): void {
  try { localStorage.setItem(KEY, JSON.stringify(all)) } catch { /* private mode: the token stays in the address bar */ }
}

export function heldLink(id: string): HeldLink | undefined { return read()[id] }
export function heldToken(id: string): string { return read()[id]?.token ?? '' }
export function allHeldLinks(): [string, HeldLink][] { return Object.entries(read()) }

/** Remembers a token (a new one replaces the old: the latest link opened wins). */
export function holdLink(id: string, patch: Partial<HeldLink> & { token?: string }): void {
  const all = read()
  const prev = all[id]
  const token = patch.token ?? prev?.token
  if (!token) return
  // a different token is a different person or role: what was known of the old one goes
  const base = prev && prev.token === token ? prev : {}
  all[id] = { ...base, ...patch, token, seenAt: Date.now() }
  write(all)
}

export function forgetLink(id: string): void {
  const all = read()
  delete all[id]
  write(all)
}
