/**
 * A workbook's webhook targets (owners only):
 *
 *   PUT  /api/workbooks/:id/webhooks        [{kind, url, secret?, events, lang?}] replaces the list (max 10)
 *   GET  /api/workbooks/:id/webhooks        the list with each target's status (never its secret)
 *   POST /api/workbooks/:id/webhooks/test   {id?} a test message to one target, or to all
 *
 * Each URL is checked before anything is stored (http/https, no credentials, a host that resolves only
 * to public addresses unless ALLOW_PRIVATE_WEBHOOKS): a 400 names the target and why
 * ("targets[0].url: 127.0.0.1 is a loopback address"). A target given again without `secret` (same kind
 * and URL) keeps the secret it has: the page never sees secrets, so it cannot send them back;
 * `secret: null` or "" removes it.
 */
import { z } from 'zod'
import { firstProblem } from '../../../src/core/zod'
import { authorize } from '../../auth'
import { getTitle } from '../../../src/core/workbook/schema'
import { EVENT_NAMES, LANGS, TARGET_KINDS, type NotifyEvent } from '../../notify/messages'
import { targetUrlProblem, MAX_URL_LENGTH } from '../../notify/urls'
import { MAX_TARGETS, type WebhookTarget, type WebhookTargetInput } from '../../store/webhooks'
import { OWNERS, snapshot, type ApiContext, type Route } from '../context'
import { HttpError, readBody, readJsonBody, sendJson } from '../util'
import { body } from '../fields'

const target = z.object({
  kind: z.enum(TARGET_KINDS, { error: `must be one of ${TARGET_KINDS.join(', ')}` }),
  url: z.string({ error: 'is required: an http or https URL' }).max(MAX_URL_LENGTH, { error: `must be at most ${MAX_URL_LENGTH} characters` }),
  secret: z.string({ error: 'must be a string' }).max(200, { error: 'must be at most 200 characters' })
    .refine(s => !/[\u0000-\u001f\u007f]/.test(s), { error: 'must not hold control characters' }).nullish(),
  events: z.array(z.enum(EVENT_NAMES, { error: `must be one of ${EVENT_NAMES.join(', ')}` }), { error: 'is required: a list of events' })
    .max(EVENT_NAMES.length).refine(e => new Set(e).size === e.length, { error: 'must not name an event twice' }),
  lang: z.enum(LANGS, { error: `must be one of ${LANGS.join(', ')}` }).nullish(),
}, { error: 'must be an object' })
const targets = z.array(target, { error: 'request body must be a JSON array of targets' })
  .max(MAX_TARGETS, { error: `a workbook has at most ${MAX_TARGETS} webhook targets` })

const testBody = body({ id: z.string().regex(/^[\w-]{1,64}$/, { error: 'must be a target id' }).optional() })

export const targetJson = (t: WebhookTarget, pending: number) => ({
  id: t.id, kind: t.kind, url: t.url, hasSecret: !!t.secret, events: t.events, lang: t.lang, createdAt: t.createdAt,
  status: t.lastStatus, lastError: t.lastError, failures: t.failures, lastAttemptAt: t.lastAttemptAt, pending,
})

async function listJson(ctx: ApiContext, id: string, list?: WebhookTarget[]) {
  const [all, pending] = await Promise.all([list ?? ctx.store.webhooks.listTargets(id), ctx.store.webhooks.pendingCounts(id)])
  return all.map(t => targetJson(t, pending.get(t.id) ?? 0))
}

async function readTargets(req: Parameters<typeof readJsonBody>[0], ctx: ApiContext): Promise<z.output<typeof targets>> {
  const raw = await readJsonBody(req, ctx.maxBodyBytes)
  // the array itself, or {targets: [...]}
  const given = raw && typeof raw === 'object' && !Array.isArray(raw) && 'targets' in raw ? (raw as { targets: unknown }).targets : raw
  const r = targets.safeParse(given)
  if (r.success) return r.data
  const { field, message } = firstProblem(r.error)
  throw new HttpError(400, field ? `targets${field}: ${message}` : message)
}

export const webhookRoutes: Route[] = [
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/webhooks$/,
    methods: {
      GET: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, OWNERS)
        sendJson(res, 200, await listJson(ctx, id))
      },
      PUT: async (req, res, url, ctx, id) => {
        await authorize(req, url, ctx, id, OWNERS)
        const given = await readTargets(req, ctx)
        const seen = new Set<string>()
        given.forEach((t, i) => {
          const key = `${t.kind} ${t.url}`
          if (seen.has(key)) throw new HttpError(400, `targets[${i}]: the same ${t.kind} URL is given twice`)
          seen.add(key)
          if (t.kind === 'wecom' && t.secret) throw new HttpError(400, `targets[${i}].secret: a WeCom group robot signs nothing (its key is in the URL)`)
        })
        const allowPrivate = ctx.notify?.opts.allowPrivate ?? false
        const problems = await Promise.all(given.map(t => targetUrlProblem(t.url, allowPrivate, ctx.notify?.opts.resolver)))
        const bad = problems.findIndex(p => p !== null)
        if (bad >= 0) throw new HttpError(400, `targets[${bad}].url: ${problems[bad]}`)
        const existing = await ctx.store.webhooks.listTargets(id)
        const inputs: WebhookTargetInput[] = given.map(t => ({
          kind: t.kind, url: t.url, events: t.events, lang: t.lang ?? null,
          secret: t.secret === undefined ? existing.find(e => e.kind === t.kind && e.url === t.url)?.secret ?? null : t.secret || null,
        }))
        const stored = await ctx.store.webhooks.replaceTargets(id, inputs, Date.now())
        sendJson(res, 200, await listJson(ctx, id, stored))
      },
    },
  },
  {
    pattern: /^\/api\/workbooks\/([^/]+)\/webhooks\/test$/,
    methods: {
      POST: async (req, res, url, ctx, id) => {
        const me = await authorize(req, url, ctx, id, OWNERS)
        const given = await readBody(req, ctx.maxBodyBytes, testBody, { optional: true })
        const list = await ctx.store.webhooks.listTargets(id)
        const chosen = given.id ? list.filter(t => t.id === given.id) : list
        if (given.id && !chosen.length) throw new HttpError(404, 'no such webhook target')
        if (!ctx.notify) throw new HttpError(503, 'notifications are not running')
        const doc = await snapshot(ctx, id)
        const title = getTitle(doc)
        doc.destroy()
        const event: NotifyEvent = {
          event: 'test', workbook: { id, title }, sheet: null, cell: null, actor: me.name, text: null, people: [], due: null, thread: null, version: null, at: Date.now(),
        }
        await ctx.notify.publish(id, event, Date.now(), chosen.map(t => t.id))
        sendJson(res, 202, { queued: chosen.length })
      },
    },
  },
]
