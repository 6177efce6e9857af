/** The JSON API, with errors turned into ApiError carrying the server's message and status. */
export class ApiError extends Error {
  constructor(public status: number, message: string) { super(message); this.name = 'ApiError' }
}

import type { Role } from './core/access/access'
import { heldToken } from './sync/links'
import type { Timeline } from './core/timeline/timeline'

export interface You { linkId: string; role: Role; name: string }
export interface WorkbookInfo { id: string; title: string; template: string; createdAt: number; updatedAt: number; url: string; you?: You }
export interface LinkInfo { id: string; role: Role; name: string; createdAt: number; revokedAt: number | null }
export interface NewLink extends LinkInfo { token: string; url: string }
export interface TemplatePreview { sheet: string; columns: string[]; rows: string[][] }
export interface TemplateInfo { id: string; title: string; description: string; sheets: string[]; preview?: TemplatePreview; custom?: boolean }

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

import type { ChartData } from './core/charts/charts'
import type { SheetFilter } from './core/workbook/filter'
import { localTimeZone } from './core/workbook/zone'
import type { CellStyle } from './core/workbook/styles'
/** a cell's format in the review pack (its number format is already in its text) */
export type ReviewStyle = Omit<CellStyle, 'nf'> & { bar?: { color: string; pct: number } }
/** a merged cell of the review pack, in indices into its rows and columns */
export interface ReviewMerge { row: number; col: number; rowspan: number; colspan: number }
/** as server/export/review.ts makes it: `styles` is keyed "row:col"; hidden rows and columns are left out */
export interface ReviewSheet {
  id: string; name: string; columns: string[]; numeric: boolean[]; rows: string[][]; totalsRow: number
  styles?: Record<string, ReviewStyle>; merges?: ReviewMerge[]; charts?: ChartData[]; timeline?: Timeline
  /** the template's key of the sheet ("appraisal", …) */
  key?: string
  /** an appraisal sheet's cells ("row:col" pack indices): who last entered each, and when */
  entered?: Record<string, { by: string; at: number }>
  /** open comments and assignments (cell null: its row or column was deleted) */
  comments?: ReviewComment[]
}
export interface ReviewComment {
  cell: string | null; author: string; text: string; at: number; assignee?: string; due?: string; done?: boolean; replies: number
  last?: { author: string; text: string; at: number }
}
/** the review pack's "changes since a version" (export.json?since=) */
export interface ReviewChanges {
  version: { id: string; name: string | null; at: number }
  counts: { cells: number; sheetsAdded: number; sheetsRemoved: number; sheetsRenamed: number }
  sheets: { sheetId: string; name: string; status: string; renamedFrom?: string; rowsInserted: number; rowsDeleted: number;
    cells: { cell: string; kind: 'added' | 'changed' | 'removed'; before: string; after: string; by: string[] }[] }[]
}
export interface ReviewData { title: string; sheets: ReviewSheet[]; exportedAt: number; by: string; timeZone?: string; changes?: ReviewChanges }
/** a version of the workbook (GET /versions), newest first */
export interface VersionInfo { id: string; name: string | null; at: number; by: string[]; auto: boolean; lock: { sheetId: string; sheetName: string } | null }
export interface ImportReport { sheets: number; cells: number; formulas: number; notes: string[] }

/** A file from the API: its bytes, the name the server gave it, and the export's notes. */
export interface Download { blob: Blob; fileName: string; notes: string[] }

function fileNameOf(res: Response, fallback: string): string {
  const cd = res.headers.get('content-disposition') ?? ''
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd)
  if (star) { try { return decodeURIComponent(star[1]!) } catch { /* fall through */ } }
  const plain = /filename="([^"]+)"/i.exec(cd)
  return plain ? plain[1]! : fallback
}

