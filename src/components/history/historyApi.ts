/**
 * The history and audit API as the page calls it (server/http/routes/history.ts and audit.ts), with the
 * token this browser holds for the workbook, as the other panels send it. Errors are ApiErrors with the
 * server's message and status.
 */
import { ApiError, type WorkbookInfo, type You } from '../../api'
import { heldToken } from '../../sync/links'
import type { CellInput } from '../../core/workbook/schema'
import type { CellValue } from '../../core/formulas/engine'
import type { Role } from '../../core/access/access'

export interface VersionInfo {
  id: string
  name: string | null
  at: number
  /** the people who edited since the version before */
  by: string[]
  auto: boolean
  /** a sign-off lock saved this version */
  lock: { sheetId: string; sheetName: string } | null
  /** cells changed, by sheet id */
  summary: Record<string, number>
  size: number
}

export interface CellChange {
  cell: string; rowId: string; colId: string
  kind: 'added' | 'changed' | 'removed'
  before: CellInput | null; after: CellInput | null
  beforeText: string; afterText: string
  beforeValue: CellValue | null; afterValue: CellValue | null
  /** who changed it between the two versions, in order (from the audit trail) */
  by: string[]
}

export interface SheetChanges {
  sheetId: string; name: string
  status: 'added' | 'removed' | 'changed' | 'same'
  renamedFrom?: string
  cells: CellChange[]
  rowsInserted: string[]; rowsDeleted: string[]; colsInserted: string[]; colsDeleted: string[]
  rowsReordered: boolean
  protectionsChanged: boolean; lockChanged: boolean; chartsChanged: boolean
}

export interface VersionDiff {
  from: string; to: string
  sheets: SheetChanges[]
  titleChanged: boolean
  counts: { cells: number; sheetsAdded: number; sheetsRemoved: number; sheetsRenamed: number }
  ms: number
}

export type AuditAction = 'edit' | 'refused' | 'rows' | 'cols' | 'sheet' | 'protect' | 'lock' | 'unlock' | 'restore' | 'version' | 'copy' | 'link-create' | 'link-revoke' | 'export' | 'comment'

export interface AuditEntry {
  n: number; at: number; by: string; role: Role; action: AuditAction
  sheet: string | null; cell: string | null; rowId: string | null; colId: string | null
  before: unknown; after: unknown; beforeText: string; afterText: string
  detail: string | null; hash: string
}

/** What the activity shows of the trail: one person's entries, one sheet's (none: all). */
export interface AuditFilter { by?: string; sheet?: string }

/** A page of the trail: the entries numbered above `after` that pass the filter, oldest first, at most `limit`. */
/** a page of the trail: `order: 'desc'` newest first, `before` an entry number (older ones), or `after` one (newer ones) */
export interface AuditPage extends AuditFilter { after?: number; before?: number; order?: 'asc' | 'desc'; limit: number }

const auditQuery = (f: AuditFilter & Partial<AuditPage> & { format?: string }): string => {
  const q = new URLSearchParams()
  if (f.sheet) q.set('sheet', f.sheet)
  if (f.by) q.set('by', f.by)
  if (f.after) q.set('after', String(f.after))
  if (f.before) q.set('before', String(f.before))
  if (f.order) q.set('order', f.order)
  if (f.limit) q.set('limit', String(f.limit))
  if (f.format) q.set('format', f.format)
  const s = q.toString()
  return s ? `?${s}` : ''
}

export interface AuditCheck { ok: boolean; entries: number; brokenAt?: number }

/** the most entries the server gives in one answer */
export const MAX_AUDIT_PAGE = 10_000

const base = (id: string) => `/api/workbooks/${encodeURIComponent(id)}`

async function call(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  let res: Response
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  } catch (e) {
    throw new ApiError(0, (e as Error).message || 'network error')
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`
    try { message = ((await res.json()) as { error?: string }).error ?? message } catch { /* not JSON */ }
    throw new ApiError(res.status, message)
  }
  return res
}

const json = async <T>(res: Promise<Response>): Promise<T> => (await (await res).json()) as T

function fileNameOf(res: Response, fallback: string): string {
  const cd = res.headers.get('content-disposition') ?? ''
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd)
  if (star) { try { return decodeURIComponent(star[1]!) } catch { /* fall through */ } }
  const plain = /filename="([^"]+)"/i.exec(cd)
  return plain ? plain[1]! : fallback
}

/** The calls of one workbook; `token` defaults to the one this browser holds. */
export function historyApi(id: string, token?: string) {
  const tk = () => token || heldToken(id)
  return {
    versions: () => json<VersionInfo[]>(call('GET', `${base(id)}/versions`, tk())),
    save: (name: string) => json<VersionInfo>(call('POST', `${base(id)}/versions`, tk(), { name })),
    /** the version's whole Yjs state */
    state: async (vid: string) => new Uint8Array(await (await call('GET', `${base(id)}/versions/${encodeURIComponent(vid)}/state`, tk())).arrayBuffer()),
    diff: (from: string, to = 'current') => json<VersionDiff>(call('GET', `${base(id)}/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, tk())),
    copy: (vid: string) => json<WorkbookInfo & { token: string; you: You }>(call('POST', `${base(id)}/versions/${encodeURIComponent(vid)}/copy`, tk(), {})),
    /** a cell's entries by its ids (stable while rows and columns move), oldest first */
    cellAudit: (sheetId: string, rowId: string, colId: string) =>
      json<AuditEntry[]>(call('GET', `${base(id)}/audit?sheet=${encodeURIComponent(sheetId)}&cell=${encodeURIComponent(`${rowId}:${colId}`)}`, tk())),
    /** a page of the trail (see AuditPage) */
    audit: (page: AuditPage) => json<AuditEntry[]>(call('GET', `${base(id)}/audit${auditQuery(page)}`, tk())),
    verify: () => json<AuditCheck>(call('GET', `${base(id)}/audit/verify`, tk())),
    /** the trail (as filtered, all of it the server gives at once) as a file, saved by the browser */
    exportAudit: async (format: 'csv' | 'xlsx', filter: AuditFilter = {}): Promise<string> => {
      const res = await call('GET', `${base(id)}/audit${auditQuery({ ...filter, limit: MAX_AUDIT_PAGE, format })}`, tk())
      const name = fileNameOf(res, `audit.${format}`)
      const url = URL.createObjectURL(await res.blob())
      const a = document.createElement('a')
      a.href = url
      a.download = name
      document.body.appendChild(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
      return name
    },
  }
}

export type HistoryApi = ReturnType<typeof historyApi>
