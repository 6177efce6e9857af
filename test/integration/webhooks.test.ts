// @vitest-environment node
/**
 * Webhook notifications against the real server, with a real HTTP receiver started in the test: one
 * message per target kind, each in its vendor's shape (DingTalk's and Feishu's signatures recomputed by
 * the receiver), when 张三 is @mentioned; assignments and their due-soon reminder; sign-off, unlock and
 * restore; a receiver failing 3 times then answering gets the message exactly once, and a target that
 * keeps failing is shown as failed with its error; loopback, private and privately resolving URLs are
 * refused unless allowed, also when a name resolves elsewhere at delivery (rebinding); owners only;
 * the queue on PostgreSQL with two instances claiming from it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createHmac } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import pg from 'pg'
import { lockSheet, unlockSheet } from '../../src/core/access/access'
import { sheetIds } from '../../src/core/workbook/schema'
import { zonedToday } from '../../src/core/workbook/zone'
import type { ServerOptions } from '../../server/index'
import type { SettledEvent } from '../../server/notify/notifier'
import { createLink, createWorkbook, nextEvent, ownerTokens, syncedClient, testScope, until, type TestServer } from '../helpers/server'
import { DATABASE_URL, REDIS_URL, freshPostgres, uniqueName } from '../helpers/services'

const { cleanups, server, track } = testScope()

interface Received { path: string; query: URLSearchParams; headers: IncomingMessage['headers']; body: any; raw: string; answered: number }

/** A local HTTP server that records what it gets; `answer` decides each status (default 200 {"errcode":0}). */
async function receiver(answer: (r: Received, n: number) => number = () => 200) {
  const got: Received[] = []
  const listeners = new Set<() => void>()
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const u = new URL(req.url ?? '/', 'http://x')
      const r: Received = { path: u.pathname, query: u.searchParams, headers: req.headers, raw, body: JSON.parse(raw), answered: 0 }
      r.answered = answer(r, got.length)
      got.push(r)
      res.writeHead(r.answered, { 'content-type': 'application/json' })
      res.end(r.answered === 200 ? '{"errcode":0,"errmsg":"ok","code":0}' : '{"error":"down"}')
      for (const l of listeners) l()
    })
  })
  await new Promise<void>(r => http.listen(0, '127.0.0.1', () => r()))
  cleanups.push(() => new Promise<void>(r => { http.closeAllConnections(); http.close(() => r()) }))
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
  /** resolves once `n` requests (to `path`, if given) have come */
  const count = (n: number, path?: string) => until(`${n} webhook requests${path ? ` to ${path}` : ''}`, () => {
    const list = path ? got.filter(g => g.path === path) : got
    return list.length >= n ? list : undefined
  }, recheck => { listeners.add(recheck); return () => listeners.delete(recheck) })
  return { got, base, count }
}

const PUBLIC = 'https://sheets.example.com'
const settled = (s: TestServer, filter: (e: SettledEvent) => boolean = () => true) =>
  nextEvent<[SettledEvent]>(s.notify, 'settled', e => filter(e))

async function workbook(s: TestServer) {
  const id = await createWorkbook(s, { name: '老板' })
  await createLink(s, id, 'editor', '张三')
  const sid = await s.rooms.withDoc(id, d => sheetIds(d)[0]!)
  return { id, sid, owner: ownerTokens.get(id)! }
}

const comment = async (s: TestServer, id: string, sid: string, body: Record<string, unknown>) => {
  const r = await s.api('POST', `/api/workbooks/${id}/comments`, { sheet: sid, cell: 'B3', ...body })
  expect(r.status, r.text).toBe(201)
  return r.json.id as string
}

const put = (s: TestServer, id: string, targets: unknown, token?: string) =>
  s.api('PUT', `/api/workbooks/${id}/webhooks`, targets, token ? { headers: { authorization: `Bearer ${token}` } } : undefined)

const open = (opts: ServerOptions = {}) => server({ allowPrivateWebhooks: true, publicUrl: PUBLIC, webhookOptions: { retryBaseMs: 20, pollMs: 200 }, ...opts })

