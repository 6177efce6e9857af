/**
 * The review loop: versions (automatic and named), the diff between two of them (or one and now),
 * restoring a version (or one sheet or cell of it) as a new change, and copying one into a new workbook.
 * Any live link may read history unless the owner turned it off for view-only links; saving, restoring
 * and copying need an owner or editor link.
 */
import * as Y from 'yjs'
import { z } from 'zod'
import { checkChange, type Principal } from '../../../src/core/access/access'
import { WorkbookLayout } from '../../../src/core/workbook/layout'
import { getTitle, metaOf } from '../../../src/core/workbook/schema'
import { setTitle } from '../../../src/core/workbook/mutations'
import { a1, parseA1 } from '../../../src/core/formulas/references'
import { applyRestore, planRestore, planSize, type RestoreScope } from '../../../src/core/history/restore'
import type { WorkbookDiff } from '../../../src/core/history/diff'
import { ActingOrigin, MAX_TITLE_LENGTH } from '../../collab/rooms'
import { newVersionId } from '../../collab/hooks/history'
import type { LinkRecord } from '../../store/types'
import type { VersionRecord } from '../../store/history'
import { authorize, requireSecretHeader } from '../../auth'
import { ALL, WRITERS, currentState, orGone, runExport, sendCreated, storeNew, type ApiContext, type Route } from '../context'
import { body } from '../fields'
import { HttpError, readBody, readQuery, sendJson } from '../util'
import type { IncomingMessage } from 'node:http'

const versionName = z.string({ error: 'must be a string' })
  .overwrite(v => v.replace(/[\u0000-\u001f\u007f]/g, ' ').trim())
  .min(1, { error: 'must not be empty' }).max(100, { error: 'must be at most 100 characters' })
const newVersion = body({ name: versionName })
const restoreBody = body({
  sheetId: z.string().regex(/^[\w-]{1,64}$/, { error: 'must be a sheet id' }).optional(),
  /** an A1 address on `sheetId` */
  cell: z.string().regex(/^[A-Za-z]{1,3}[1-9][0-9]{0,6}$/, { error: 'must be an address such as B3' }).optional(),
}).refine(b => !b.cell || b.sheetId, { error: 'a cell needs its sheetId' })
const diffQuery = z.object({
  from: z.string({ error: 'is required: a version id' }).regex(/^[\w-]{1,64}$/, { error: 'must be a version id' }),
  to: z.string().regex(/^[\w-]{1,64}$/, { error: 'must be a version id or current' }).default('current'),
  values: z.enum(['0', '1'], { error: 'must be 0 or 1' }).default('1'),
})

export const MAX_NAMED_VERSIONS = 1000

export const versionJson = (v: VersionRecord) => ({ id: v.id, name: v.name, at: v.at, by: v.by, auto: v.auto, lock: v.lock, summary: v.summary, size: v.size })

const principal = (l: LinkRecord): Principal & { linkId: string } => ({ role: l.role, name: l.name, linkId: l.id })

/** A link that may read the history: any live one, view-only ones unless the owner turned that off. */
export async function historyReader(req: IncomingMessage, url: URL, ctx: ApiContext, id: string): Promise<LinkRecord> {
  const me = await authorize(req, url, ctx, id, ALL)
  if (!await mayReadHistory(ctx, id, me)) throw new HttpError(403, 'the owner has turned the history off for view-only links')
  return me
}

/** Whether this link may read the workbook's history and audit trail. */
export async function mayReadHistory(ctx: ApiContext, id: string, me: LinkRecord): Promise<boolean> {
  if (me.role !== 'viewer') return true
  return orGone(() => ctx.rooms.withDoc(id, doc => metaOf(doc).get('historyViewers') !== false))
}

/** Records an event of the API in the audit trail. */
export async function auditEvent(ctx: ApiContext, id: string, me: LinkRecord, action: 'version' | 'restore' | 'copy' | 'link-create' | 'link-revoke' | 'export', detail: string | null, after: unknown = null, sheet: string | null = null): Promise<void> {
  await ctx.store.history.appendAudit(id, [{
    at: Date.now(), linkId: me.id, by: me.name, role: me.role, action, sheet, cell: null, rowId: null, colId: null, before: null, after, detail,
  }])
}

