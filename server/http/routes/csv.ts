/**
 * CSV/TSV import. A new workbook: POST /api/workbooks/import with Content-Type text/csv (or
 * text/tab-separated-values), built in the worker (server/import/csv.ts). Into an open workbook:
 * POST /api/workbooks/:id/sheets/import?mode=new-sheet|append|replace (owner or editor): the worker
 * reads the table and plans the write on the workbook's state, checked against the access rules (a
 * protected column or a locked sheet refuses the whole import); the server applies that change with
 * the person's origin, so it is stored, relayed, audited and in the history like their typing. When the
 * doc changed meanwhile, it plans and checks again on the doc as it is.
 */
import * as Y from 'yjs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { checkChange, type Principal } from '../../../src/core/access/access'
import { CsvPlanError, fileBaseName, planSheetImport } from '../../../src/core/csv/plan'
import { ActingOrigin } from '../../collab/rooms'
import type { LinkRecord } from '../../store/types'
import { authorize, hashToken, newLinkId, newToken, requireCreateSecret } from '../../auth'
import { readCsv } from '../../import/csv'
import { DEFAULT_CSV_LIMITS, SHEET_CSV_LIMITS, csvSheetQuery, csvWorkbookQuery, toCsvOptions } from '../../import/csv-model'
import { WRITERS, currentState, linkUrl, newWorkbookId, orGone, workbookJson, youJson, type ApiContext, type Route } from '../context'
import { ownerName } from '../fields'
import { HttpError, readQuery, sendJson } from '../util'

const baseName = fileBaseName


/** POST /api/workbooks/import with a CSV body: a new workbook of one sheet. */
export async function importCsvWorkbook(req: IncomingMessage, res: ServerResponse, url: URL, ctx: ApiContext): Promise<void> {
  requireCreateSecret(req, url, ctx, ctx.createSecret)
  const q = readQuery(url, csvWorkbookQuery)
  const file = baseName(q.filename)
  const en = q.lang === 'en'
  const out = await readCsv(req, {
    kind: 'workbook', options: toCsvOptions(q), limits: DEFAULT_CSV_LIMITS,
    title: q.title || file || (en ? 'Imported workbook' : '导入的工作簿'), sheetName: file || (en ? 'Data' : '数据'), timeZone: q.timeZone, lang: q.lang,
  })
  if (out.kind !== 'workbook') throw new Error('csv: the worker answered a table')
  const now = Date.now(), id = newWorkbookId(), token = newToken()
  const link: LinkRecord = { id: newLinkId(), workbookId: id, role: 'owner', name: ownerName(q.name, q.lang), createdAt: now, revokedAt: null }
  const title = (q.title || file || (en ? 'Imported workbook' : '导入的工作簿')).slice(0, 200)
  const record = await ctx.store.createWorkbook({ id, title, template: 'import', createdAt: now, updatedAt: now }, out.state, { link, tokenHash: hashToken(token) })
  ctx.log.info('csv import', { workbook: id, bytes: out.report.bytes, rows: out.report.rows, ms: out.report.ms, workerHeapMb: out.report.workerHeapMb })
  sendJson(res, 201, { ...workbookJson(record), url: linkUrl(id, token), token, you: youJson(link), report: out.report }, { Location: `/api/workbooks/${id}` })
}

const principal = (l: LinkRecord): Principal & { linkId: string } => ({ role: l.role, name: l.name, linkId: l.id })

const sameVector = (a: Uint8Array, b: Uint8Array) => {
  const x = Y.decodeStateVector(a), y = Y.decodeStateVector(b)
  if (x.size !== y.size) return false
  for (const [k, v] of x) if (y.get(k) !== v) return false
  return true
}

export const csvRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/sheets\/import$/,
    methods: {
      POST: async (req, res, url, ctx, id) => {
        const me = await authorize(req, url, ctx, id, WRITERS)
        const q = readQuery(url, csvSheetQuery)
        const options = toCsvOptions(q)
        const who = principal(me)
        // planned and checked in the worker on the workbook's state as it is now
        const state = await currentState(ctx, id)
        const read = await readCsv(req, { kind: 'sheet', options, limits: SHEET_CSV_LIMITS, state, mode: q.mode, sheet: q.sheet, filename: q.filename, who })
        if (read.kind !== 'sheet') throw new Error('csv: the worker answered something else')
        const { table, guesses, report } = read
        const origin = new ActingOrigin(who, 'edit', 'csv-import')
        const result = await orGone(() => ctx.rooms.withDoc(id, doc => {
          // nothing changed meanwhile: the worker's checked change goes in as it is
          if (sameVector(Y.encodeStateVector(doc), read.vector)) {
            Y.applyUpdate(doc, read.update, origin)
            return { written: read.written, matches: read.matches }
          }
          // someone edited meanwhile (a lock, a protection, rows): planned and checked again, on this thread, against the doc as it is
          let plan
          try { plan = planSheetImport(doc, table, guesses, { mode: q.mode, sheet: q.sheet, filename: q.filename, formulas: options.formulas }) } catch (e) {
            if (e instanceof CsvPlanError) throw new HttpError(e.status, e.message)
            throw e
          }
          const mirror = new Y.Doc()
          try {
            Y.applyUpdate(mirror, Y.encodeStateAsUpdate(doc))
            let refusal: { code: string } | null = null
            mirror.transact(tr => { plan.write(mirror, null); refusal = checkChange(doc, mirror, tr, who) })
            if (refusal) throw new HttpError(403, `the import was refused: ${(refusal as { code: string }).code}`)
          } finally {
            mirror.destroy()
          }
          return { written: plan.write(doc, origin), matches: plan.matches }
        }))
        report.coerced = result.written.coerced
        sendJson(res, 200, {
          sheetId: result.written.sheetId, mode: q.mode, rows: result.written.rows, cells: result.written.cells,
          columns: result.matches.map(m => ({ title: m.title, matched: m.colId !== null })), report,
        })
      },
    },
  },
]
