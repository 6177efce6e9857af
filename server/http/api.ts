/** JSON API under /api. Every error is {"error": "..."} with a fitting status. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import * as Y from 'yjs'
import { getTitle } from '../../src/core/workbook/schema'
import { setTitle } from '../../src/core/workbook/mutations'
import { buildWorkbook, type Locale } from '../../src/core/templates/template'
import type { LinkRecord, Store, WorkbookRecord } from '../store/types'
import { CLOSE, MAX_TITLE_LENGTH, SERVER_ORIGIN, WorkbookGoneError, type RoomManager } from '../collab/rooms'
import { cleanPersonName, isRole, type Role } from '../../src/core/access/access'
import { authorize, hashToken, newLinkId, newToken, requireCreateSecret, sameSecret, type FailureBudget } from '../auth'
import { COMPRESS_MIN_BYTES, acceptedEncoding, compress, compressedOnce } from './encoding'
import { ExportFailed, type ExportReply, type ExportRequest, type ExportRunner } from '../export/runner'
import { MAX_CHARTS } from '../../src/core/charts/charts'
import { templateFromWorkbook } from '../../src/core/templates/fromWorkbook'
import { TemplateError } from '../../src/core/templates/template'
import { newId } from '../../src/core/workbook/ids'
import type { TemplateRegistry } from '../templates'
import type { Logger } from '../log'
import { HttpError, readJsonBody, readRawBody, sendError, sendJson, sendNoContent } from './util'
import { BadFile, buildFromImport, readXlsx, type ImportLimits } from '../import/xlsx'

/** Chart pictures sent with an export: at most one per chart, PNG only, of a sane size. */
const MAX_IMAGES_BODY = 12 * 1024 * 1024
const MAX_IMAGE_BYTES = 2 * 1024 * 1024
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
function chartImages(body: unknown): Map<string, Buffer> {
  const list = (body as { images?: unknown } | undefined)?.images
  if (typeof body !== 'object' || body === null || !Array.isArray(list)) throw new HttpError(400, 'send {"images": [{"chartId", "png"}]}')
  if (list.length > MAX_CHARTS) throw new HttpError(400, `at most ${MAX_CHARTS} chart pictures`)
  const out = new Map<string, Buffer>()
  list.forEach((x, i) => {
    const { chartId, png } = (x ?? {}) as { chartId?: unknown; png?: unknown }
    if (typeof chartId !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(chartId)) throw new HttpError(400, `images[${i}].chartId must be a chart id`)
    if (typeof png !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(png)) throw new HttpError(400, `images[${i}].png must be base64`)
    const buf = Buffer.from(png, 'base64')
    if (buf.length > MAX_IMAGE_BYTES) throw new HttpError(413, `images[${i}] is larger than 2 MB`)
    if (buf.length < PNG_MAGIC.length || !buf.subarray(0, PNG_MAGIC.length).equals(PNG_MAGIC)) throw new HttpError(400, `images[${i}] is not a PNG`)
    out.set(chartId, buf)
  })
  return out
}

/**
 * A workbook's state or view: compressed when the client takes it (about a fifth of the size for a large
 * workbook), the compressed copy kept with the bytes' version when `keep`; never cached by the browser.
 */
