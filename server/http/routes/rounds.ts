/**
 * Fill-in rounds (收集表) through the API. The owner makes a round (a sheet's columns, who fills, a due
 * time, a repetition) and reads its status board; each person fills their rows through the form page
 * with the form link the round made for them (`/f/<workbook>/<round>?token=…`). The form token opens the
 * form endpoints of its round and nothing else (not the socket, not the workbook's API). A submission is
 * applied as the person (ActingOrigin, role editor under their name): only their rows and the round's
 * columns (else 403 naming the cell), and the workbook's access rules hold (a protected cell: 409 with the
 * refusal's code and the cell's A1); values are checked like the grid's input (400 with a message per
 * field). Nothing of a refused submission is applied.
 */
import { z } from 'zod'
import type { IncomingMessage } from 'node:http'
import { randomBytes } from 'node:crypto'
import type * as Y from 'yjs'
import { getTitle, sheetName } from '../../../src/core/workbook/schema'
import { workbookTimeZone } from '../../../src/core/workbook/zone'
import { parseDue, periodAt, REPEATS } from '../../../src/core/rounds/periods'
import { cleanPersonName, type Principal } from '../../../src/core/access/access'
import { editCells } from '../../../src/core/workbook/mutations'
import { ActingOrigin } from '../../collab/rooms'
import type { ConnectionIdentity } from '../../collab/connection'
import { hashToken, newToken, remoteAddress, tokenOf, authorize } from '../../auth'
import type { RoundPerson, RoundRecord } from '../../store/rounds'
import {
  assignRows, checkSubmission, detectPersonColumn, findColumn, findSheet, formOf, MAX_ROUND_COLUMNS, MAX_ROUND_PEOPLE, namesIn, planSubmission,
  SubmissionInvalid, SubmissionRefused,
} from '../../rounds/plan'
import { timingOf, type RoundService } from '../../rounds/service'
import { OWNERS, orGone, type ApiContext, type Route } from '../context'
import { body } from '../fields'
import { HttpError, readBody, sendJson, sendNoContent } from '../util'

const ID = /^[\w-]{1,64}$/
const colRef = z.string({ error: 'must be a column id, template key or title' }).min(1).max(200)
const newRound = body({
  sheet: z.string({ error: 'is required: a sheet id or name' }).min(1, { error: 'is required: a sheet id or name' }).max(200),
  columns: z.array(colRef, { error: 'is required: a list of column ids, template keys or titles' }).min(1, { error: 'must name at least one column' }).max(MAX_ROUND_COLUMNS),
  people: z.union([
    z.array(z.string({ error: 'must be names' }).max(200), { error: 'must be a list of names or {personColumn}' }).min(1, { error: 'must name at least one person' }).max(MAX_ROUND_PEOPLE),
    z.object({ personColumn: colRef }, { error: 'must be a list of names or {personColumn}' }),
  ], { error: 'is required: a list of names or {personColumn}' }),
  personColumn: colRef.optional(),
  due: z.string({ error: 'is required: an ISO date-time such as 2026-03-06T18:00' }).max(40),
  repeat: z.enum(REPEATS, { error: `must be one of ${REPEATS.join(', ')}` }),
})
const submission = body({
  rows: z.record(z.string().regex(ID, { error: 'must be a row id' }), z.record(z.string().regex(ID, { error: 'must be a column id' }), z.unknown()), { error: 'is required: {rowId: {colId: value}}' }),
})
const linkBody = body({ name: z.string({ error: 'is required' }).max(200) })

const service = (ctx: ApiContext): RoundService => {
  if (!ctx.rounds) throw new HttpError(503, 'fill-in rounds are not running on this server')
  return ctx.rounds
}

export const formUrl = (workbookId: string, roundId: string, token: string) =>
  `/f/${encodeURIComponent(workbookId)}/${encodeURIComponent(roundId)}?token=${encodeURIComponent(token)}`

const newPerson = (roundId: string, name: string, position: number, rowId: string | null): RoundPerson => {
  const token = newToken()
  return { roundId, name, position, token, tokenHash: hashToken(token), rowId }
}

async function roundOf(ctx: ApiContext, id: string, rid: string): Promise<RoundRecord> {
  const r = ID.test(rid) ? await ctx.store.rounds.getRound(id, rid) : null
  if (!r) throw new HttpError(404, 'no such round')
  return r
}

