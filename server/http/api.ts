/**
 * JSON API under /api: the router. Every error is {"error": "..."} with a fitting status; bodies and
 * query options are read through zod schemas (./fields.ts, each route's own), so a bad one is a 400
 * naming the field. The routes live in ./routes/*, by what they serve.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { WORKBOOK_ID, type ApiContext, type Route } from './context'
import { HttpError, sendError } from './util'
import { healthRoutes } from './routes/health'
import { templateRoutes } from './routes/templates'
import { workbookRoutes } from './routes/workbooks'
import { dataRoutes } from './routes/data'
import { exportRoutes } from './routes/exports'
import { linkRoutes } from './routes/links'
import { historyRoutes } from './routes/history'
import { auditRoutes } from './routes/audit'
import { webhookRoutes } from './routes/webhooks'
import { commentRoutes } from './routes/comments'
import { inboxRoutes } from './routes/inbox'
import { rollupRoutes } from './routes/rollups'
import { roundRoutes } from './routes/rounds'
import { accountRoutes } from '../oidc/routes'
import { memberRoutes } from '../oidc/members'

export { WORKBOOK_ID, attachment, linkUrl, newWorkbookId, workbookJson, type ApiContext, type WorkbookJson } from './context'
export { DEFAULT_LOCALE } from './fields'
export { LOCALES } from '../../src/core/templates/template'
export { MAX_LINKS } from './routes/links'

const routes: Route[] = [...healthRoutes, ...templateRoutes, ...workbookRoutes, ...dataRoutes, ...exportRoutes, ...linkRoutes, ...historyRoutes, ...auditRoutes, ...commentRoutes, ...inboxRoutes, ...webhookRoutes, ...roundRoutes, ...rollupRoutes, ...accountRoutes, ...memberRoutes]

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