export async function versionOf(ctx: ApiContext, id: string, vid: string): Promise<{ v: VersionRecord; state: Uint8Array }> {
  const v = await ctx.store.history.getVersion(id, vid)
  const state = v && await ctx.store.history.loadVersionState(id, vid)
  if (!v || !state) throw new HttpError(404, 'version not found')
  return { v, state }
}

const docOf = (state: Uint8Array): Y.Doc => { const d = new Y.Doc(); Y.applyUpdate(d, state); return d }

/** Who changed each cell between two times, from the audit trail, in order. */
export async function authors(ctx: ApiContext, id: string, since: number, until: number): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  for (let afterN = 0; ;) {
    const page = await ctx.store.history.listAudit(id, { since, afterN, limit: 10_000 })
    for (const e of page) {
      if (e.at > until || (e.action !== 'edit' && e.action !== 'restore') || !e.rowId || !e.colId || !e.sheet) continue
      const key = `${e.sheet}:${e.rowId}:${e.colId}`
      const list = out.get(key) ?? []
      if (!list.includes(e.by)) list.push(e.by)
      out.set(key, list)
    }
    if (page.length < 10_000) return out
    afterN = page[page.length - 1]!.n
  }
}

/**
 * The named versions a workbook's BASELINE() formulas read, [name, state], for an export to compute them:
 * the state is searched for the function and each name as written in a formula (a cheap test that may
 * take a version too many, never one too few); the newest version of a name wins.
 */
export async function baselinesFor(ctx: ApiContext, id: string, state: Uint8Array, me: LinkRecord): Promise<[string, Uint8Array][] | undefined> {
  // a version's values are history: not for a view-only link the owner keeps from it (BASELINE gives #REF!)
  if (!await mayReadHistory(ctx, id, me)) return []
  const bytes = Buffer.from(state.buffer, state.byteOffset, state.byteLength)
  if (bytes.indexOf('BASELINE') < 0 && bytes.indexOf('baseline') < 0) return undefined
  const out: [string, Uint8Array][] = []
  const seen = new Set<string>()
  for (const v of await ctx.store.history.listVersions(id)) {
    if (v.auto || !v.name || seen.has(v.name)) continue
    seen.add(v.name)
    if (bytes.indexOf(`"${v.name.replace(/"/g, '""')}"`) < 0) continue
    const s = await ctx.store.history.loadVersionState(id, v.id)
    if (s) out.push([v.name, s])
  }
  return out
}