/** The person a form token stands for, in round `rid` of workbook `id` (401/403, failures counted like links'). */
async function formPerson(req: IncomingMessage, url: URL, ctx: ApiContext, id: string, rid: string): Promise<{ round: RoundRecord; person: RoundPerson }> {
  const addr = remoteAddress(req)
  const fail = (status: number, message: string): never => {
    if (ctx.failures.exhausted(addr)) throw new HttpError(429, 'too many failed attempts; try again in a minute', { 'Retry-After': '60' })
    ctx.failures.fail(addr)
    throw new HttpError(status, message)
  }
  const token = tokenOf(req, url)
  if (!token) return fail(401, 'a form link token is required')
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(token)) return fail(401, 'invalid form link')
  const person = await ctx.store.rounds.personByToken(hashToken(token))
  if (!person) return fail(401, 'invalid form link (the round was deleted, or the link mistyped)')
  if (person.workbookId !== id || person.roundId !== rid) return fail(403, 'this form link is for another round')
  const round = await ctx.store.rounds.getRound(id, rid)
  if (!round) return fail(401, 'invalid form link')
  return { round, person }
}

/** Who a submission is made as: the person's name, an editor's role; never a share link. */
const actingAs = (r: RoundRecord, p: RoundPerson): ConnectionIdentity => ({ role: 'editor', name: p.name, linkId: `round:${r.id}` })

async function boardOf(ctx: ApiContext, r: RoundRecord, doc?: Y.Doc) {
  const name = doc ? sheetName(doc, r.sheetId) : await orGone(() => ctx.rooms.withDoc(r.workbookId, d => sheetName(d, r.sheetId)))
  const people = await ctx.store.rounds.people(r.id)
  const status = await service(ctx).status(r, people, name)
  return { ...status, links: people.map(p => ({ name: p.name, url: formUrl(r.workbookId, r.id, p.token) })) }
}

