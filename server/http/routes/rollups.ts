/**
 * Roll-up workbooks (issue 21; server/rollup/): making one from a template's sheet and source workbooks
 * given by their links, adding and removing sources (the roll-up's owners), and reading its sources.
 *
 *   POST   /api/rollups {title?, template?, sheetKey | sheetName, sources: [{workbookId, token}], mode, key?, measures?, lang?, name?}
 *            → 201 {id, url, token, …} as POST /api/workbooks
 *   GET    /api/rollups/:id                       → {id, template, sheetKey, mode, key, measures, sources: [{workbookId, available}]}
 *   POST   /api/rollups/:id/sources {workbookId, token} → 201 {workbookId, available}
 *   DELETE /api/rollups/:id/sources/:workbookId   → 204
 *
 * A source whose token is a live link of it is checked: of the roll-up's template, with the sheet (400
 * naming it otherwise). A token that is no such link is kept as the source's anyway (its hash), and the
 * source shows as unavailable: the roll-up keeps working.
 */
import { z } from 'zod'
import * as Y from 'yjs'
import { authorize, hashToken, requireCreateSecret } from '../../auth'
import { MEASURE_FNS, type RollupConfig, type RollupSourceInput } from '../../store/rollups'
import { buildRollup, RollupInputError, templateSheetIndex } from '../../rollup/build'
import { findSheet } from '../../rollup/read'
import { localize, type Template } from '../../../src/core/templates/template'
import { ALL, OWNERS, WORKBOOK_ID, sendCreated, storeNew, type ApiContext, type Route } from '../context'
import { body, locale, name, ownerName, title } from '../fields'
import { HttpError, readBody, sendJson, sendNoContent } from '../util'

export const MAX_ROLLUP_SOURCES = 500

const ref = z.string({ error: 'must be a string' }).max(200, { error: 'must be at most 200 characters' })
const source = z.object({
  workbookId: z.string({ error: 'must be a workbook id' }).regex(WORKBOOK_ID, { error: 'must be a workbook id' }),
  token: z.string({ error: 'must be a string' }).max(200, { error: 'must be at most 200 characters' }),
}, { error: 'a source is {workbookId, token}' })
const createBody = body({
  title: title.optional(),
  template: ref.optional(),
  sheetKey: ref.optional(),
  sheetName: ref.optional(),
  sources: z.array(source, { error: 'must be an array of {workbookId, token}' }).max(MAX_ROLLUP_SOURCES, { error: `at most ${MAX_ROLLUP_SOURCES} sources` }),
  mode: z.enum(['stack', 'aggregate'], { error: 'must be "stack" or "aggregate"' }),
  key: ref.optional(),
  measures: z.array(z.object({
    column: ref, fn: z.enum(MEASURE_FNS, { error: `must be one of ${MEASURE_FNS.join(', ')}` }), weight: ref.optional(),
  }, { error: 'a measure is {column, fn}' }), { error: 'must be an array of {column, fn}' }).max(50).optional(),
  lang: locale,
  name,
})

interface Checked { input: RollupSourceInput; template: string | null }

/** The link a source's token is, if it is a live one of that workbook. */
async function checkSource(ctx: ApiContext, s: z.infer<typeof source>): Promise<Checked> {
  const tokenHash = hashToken(s.token)
  const link = s.token ? await ctx.store.findLink(tokenHash) : null
  const live = !!link && link.revokedAt === null && link.workbookId === s.workbookId
  const record = live ? await ctx.store.getWorkbook(s.workbookId) : null
  return { input: { workbookId: s.workbookId, linkId: live && record ? link.id : null, tokenHash, addedAt: Date.now() }, template: record?.template ?? null }
}

/** A readable source must be of the template and have the sheet: else 400 naming it. */
async function requireFits(ctx: ApiContext, c: Checked, template: Template, sheet: { key: string; name: string }): Promise<void> {
  if (!c.input.linkId) return
  const id = c.input.workbookId
  if (c.template !== template.id) throw new HttpError(400, `source ${id} is made from the template ${c.template}, not ${template.id}`)
  const doc = ctx.rollups ? await ctx.rollups.sourceDoc(id) : null
  try {
    if (!doc || !findSheet(doc, sheet.key, sheet.name)) throw new HttpError(400, `source ${id} has no sheet ${sheet.name || sheet.key}`)
  } finally { doc?.destroy() }
}

async function rollupOf(ctx: ApiContext, id: string): Promise<RollupConfig> {
  const config = await ctx.store.rollups.get(id)
  if (!config) throw new HttpError(404, 'not a roll-up workbook')
  return config
}

