/**
 * Exports, computed in the export worker: .xlsx (optionally with the chart pictures the browser drew),
 * .csv of one sheet, and the review pack (.json, values as shown). Any live link may export.
 */
import type { ServerResponse } from 'node:http'
import { z } from 'zod'
import { MAX_CHARTS } from '../../../src/core/charts/charts'
import { authorize } from '../../auth'
import type { LinkRecord } from '../../store/types'
import { ALL, attachment, currentState, runExport, type ApiContext, type Route } from '../context'
import { HttpError, readBody, readQuery, sendJson } from '../util'
import { sheetFilterSchema, type SheetFilter } from '../../../src/core/workbook/filter'
import { auditEvent, authors, baselinesFor, mayReadHistory, versionOf } from './history'
import type { ReviewData } from '../../export/review'

/** Chart pictures sent with an export: at most one per chart, PNG only, of a sane size. */
const MAX_IMAGES_BODY = 12 * 1024 * 1024
const MAX_IMAGE_BYTES = 2 * 1024 * 1024
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

const exportBody = z.object({
  images: z.array(z.object({
    chartId: z.string({ error: 'must be a chart id' }).regex(/^[A-Za-z0-9_-]{1,40}$/, { error: 'must be a chart id' }),
    png: z.string({ error: 'must be base64' }).regex(/^[A-Za-z0-9+/]+={0,2}$/, { error: 'must be base64' }),
  }, { error: 'must be {"chartId", "png"}' }), { error: 'must be a list of {"chartId", "png"}' })
    .max(MAX_CHARTS, { error: `must hold at most ${MAX_CHARTS} chart pictures` }).optional(),
  /** the exporter's filter of each sheet, by sheet id (each checked below as a filter is everywhere) */
  filters: z.record(z.string().regex(/^[\w-]{1,64}$/, { error: 'must be a sheet id' }), z.unknown(), { error: 'must be {sheetId: filter}' })
    .refine(f => Object.keys(f).length <= 100, { error: 'must hold at most 100 sheets' }).optional(),
}, { error: 'send {"images": [{"chartId", "png"}], "filters": {sheetId: filter}}' })
  .refine(b => b.images !== undefined || b.filters !== undefined, { error: 'send {"images": [{"chartId", "png"}]} and/or {"filters": {sheetId: filter}}' })

/** The filters by sheet id, each as the filter schema has it. */
function sheetFilters(filters: Record<string, unknown> | undefined): Record<string, SheetFilter> | undefined {
  if (!filters) return undefined
  const out: Record<string, SheetFilter> = {}
  for (const [id, f] of Object.entries(filters)) {
    const r = sheetFilterSchema.safeParse(f)
    if (!r.success) throw new HttpError(400, `filters.${id}: ${r.error.issues[0]?.message ?? 'not a filter'}`)
    out[id] = r.data
  }
  return out
}

const reviewQuery = z.object({
  /** a version: the pack gets the changes since it */
  since: z.string().regex(/^[\w-]{1,64}$/, { error: 'must be a version id' }).optional(),
})

/** Who last entered each cell of the appraisal sheets (from the audit trail), by the pack's indices. */
async function enteredBy(ctx: ApiContext, id: string, review: ReviewData): Promise<void> {
  for (const sheet of review.sheets) {
    if (sheet.key !== 'appraisal' || !sheet.rowIds || !sheet.colIds) continue
    const rowAt = new Map(sheet.rowIds.map((r, i) => [r, i])), colAt = new Map(sheet.colIds.map((c, i) => [c, i]))
    const entered: Record<string, { by: string; at: number }> = {}
    for (let afterN = 0; ;) {
      const page = await ctx.store.history.listAudit(id, { sheet: sheet.id, afterN, limit: 10_000 })
      for (const e of page) {
        if ((e.action !== 'edit' && e.action !== 'restore') || !e.rowId || !e.colId) continue
        const r = rowAt.get(e.rowId), c = colAt.get(e.colId)
        if (r === undefined || c === undefined) continue
        if (e.after === null) delete entered[`${r}:${c}`]
        else entered[`${r}:${c}`] = { by: e.by, at: e.at }
      }
      if (page.length < 10_000) break
      afterN = page[page.length - 1]!.n
    }
    sheet.entered = entered
    delete sheet.rowIds
    delete sheet.colIds
  }
}