export const historyRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/versions$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await historyReader(req, url, ctx, id)
        sendJson(res, 200, (await ctx.store.history.listVersions(id)).map(versionJson))
      },
      POST: async (req, res, url, ctx, id) => {
        const me = await authorize(req, url, ctx, id, WRITERS)
        const { name } = await readBody(req, ctx.maxBodyBytes, newVersion)
        // a name is one version's: BASELINE() and the review pack find versions by it
        const named = (await ctx.store.history.listVersions(id)).filter(v => !v.auto)
        if (named.some(v => v.name === name)) throw new HttpError(409, 'a version of that name exists; choose another name')
        if (named.length >= MAX_NAMED_VERSIONS) throw new HttpError(409, `a workbook keeps at most ${MAX_NAMED_VERSIONS} named versions`)
        const state = await currentState(ctx, id)
        const v: VersionRecord = { id: newVersionId(), workbookId: id, name, at: Date.now(), by: [me.name], auto: false, lock: null, summary: {}, size: state.byteLength }
        await ctx.store.history.saveVersion(v, state)
        await auditEvent(ctx, id, me, 'version', v.id, name)
        sendJson(res, 201, versionJson(v), { Location: `/api/workbooks/${id}/versions/${v.id}` })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/versions\/([^/]+)\/state$/,
    methods: {
      GET: async (req, res, url, ctx, id, vid) => {
        await historyReader(req, url, ctx, id)
        const { state } = await versionOf(ctx, id, vid)
        // never kept by the browser: a link revoked, or history turned off, must stop it being read
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(state.byteLength), 'Cache-Control': 'no-store' })
        res.end(Buffer.from(state.buffer, state.byteOffset, state.byteLength))
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/diff$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await historyReader(req, url, ctx, id)
        const q = readQuery(url, diffQuery)
        const from = await versionOf(ctx, id, q.from)
        const to = q.to === 'current' ? { v: null, state: await currentState(ctx, id) } : await versionOf(ctx, id, q.to)
        const started = performance.now()
        const reply = await runExport(ctx, { kind: 'diff', state: to.state, from: from.state, values: q.values === '1', fromKey: `${id}:${q.from}`, toKey: q.to === 'current' ? undefined : `${id}:${q.to}`, currentKey: q.to === 'current' ? id : undefined })
        const diff: WorkbookDiff & { sheets: (WorkbookDiff['sheets'][number] & { cells: { by?: string[] }[] })[] } = reply.diff
        const lo = Math.min(from.v.at, to.v?.at ?? Date.now()), hi = Math.max(from.v.at, to.v?.at ?? Date.now())
        const who = await authors(ctx, id, lo, hi)
        for (const s of diff.sheets) for (const c of s.cells as (typeof s.cells[number] & { rowId: string; colId: string; by?: string[] })[]) c.by = who.get(`${s.sheetId}:${c.rowId}:${c.colId}`) ?? []
        sendJson(res, 200, { from: q.from, to: q.to, ms: Math.round(performance.now() - started), ...diff })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/versions\/([^/]+)\/restore$/,
    methods: {
      POST: async (req, res, url, ctx, id, vid) => {
        const me = await authorize(req, url, ctx, id, WRITERS)
        const given = await readBody(req, ctx.maxBodyBytes, restoreBody, { optional: true })
        const { v, state } = await versionOf(ctx, id, vid)
        const version = docOf(state)
        try {
          const who = principal(me)
          const result = await orGone(() => ctx.rooms.withDoc(id, doc => {
            const scope: RestoreScope = { sheetId: given.sheetId }
            if (given.cell && given.sheetId) {
              const p = parseA1(given.cell)
              const layout = new WorkbookLayout(doc).sheet(given.sheetId)
              const rowId = p && layout?.rows.ids[p.row], colId = p && layout?.cols.ids[p.col]
              if (!rowId || !colId) throw new HttpError(404, 'no such cell on that sheet')
              scope.rowId = rowId
              scope.colId = colId
            }
            const plan = planRestore(doc, version, who, scope)
            // the same rules as a socket's change: tried on a copy first, so nothing the person may not do is applied
            const mirror = docOf(Y.encodeStateAsUpdate(doc))
            try {
              let refusal = null
              mirror.transact(tr => { applyRestore(mirror, plan, null); refusal = checkChange(doc, mirror, tr, who) })
              if (refusal) throw new HttpError(409, `the restore was refused: ${(refusal as { code: string }).code}`)
            } finally {
              mirror.destroy()
            }
            const layout = new WorkbookLayout(doc)
            const skipped = plan.skipped.map(s => {
              const l = layout.sheet(s.sheetId)
              const r = s.rowId ? l?.rows.indexOf(s.rowId) ?? -1 : -1, c = s.colId ? l?.cols.indexOf(s.colId) ?? -1 : -1
              return { ...s, cell: r >= 0 && c >= 0 ? a1(r, c) : null }
            })
            applyRestore(doc, plan, new ActingOrigin(who, 'restore', vid))
            return { changed: planSize(plan), skipped }
          }))
          await auditEvent(ctx, id, me, 'restore', vid, { changed: result.changed, skipped: result.skipped.length }, given.sheetId ?? null)
          ctx.notify?.restored(id, version, { actor: me.name, label: v.name, versionAt: v.at, sheetId: given.sheetId ?? null, cell: given.cell ?? null })
          sendJson(res, 200, result)
        } finally {
          version.destroy()
        }
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/versions\/([^/]+)\/copy$/,
    methods: {
      POST: async (req, res, url, ctx, id, vid) => {
        const me = await authorize(req, url, ctx, id, WRITERS)
        // a new workbook: with a create secret set, making one takes it (as X-Create-Secret, the link is the bearer)
        requireSecretHeader(req, ctx, ctx.createSecret, 'copying into a new workbook')
        const { v, state } = await versionOf(ctx, id, vid)
        const record = await ctx.store.getWorkbook(id)
        if (!record) throw new HttpError(404, 'workbook not found')
        const doc = docOf(state)
        try {
          const label = v.name ?? new Date(v.at).toISOString().slice(0, 16).replace('T', ' ')
          setTitle(doc, `${getTitle(doc)}（${label}）`.slice(0, MAX_TITLE_LENGTH))
          const created = await storeNew(ctx, doc, record.template, me.name)
          await auditEvent(ctx, id, me, 'copy', vid, { workbook: created.id })
          sendCreated(res, created)
        } finally {
          doc.destroy()
        }
      },
    },
  },
]