describe('webhook messages', () => {
  it('one message per target kind, in each vendor\'s shape, signed, with a link to the cell and no token', async () => {
    const s = await open()
    const rx = await receiver()
    const { id, sid, owner } = await workbook(s)
    const saved = await put(s, id, [
      { kind: 'wecom', url: `${rx.base}/wecom?key=wk`, events: ['mention'] },
      { kind: 'feishu', url: `${rx.base}/feishu`, secret: 'fs-secret', events: ['mention'] },
      { kind: 'dingtalk', url: `${rx.base}/dingtalk?access_token=dt`, secret: 'SECdingtalk', events: ['mention', 'assignment'] },
      { kind: 'json', url: `${rx.base}/json`, secret: 'js-secret', events: ['mention'], lang: 'en' },
      { kind: 'json', url: `${rx.base}/assignments`, events: ['assignment', 'due-soon'] },
    ])
    expect(saved.status, saved.text).toBe(200)
    expect(saved.json).toHaveLength(5)
    expect(saved.json[2]).toMatchObject({ kind: 'dingtalk', hasSecret: true, events: ['mention', 'assignment'], status: null, failures: 0, pending: 0 })
    expect(saved.text).not.toContain('SECdingtalk')
    expect(saved.json[0].hasSecret).toBe(false)

    const before = Date.now()
    const cid = await comment(s, id, sid, { text: '@张三 请确认目标值' })
    const all = await rx.count(4)
    const by = (p: string) => all.find(g => g.path === p)!
    const link = `${PUBLIC}/w/${id}?sheet=${sid}&cell=B3`

    const wecom = by('/wecom')
    expect(wecom.query.get('key')).toBe('wk')
    expect(wecom.body).toEqual({ msgtype: 'text', text: { content: expect.stringContaining('老板 在') } })
    expect(wecom.body.text.content).toContain('提到了 张三')
    expect(wecom.body.text.content).toContain('“@张三 请确认目标值”')
    expect(wecom.body.text.content).toContain(link)

    const feishu = by('/feishu')
    expect(feishu.body).toMatchObject({ msg_type: 'text', content: { text: expect.stringContaining('张三') } })
    const fts = Number(feishu.body.timestamp)
    expect(Math.abs(fts * 1000 - Date.now())).toBeLessThan(60_000)
    expect(feishu.body.sign).toBe(createHmac('sha256', `${fts}\nfs-secret`).update('').digest('base64'))

    const ding = by('/dingtalk')
    expect(ding.query.get('access_token')).toBe('dt')
    const dts = Number(ding.query.get('timestamp'))
    expect(dts).toBeGreaterThanOrEqual(before)
    expect(ding.query.get('sign')).toBe(createHmac('sha256', 'SECdingtalk').update(`${dts}\nSECdingtalk`).digest('base64'))
    expect(ding.body).toEqual({ msgtype: 'text', text: { content: expect.stringContaining(link) } })

    const json = by('/json')
    expect(json.body).toMatchObject({ event: 'mention', workbook: { id }, sheet: { id: sid }, cell: 'B3', actor: '老板', people: ['张三'], comment: '@张三 请确认目标值', thread: cid, url: link, lang: 'en' })
    expect(json.body.text).toContain('老板 mentioned 张三')
    const jts = json.headers['x-webhook-timestamp'] as string
    expect(json.headers['x-webhook-signature']).toBe(`sha256=${createHmac('sha256', 'js-secret').update(`${jts}.${json.raw}`).digest('hex')}`)

    for (const g of all) expect(g.raw).not.toContain(owner)
    // the target that chose assignments only got nothing (queued in the same INSERT as the others)
    const listed = (await s.api('GET', `/api/workbooks/${id}/webhooks`)).json
    expect(listed[4]).toMatchObject({ pending: 0, status: null })

    // an assignment due today in the workbook's zone: the assignment, and the due-soon reminder at once
    const today = zonedToday('Asia/Shanghai')
    await comment(s, id, sid, { text: '请 @张三 今天更新', assignee: '张三', due: today })
    const assigned = await rx.count(2, '/assignments')
    expect(assigned.map(g => g.body.event).sort()).toEqual(['assignment', 'due-soon'])
    expect(assigned.find(g => g.body.event === 'assignment')!.body).toMatchObject({ people: ['张三'], due: today, cell: 'B3' })
    const dingAssign = await rx.count(2, '/dingtalk')
    expect(dingAssign[1]!.body.text.content).toContain(`给 张三 分配了任务（截止 ${today}）`)
  })

  it('a due-soon reminder whose task is done meanwhile is dropped', async () => {
    const s = await open()
    const rx = await receiver()
    const { id, sid } = await workbook(s)
    expect((await put(s, id, [{ kind: 'json', url: `${rx.base}/due`, events: ['due-soon'] }])).status).toBe(200)
    // due tomorrow in Shanghai: the reminder waits in the queue for the start of tomorrow
    const tomorrow = zonedToday('Asia/Shanghai', new Date(Date.now() + 86_400_000))
    const queued = nextEvent<[{ event: string; at: number }]>(s.notify, 'queued', e => e.event === 'due-soon')
    const cid = await comment(s, id, sid, { text: '请 @张三 明天前完成', assignee: '张三', due: tomorrow })
    expect((await queued)[0].at).toBeGreaterThan(Date.now())
    expect((await s.api('GET', `/api/workbooks/${id}/webhooks`)).json[0].pending).toBe(1)
    // resolved: when the reminder comes due, it is read against the workbook and dropped
    expect((await s.api('PATCH', `/api/workbooks/${id}/comments/${cid}`, { resolved: true })).status).toBe(200)
    const dropped = settled(s, e => e.event === 'due-soon')
    const store = s.store as unknown as { db?: import('better-sqlite3').Database }
    // time moved on: the reminder is due now (the loop finds it within its poll interval)
    store.db!.prepare('UPDATE webhook_deliveries SET next_at = 0').run()
    expect((await dropped)[0]).toMatchObject({ dropped: true, ok: false })
    expect(rx.got).toHaveLength(0)
  })

  it('sign-off, unlock and restore, from the changes people made', async () => {
    const s = await open()
    const rx = await receiver()
    const { id, sid } = await workbook(s)
    expect((await put(s, id, [{ kind: 'json', url: `${rx.base}/j`, events: ['lock', 'unlock', 'restore'] }])).status).toBe(200)
    const v = await s.api('POST', `/api/workbooks/${id}/versions`, { name: '初稿' })
    expect(v.status, v.text).toBe(201)
    const owner = track(await syncedClient(s, id))
    lockSheet(owner.doc, sid, '老板')
    expect((await rx.count(1))[0]!.body).toMatchObject({ event: 'sign-off', sheet: { id: sid }, actor: '老板' })
    unlockSheet(owner.doc, sid)
    expect((await rx.count(2))[1]!.body).toMatchObject({ event: 'unlock', sheet: { id: sid } })
    expect((await s.api('POST', `/api/workbooks/${id}/versions/${v.json.id}/restore`, {})).status).toBe(200)
    const restored = (await rx.count(3))[2]!.body
    expect(restored).toMatchObject({ event: 'restore', version: '初稿', actor: '老板' })
    expect(restored.text).toContain('恢复到了版本「初稿」')
  })
})

