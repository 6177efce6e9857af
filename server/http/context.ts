/** What every API route is given, and the helpers several of them share. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import * as Y from 'yjs'
import { getTitle } from '../../src/core/workbook/schema'
import type { LinkRecord, Store, WorkbookRecord } from '../store/types'
import { MAX_TITLE_LENGTH, WorkbookGoneError, type RoomManager } from '../collab/rooms'
import { ROLES, type Role } from '../../src/core/access/access'
import { hashToken, newLinkId, newToken, type FailureBudget } from '../auth'
import { ExportFailed, type ExportReply, type ExportRequest, type ExportRunner } from '../export/runner'
import type { TemplateRegistry } from '../templates'
import type { ImportLimits } from '../import/xlsx'
import type { Logger } from '../log'
import type { Notifier } from '../notify/notifier'
import type { RollupService } from '../rollup/service'
import type { RoundService } from '../rounds/service'
import { HttpError, sendJson } from './util'
import type { OidcService } from '../oidc/service'

export interface ApiContext {
  store: Store
  /** asked only through its methods: the API never reads a room */
  rooms: RoomManager
  templates: TemplateRegistry
  maxBodyBytes: number
  log: Logger
  failures: FailureBudget
  /** when set, creating and listing workbooks needs it as a bearer token */
  createSecret?: string
  /** largest .xlsx accepted for import */
  maxImportBytes: number
  importLimits?: ImportLimits
  /** where exports are computed (a worker thread) */
  exports: ExportRunner
  /** webhook notifications (server/notify/): the delivery loop and its options */
  notify?: Notifier
  /** fill-in rounds (server/rounds/): periods, status, closing */
  rounds?: RoundService
  /** live roll-ups (server/rollup/) */
  rollups?: RollupService
  /** sign-in with OpenID Connect (server/oidc/), when configured */
  oidc?: OidcService
  /** the signed-in account of a request (bound links need it); unset without sign-in */
  accountOf?: (req: IncomingMessage) => Promise<string | null>
  /** the signed-in person's membership of a workbook, as a link (requests without a token) */
  memberLink?: (req: IncomingMessage, workbookId: string) => Promise<LinkRecord | null>
}

/** A route's handler: `id` and `sub` are the path's workbook (or template) id and link id, checked. */
export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, ctx: ApiContext, id: string, sub: string) => Promise<void>
export interface Route { pattern: RegExp; methods: Record<string, Handler> }

export const ALL: readonly Role[] = ROLES
export const WRITERS: readonly Role[] = ['owner', 'editor']
export const OWNERS: readonly Role[] = ['owner']

export const WORKBOOK_ID = /^[A-Za-z0-9_-]{1,128}$/

/** Random, url-safe, 22 characters (128 bits). */
export function newWorkbookId(): string {
  return randomBytes(16).toString('base64url')
}

export interface WorkbookJson extends WorkbookRecord { url: string }

export const workbookJson = (r: WorkbookRecord): WorkbookJson => ({
  id: r.id, title: r.title, template: r.template, createdAt: r.createdAt, updatedAt: r.updatedAt, url: `/w/${r.id}`,
})

/** The page address that opens a workbook with a link's token. */
export const linkUrl = (workbookId: string, token: string) => `/w/${encodeURIComponent(workbookId)}?token=${encodeURIComponent(token)}`

export const linkJson = (l: LinkRecord) => ({ id: l.id, role: l.role, name: l.name, createdAt: l.createdAt, revokedAt: l.revokedAt })

/** Who the token's bearer is, for the page. */
export const youJson = (l: LinkRecord) => ({ linkId: l.id, role: l.role, name: l.name })

/** `attachment` with an ASCII fallback name and the real (e.g. Chinese) one in RFC 5987 form. */
export function attachment(name: string, ext: string): string {
  const clean = name.replace(/[\u0000-\u001f\u007f"\\/:*?<>|]/g, '_').trim().slice(0, 120) || 'workbook'
  const ascii = clean.replace(/[^\x20-\x7e]/g, '_')
  return `attachment; filename="${ascii}.${ext}"; filename*=UTF-8''${encodeURIComponent(`${clean}.${ext}`)}`
}

/** Stores a new workbook with its first owner link. */
export async function storeNew(ctx: ApiContext, doc: Y.Doc, templateId: string, ownerName: string) {
  const now = Date.now()
  const id = newWorkbookId()
  const token = newToken()
  const link: LinkRecord = { id: newLinkId(), workbookId: id, role: 'owner', name: ownerName, createdAt: now, revokedAt: null }
  const record = await ctx.store.createWorkbook(
    { id, title: getTitle(doc).slice(0, MAX_TITLE_LENGTH), template: templateId, createdAt: now, updatedAt: now },
    Y.encodeStateAsUpdate(doc),
    { link, tokenHash: hashToken(token) },
  )
  return { ...workbookJson(record), url: linkUrl(id, token), token, you: youJson(link) }
}

export function sendCreated(res: ServerResponse, created: { id: string }, extra: Record<string, unknown> = {}): void {
  sendJson(res, 201, { ...created, ...extra }, { Location: `/api/workbooks/${created.id}` })
}

/** A room manager call, a workbook that is gone answered as 404. */
export async function orGone<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (e) {
    if (e instanceof WorkbookGoneError) throw new HttpError(404, 'workbook not found')
    throw e
  }
}

/**
 * The workbook's whole state as one update, live edits included; resolves once everything in it is
 * stored (as a SyncStep2 waits for). One encoding per doc version, shared with the socket's first
 * syncs; a resting room answers without waking.
 */
export function currentState(ctx: ApiContext, id: string): Promise<Uint8Array> {
  return orGone(() => ctx.rooms.encodedState(id))
}

/** A copy of the workbook's current doc (live edits included), to compute an export from. */
export async function snapshot(ctx: ApiContext, id: string): Promise<Y.Doc> {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, await currentState(ctx, id))
  return doc
}

/** Runs an export in the export worker (server/export/runner.ts), as an HTTP error when it fails. */
export async function runExport<K extends ExportRequest['kind']>(ctx: ApiContext, request: Extract<ExportRequest, { kind: K }>): Promise<Extract<ExportReply, { ok: true; kind: K }>> {
  try {
    return await ctx.exports.run(request) as Extract<ExportReply, { ok: true; kind: K }>
  } catch (e) {
    if (!(e instanceof ExportFailed)) throw e
    if (e.status === 500) {
      ctx.log.error(`[export] ${request.kind} export failed: ${e.message}`)
      throw new HttpError(500, 'the export failed')
    }
    throw new HttpError(e.status, e.message)
  }
}
