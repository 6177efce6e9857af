/**
 * What a page opening a workbook fetches while its scripts load: the view (GET …/view, its first screen)
 * and the doc's whole state (GET …/state). Both take what the socket takes: a live link, any role.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ExportRunner } from '../../export/runner'
import { authorize } from '../../auth'
import { ALL, currentState, runExport, type ApiContext, type Route } from '../context'
import { COMPRESS_MIN_BYTES, acceptedEncoding, compress, compressedOnce } from '../encoding'

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

export const dataRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/view$/,
    methods: {
      // the workbook as its first screen needs it (src/core/workbook/view.ts): what the formula engine
      // computes from, column settings, panes, and the version; the page shows the grid from it while
      // the doc's whole state is read. A resting room answers from its encoded state, without waking.
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
      // the doc's whole state as one Yjs update (what the socket's first sync step would carry): fetched
      // while the page's scripts load, then the socket sync carries only the rest
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, ALL)
        const state = await currentState(ctx, id)
        // a resting room keeps no compressed copy
        await sendWorkbookData(req, res, state, 'application/octet-stream', !ctx.rooms.isResting(id))
      },
    },
  },
]
