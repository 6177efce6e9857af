/**
 * The signed-in person (issue 23), for the headers: whether this server has sign-in at all
 * (`GET /api/auth/config`) and who is signed in (`GET /api/me`). Loaded once per page, shared.
 */
import { ref, readonly } from 'vue'

export interface Me { id: string; name: string; email: string; avatar: string; admin: boolean }

const enabled = ref(false)
const me = ref<Me | null>(null)
let loading: Promise<void> | null = null

async function load(): Promise<void> {
  try {
    const config = await fetch('/api/auth/config').then(r => (r.ok ? r.json() : { enabled: false }))
    enabled.value = !!config.enabled
    if (!enabled.value) return
    const r = await fetch('/api/me')
    me.value = r.ok ? await r.json() : null
  } catch {
    enabled.value = false
  }
}

export function useAccount() {
  const ready = (loading ??= load())
  return {
    /** resolves once config and person are known */
    ready,
    enabled: readonly(enabled),
    me: readonly(me),
    /** where "sign in" goes: back to this page's path (never its query, which may hold a token) */
    loginHref: () => `/auth/login?return=${encodeURIComponent(location.pathname)}`,
    async signOut(everywhere = false): Promise<void> {
      await fetch(everywhere ? '/api/me/sessions' : '/auth/logout', { method: everywhere ? 'DELETE' : 'POST' })
      me.value = null
    },
  }
}

export interface Person { id: string; name: string; email: string }

/** Who a workbook's links are bound to (owners), and binding one to a person by email (issue 23). */
export function useLinkPeople(workbookId: string, token: () => string) {
  const bound = ref<Record<string, Person>>({})
  const members = ref<(Person & { role: string })[]>([])
  const call = (method: string, path: string, body?: unknown) => fetch(`/api/workbooks/${encodeURIComponent(workbookId)}${path}`, {
    method,
    headers: { authorization: `Bearer ${token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  async function load(): Promise<void> {
    const r = await call('GET', '/accounts')
    if (!r.ok) return
    const body = await r.json()
    bound.value = body.links
    members.value = body.members
  }
  /** null unbinds; resolves with the server's refusal text, or '' */
  async function bind(linkId: string, email: string | null): Promise<string> {
    const r = await call('PUT', `/links/${encodeURIComponent(linkId)}/person`, { email })
    if (!r.ok) return ((await r.json().catch(() => ({}))) as { error?: string }).error ?? `HTTP ${r.status}`
    await load()
    return ''
  }
  const refusal = async (r: Response) => (r.ok ? '' : ((await r.json().catch(() => ({}))) as { error?: string }).error ?? `HTTP ${r.status}`)
  /** adds (or changes the role of) a member by email; resolves with the refusal text, or '' */
  async function addMember(email: string, role: string): Promise<string> {
    const why = await refusal(await call('POST', '/members', { email, role }))
    if (!why) await load()
    return why
  }
  async function removeMember(accountId: string): Promise<string> {
    const why = await refusal(await call('DELETE', `/members/${encodeURIComponent(accountId)}`))
    if (!why) await load()
    return why
  }
  return { bound, members, load, bind, addMember, removeMember }
}