export const roundRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/rounds$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, OWNERS)
        const out = []
        for (const r of await ctx.store.rounds.listRounds(id)) out.push(await boardOf(ctx, r))
        sendJson(res, 200, out, { 'Cache-Control': 'no-store' })
      },
      POST: async (req, res, url, ctx, id) => {
        const me = await authorize(req, url, ctx, id, OWNERS)
        const given = await readBody(req, ctx.maxBodyBytes, newRound)
        const rounds = service(ctx)
        const rid = randomBytes(9).toString('base64url')
        const now = rounds.now()
        const owner: Principal & { linkId: string } = { role: me.role, name: me.name, linkId: me.id }
        const made = await orGone(() => ctx.rooms.withDoc(id, doc => {
          const sheetId = findSheet(doc, given.sheet)
          const columns = [...new Set(given.columns.map((c, i) => findColumn(doc, sheetId, c, `columns[${i}]`)))]
          const pcGiven = !Array.isArray(given.people) ? given.people.personColumn : given.personColumn
          const personCol = pcGiven ? findColumn(doc, sheetId, pcGiven, Array.isArray(given.people) ? 'personColumn' : 'people.personColumn') : detectPersonColumn(doc, sheetId)
          const names = Array.isArray(given.people) ? [...new Set(given.people.map(cleanPersonName).filter(Boolean))] : namesIn(doc, sheetId, personCol!)
          if (!names.length) throw new HttpError(400, Array.isArray(given.people) ? 'people: no name given' : 'people.personColumn: the column names nobody yet')
          if (names.length > MAX_ROUND_PEOPLE) throw new HttpError(400, `people: at most ${MAX_ROUND_PEOPLE} people`)
          const zone = workbookTimeZone(doc)
          const firstDue = parseDue(given.due, zone)
          if (firstDue === null) throw new HttpError(400, `due: must be an ISO date-time such as 2026-03-06T18:00 (in the workbook's time zone, ${zone}, unless it has an offset)`)
          if (firstDue <= now) throw new HttpError(400, 'due: must be in the future')
          const shape = { sheetId, columns, personCol }
          const assigned = assignRows(doc, shape, names, new ActingOrigin(owner, 'edit', 'round'))
          const round: RoundRecord = { id: rid, workbookId: id, sheetId, columns, personCol, repeat: given.repeat, firstDue, zone, createdAt: now, createdBy: me.name }
          return { round, people: names.map((n, i) => newPerson(rid, n, i, assigned.get(n) ?? null)), sheet: sheetName(doc, sheetId) }
        }))
        await ctx.store.rounds.createRound(made.round, made.people)
        const board = await boardOf(ctx, made.round)
        sendJson(res, 201, { ...board, id: rid, links: made.people.map(p => ({ name: p.name, url: formUrl(id, rid, p.token) })) }, { Location: `/api/workbooks/${id}/rounds/${rid}` })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/rounds\/([\w-]{1,64})$/,
    methods: {
      GET: async (req, res, url, ctx, id, rid) => {
        await authorize(req, url, ctx, id, OWNERS)
        sendJson(res, 200, await boardOf(ctx, await roundOf(ctx, id, rid)), { 'Cache-Control': 'no-store' })
      },
      DELETE: async (req, res, url, ctx, id, rid) => {
        await authorize(req, url, ctx, id, OWNERS)
        if (!await ctx.store.rounds.deleteRound(id, rid)) throw new HttpError(404, 'no such round')
        sendNoContent(res)
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/rounds\/([\w-]{1,64})\/remind$/,
    methods: {
      POST: async (req, res, url, ctx, id, rid) => {
        const me = await authorize(req, url, ctx, id, OWNERS)
        const r = await roundOf(ctx, id, rid)
        const board = await boardOf(ctx, r)
        const missing = board.status.filter(s => !s.submitted).map(s => s.name)
        const title = await orGone(() => ctx.rooms.withDoc(id, d => getTitle(d)))
        const targets = await service(ctx).remind(r, title, board.sheetName, missing, me.name)
        // no target: the owner sends the links themselves
        sendJson(res, 200, { targets, people: missing, links: targets ? [] : board.links.filter(l => missing.includes(l.name)) })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/rounds\/([\w-]{1,64})\/links$/,
    methods: {
      // a new form link for one person; the one before stops working
      POST: async (req, res, url, ctx, id, rid) => {
        await authorize(req, url, ctx, id, OWNERS)
        const r = await roundOf(ctx, id, rid)
        const { name } = await readBody(req, ctx.maxBodyBytes, linkBody)
        const people = await ctx.store.rounds.people(r.id)
        const p = people.find(x => x.name === cleanPersonName(name))
        if (!p) throw new HttpError(404, `nobody called ${JSON.stringify(name.slice(0, 60))} fills this round`)
        const fresh = newPerson(r.id, p.name, p.position, p.rowId)
        await ctx.store.rounds.replacePerson(fresh)
        sendJson(res, 200, { name: p.name, url: formUrl(id, rid, fresh.token) })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/rounds\/([\w-]{1,64})\/form$/,
    methods: {
      GET: async (req, res, url, ctx, id, rid) => {
        const { round, person } = await formPerson(req, url, ctx, id, rid)
        const st = await service(ctx).status(round, [person])
        const me = st.status[0]!
        const form = await orGone(() => ctx.rooms.withDoc(id, doc => ({
          title: getTitle(doc), sheetName: sheetName(doc, round.sheetId), ...formOf(doc, round, person, actingAs(round, person)),
        })))
        sendJson(res, 200, {
          workbook: { id, title: form.title }, round: { id: rid, sheetName: form.sheetName, repeat: round.repeat }, person: person.name,
          period: st.period, label: st.label, due: st.due, dueText: st.dueText, zone: round.zone, state: me.state, submitted: me.submitted, ...(me.at ? { at: me.at } : {}),
          columns: form.columns, rows: form.rows,
        }, { 'Cache-Control': 'no-store' })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/rounds\/([\w-]{1,64})\/submit$/,
    methods: {
      POST: async (req, res, url, ctx, id, rid) => {
        const { round, person } = await formPerson(req, url, ctx, id, rid)
        const given = await readBody(req, ctx.maxBodyBytes, submission)
        const rounds = service(ctx)
        const who = actingAs(round, person)
        let changed = 0
        try {
          changed = await orGone(() => ctx.rooms.withDoc(id, doc => {
            const writes = planSubmission(doc, round, person, given.rows)
            if (!writes.length) return 0
            checkSubmission(doc, round.sheetId, writes, who)
            editCells(doc, round.sheetId, writes, new ActingOrigin(who, 'edit', `round:${round.id}`))
            return writes.length
          }))
        } catch (e) {
          if (e instanceof SubmissionInvalid) { sendJson(res, 400, { error: e.message, fields: e.fields.map(({ problem, ...f }) => ({ ...f, ...paramsOf(problem) })) }); return }
          if (e instanceof SubmissionRefused) { sendJson(res, 409, { error: e.message, code: e.code, cell: e.cell }); return }
          throw e
        }
        const at = rounds.now()
        const period = periodAt(timingOf(round), at)
        await ctx.store.rounds.submit({ roundId: round.id, period, name: person.name, at })
        sendJson(res, 200, { submitted: true, at, period, changed })
      },
    },
  },
]

const paramsOf = (p: SubmissionInvalid['fields'][number]['problem']): Record<string, unknown> => {
  const { code: _, ...rest } = p as { code: string } & Record<string, unknown>
  return rest
}