async function sendWorkbookData(req: IncomingMessage, res: ServerResponse, data: Uint8Array, type: string, keep: boolean): Promise<void> {
  const encoding = data.length >= COMPRESS_MIN_BYTES ? acceptedEncoding(req) : null
  const body = !encoding ? data : keep ? await compressedOnce(data, encoding) : await compress(data, encoding)
  res.writeHead(200, {
    'Content-Type': type,
    'Content-Length': body.length,
    ...(encoding ? { 'Content-Encoding': encoding } : {}),
    Vary: 'Accept-Encoding',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}

/** Runs an export in the export worker (server/export/runner.ts), as an HTTP error when it fails. */
async function runExport<K extends ExportRequest['kind']>(ctx: ApiContext, request: Extract<ExportRequest, { kind: K }>): Promise<Extract<ExportReply, { ok: true; kind: K }>> {
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

async function sendXlsx(res: ServerResponse, ctx: ApiContext, id: string, author: string, images?: Map<string, Buffer>): Promise<void> {
  const state = await currentState(ctx, id)
  const { body, report, title } = await runExport(ctx, { kind: 'xlsx', state, author, images: images ? [...images] : undefined })
  res.writeHead(200, {
    'Content-Type': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    'Content-Length': body.length,
    'Content-Disposition': attachment(title, 'xlsx'),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    // what the file could not carry, for the UI to say (URI-encoded JSON)
    'X-Export-Notes': encodeURIComponent(JSON.stringify(report.notes.slice(0, 50))),
  })
  res.end(body)
}

export interface ApiContext {
  store: Store
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
}

export const LOCALES: readonly Locale[] = ['zh-CN', 'en']
export const DEFAULT_LOCALE: Locale = 'zh-CN'

/** Random, url-safe, 22 characters (128 bits). */
export function newWorkbookId(): string {
  return randomBytes(16).toString('base64url')
}

export const WORKBOOK_ID = /^[A-Za-z0-9_-]{1,128}$/

export interface WorkbookJson extends WorkbookRecord { url: string }

export const workbookJson = (r: WorkbookRecord): WorkbookJson => ({
  id: r.id, title: r.title, template: r.template, createdAt: r.createdAt, updatedAt: r.updatedAt, url: `/w/${r.id}`,
})

/** The page address that opens a workbook with a link's token. */
export const linkUrl = (workbookId: string, token: string) => `/w/${encodeURIComponent(workbookId)}?token=${encodeURIComponent(token)}`

const linkJson = (l: LinkRecord) => ({ id: l.id, role: l.role, name: l.name, createdAt: l.createdAt, revokedAt: l.revokedAt })

/** Who the token's bearer is, for the page. */
const youJson = (l: LinkRecord) => ({ linkId: l.id, role: l.role, name: l.name })

export const MAX_LINKS = 500

/** `attachment` with an ASCII fallback name and the real (e.g. Chinese) one in RFC 5987 form. */
export function attachment(name: string, ext: string): string {
  const clean = name.replace(/[\u0000-\u001f\u007f"\\/:*?<>|]/g, '_').trim().slice(0, 120) || 'workbook'
  const ascii = clean.replace(/[^\x20-\x7e]/g, '_')
  return `attachment; filename="${ascii}.${ext}"; filename*=UTF-8''${encodeURIComponent(`${clean}.${ext}`)}`
}

/** Stores a new workbook with its first owner link. */
async function storeNew(ctx: ApiContext, doc: Y.Doc, templateId: string, ownerName: string) {
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

function sendCreated(res: ServerResponse, created: { id: string }, extra: Record<string, unknown> = {}): void {
  sendJson(res, 201, { ...created, ...extra }, { Location: `/api/workbooks/${created.id}` })
}

/** Checks a template (it must build in both languages), keeps it in the store and shows it in the gallery. */
async function addCustomTemplate(ctx: ApiContext, json: unknown, source: string): Promise<{ id: string; title: string }> {
  let prepared
  try {
    prepared = ctx.templates.prepare(json, source)
  } catch (e) {
    if (e instanceof TemplateError) throw new HttpError(400, e.message)
    throw e
  }
  await ctx.store.saveTemplate({ id: prepared.template.id, json: JSON.stringify(json), createdAt: Date.now() })
  ctx.templates.addCustom(prepared.template, prepared.previews)
  const t = prepared.template.title
  return { id: prepared.template.id, title: typeof t === 'string' ? t : t['zh-CN'] }
}

/**
 * The workbook's whole state as one update, live edits included; resolves once everything in it is
 * stored (as a SyncStep2 waits for). One encoding per doc version, shared with the socket's first
 * syncs; a resting room answers without waking.
 */
async function currentState(ctx: ApiContext, id: string): Promise<Uint8Array> {
  try {
    return await ctx.rooms.encodedState(id)
  } catch (e) {
    if (e instanceof WorkbookGoneError) throw new HttpError(404, 'workbook not found')
    throw e
  }
}

/** A copy of the workbook's current doc (live edits included), to compute an export from. */
async function snapshot(ctx: ApiContext, id: string): Promise<Y.Doc> {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, await currentState(ctx, id))
  return doc
}

function parseName(v: unknown, { required }: { required: boolean }): string {
  if (v === undefined || v === null) {
    if (required) throw new HttpError(400, 'name is required')
    return ''
  }
  if (typeof v !== 'string') throw new HttpError(400, 'name must be a string')
  if (v.length > 200) throw new HttpError(400, 'name must be at most 80 characters')
  const name = cleanPersonName(v)
  if (required && !name) throw new HttpError(400, 'name must not be empty')
  return name
}

function parseLocale(v: unknown, where: string): Locale {
  if (v === undefined || v === null || v === '') return DEFAULT_LOCALE
  if (typeof v !== 'string' || !LOCALES.includes(v as Locale)) throw new HttpError(400, `${where} must be one of ${LOCALES.join(', ')}`)
  return v as Locale
}

/** Title from a request: a string, control characters replaced, trimmed, at most 200 characters. */
function parseTitle(v: unknown, { required }: { required: boolean }): string | undefined {
  if (v === undefined && !required) return undefined
  if (typeof v !== 'string') throw new HttpError(400, 'title must be a string')
  const title = v.replace(/[\u0000-\u001f\u007f]/g, ' ').trim()
  if (title.length > MAX_TITLE_LENGTH) throw new HttpError(400, `title must be at most ${MAX_TITLE_LENGTH} characters`)
  if (required && title === '') throw new HttpError(400, 'title must not be empty')
  return title
}

async function readObject(req: IncomingMessage, ctx: ApiContext, { optional }: { optional: boolean }): Promise<Record<string, unknown>> {
  const body = await readJsonBody(req, ctx.maxBodyBytes)
  if (body === undefined && optional) return {}
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'request body must be a JSON object')
  return body as Record<string, unknown>
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, ctx: ApiContext, id: string, sub: string) => Promise<void>

const ALL: readonly Role[] = ['owner', 'editor', 'viewer']
const WRITERS: readonly Role[] = ['owner', 'editor']
const OWNERS: readonly Role[] = ['owner']
/** the export runners computing a first screen (see computeFirstScreen) */
const computingFirst = new WeakSet<ExportRunner>()

/**
 * Makes the view of `state` again with its first screen computed, and keeps it for the pages that
 * open the workbook next (GET …/view). It is extra work, never waited for: one at a time per server,
 * only when no export runs or waits, never on the server's own thread. Skipped, it is tried again by
 * the next request for the view at that version.
 */
function computeFirstScreen(ctx: ApiContext, id: string, state: Uint8Array): void {
  const runner = ctx.exports
  if (computingFirst.has(runner) || runner.busy || runner.inProcess) return
  computingFirst.add(runner)
  void runExport(ctx, { kind: 'view', state, first: true })
    .then(r => { ctx.rooms.keepView(id, state, Buffer.from(r.json, 'utf8'), true) })
    .catch(e => ctx.log.warn('view: computing the first screen failed', { workbook: id, error: (e as Error).message }))
    .finally(() => computingFirst.delete(runner))
}

const routes: { pattern: RegExp; methods: Record<string, Handler> }[] = [
  {
    pattern: /^\/api\/health$/,
    methods: {
      // the store and (when configured) Redis: 200 while workbooks can be served, 503 when the store cannot
      GET: async (_req, res, _url, ctx) => {
        let store: 'up' | 'down' = 'up'
        try { await ctx.store.ping() } catch { store = 'down' }
        const redis = ctx.rooms.bus ? ctx.rooms.bus.status() : 'off'
        const { rooms, resting } = ctx.rooms.stats()
        // rooms: workbooks loaded; resting: of those, the ones kept encoded (quiet for REST_AFTER_MS)
        sendJson(res, store === 'up' ? 200 : 503, { ok: store === 'up', store, redis, rooms, resting })
      },
    },
  },
  {
    pattern: /^\/api\/templates$/,
    methods: {
      GET: async (_req, res, url, ctx) => sendJson(res, 200, ctx.templates.summaries(parseLocale(url.searchParams.get('lang'), 'lang'))),
      // a template file (as GET /api/templates/:id/file gives, or written by hand): checked, then in the gallery
      POST: async (req, res, url, ctx) => {
        requireCreateSecret(req, url, ctx, ctx.createSecret)
        const body = await readObject(req, ctx, { optional: false })
        // its own id may clash with another's: an uploaded template always gets a new one
        sendJson(res, 201, await addCustomTemplate(ctx, { ...body, id: `u-${newId('', 10)}` }, 'uploaded template'))
      },
    },
  },
  {
    pattern: /^\/api\/templates\/([^/]+)\/file$/,
    methods: {
      GET: async (_req, res, _url, ctx, id) => {
        const t = ctx.templates.get(id)
        if (!t) throw new HttpError(404, 'template not found')
        const body = Buffer.from(JSON.stringify(t, null, 2) + '\n', 'utf8')
        res.writeHead(200, {
          'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length,
          'Content-Disposition': attachment(typeof t.title === 'string' ? t.title : t.title['zh-CN'], 'template.json'),
          'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff',
        })
        res.end(body)
      },
    },
  },
  {
    pattern: /^\/api\/templates\/([^/]+)$/,
    methods: {
      DELETE: async (req, res, url, ctx, id) => {
        requireCreateSecret(req, url, ctx, ctx.createSecret)
        if (!ctx.templates.has(id)) throw new HttpError(404, 'template not found')
        if (!ctx.templates.isCustom(id)) throw new HttpError(403, 'templates that come with the server cannot be deleted')
        await ctx.store.deleteTemplate(id)
        ctx.templates.removeCustom(id)
        sendNoContent(res)
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/template$/,
    methods: {
      POST: async (req, res, url, ctx, id) => {
        // the gallery is the server's: adding to it takes what uploading a template takes, and a writer's link
        await authorize(req, url, ctx, id, WRITERS)
        if (ctx.createSecret) {
          const given = req.headers['x-create-secret']
          if (typeof given !== 'string' || !sameSecret(given, ctx.createSecret)) throw new HttpError(403, 'adding to the template gallery needs the server\'s create secret (X-Create-Secret)')
        }
        const body = await readObject(req, ctx, { optional: true })
        const doc = await snapshot(ctx, id)
        try {
          const title = parseTitle(body.title, { required: false }) || getTitle(doc) || 'Template'
          const description = typeof body.description === 'string' ? body.description.slice(0, 500) : ''
          const { template, notes } = templateFromWorkbook(doc, { id: `u-${newId('', 10)}`, title, description })
          sendJson(res, 201, { ...(await addCustomTemplate(ctx, template, 'saved workbook')), notes })
        } finally {
          doc.destroy()
        }
      },
    },
  },
  {
    pattern: /^\/api\/workbooks$/,
    methods: {
      GET: async (req, res, url, ctx) => {
        // every workbook on the server, titles included: for whoever holds the create secret only
        if (!ctx.createSecret) throw new HttpError(403, 'listing every workbook needs the server to have a create secret (CREATE_SECRET)')
        requireCreateSecret(req, url, ctx, ctx.createSecret)
        sendJson(res, 200, (await ctx.store.listWorkbooks()).map(workbookJson))
      },
      POST: async (req, res, url, ctx) => {
        requireCreateSecret(req, url, ctx, ctx.createSecret)
        const body = await readObject(req, ctx, { optional: true })
        const templateId = body.template ?? 'blank'
        if (typeof templateId !== 'string') throw new HttpError(400, 'template must be a string')
        const template = ctx.templates.get(templateId)
        if (!template) throw new HttpError(400, `unknown template: ${templateId}`)
        const title = parseTitle(body.title, { required: false })
        const locale = parseLocale(body.lang, 'lang')
        const ownerName = parseName(body.name, { required: false }) || (locale === 'en' ? 'Owner' : '所有者')
        const doc = new Y.Doc()
        try {
          buildWorkbook(doc, template, { title: title || undefined, locale })
          sendCreated(res, await storeNew(ctx, doc, template.id, ownerName))
        } finally {
          doc.destroy()
        }
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/import$/,
    methods: {
      POST: async (req, res, url, ctx) => {
        requireCreateSecret(req, url, ctx, ctx.createSecret)
        const locale = parseLocale(url.searchParams.get('lang'), 'lang')
        const title = parseTitle(url.searchParams.get('title') ?? undefined, { required: false })
        const ownerName = parseName(url.searchParams.get('name') ?? undefined, { required: false }) || (locale === 'en' ? 'Owner' : '所有者')
        const body = await readRawBody(req, ctx.maxImportBytes)
        if (!body.length) throw new HttpError(400, 'send the .xlsx file as the request body')
        const doc = new Y.Doc()
        try {
          const model = await readXlsx(body, ctx.importLimits)
          const report = buildFromImport(doc, model, { title: title || undefined, fallbackTitle: locale === 'en' ? 'Imported workbook' : '导入的工作簿', maxGridCells: ctx.importLimits?.maxGridCells })
          sendCreated(res, await storeNew(ctx, doc, 'import', ownerName), { report })
        } catch (e) {
          if (e instanceof BadFile) throw new HttpError(e.status, e.message)
          throw e
        } finally {
          doc.destroy()
        }
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        const link = await authorize(req, url, ctx, id, ALL)
        const record = await ctx.store.getWorkbook(id)
        if (!record) throw new HttpError(404, 'workbook not found')
        sendJson(res, 200, { ...workbookJson(record), you: youJson(link) })
      },
      PATCH: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, WRITERS)
        if (!(await ctx.store.getWorkbook(id))) throw new HttpError(404, 'workbook not found')
        const body = await readObject(req, ctx, { optional: false })
        const title = parseTitle(body.title, { required: true })!
        try {
          // through the live doc, so connected clients see the new title at once
          await ctx.rooms.withDoc(id, doc => setTitle(doc, title, SERVER_ORIGIN))
        } catch (e) {
          if (e instanceof WorkbookGoneError) throw new HttpError(404, 'workbook not found')
          throw e
        }
        await ctx.store.updateWorkbookMeta(id, { title, updatedAt: Date.now() })
        const record = await ctx.store.getWorkbook(id)
        if (!record) throw new HttpError(404, 'workbook not found')
        sendJson(res, 200, workbookJson(record))
      },
      DELETE: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, OWNERS)
        const existed = await ctx.rooms.drop(id, () => ctx.store.deleteWorkbook(id))
        if (!existed) throw new HttpError(404, 'workbook not found')
        sendNoContent(res)
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/view$/,
    methods: {
      // the workbook as its first screen needs it (src/core/workbook/view.ts): what the formula engine
      // computes from, column settings, panes, and the version; the page shows the grid from it while
      // the doc's whole state is read. The same checks as the state: a live link of this workbook.
      // A resting room answers from its encoded state, without waking.
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, ALL)
        // made in the export worker (reading a large doc is too long for the server's thread), once
        // per version of the doc. The first page at a version gets it as soon as it is made; then the
        // first screen is computed for the pages after it (the view with it is kept instead), which
        // show values without waiting for their own formula engine.
        const state = await currentState(ctx, id)
        const cached = ctx.rooms.cachedView(id, state)
        let json = cached?.json
        // kept without its first screen (and so still the current version)
        let plain = cached ? !cached.complete : false
        if (!json) {
          json = Buffer.from((await runExport(ctx, { kind: 'view', state })).json, 'utf8')
          plain = ctx.rooms.keepView(id, state, json, false)
        }
        if (plain) computeFirstScreen(ctx, id, state)
        await sendWorkbookData(req, res, json, 'application/json; charset=utf-8', true)
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/state$/,
    methods: {
      // the doc's whole state as one Yjs update (what the socket's first sync step would carry), for a
      // page that opens the workbook: fetched while its scripts load, then the socket sync carries only
      // the rest. The same checks as the socket: a live link of this workbook, any role.
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, ALL)
        const state = await currentState(ctx, id)
        // a resting room keeps no compressed copy
        await sendWorkbookData(req, res, state, 'application/octet-stream', !ctx.rooms.isResting(id))
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/export\.(xlsx|csv|json)$/,
    methods: {
      GET: async (req, res, url, ctx, id, format) => {
        const me = await authorize(req, url, ctx, id, ALL)
        if (format === 'xlsx') {
          await sendXlsx(res, ctx, id, me.name)
          return
        }
        const state = await currentState(ctx, id)
        if (format === 'json') {
          // the review pack: values as shown, for the print view
          const { review } = await runExport(ctx, { kind: 'json', state })
          sendJson(res, 200, { ...review, exportedAt: Date.now(), by: me.name })
          return
        }
        const { body, title, sheetName } = await runExport(ctx, { kind: 'csv', state, sheet: url.searchParams.get('sheet') ?? '0' })
        res.writeHead(200, {
          'Content-Type': 'text/csv; charset=utf-8',
          'Content-Length': body.length,
          'Content-Disposition': attachment(`${title} - ${sheetName}`, 'csv'),
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
        })
        res.end(body)
      },
      // the .xlsx with the pictures of its charts that the browser drew: { images: [{ chartId, png (base64) }] }
      POST: async (req, res, url, ctx, id, format) => {
        if (format !== 'xlsx') throw new HttpError(405, 'only the .xlsx export takes chart pictures')
        const me = await authorize(req, url, ctx, id, ALL)
        const body = await readJsonBody(req, MAX_IMAGES_BODY)
        await sendXlsx(res, ctx, id, me.name, chartImages(body))
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/links$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, OWNERS)
        sendJson(res, 200, (await ctx.store.listLinks(id)).map(linkJson))
      },
      POST: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, OWNERS)
        const body = await readObject(req, ctx, { optional: false })
        if (!isRole(body.role)) throw new HttpError(400, 'role must be one of owner, editor, viewer')
        const name = parseName(body.name, { required: true })
        if ((await ctx.store.listLinks(id)).length >= MAX_LINKS) throw new HttpError(409, `a workbook has at most ${MAX_LINKS} links`)
        const token = newToken()
        const link: LinkRecord = { id: newLinkId(), workbookId: id, role: body.role, name, createdAt: Date.now(), revokedAt: null }
        await ctx.store.createLink(link, hashToken(token))
        sendJson(res, 201, { ...linkJson(link), token, url: linkUrl(id, token) })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/links\/([^/]+)$/,
    methods: {
      DELETE: async (req, res, url, ctx, id, linkId) => {
        const me = await authorize(req, url, ctx, id, OWNERS)
        const links = await ctx.store.listLinks(id)
        const target = links.find(l => l.id === linkId)
        if (!target) throw new HttpError(404, 'link not found')
        if (target.role === 'owner' && target.revokedAt === null
          && !links.some(l => l.id !== linkId && l.role === 'owner' && l.revokedAt === null)) {
          throw new HttpError(409, 'this is the last owner link; make another owner link before revoking it')
        }
        const revoked = await ctx.store.revokeLink(id, linkId, Date.now())
        if (!revoked) throw new HttpError(404, 'link not found')
        // open sockets of that link close at once; their clients stop reconnecting
        ctx.rooms.closeLink(id, linkId, CLOSE.revoked, 'link revoked')
        sendJson(res, 200, { ...linkJson(revoked), self: me.id === linkId })
      },
    },
  },
]

/** Handles a request whose path starts with /api. Never throws. */
export async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, ctx: ApiContext): Promise<void> {
  try {
    const path = url.pathname.length > 5 && url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname
    let id = '', sub = ''
    const route = routes.find(r => {
      const m = r.pattern.exec(path)
      if (m) { id = m[1] ?? ''; sub = m[2] ?? '' }
      return m !== null
    })
    if (!route) throw new HttpError(404, `no such endpoint: ${url.pathname}`)
    if (id) {
      try { id = decodeURIComponent(id); sub = decodeURIComponent(sub) } catch { throw new HttpError(404, 'workbook not found') }
      if (!WORKBOOK_ID.test(id)) throw new HttpError(404, 'workbook not found')
      if (sub && !WORKBOOK_ID.test(sub)) throw new HttpError(404, 'link not found')
    }
    const method = req.method === 'HEAD' && route.methods.GET ? 'GET' : req.method ?? 'GET'
    const handler = route.methods[method]
    if (!handler) {
      const allowed = Object.keys(route.methods)
      if (allowed.includes('GET')) allowed.push('HEAD')
      throw new HttpError(405, `method ${req.method} not allowed`, { Allow: allowed.join(', ') })
    }
    await handler(req, res, url, ctx, id, sub)
  } catch (e) {
    if (e instanceof HttpError) {
      sendError(res, e.status, e.message, e.headers)
    } else {
      ctx.log.error(`[http] ${req.method} ${url.pathname} failed:`, e)
      sendError(res, 500, 'internal server error')
    }
  }
}
