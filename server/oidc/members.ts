/**
 * Workbook members (issue 23): people with accounts and a role, beside the links. An owner (by link or
 * as an owner member) adds someone who has signed in before by email; a member reaches the workbook
 * signed in, without any link. And the admin routes (ADMIN_EMAILS): every workbook, revoking a
 * person's sessions and a workbook's links, handing a leaver's workbooks to someone else.
 */
import type { IncomingMessage } from 'node:http'
import { z } from 'zod'
import { authorize } from '../auth'
import { CLOSE } from '../collab/close'
import { OWNERS, workbookJson, type ApiContext, type Route } from '../http/context'
import { body, role } from '../http/fields'
import { HttpError, readBody, sendJson } from '../http/util'
import type { LinkRecord } from '../store/types'
import type { OidcService } from './service'
import type { AccountRecord } from '../store/accounts'

/** The id a member's access carries where a link id is expected (audit, sockets): never a real link's. */
/** An account as the API gives it. */
export const accountJson = (a: AccountRecord) => ({ id: a.id, name: a.name, email: a.email, avatar: a.avatar })

export const memberLinkId = (accountId: string) => `m-${accountId}`
export const isMemberLinkId = (linkId: string) => linkId.startsWith('m-')

/** Every session of the account ends, and the sockets it has open as a member close (4403). */
export async function endEverySession(ctx: ApiContext, accountId: string): Promise<number> {
  const ended = await ctx.store.accounts.deleteSessionsOf(accountId)
  for (const m of await ctx.store.accounts.membershipsOf(accountId)) ctx.rooms.closeLink(m.workbookId, memberLinkId(accountId), CLOSE.revoked, 'signed out')
  return ended
}

/** The signed-in person's membership of the workbook, in the shape of a link; null when none. */
export async function memberLink(oidc: OidcService, ctx: Pick<ApiContext, 'store'>, req: IncomingMessage, workbookId: string): Promise<LinkRecord | null> {
  const who = await oidc.signedIn(req)
  if (!who) return null
  const m = (await ctx.store.accounts.members(workbookId)).find(x => x.accountId === who.account.id)
  return m ? { id: memberLinkId(who.account.id), workbookId, role: m.role, name: who.account.name, createdAt: m.addedAt, revokedAt: null } : null
}

const email = z.string({ error: 'must be a string' }).min(3).max(320)
const newMember = body({ email, role })
const transfer = body({ from: email, to: email })

async function accountByEmail(ctx: ApiContext, e: string) {
  const [account] = await ctx.store.accounts.findAccountsByEmail(e.trim())
  if (!account) throw new HttpError(404, `nobody with the email ${e.trim().toLowerCase()} has signed in yet`)
  return account
}

async function admin(req: IncomingMessage, ctx: ApiContext) {
  const who = ctx.oidc && await ctx.oidc.signedIn(req)
  if (!who) throw new HttpError(401, 'not signed in')
  if (!who.admin) throw new HttpError(403, 'this needs an admin (ADMIN_EMAILS)')
  return who
}

export const memberRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/members$/,
    methods: {
      POST: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, OWNERS)
        if (!ctx.oidc) throw new HttpError(409, 'sign-in is not configured on this server')
        const given = await readBody(req, ctx.maxBodyBytes, newMember)
        const account = await accountByEmail(ctx, given.email)
        await ctx.store.accounts.setMember(id, account.id, given.role, Date.now())
        sendJson(res, 201, { ...accountJson(account), role: given.role })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/members\/([^/]+)$/,
    methods: {
      DELETE: async (req, res, url, ctx, id, accountId) => {
        await authorize(req, url, ctx, id, OWNERS)
        const members = await ctx.store.accounts.members(id)
        if (!members.some(m => m.accountId === accountId)) throw new HttpError(404, 'no such member')
        await ctx.store.accounts.removeMember(id, accountId)
        ctx.rooms.closeLink(id, memberLinkId(accountId), CLOSE.revoked, 'membership removed')
        sendJson(res, 200, { removed: accountId })
      },
    },
  },
  {
    pattern: /^\/api\/admin\/workbooks$/,
    methods: {
      GET: async (req, res, _url, ctx) => {
        await admin(req, ctx)
        sendJson(res, 200, (await ctx.store.listWorkbooks()).map(workbookJson))
      },
    },
  },
  {
    // an admin ends every session of a person (by email)
    pattern: /^\/api\/admin\/sessions$/,
    methods: {
      DELETE: async (req, res, url, ctx) => {
        await admin(req, ctx)
        const e = url.searchParams.get('email') ?? ''
        let ended = 0
        for (const a of await ctx.store.accounts.findAccountsByEmail(e)) ended += await endEverySession(ctx, a.id)
        sendJson(res, 200, { ended })
      },
    },
  },
  {
    // an admin revokes any workbook's link
    pattern: /^\/api\/admin\/workbooks\/([^/]+)\/links\/([^/]+)$/,
    methods: {
      DELETE: async (req, res, _url, ctx, id, linkId) => {
        await admin(req, ctx)
        const revoked = await ctx.store.revokeLink(id, linkId, Date.now())
        if (!revoked) throw new HttpError(404, 'link not found')
        ctx.rooms.closeLink(id, linkId, CLOSE.revoked, 'link revoked')
        sendJson(res, 200, { id: revoked.id, revokedAt: revoked.revokedAt })
      },
    },
  },
  {
    // a leaver's workbooks: each membership of `from` goes to `to` (the higher role kept), `from` leaves them
    pattern: /^\/api\/admin\/transfer$/,
    methods: {
      POST: async (req, res, _url, ctx) => {
        await admin(req, ctx)
        const given = await readBody(req, ctx.maxBodyBytes, transfer)
        const from = await accountByEmail(ctx, given.from), to = await accountByEmail(ctx, given.to)
        if (from.id === to.id) throw new HttpError(400, 'from and to are the same person')
        const ORDER = ['viewer', 'commenter', 'editor', 'owner']
        const theirs = new Map((await ctx.store.accounts.membershipsOf(to.id)).map(m => [m.workbookId, m.role]))
        const moved: string[] = []
        for (const m of await ctx.store.accounts.membershipsOf(from.id)) {
          const keep = theirs.get(m.workbookId)
          const r = keep && ORDER.indexOf(keep) > ORDER.indexOf(m.role) ? keep : m.role
          await ctx.store.accounts.setMember(m.workbookId, to.id, r, Date.now())
          await ctx.store.accounts.removeMember(m.workbookId, from.id)
          ctx.rooms.closeLink(m.workbookId, memberLinkId(from.id), CLOSE.revoked, 'membership transferred')
          moved.push(m.workbookId)
        }
        sendJson(res, 200, { moved })
      },
    },
  },
]
