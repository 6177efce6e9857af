/** A workbook's share links: listing, making one (a role and a name), revoking one. Owners only. */
import type { LinkRecord } from '../../store/types'
import { CLOSE } from '../../collab/close'
import { authorize, hashToken, newLinkId, newToken } from '../../auth'
import { OWNERS, linkJson, linkUrl, type Route } from '../context'
import { body, requiredName, role } from '../fields'
import { HttpError, readBody, sendJson } from '../util'
import { auditEvent } from './history'

export const MAX_LINKS = 500

const newLink = body({ role, name: requiredName })

export const linkRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/links$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, OWNERS)
        sendJson(res, 200, (await ctx.store.listLinks(id)).map(linkJson))
      },
      POST: async (req, res, url, ctx, id) => {
        const me = await authorize(req, url, ctx, id, OWNERS)
        const given = await readBody(req, ctx.maxBodyBytes, newLink)
        if ((await ctx.store.listLinks(id)).length >= MAX_LINKS) throw new HttpError(409, `a workbook has at most ${MAX_LINKS} links`)
        const token = newToken()
        const link: LinkRecord = { id: newLinkId(), workbookId: id, role: given.role, name: given.name, createdAt: Date.now(), revokedAt: null }
        await ctx.store.createLink(link, hashToken(token))
        await auditEvent(ctx, id, me, 'link-create', link.id, { role: link.role, name: link.name })
        sendJson(res, 201, { ...linkJson(link), token, url: linkUrl(id, token) })
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/links\/([^/]+)$/,
    methods: {
      DELETE: async (req, res, url, ctx, id, linkId) => {
        const me = await authorize(req, url, ctx, id, OWNERS)
        const links = await ctx.store.listLinks(id)
        const target = links.find(l => l.id === linkId)
        if (!target) throw new HttpError(404, 'link not found')
        if (target.role === 'owner' && target.revokedAt === null
          && !links.some(l => l.id !== linkId && l.role === 'owner' && l.revokedAt === null)) {
          throw new HttpError(409, 'this is the last owner link; make another owner link before revoking it')
        }
        const revoked = await ctx.store.revokeLink(id, linkId, Date.now())
        if (!revoked) throw new HttpError(404, 'link not found')
        await auditEvent(ctx, id, me, 'link-revoke', linkId, { role: revoked.role, name: revoked.name })
        // open sockets of that link close at once; their clients stop reconnecting
        ctx.rooms.closeLink(id, linkId, CLOSE.revoked, 'link revoked')
        sendJson(res, 200, { ...linkJson(revoked), self: me.id === linkId })
      },
    },
  },
]
