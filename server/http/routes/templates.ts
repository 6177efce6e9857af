/**
 * The template gallery: listing it, a template's file, uploading one, deleting an uploaded one, and
 * saving a workbook as a template. Template files are checked by the template schema
 * (src/core/templates/template.ts), whose errors name the field.
 */
import { z } from 'zod'
import { getTitle } from '../../../src/core/workbook/schema'
import { TemplateError } from '../../../src/core/templates/template'
import { templateFromWorkbook } from '../../../src/core/templates/fromWorkbook'
import { newId } from '../../../src/core/workbook/ids'
import { requireCreateSecret, requireSecretHeader, authorize } from '../../auth'
import { WRITERS, attachment, snapshot, type ApiContext, type Route } from '../context'
import { body, locale, title } from '../fields'
import { HttpError, readBody, readQuery, sendJson, sendNoContent } from '../util'

const listQuery = z.object({ lang: locale })
/** a template file: its fields are the template schema's to check */
const templateFile = z.looseObject({}, { error: 'request body must be a JSON object' })
const saveAsTemplate = body({
  title: title.optional(),
  description: z.string({ error: 'must be a string' }).transform(v => v.slice(0, 500)).optional(),
})

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

export const templateRoutes: Route[] = [
  {
    pattern: /^\/api\/templates$/,
    methods: {
      GET: async (_req, res, url, ctx) => sendJson(res, 200, ctx.templates.summaries(readQuery(url, listQuery).lang)),
      // a template file (as GET /api/templates/:id/file gives, or written by hand): checked, then in the gallery
      POST: async (req, res, url, ctx) => {
        requireCreateSecret(req, url, ctx, ctx.createSecret)
        const file = await readBody(req, ctx.maxBodyBytes, templateFile)
        // its own id may clash with another's: an uploaded template always gets a new one
        sendJson(res, 201, await addCustomTemplate(ctx, { ...file, id: `u-${newId('', 10)}` }, 'uploaded template'))
      },
    },
  },
  {
    pattern: /^\/api\/templates\/([^/]+)\/file$/,
    methods: {
      GET: async (_req, res, _url, ctx, id) => {
        const t = ctx.templates.get(id)
        if (!t) throw new HttpError(404, 'template not found')
        const text = Buffer.from(JSON.stringify(t, null, 2) + '\n', 'utf8')
        res.writeHead(200, {
          'Content-Type': 'application/json; charset=utf-8', 'Content-Length': text.length,
          'Content-Disposition': attachment(typeof t.title === 'string' ? t.title : t.title['zh-CN'], 'template.json'),
          'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff',
        })
        res.end(text)
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
        requireSecretHeader(req, ctx, ctx.createSecret, 'adding to the template gallery')
        const options = await readBody(req, ctx.maxBodyBytes, saveAsTemplate, { optional: true })
        const doc = await snapshot(ctx, id)
        try {
          const name = options.title || getTitle(doc) || 'Template'
          const { template, notes } = templateFromWorkbook(doc, { id: `u-${newId('', 10)}`, title: name, description: options.description ?? '' })
          sendJson(res, 201, { ...(await addCustomTemplate(ctx, template, 'saved workbook')), notes })
        } finally {
          doc.destroy()
        }
      },
    },
  },
]
