/** The JSON API, with errors turned into ApiError carrying the server's message and status. */
export class ApiError extends Error {
  constructor(public status: number, message: string) { super(message); this.name = 'ApiError' }
}

import type { Role } from './core/access/access'
import { heldToken } from './sync/links'

export interface You { linkId: string; role: Role; name: string }
export interface WorkbookInfo { id: string; title: string; template: string; createdAt: number; updatedAt: number; url: string; you?: You }
export interface LinkInfo { id: string; role: Role; name: string; createdAt: number; revokedAt: number | null }
export interface NewLink extends LinkInfo { token: string; url: string }
export interface TemplatePreview { sheet: string; columns: string[]; rows: string[][] }
export interface TemplateInfo { id: string; title: string; description: string; sheets: string[]; preview?: TemplatePreview }

async function request<T>(method: string, path: string, body?: unknown, token = ''): Promise<T> {
  let res: Response
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (e) {
    throw new ApiError(0, (e as Error).message || 'network error')
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let data: unknown
  try { data = text ? JSON.parse(text) : undefined } catch { data = undefined }
  if (!res.ok) throw new ApiError(res.status, (data as { error?: string } | undefined)?.error ?? `${res.status} ${res.statusText}`)
  return data as T
}

const wbPath = (id: string) => `/api/workbooks/${encodeURIComponent(id)}`

/** Workbook calls carry the token this browser holds for the workbook (or the one given). */
export const api = {
  templates: (lang: string) => request<TemplateInfo[]>('GET', `/api/templates?lang=${encodeURIComponent(lang)}`),
  get: (id: string, token = heldToken(id)) => request<WorkbookInfo>('GET', wbPath(id), undefined, token),
  create: (template: string, title: string | undefined, lang: string, name?: string) =>
    request<WorkbookInfo & { token: string; you: You }>('POST', '/api/workbooks', { template, title, lang, name }),
  rename: (id: string, title: string) => request<WorkbookInfo>('PATCH', wbPath(id), { title }, heldToken(id)),
  remove: (id: string) => request<void>('DELETE', wbPath(id), undefined, heldToken(id)),
  links: (id: string) => request<LinkInfo[]>('GET', `${wbPath(id)}/links`, undefined, heldToken(id)),
  createLink: (id: string, role: Role, name: string) => request<NewLink>('POST', `${wbPath(id)}/links`, { role, name }, heldToken(id)),
  revokeLink: (id: string, linkId: string) => request<LinkInfo>('DELETE', `${wbPath(id)}/links/${encodeURIComponent(linkId)}`, undefined, heldToken(id)),
}