export const rollupRoutes: Route[] = [
  {
    pattern: /^\/api\/rollups$/,
    methods: {
      POST: async (req, res, url, ctx) => {
        requireCreateSecret(req, url, ctx, ctx.createSecret)
        const b = await readBody(req, ctx.maxBodyBytes, createBody)
        const seen = new Set<string>()
        for (const s of b.sources) {
          if (seen.has(s.workbookId)) throw new HttpError(400, `sources: ${s.workbookId} is given twice`)
          seen.add(s.workbookId)
        }
        const checked = await Promise.all(b.sources.map(s => checkSource(ctx, s)))
        const templateId = b.template ?? checked.find(c => c.template)?.template
        if (!templateId) throw new HttpError(400, 'template: name the template (no source could be read to tell it)')
        const template = ctx.templates.get(templateId)
        if (!template) throw new HttpError(400, `unknown template: ${templateId}`)
        const sheetRef = b.sheetKey ?? b.sheetName
        if (sheetRef === undefined) throw new HttpError(400, 'sheetKey or sheetName: name the sheet to roll up')
        const sheetIndex = templateSheetIndex(template, sheetRef)
        if (sheetIndex < 0) throw new HttpError(400, `the template ${template.id} has no sheet ${sheetRef}`)
        const tsheet = template.sheets[sheetIndex]!
        const sheet = { key: tsheet.key ?? '', name: localize(tsheet.name, 'zh-CN') }
        for (const c of checked) await requireFits(ctx, c, template, sheet)
        const doc = new Y.Doc()
        try {
          const fallback = `${localize(tsheet.name, b.lang)} · ${b.lang === 'en' ? 'roll-up' : '汇总'}`
          buildRollup(doc, { template, sheetIndex, title: b.title || fallback, locale: b.lang, mode: b.mode, key: b.key, measures: b.measures })
          const created = await storeNew(ctx, doc, template.id, ownerName(b.name, b.lang))
          await ctx.store.rollups.create({
            id: created.id, template: template.id, sheetKey: sheet.key, sheetName: sheet.name, mode: b.mode,
            key: b.key ?? null, measures: b.measures ?? [], createdAt: Date.now(),
          }, checked.map(c => c.input))
          sendCreated(res, created)
        } catch (e) {
          if (e instanceof RollupInputError) throw new HttpError(400, e.message)
          throw e
        } finally {
          doc.destroy()
        }
      },
    },
  },
  {
    pattern: /^\/api\/rollups\/([^/]+)$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, ALL)
        const c = await rollupOf(ctx, id)
        const sources = await ctx.store.rollups.sources(id)
        sendJson(res, 200, {
          id, template: c.template, sheetKey: c.sheetKey, sheetName: c.sheetName, mode: c.mode, key: c.key, measures: c.measures,
          sources: sources.map(s => ({ workbookId: s.workbookId, available: s.available })),
        })
      },
    },
  },
  {
    pattern: /^\/api\/rollups\/([^/]+)\/sources$/,
    methods: {
      POST: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, OWNERS)
        const c = await rollupOf(ctx, id)
        const s = await readBody(req, ctx.maxBodyBytes, source)
        if (s.workbookId === id) throw new HttpError(400, `source ${s.workbookId} is the roll-up itself`)
        if ((await ctx.store.rollups.sources(id)).length >= MAX_ROLLUP_SOURCES) throw new HttpError(400, `a roll-up has at most ${MAX_ROLLUP_SOURCES} sources`)
        const template = ctx.templates.get(c.template)
        if (!template) throw new HttpError(400, `unknown template: ${c.template}`)
        const checked = await checkSource(ctx, s)
        await requireFits(ctx, checked, template, { key: c.sheetKey, name: c.sheetName })
        await ctx.store.rollups.addSource(id, checked.input)
        void ctx.rollups?.refresh(id, 0)
        sendJson(res, 201, { workbookId: s.workbookId, available: checked.input.linkId !== null })
      },
    },
  },
  {
    pattern: /^\/api\/rollups\/([^/]+)\/sources\/([^/]+)$/,
    methods: {
      DELETE: async (req, res, url, ctx, id, workbookId) => {
        await authorize(req, url, ctx, id, OWNERS)
        await rollupOf(ctx, id)
        if (!(await ctx.store.rollups.removeSource(id, workbookId))) throw new HttpError(404, 'no such source')
        void ctx.rollups?.refresh(id, 0)
        sendNoContent(res)
      },
    },
  },
]
