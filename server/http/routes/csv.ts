/**
 * CSV/TSV import. A new workbook: POST /api/workbooks/import with Content-Type text/csv (or
 * text/tab-separated-values), built in the worker (server/import/csv.ts). Into an open workbook:
 * POST /api/workbooks/:id/sheets/import?mode=new-sheet|append|replace (owner or editor): the worker
 * reads the table, the server writes it as the person — tried on a copy of the doc against the access
 * rules first (a protected column or a locked sheet refuses the whole import), then applied with their
 * origin, so it is stored, relayed, audited and undoable-by-version like their typing.
 */
import * as Y from 'yjs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { checkChange, type Principal } from '../../../src/core/access/access'
import { freeSheetName, matchColumns, writeIntoSheet, writeNewSheet, type ColumnMatch, type WriteResult } from '../../../src/core/csv/build'
import { sheetIds, sheetName } from '../../../src/core/workbook/schema'
import { ActingOrigin } from '../../collab/rooms'
import type { LinkRecord } from '../../store/types'
import { authorize, hashToken, newLinkId, newToken, requireCreateSecret } from '../../auth'
import { readCsv } from '../../import/csv'
import { DEFAULT_CSV_LIMITS, SHEET_CSV_LIMITS, csvSheetQuery, csvWorkbookQuery, toCsvOptions } from '../../import/csv-model'
import { WRITERS, linkUrl, newWorkbookId, orGone, workbookJson, youJson, type ApiContext, type Route } from '../context'
import { ownerName } from '../fields'
import { HttpError, readQuery, sendJson } from '../util'

/** the file's name without its extension and folders */
const baseName = (f: string | undefined) => (f ?? '').replace(/^.*[\\/]/, '').replace(/\.(csv|tsv|txt)$/i, '').trim()


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

/** A sheet by id, exact name or index from 0. */
function findSheet(doc: Y.Doc, given: string | undefined): string {
  const ids = sheetIds(doc)
  if (given === undefined || given === '') throw new HttpError(400, 'sheet is required for append and replace')
  const hit = ids.find(id => id === given) ?? ids.find(id => sheetName(doc, id) === given) ?? (/^\d+$/.test(given) ? ids[Number(given)] : undefined)
  if (!hit) throw new HttpError(404, 'no such sheet')
  return hit
}

export const csvRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/sheets\/import$/,
    methods: {
      POST: async (req, res, url, ctx, id) => {
        const me = await authorize(req, url, ctx, id, WRITERS)
        const q = readQuery(url, csvSheetQuery)
        const options = toCsvOptions(q)
        const read = await readCsv(req, { kind: 'table', options, limits: SHEET_CSV_LIMITS })
        if (read.kind !== 'table') throw new Error('csv: the worker answered a workbook')
        const { table, guesses, report } = read
        const who = principal(me)
        const result = await orGone(() => ctx.rooms.withDoc(id, doc => {
          let matches: ColumnMatch[] = []
          let write: (d: Y.Doc, origin: unknown) => WriteResult
          if (q.mode === 'new-sheet') {
            const name = freeSheetName(doc, baseName(q.filename), `Sheet${sheetIds(doc).length + 1}`)
            write = (d, origin) => writeNewSheet(d, table, guesses, { name, formulas: options.formulas }, origin)
          } else {
            const sheetId = findSheet(doc, q.sheet)
            matches = matchColumns(doc, sheetId, table)
            if (!matches.some(m => m.colId)) throw new HttpError(422, 'no column of the file has the title of a column of the sheet')
            write = (d, origin) => writeIntoSheet(d, sheetId, table, q.mode as 'append' | 'replace', matches, { formulas: options.formulas, guesses }, origin)
          }
          // the rules of every change, on a copy first: nothing the person may not do is applied
          const mirror = new Y.Doc()
          try {
            Y.applyUpdate(mirror, Y.encodeStateAsUpdate(doc))
            let refusal: { code: string } | null = null
            mirror.transact(tr => { write(mirror, null); refusal = checkChange(doc, mirror, tr, who) })
            if (refusal) throw new HttpError(403, `the import was refused: ${(refusal as { code: string }).code}`)
          } finally {
            mirror.destroy()
          }
          const written = write(doc, new ActingOrigin(who, 'edit', 'csv-import'))
          return { written, matches }
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
