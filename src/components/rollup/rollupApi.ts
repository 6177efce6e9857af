/** The roll-up API (server/http/routes/rollups.ts) for the page, and reading pasted source links. */
import { ApiError } from '../../api'

export interface RollupSourceRef { workbookId: string; token: string }
export interface RollupRequest {
  title?: string; template: string; sheetName: string; mode: 'stack' | 'aggregate'; key?: string
  measures?: { column: string; fn: string; weight?: string }[]; sources: RollupSourceRef[]; lang?: string; name?: string
}

async function call<T>(method: string, path: string, body: unknown, token = ''): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  let res: Response
  try { res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }) } catch (e) { throw new ApiError(0, (e as Error).message || 'network error') }
  if (res.status === 204) return undefined as T
  const data = await res.json().catch(() => undefined) as { error?: string } | undefined
  if (!res.ok) throw new ApiError(res.status, data?.error ?? `${res.status}`)
  return data as T
}

export const rollupApi = {
  create: (r: RollupRequest) => call<{ id: string; token: string; title: string; you: { role: 'owner'; name: string } }>('POST', '/api/rollups', r),
  addSource: (id: string, s: RollupSourceRef, token: string) => call<{ workbookId: string; available: boolean }>('POST', `/api/rollups/${encodeURIComponent(id)}/sources`, s, token),
  removeSource: (id: string, workbookId: string, token: string) => call<void>('DELETE', `/api/rollups/${encodeURIComponent(id)}/sources/${encodeURIComponent(workbookId)}`, undefined, token),
}

/** A pasted source: a link (…/w/<id>?token=…) or "<id> <token>"; null when it is neither. */
export function parseSourceRef(text: string): RollupSourceRef | null {
  const s = text.trim()
  if (!s) return null
  try {
    const u = new URL(s, 'http://x')
    const m = /\/w\/([A-Za-z0-9_-]{1,128})\/?$/.exec(u.pathname)
    const token = u.searchParams.get('token')
    if (m && token) return { workbookId: m[1]!, token }
  } catch { /* not a link */ }
  const parts = s.split(/\s+/)
  if (parts.length === 2 && /^[A-Za-z0-9_-]{1,128}$/.test(parts[0]!)) return { workbookId: parts[0]!, token: parts[1]! }
  return null
}

/** "实际值:sum, 目标值:sum, 单价:wavg:数量" → measures. */
export function parseMeasures(text: string): { column: string; fn: string; weight?: string }[] {
  return text.split(/[,，\n]/).map(x => x.trim()).filter(Boolean).map(x => {
    const [column, fn, weight] = x.split(/[:：]/).map(p => p.trim())
    return { column: column!, fn: fn || 'sum', ...(weight ? { weight } : {}) }
  })
}