async function download(path: string, token: string, fallback: string, body?: unknown): Promise<Download> {
  let res: Response
  try {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {}
    res = await fetch(path, body === undefined ? { headers } : { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  } catch (e) {
    throw new ApiError(0, (e as Error).message || 'network error')
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`
    try { message = ((await res.json()) as { error?: string }).error ?? message } catch { /* not JSON */ }
    throw new ApiError(res.status, message)
  }
  let notes: string[] = []
  try { notes = JSON.parse(decodeURIComponent(res.headers.get('x-export-notes') ?? '%5B%5D')) as string[] } catch { /* none */ }
  return { blob: await res.blob(), fileName: fileNameOf(res, fallback), notes }
}

/** Workbook calls carry the token this browser holds for the workbook (or the one given). */
export const api = {
  templates: (lang: string) => request<TemplateInfo[]>('GET', `/api/templates?lang=${encodeURIComponent(lang)}`),
  get: (id: string, token = heldToken(id)) => request<WorkbookInfo>('GET', wbPath(id), undefined, token),
  /** a new workbook, on this browser's time zone (its TODAY and NOW) */
  create: (template: string, title: string | undefined, lang: string, name?: string) =>
    request<WorkbookInfo & { token: string; you: You }>('POST', '/api/workbooks', { template, title, lang, name, timeZone: localTimeZone() }),
  rename: (id: string, title: string) => request<WorkbookInfo>('PATCH', wbPath(id), { title }, heldToken(id)),
  remove: (id: string) => request<void>('DELETE', wbPath(id), undefined, heldToken(id)),
  links: (id: string) => request<LinkInfo[]>('GET', `${wbPath(id)}/links`, undefined, heldToken(id)),
  createLink: (id: string, role: Role, name: string) => request<NewLink>('POST', `${wbPath(id)}/links`, { role, name }, heldToken(id)),
  /** the .xlsx; with chart pictures (base64 PNG by chart id) when the page drew them, and my filters by sheet id */
  exportXlsx: (id: string, images?: { chartId: string; png: string }[], filters?: Record<string, SheetFilter>) => {
    const hasFilters = !!filters && Object.keys(filters).length > 0
    return download(`${wbPath(id)}/export.xlsx`, heldToken(id), 'workbook.xlsx',
      images?.length || hasFilters ? { images: images ?? [], ...(hasFilters ? { filters } : {}) } : undefined)
  },
  exportCsv: (id: string, sheet: string) => download(`${wbPath(id)}/export.csv?sheet=${encodeURIComponent(sheet)}`, heldToken(id), 'sheet.csv'),
  review: (id: string, since?: string) => request<ReviewData>('GET', `${wbPath(id)}/export.json${since ? `?since=${encodeURIComponent(since)}` : ''}`, undefined, heldToken(id)),
  versions: (id: string) => request<VersionInfo[]>('GET', `${wbPath(id)}/versions`, undefined, heldToken(id)),
  importXlsx: async (file: Blob, opts: { title?: string; lang: string; name?: string }) => {
    const zone = localTimeZone()
    const q = new URLSearchParams({ lang: opts.lang, ...(opts.title ? { title: opts.title } : {}), ...(opts.name ? { name: opts.name } : {}), ...(zone ? { timeZone: zone } : {}) })
    let res: Response
    try {
      res = await fetch(`/api/workbooks/import?${q}`, { method: 'POST', body: file, headers: { 'content-type': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' } })
    } catch (e) {
      throw new ApiError(0, (e as Error).message || 'network error')
    }
    const data = await res.json().catch(() => undefined) as (WorkbookInfo & { token: string; you: You; report: ImportReport; error?: string }) | undefined
    if (!res.ok || !data) throw new ApiError(res.status, data?.error ?? `${res.status} ${res.statusText}`)
    return data
  },
  saveAsTemplate: (id: string, title: string) => request<{ id: string; title: string; notes: string[] }>('POST', `${wbPath(id)}/template`, { title }, heldToken(id)),
  templateFile: (templateId: string) => download(`/api/templates/${encodeURIComponent(templateId)}/file`, '', `${templateId}.template.json`),
  uploadTemplate: (json: unknown) => request<{ id: string; title: string }>('POST', '/api/templates', json),
  deleteTemplate: (templateId: string) => request<void>('DELETE', `/api/templates/${encodeURIComponent(templateId)}`),
  revokeLink: (id: string, linkId: string) => request<LinkInfo>('DELETE', `${wbPath(id)}/links/${encodeURIComponent(linkId)}`, undefined, heldToken(id)),
}
