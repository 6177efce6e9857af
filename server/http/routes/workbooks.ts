/** Workbooks: listing (create secret), creating from a template, importing an .xlsx, reading, renaming, deleting. */
import { z } from 'zod'
import * as Y from 'yjs'
import { setTitle } from '../../../src/core/workbook/mutations'
import { buildWorkbook } from '../../../src/core/templates/template'
import { SERVER_ORIGIN } from '../../collab/rooms'
import { authorize, hashToken, newLinkId, newToken, requireCreateSecret } from '../../auth'
import type { LinkRecord } from '../../store/types'
import { BadFile, importXlsx } from '../../import/xlsx'
import { importQuery } from '../../import/options'
import { isCsvRequest } from '../../import/csv'
import { csvRoutes, importCsvWorkbook } from './csv'
import { ALL, OWNERS, WRITERS, linkUrl, newWorkbookId, orGone, sendCreated, storeNew, workbookJson, youJson, type ApiContext, type Route } from '../context'
import { body, locale, name, ownerName, requiredTitle, timeZone, title } from '../fields'
import { HttpError, readBody, readQuery, readRawBody, sendJson, sendNoContent } from '../util'

const createBody = body({
  template: z.string({ error: 'must be a string' }).default('blank'),
  title: title.optional(),
  lang: locale,
  name,
  /** the creator's time zone (their browser's) */
  timeZone,
})
const patchBody = body({ title: requiredTitle })

/** A new workbook from an encoded state (built in the import worker) with its first owner link. */
async function storeNewState(ctx: ApiContext, state: Uint8Array, title: string, templateId: string, ownerName: string) {
  const now = Date.now(), id = newWorkbookId(), token = newToken()
  const link: LinkRecord = { id: newLinkId(), workbookId: id, role: 'owner', name: ownerName, createdAt: now, revokedAt: null }
  const record = await ctx.store.createWorkbook({ id, title: title.slice(0, 200), template: templateId, createdAt: now, updatedAt: now }, state, { link, tokenHash: hashToken(token) })
  return { ...workbookJson(record), url: linkUrl(id, token), token, you: youJson(link) }
}

export const workbookRoutes: Route[] = [
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
        const options = await readBody(req, ctx.maxBodyBytes, createBody, { optional: true })
        const template = ctx.templates.get(options.template)
        if (!template) throw new HttpError(400, `unknown template: ${options.template}`)
        const doc = new Y.Doc()
        try {
          buildWorkbook(doc, template, { title: options.title || undefined, locale: options.lang, timeZone: options.timeZone })
          sendCreated(res, await storeNew(ctx, doc, template.id, ownerName(options.name, options.lang)))
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
        if (isCsvRequest(req)) return importCsvWorkbook(req, res, url, ctx)
        requireCreateSecret(req, url, ctx, ctx.createSecret)
        const options = readQuery(url, importQuery)
        const file = await readRawBody(req, ctx.maxImportBytes)
        if (!file.length) throw new HttpError(400, 'send the .xlsx file as the request body')
        const fallbackTitle = options.lang === 'en' ? 'Imported workbook' : '导入的工作簿'
        const filterName = options.lang === 'en' ? 'Filter from the file' : '文件中的筛选'
        let out
        try {
          // read, built and encoded in the import worker: this thread only stores the state
          out = await importXlsx(file, { title: options.title || undefined, fallbackTitle, filterName, timeZone: options.timeZone, lang: options.lang }, ctx.importLimits)
        } catch (e) {
          if (e instanceof BadFile) throw new HttpError(e.status, e.message)
          throw e
        }
        sendCreated(res, await storeNewState(ctx, out.state, out.title, 'import', ownerName(options.name, options.lang)), { report: out.report })
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
        const { title: newTitle } = await readBody(req, ctx.maxBodyBytes, patchBody)
        // through the live doc, so connected clients see the new title at once
        await orGone(() => ctx.rooms.withDoc(id, doc => setTitle(doc, newTitle, SERVER_ORIGIN)))
        await ctx.store.updateWorkbookMeta(id, { title: newTitle, updatedAt: Date.now() })
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
  // CSV into an open workbook (routes/csv.ts)
  ...csvRoutes,
]
