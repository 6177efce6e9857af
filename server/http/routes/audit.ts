/**
 * The audit trail: entries filtered by sheet, cell, person and time (JSON, CSV or XLSX), and the check
 * of its hash chain. Read like the history (view-only links unless the owner turned that off).
 */
import type { ServerResponse } from 'node:http'
import ExcelJS from 'exceljs'
import { z } from 'zod'
import { WorkbookLayout } from '../../../src/core/workbook/layout'
import { isFormula } from '../../../src/core/workbook/schema'
import { decodeFormula, parseA1 } from '../../../src/core/formulas/references'
import { verifyChain, type AuditEntry, type AuditFilter } from '../../store/history'
import { attachment, orGone, type Route } from '../context'
import { HttpError, readQuery, sendJson } from '../util'
import { historyReader } from './history'

/** entries are numbered in a 32-bit column (PostgreSQL's integer) */
const MAX_ENTRY = 2_147_483_647

const auditQuery = z.object({
  sheet: z.string().regex(/^[\w-]{1,64}$/, { error: 'must be a sheet id' }).optional(),
  /** an A1 address on `sheet`, or rowId:colId */
  cell: z.string().regex(/^([A-Za-z]{1,3}[1-9][0-9]{0,6}|[\w-]{1,64}:[\w-]{1,64})$/, { error: 'must be an address such as B3' }).optional(),
  by: z.string().max(200).refine(v => !/[\u0000-\u001f]/.test(v), { error: 'must be a name' }).optional(),
  since: z.coerce.number({ error: 'must be epoch milliseconds' }).int().nonnegative().optional(),
  after: z.coerce.number({ error: 'must be an entry number' }).int().nonnegative().max(MAX_ENTRY, { error: 'must be an entry number' }).optional(),
  before: z.coerce.number({ error: 'must be an entry number' }).int().positive().max(MAX_ENTRY, { error: 'must be an entry number' }).optional(),
  /** asc (default): oldest first; desc: newest first */
  order: z.enum(['asc', 'desc'], { error: 'must be asc or desc' }).default('asc'),
  limit: z.coerce.number({ error: 'must be a number' }).int().min(1).max(10_000).optional(),
  format: z.enum(['json', 'csv', 'xlsx'], { error: 'must be json, csv or xlsx' }).default('json'),
}).refine(q => !q.cell || q.sheet || q.cell.includes(':'), { error: 'an A1 cell needs its sheet' })

type Shown = AuditEntry & { beforeText: string; afterText: string }

const text = (v: unknown, layout: WorkbookLayout, sheetId: string | null): string => {
  if (v === null || v === undefined) return ''
  if (isFormula(v)) {
    if (!sheetId || !layout.sheet(sheetId)) return v.v
    try { return decodeFormula(v.v, { layout, sheetId }) } catch { return v.v }
  }
  if (typeof v === 'object' && 't' in (v as object) && 'v' in (v as object)) return String((v as { v: unknown }).v)
  return typeof v === 'string' ? v : JSON.stringify(v)
}

const COLUMNS: [keyof Shown, string][] = [
  ['n', '#'], ['at', 'time'], ['by', 'by'], ['role', 'role'], ['action', 'action'], ['sheet', 'sheet'], ['cell', 'cell'],
  ['beforeText', 'before'], ['afterText', 'after'], ['detail', 'detail'], ['hash', 'hash'],
]

function csvOf(rows: Shown[]): string {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v)
    // a leading = + - @ would be a formula in a spreadsheet (CSV injection)
    const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
  }
  const lines = [COLUMNS.map(c => c[1]).join(',')]
  for (const r of rows) lines.push(COLUMNS.map(([k]) => cell(k === 'at' ? new Date(r.at).toISOString() : r[k])).join(','))
  return '\uFEFF' + lines.join('\r\n') + '\r\n'
}

async function xlsxOf(rows: Shown[]): Promise<Buffer> {
  const wb = new ExcelJS.Workbook()
  const ws = wb.addWorksheet('audit')
  ws.columns = COLUMNS.map(([k, h]) => ({ header: h, key: k, width: k === 'hash' ? 66 : k === 'at' ? 22 : 16 }))
  // text cells only: nothing a person typed becomes a formula in the file
  for (const r of rows) ws.addRow(Object.fromEntries(COLUMNS.map(([k]) => [k, k === 'at' ? new Date(r.at) : k === 'n' ? r.n : String(r[k] ?? '')])))
  return Buffer.from(await wb.xlsx.writeBuffer())
}

function send(res: ServerResponse, type: string, name: string, body: Buffer | string): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': String(buf.byteLength), 'Content-Disposition': attachment(name, type.includes('csv') ? 'csv' : 'xlsx') })
  res.end(buf)
}

export const auditRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/audit$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await historyReader(req, url, ctx, id)
        const q = readQuery(url, auditQuery)
        const whole = async (filter: AuditFilter, cap: number): Promise<AuditEntry[]> => {
          const out: AuditEntry[] = []
          let f: AuditFilter = { ...filter, limit: 10_000 }
          while (out.length < cap) {
            const page = await ctx.store.history.listAudit(id, f)
            out.push(...page.slice(0, cap - out.length))
            if (page.length < 10_000) break
            const last = page[page.length - 1]!.n
            f = filter.order === 'desc' ? { ...f, beforeN: last } : { ...f, afterN: last }
          }
          return out
        }
        const entries = await orGone(() => ctx.rooms.withDoc(id, doc => ({ layout: new WorkbookLayout(doc) }))).then(async ({ layout }) => {
          const filter: AuditFilter = { sheet: q.sheet, by: q.by, since: q.since, afterN: q.after, beforeN: q.before, order: q.order, limit: q.limit }
          if (q.cell) {
            if (q.cell.includes(':')) [filter.rowId, filter.colId] = q.cell.split(':') as [string, string]
            else {
              const p = parseA1(q.cell), l = layout.sheet(q.sheet!)
              const rowId = p && l?.rows.ids[p.row], colId = p && l?.cols.ids[p.col]
              if (!rowId || !colId) throw new HttpError(404, 'no such cell on that sheet')
              filter.rowId = rowId
              filter.colId = colId
            }
          }
          // a file holds the whole trail (as filtered), read a page at a time, up to a cap
          const list = q.format === 'json' ? await ctx.store.history.listAudit(id, filter) : await whole(filter, q.format === 'csv' ? 200_000 : 50_000)
          if (list.length === (q.format === 'csv' ? 200_000 : 50_000)) res.setHeader('X-Audit-Truncated', 'true')
          return list.map((e): Shown => ({ ...e, beforeText: text(e.before, layout, e.sheet), afterText: text(e.after, layout, e.sheet) }))
        })
        if (q.format === 'csv') send(res, 'text/csv; charset=utf-8', 'audit', csvOf(entries))
        else if (q.format === 'xlsx') send(res, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'audit', await xlsxOf(entries))
        else sendJson(res, 200, entries)
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/audit\/verify$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await historyReader(req, url, ctx, id)
        sendJson(res, 200, await verifyChain(ctx.store.history, id))
      },
    },
  },
]
