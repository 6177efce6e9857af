/**
 * Sign-in routes (issue 23): /auth/login, /auth/callback, /auth/logout (pages, outside /api), and the
 * API's /api/auth/config, /api/me, /api/me/sessions, /api/me/workbooks and a link's person binding.
 * With OIDC unset: /auth/* is 404, /api/auth/config says `{enabled: false}`, /api/me is 401.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { z } from 'zod'
import { authorize } from '../auth'
import { OWNERS, workbookJson, type ApiContext, type Route } from '../http/context'
import { body } from '../http/fields'
import { HttpError, readBody, sendError, sendJson } from '../http/util'
import { safeReturn, type OidcService, type SignedIn } from './service'
import { accountJson, endEverySession } from './members'

const NO_REFERRER = { 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-store' }

/** /auth/login, /auth/callback, /auth/logout. Never throws. */
export async function handleAuth(req: IncomingMessage, res: ServerResponse, url: URL, oidc: OidcService | undefined): Promise<void> {
  try {
    if (!oidc) throw new HttpError(404, 'sign-in is not configured on this server')
    const route = `${req.method} ${url.pathname.replace(/\/+$/, '')}`
    if (route === 'GET /auth/login') {
      const { location, cookie } = await oidc.begin(req, safeReturn(url.searchParams.get('return')))
      res.writeHead(302, { Location: location, 'Set-Cookie': cookie, ...NO_REFERRER })
      res.end()
    } else if (route === 'GET /auth/callback') {
      const { account, returnTo } = await oidc.finish(req, url)
      const cookies = await oidc.startSession(req, account.id)
      // the code and state leave the address bar at once; no-referrer keeps them out of the next request
      res.writeHead(302, { Location: returnTo, 'Set-Cookie': cookies, ...NO_REFERRER })
      res.end()
    } else if (route === 'POST /auth/logout') {
      res.writeHead(204, { 'Set-Cookie': await oidc.endSession(req), ...NO_REFERRER })
      res.end()
    } else {
      throw new HttpError(url.pathname === '/auth/logout' || url.pathname === '/auth/login' || url.pathname === '/auth/callback' ? 405 : 404, 'no such sign-in endpoint')
    }
  } catch (e) {
    if (e instanceof HttpError) sendError(res, e.status, e.message, { ...e.headers, ...NO_REFERRER })
    else sendError(res, 500, 'sign-in failed', NO_REFERRER)
  }
}


async function me(req: IncomingMessage, ctx: ApiContext): Promise<SignedIn> {
  const who = ctx.oidc && await ctx.oidc.signedIn(req)
  if (!who) throw new HttpError(401, 'not signed in')
  return who
}

const binding = body({ email: z.string({ error: 'must be a string' }).max(320).nullable() })

export const accountRoutes: Route[] = [
  {
    pattern: /^\/api\/auth\/config$/,
    methods: {
      GET: async (_req, res, _url, ctx) => sendJson(res, 200, { enabled: !!ctx.oidc, loginUrl: ctx.oidc ? '/auth/login' : null }),
    },
  },
  {
    pattern: /^\/api\/me$/,
    methods: {
      GET: async (req, res, _url, ctx) => {
        const who = ctx.oidc && await ctx.oidc.signedIn(req)
        if (!who) return sendJson(res, 401, { signedIn: false, error: 'not signed in' })
        const rotated = await ctx.oidc!.rotate(who)
        sendJson(res, 200, { signedIn: true, ...accountJson(who.account), admin: who.admin }, rotated ? { 'Set-Cookie': rotated } : {})
      },
    },
  },
  {
    // sign out everywhere: every session of the person, this one included
    pattern: /^\/api\/me\/sessions$/,
    methods: {
      DELETE: async (req, res, _url, ctx) => {
        const who = await me(req, ctx)
        const ended = await endEverySession(ctx, who.account.id)
        sendJson(res, 200, { ended }, { 'Set-Cookie': await ctx.oidc!.endSession(req) })
      },
    },
  },
  {
    // "my workbooks": the person's memberships, in any browser
    pattern: /^\/api\/me\/workbooks$/,
    methods: {
      GET: async (req, res, _url, ctx) => {
        const who = await me(req, ctx)
        const out = []
        for (const m of await ctx.store.accounts.membershipsOf(who.account.id)) {
          const w = await ctx.store.getWorkbook(m.workbookId)
          if (w) out.push({ ...workbookJson(w), role: m.role })
        }
        sendJson(res, 200, out)
      },
    },
  },
  {
    // who the workbook's links are bound to, and its members; owners only
    pattern: /^\/api\/workbooks\/([^/]+)\/accounts$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, OWNERS)
        const links: Record<string, ReturnType<typeof accountJson>> = {}
        for (const [linkId, accountId] of await ctx.store.accounts.linkBindings(id)) {
          const a = await ctx.store.accounts.getAccount(accountId)
          if (a) links[linkId] = accountJson(a)
        }
        const members = []
        for (const m of await ctx.store.accounts.members(id)) {
          const a = await ctx.store.accounts.getAccount(m.accountId)
          if (a) members.push({ ...accountJson(a), role: m.role, addedAt: m.addedAt })
        }
        sendJson(res, 200, { links, members })
      },
    },
  },
  {
    // binds a link to a person who signed in before ({email}), or unbinds it ({email: null}); owners only
    pattern: /^\/api\/workbooks\/([^/]+)\/links\/([^/]+)\/person$/,
    methods: {
      PUT: async (req, res, url, ctx, id, linkId) => {
        await authorize(req, url, ctx, id, OWNERS)
        if (!ctx.oidc) throw new HttpError(409, 'sign-in is not configured on this server')
        const given = await readBody(req, ctx.maxBodyBytes, binding)
        const link = (await ctx.store.listLinks(id)).find(l => l.id === linkId)
        if (!link) throw new HttpError(404, 'link not found')
        if (given.email === null) {
          await ctx.store.accounts.bindLink(linkId, id, null)
          return sendJson(res, 200, { linkId, person: null })
        }
        const [account] = await ctx.store.accounts.findAccountsByEmail(given.email.trim())
        if (!account) throw new HttpError(404, 'nobody with this email has signed in yet')
        await ctx.store.accounts.bindLink(linkId, id, account.id)
        // sockets that use the link without that person's session close (they reconnect if they may)
        ctx.rooms.closeLink(id, linkId, 1012, 'link bound to a person')
        sendJson(res, 200, { linkId, person: accountJson(account) })
      },
    },
  },
]

