/**
 * Exports, computed in the export worker: .xlsx (optionally with the chart pictures the browser drew),
 * .csv of one sheet, and the review pack (.json, values as shown). Any live link may export.
 */
import type { ServerResponse } from 'node:http'
import { z } from 'zod'
import { MAX_CHARTS } from '../../../src/core/charts/charts'
import { authorize } from '../../auth'
import { ALL, attachment, currentState, runExport, type ApiContext, type Route } from '../context'
import { HttpError, readBody, readQuery, sendJson } from '../util'

/** Chart pictures sent with an export: at most one per chart, PNG only, of a sane size. */
const MAX_IMAGES_BODY = 12 * 1024 * 1024
const MAX_IMAGE_BYTES = 2 * 1024 * 1024
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

const chartPictures = z.object({
  images: z.array(z.object({
    chartId: z.string({ error: 'must be a chart id' }).regex(/^[A-Za-z0-9_-]{1,40}$/, { error: 'must be a chart id' }),
    png: z.string({ error: 'must be base64' }).regex(/^[A-Za-z0-9+/]+={0,2}$/, { error: 'must be base64' }),
  }, { error: 'must be {"chartId", "png"}' }), { error: 'must be a list of {"chartId", "png"}' })
    .max(MAX_CHARTS, { error: `must hold at most ${MAX_CHARTS} chart pictures` }),
}, { error: 'send {"images": [{"chartId", "png"}]}' })

const csvQuery = z.object({
  /** the sheet by its position (from 0) or its name */
  sheet: z.string().default('0'),
})

/** The pictures by chart id, each a PNG of at most 2 MB. */
function chartImages(images: z.output<typeof chartPictures>['images']): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  images.forEach(({ chartId, png }, i) => {
    const buf = Buffer.from(png, 'base64')
    if (buf.length > MAX_IMAGE_BYTES) throw new HttpError(413, `images[${i}] is larger than 2 MB`)
    if (buf.length < PNG_MAGIC.length || !buf.subarray(0, PNG_MAGIC.length).equals(PNG_MAGIC)) throw new HttpError(400, `images[${i}] is not a PNG`)
    out.set(chartId, buf)
  })
  return out
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

export const exportRoutes: Route[] = [
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
        const { sheet } = readQuery(url, csvQuery)
        const { body, title, sheetName } = await runExport(ctx, { kind: 'csv', state, sheet })
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
        const { images } = await readBody(req, MAX_IMAGES_BODY, chartPictures)
        await sendXlsx(res, ctx, id, me.name, chartImages(images))
      },
    },
  },
]