describe('webhook delivery', () => {
  it('a receiver failing 3 times, then answering, gets the message exactly once; the target shows ok', async () => {
    const s = await open()
    const rx = await receiver((_r, n) => (n < 3 ? 500 : 200))
    const { id, sid } = await workbook(s)
    expect((await put(s, id, [{ kind: 'json', url: `${rx.base}/flaky`, events: ['mention'] }])).status).toBe(200)
    const outcomes: SettledEvent[] = []
    s.notify.on('settled', e => outcomes.push(e))
    const ok = settled(s, e => e.ok)
    await comment(s, id, sid, { text: '@张三 看一下' })
    expect((await ok)[0]).toMatchObject({ ok: true, attempts: 4 })
    expect(outcomes.map(o => o.ok)).toEqual([false, false, false, true])
    expect(outcomes[0]!.error).toMatch(/^HTTP 500/)
    expect(rx.got.map(g => g.answered)).toEqual([500, 500, 500, 200])
    expect(rx.got.filter(g => g.answered === 200)).toHaveLength(1)
    expect(new Set(rx.got.map(g => g.body.thread)).size).toBe(1)
    const [t] = (await s.api('GET', `/api/workbooks/${id}/webhooks`)).json
    expect(t).toMatchObject({ status: 'ok', lastError: null, failures: 0, pending: 0 })
  })

  it('is written in the workbook\'s language unless the target chose one', async () => {
    const s = await open()
    const rx = await receiver()
    const id = await createWorkbook(s, { name: 'Boss', lang: 'en' })
    await createLink(s, id, 'editor', 'Ann')
    const sid = await s.rooms.withDoc(id, d => sheetIds(d)[0]!)
    expect((await put(s, id, [{ kind: 'wecom', url: `${rx.base}/own`, events: ['mention'] }, { kind: 'wecom', url: `${rx.base}/zh`, events: ['mention'], lang: 'zh-CN' }])).status).toBe(200)
    await comment(s, id, sid, { text: '@Ann please check' })
    const got = await rx.count(2)
    expect(got.find(g => g.path === '/own')!.body.text.content).toMatch(/^Boss mentioned Ann in a comment on /)
    expect(got.find(g => g.path === '/zh')!.body.text.content).toMatch(/^Boss 在.*的评论中提到了 Ann/)
  })

  it('a target gets at most its hourly budget of messages: mentions over and over do not flood a chat', async () => {
    const s = await open({ webhookOptions: { retryBaseMs: 20, pollMs: 200, maxPerTargetPerHour: 2 } })
    const rx = await receiver()
    const { id, sid } = await workbook(s)
    expect((await put(s, id, [{ kind: 'json', url: `${rx.base}/budget`, events: ['mention'] }])).status).toBe(200)
    const queued: unknown[] = [], limited: unknown[] = []
    s.notify.on('queued', e => queued.push(e))
    s.notify.on('limited', e => limited.push(e))
    const twoLimited = until('two messages over the budget', () => limited.length >= 2 || undefined, recheck => { s.notify.on('limited', recheck); return () => { s.notify.off('limited', recheck) } })
    for (const n of [1, 2, 3, 4]) await comment(s, id, sid, { text: `@张三 第${n}次` })
    await twoLimited
    await rx.count(2)
    expect(queued).toHaveLength(2)
    expect(rx.got.map(g => g.body.comment)).toEqual(['@张三 第1次', '@张三 第2次'])
  })

  it('a target that keeps failing is shown failed, with its error, after the last attempt', async () => {
    const s = await open({ webhookOptions: { retryBaseMs: 10, maxAttempts: 2 } })
    const rx = await receiver(() => 503)
    const { id, sid } = await workbook(s)
    expect((await put(s, id, [{ kind: 'wecom', url: `${rx.base}/down`, events: ['mention'] }])).status).toBe(200)
    const last = settled(s, e => e.attempts === 2)
    await comment(s, id, sid, { text: '@张三 在吗' })
    expect((await last)[0]).toMatchObject({ ok: false })
    const [t] = (await s.api('GET', `/api/workbooks/${id}/webhooks`)).json
    expect(t).toMatchObject({ status: 'failed', failures: 2, pending: 0, lastError: expect.stringMatching(/^HTTP 503/) })
    expect(rx.got).toHaveLength(2)
  })

  it('a redirect is not followed', async () => {
    const s = await open({ webhookOptions: { maxAttempts: 1 } })
    const rx = await receiver(() => 302)
    const { id, sid } = await workbook(s)
    expect((await put(s, id, [{ kind: 'json', url: `${rx.base}/moved`, events: ['mention'] }])).status).toBe(200)
    const failed = settled(s)
    await comment(s, id, sid, { text: '@张三 跳转' })
    expect((await failed)[0]).toMatchObject({ ok: false, error: 'HTTP 302: redirects are not followed' })
    expect(rx.got).toHaveLength(1)
  })

  it('an edit never waits for a slow receiver', async () => {
    let release!: () => void
    const held = new Promise<void>(r => { release = r })
    const s = await open()
    const slow = createServer((_req, res) => { void held.then(() => { res.writeHead(200); res.end('{}') }) })
    await new Promise<void>(r => slow.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>(r => { release(); slow.closeAllConnections(); slow.close(() => r()) }))
    const { id, sid } = await workbook(s)
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/slow`
    expect((await put(s, id, [{ kind: 'json', url, events: ['mention'] }])).status).toBe(200)
    await comment(s, id, sid, { text: '@张三 一' })
    // the receiver holds the first message; comments keep being answered meanwhile
    await comment(s, id, sid, { text: '@张三 二' })
    const done = settled(s, e => e.ok)
    release()
    await done
  })
})

describe('webhook targets', () => {
  it('refuses loopback, private and privately resolving URLs unless allowed, and bad input, naming the target', async () => {
    const s = await server()
    const { id } = await workbook(s)
    const refused = async (targets: unknown, message: RegExp | string) => {
      const r = await put(s, id, targets)
      expect(r.status, r.text).toBe(400)
      if (typeof message === 'string') expect(r.json.error).toBe(message)
      else expect(r.json.error).toMatch(message)
    }
    await refused([{ kind: 'json', url: 'http://127.0.0.1:9/x', events: ['mention'] }], 'targets[0].url: 127.0.0.1 is a loopback address')
    await refused([{ kind: 'json', url: 'https://93.184.216.34/x', events: [] }, { kind: 'json', url: 'http://10.1.2.3/x', events: [] }], /^targets\[1\]\.url: 10\.1\.2\.3 is a private address/)
    await refused([{ kind: 'json', url: 'http://localhost:9/x', events: [] }], /^targets\[0\]\.url: localhost resolves to (127\.0\.0\.1|::1) is a loopback address$/)
    await refused([{ kind: 'json', url: 'http://[::ffff:169.254.169.254]/latest/meta-data', events: [] }], /link-local/)
    await refused([{ kind: 'json', url: 'http://[fd00::1]/', events: [] }], /unique-local/)
    await refused([{ kind: 'json', url: 'http://100.64.1.1/', events: [] }], /carrier-grade NAT/)
    await refused([{ kind: 'json', url: 'ftp://hooks.example.com/x', events: [] }], 'targets[0].url: only http and https URLs are allowed')
    await refused([{ kind: 'json', url: 'https://u:p@hooks.example.com/x', events: [] }], /user name or password/)
    await refused([{ kind: 'slack', url: 'https://hooks.example.com/x', events: [] }], /^targets\[0\]\.kind: must be one of wecom, feishu, dingtalk, json/)
    await refused([{ kind: 'json', url: 'https://hooks.example.com/x', events: ['everything'] }], /^targets\[0\]\.events\[0\]: must be one of/)
    await refused([{ kind: 'json', url: 'https://hooks.example.com/x' }], /^targets\[0\]\.events: is required/)
    await refused({ kind: 'json' }, /JSON array/)
    await refused(Array.from({ length: 11 }, (_, i) => ({ kind: 'json', url: `https://h${i}.example.com/`, events: [] })), /at most 10/)
    await refused([{ kind: 'wecom', url: 'https://qyapi.weixin.qq.com/x', secret: 's', events: [] }], /^targets\[0\]\.secret:/)
    expect((await s.api('GET', `/api/workbooks/${id}/webhooks`)).json).toEqual([])

    // with ALLOW_PRIVATE_WEBHOOKS, the same loopback target is taken
    const allowed = await server({ allowPrivateWebhooks: true })
    const w = await workbook(allowed)
    expect((await put(allowed, w.id, [{ kind: 'json', url: 'http://127.0.0.1:9/x', events: ['mention'] }])).status).toBe(200)
  })

  it('a name that resolved to a public address when saved and to a private one when sent is not connected to', async () => {
    const rx = await receiver()
    let lookups = 0
    const port = new URL(rx.base).port
    const s = await server({
      publicUrl: PUBLIC,
      webhookOptions: { resolver: async () => [{ address: lookups++ === 0 ? '93.184.216.34' : '127.0.0.1', family: 4 }] },
    })
    const { id, sid } = await workbook(s)
    expect((await put(s, id, [{ kind: 'json', url: `http://rebind.example:${port}/x`, events: ['mention'] }])).status).toBe(200)
    const failed = settled(s)
    await comment(s, id, sid, { text: '@张三 看' })
    expect((await failed)[0]).toMatchObject({ ok: false, error: 'rebind.example resolves to 127.0.0.1 is a loopback address' })
    expect(rx.got).toHaveLength(0)
  })

  it('owners only; a secret is never shown, and kept when the target is saved again without it', async () => {
    const s = await open()
    const { id } = await workbook(s)
    const editor = await createLink(s, id, 'editor', '小李')
    const target = { kind: 'dingtalk', url: 'http://127.0.0.1:9/robot/send?access_token=t', secret: 'SECkeep', events: ['mention'] }
    expect((await put(s, id, [target], editor)).status).toBe(403)
    expect((await s.api('GET', `/api/workbooks/${id}/webhooks`, undefined, { headers: { authorization: `Bearer ${editor}` } })).status).toBe(403)
    expect((await s.api('POST', `/api/workbooks/${id}/webhooks/test`, {}, { headers: { authorization: `Bearer ${editor}` } })).status).toBe(403)
    const first = await put(s, id, [target])
    expect(first.status).toBe(200)
    const again = await put(s, id, [{ ...target, secret: undefined, events: ['mention', 'restore'] }])
    expect(again.json[0]).toMatchObject({ id: first.json[0].id, hasSecret: true, events: ['mention', 'restore'] })
    expect((await s.store.webhooks.listTargets(id))[0]!.secret).toBe('SECkeep')
    const cleared = await put(s, id, [{ ...target, secret: null }])
    expect(cleared.json[0].hasSecret).toBe(false)
    expect((await s.api('GET', `/api/workbooks/${id}/webhooks`)).text).not.toContain('SECkeep')
    // the workbook deleted: its targets go with it
    expect((await s.api('DELETE', `/api/workbooks/${id}`)).status).toBe(204)
    expect(await s.store.webhooks.listTargets(id)).toEqual([])
  })
})