/** The changes since a version, for the pack's "changes since" section: per sheet, each cell's texts and who. */
async function changesSince(ctx: ApiContext, id: string, vid: string, state: Uint8Array) {
  const from = await versionOf(ctx, id, vid)
  const { diff } = await runExport(ctx, { kind: 'diff', state, from: from.state, values: true, fromKey: `${id}:${vid}`, currentKey: id })
  const who = await authors(ctx, id, from.v.at, Date.now())
  return {
    version: { id: from.v.id, name: from.v.name, at: from.v.at },
    counts: diff.counts,
    sheets: diff.sheets.map(s => ({
      sheetId: s.sheetId, name: s.name, status: s.status, renamedFrom: s.renamedFrom,
      rowsInserted: s.rowsInserted.length, rowsDeleted: s.rowsDeleted.length,
      cells: s.cells.map(c => ({ cell: c.cell, kind: c.kind, before: c.beforeText, after: c.afterText, beforeValue: c.beforeValue, afterValue: c.afterValue, by: who.get(`${s.sheetId}:${c.rowId}:${c.colId}`) ?? [] })),
    })),
  }
}

const csvQuery = z.object({
  /** the sheet by its position (from 0) or its name */
  sheet: z.string().default('0'),
})

/** The pictures by chart id, each a PNG of at most 2 MB. */
function chartImages(images: NonNullable<z.output<typeof exportBody>['images']>): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  images.forEach(({ chartId, png }, i) => {
    const buf = Buffer.from(png, 'base64')
    if (buf.length > MAX_IMAGE_BYTES) throw new HttpError(413, `images[${i}] is larger than 2 MB`)
    if (buf.length < PNG_MAGIC.length || !buf.subarray(0, PNG_MAGIC.length).equals(PNG_MAGIC)) throw new HttpError(400, `images[${i}] is not a PNG`)
    out.set(chartId, buf)
  })
  return out
}

async function sendXlsx(res: ServerResponse, ctx: ApiContext, id: string, me: LinkRecord, images?: Map<string, Buffer>, filters?: Record<string, SheetFilter>): Promise<void> {
  const state = await currentState(ctx, id)
  const { body, report, title } = await runExport(ctx, { kind: 'xlsx', state, author: me.name, images: images?.size ? [...images] : undefined, filters, baselines: await baselinesFor(ctx, id, state, me) })
  await auditEvent(ctx, id, me, 'export', 'xlsx')
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

export const exportRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/export\.(xlsx|csv|json)$/,
    methods: {
      GET: async (req, res, url, ctx, id, format) => {
        const me = await authorize(req, url, ctx, id, ALL)
        if (format === 'xlsx') {
          await sendXlsx(res, ctx, id, me)
          return
        }
        const state = await currentState(ctx, id)
        if (format === 'json') {
          // the review pack: values as shown, for the print view
          const { since } = readQuery(url, reviewQuery)
          const { review } = await runExport(ctx, { kind: 'json', state, baselines: await baselinesFor(ctx, id, state, me) })
          // who entered what comes from the history: not for view-only links the owner keeps it from
          const history = await mayReadHistory(ctx, id, me)
          if (since && !history) throw new HttpError(403, 'the owner has turned the history off for view-only links')
          if (history) await enteredBy(ctx, id, review)
          else for (const sheet of review.sheets) { delete sheet.rowIds; delete sheet.colIds }
          const changes = since ? await changesSince(ctx, id, since, state) : undefined
          await auditEvent(ctx, id, me, 'export', 'json')
          sendJson(res, 200, { ...review, exportedAt: Date.now(), by: me.name, ...(changes ? { changes } : {}) })
          return
        }
        const { sheet } = readQuery(url, csvQuery)
        const { body, title, sheetName } = await runExport(ctx, { kind: 'csv', state, sheet, baselines: await baselinesFor(ctx, id, state, me) })
        await auditEvent(ctx, id, me, 'export', 'csv')
        res.writeHead(200, {
          'Content-Type': 'text/csv; charset=utf-8',
          'Content-Length': body.length,
          'Content-Disposition': attachment(`${title} - ${sheetName}`, 'csv'),
          'Cache-Control': 'no-store',
          'X-Content-Type-Options': 'nosniff',
        })
        res.end(body)
      },
      // the .xlsx with the pictures of its charts that the browser drew and the exporter's filters:
      // { images: [{ chartId, png (base64) }], filters: { sheetId: filter } }
      POST: async (req, res, url, ctx, id, format) => {
        if (format !== 'xlsx') throw new HttpError(405, 'only the .xlsx export takes chart pictures and filters')
        const me = await authorize(req, url, ctx, id, ALL)
        const { images, filters } = await readBody(req, MAX_IMAGES_BODY, exportBody)
        await sendXlsx(res, ctx, id, me, chartImages(images ?? []), sheetFilters(filters))
      },
    },
  },
]