describe('webhooks on PostgreSQL', () => {
  it('two instances on one database and one Redis: a comment on one is sent once, claimed by one of them', async () => {
    const p = await freshPostgres()
    cleanups.push(p.drop)
    const { PostgresStore } = await import('../../server/store/postgres')
    const prefix = `${uniqueName('pwt')}:`
    const opts = { allowPrivateWebhooks: true, publicUrl: PUBLIC, redisUrl: REDIS_URL, redisPrefix: prefix, webhookOptions: { retryBaseMs: 20, pollMs: 50 } }
    const s1 = await server({ ...opts, store: p.store })
    const s2 = await server({ ...opts, store: await new PostgresStore(DATABASE_URL, { schema: p.schema }).open() })
    const rx = await receiver((_r, n) => (n === 0 ? 500 : 200))
    const { id, sid } = await workbook(s1)
    // the room is live on both instances: the change reaches the second through Redis
    track(await syncedClient(s2, id))
    expect((await put(s1, id, [{ kind: 'feishu', url: `${rx.base}/f`, events: ['mention'] }])).status).toBe(200)
    const ok = Promise.race([settled(s1, e => e.ok), settled(s2, e => e.ok)])
    await comment(s1, id, sid, { text: '@张三 双实例' })
    await ok
    const c = new pg.Client({ connectionString: DATABASE_URL })
    await c.connect()
    try {
      const { rows } = await c.query(`SELECT state, attempts FROM "${p.schema}".webhook_deliveries`)
      expect(rows).toEqual([{ state: 'done', attempts: 2 }])
    } finally {
      await c.end()
    }
    expect(rx.got.map(g => g.answered)).toEqual([500, 200])
    expect((await s2.api('GET', `/api/workbooks/${id}/webhooks`)).json[0]).toMatchObject({ status: 'ok', pending: 0 })
  })
})
