// @vitest-environment node
/**
 * Webhooks, pure parts: the address classifier (IPv4, IPv6, IPv4-mapped, NAT64) and the URL check with
 * a given resolver; the vendors' message shapes and signatures; when a due-soon reminder goes in the
 * workbook's time zone; how the vendors' answers are read.
 */
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { classifyAddress, refusedAddress, targetUrlProblem, urlProblem } from '../../server/notify/urls'
import { answerProblem, render, subscribed, type NotifyEvent } from '../../server/notify/messages'
import { dueSoonAt, zonedMidnight } from '../../server/notify/hook'
import { planReplace, type WebhookTarget } from '../../server/store/webhooks'

describe('the address classifier', () => {
  it('knows IPv4 ranges', () => {
    const cases: [string, string | null][] = [
      ['127.0.0.1', 'loopback'], ['127.255.1.2', 'loopback'], ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'],
      ['172.32.0.1', null], ['172.15.0.1', null], ['192.168.1.1', 'private'], ['169.254.169.254', 'link-local'], ['100.64.0.1', 'shared'],
      ['100.127.255.255', 'shared'], ['100.128.0.1', null], ['0.0.0.0', 'unspecified'], ['224.0.0.1', 'multicast'], ['255.255.255.255', 'reserved'],
      ['8.8.8.8', null], ['93.184.216.34', null], ['1.1.1.1', null], ['11.0.0.1', null], ['192.169.0.1', null],
    ]
    for (const [ip, c] of cases) expect([ip, classifyAddress(ip)]).toEqual([ip, c])
  })
  it('knows IPv6 ranges, and IPv4 inside IPv6', () => {
    const cases: [string, string | null][] = [
      ['::1', 'loopback'], ['::', 'unspecified'], ['0:0:0:0:0:0:0:1', 'loopback'], ['fe80::1', 'link-local'], ['febf::1', 'link-local'],
      ['fc00::1', 'unique-local'], ['fd12:3456::1', 'unique-local'], ['ff02::1', 'multicast'], ['2001:4860:4860::8888', null], ['2606:4700::1111', null],
      ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:10.0.0.1', 'private'], ['::ffff:192.168.0.1', 'private'],
      ['::ffff:8.8.8.8', null], ['::127.0.0.1', 'loopback'], ['64:ff9b::a9fe:a9fe', 'link-local'], ['64:ff9b::8.8.8.8', null],
      ['[::1]', 'loopback'], ['fe80::1%eth0', 'link-local'], ['FE80::1', 'link-local'],
    ]
    for (const [ip, c] of cases) expect([ip, classifyAddress(ip)]).toEqual([ip, c])
  })
  it('throws for what is no address, and says why one is refused unless private ones are allowed', () => {
    expect(() => classifyAddress('example.com')).toThrow()
    expect(() => classifyAddress('1.2.3')).toThrow()
    expect(refusedAddress('127.0.0.1', false)).toBe('127.0.0.1 is a loopback address')
    expect(refusedAddress('127.0.0.1', true)).toBeNull()
    expect(refusedAddress('8.8.8.8', false)).toBeNull()
  })
})

describe('the target URL check', () => {
  const resolver = (map: Record<string, string[]>) => async (host: string) => {
    const a = map[host]
    if (!a) throw new Error('ENOTFOUND')
    return a.map(address => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
  it('refuses other schemes, credentials, overlong URLs and non-URLs', () => {
    expect(urlProblem('ftp://example.com/x')).toMatch(/http and https/)
    expect(urlProblem('file:///etc/passwd')).toMatch(/http and https/)
    expect(urlProblem('https://u:p@example.com/')).toMatch(/user name or password/)
    expect(urlProblem('not a url')).toMatch(/not a URL/)
    expect(urlProblem(`https://example.com/${'a'.repeat(2100)}`)).toMatch(/longer than/)
    expect(urlProblem('https://oapi.dingtalk.com/robot/send?access_token=abc')).toBeNull()
  })
  it('refuses a host when any of its addresses is not public', async () => {
    const r = resolver({ 'hook.example': ['93.184.216.34'], 'mixed.example': ['93.184.216.34', '10.0.0.5'], 'v6.example': ['::1'] })
    expect(await targetUrlProblem('https://hook.example/x', false, r)).toBeNull()
    expect(await targetUrlProblem('https://mixed.example/x', false, r)).toBe('mixed.example resolves to 10.0.0.5 is a private address')
    expect(await targetUrlProblem('https://v6.example/x', false, r)).toBe('v6.example resolves to ::1 is a loopback address')
    expect(await targetUrlProblem('https://nowhere.example/x', false, r)).toBe('nowhere.example cannot be resolved')
    expect(await targetUrlProblem('http://[::ffff:169.254.169.254]/latest', false, r)).toMatch(/link-local/)
    expect(await targetUrlProblem('http://127.0.0.1:8080/x', true, r)).toBeNull()
  })
})

const event = (over: Partial<NotifyEvent> = {}): NotifyEvent => ({
  event: 'mention', workbook: { id: 'wb1', title: '双11 计划' }, sheet: { id: 's1', name: '目标' }, cell: 'B3', actor: '老板',
  text: '@张三 请确认 [点这里](http://evil.example)', people: ['张三'], due: null, thread: 't1', version: null, at: 1_700_000_000_000, ...over,
})

describe('messages', () => {
  const now = 1_700_000_123_456
  it('WeCom: text with the sentence, the comment as plain text and the link to the cell', () => {
    const r = render(event(), { kind: 'wecom', url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', secret: null, lang: null }, 'https://sheets.example.com', now)
    const b = JSON.parse(r.body)
    expect(b.msgtype).toBe('text')
    expect(b.text.content).toBe('老板 在「双11 计划」的目标!B3的评论中提到了 张三\n“@张三 请确认 [点这里](http://evil.example)”\nhttps://sheets.example.com/w/wb1?sheet=s1&cell=B3')
    expect(r.url).toBe('https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k')
  })
  it('keeps names on one line: a newline in a title or sheet name makes no line of its own', () => {
    const e = { ...event(), workbook: { id: 'wb1', title: '计划\nhttps://evil.example 点此登录' }, sheet: { id: 's1', name: '目标\u2028假消息' }, actor: '老板\r\n系统管理员' }
    const r = render(e, { kind: 'wecom', url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', secret: null, lang: null }, 'https://sheets.example.com', now)
    const [first, ...rest] = JSON.parse(r.body).text.content.split('\n')
    expect(first).toBe('老板 系统管理员 在「计划 https://evil.example 点此登录」的目标 假消息!B3的评论中提到了 张三')
    expect(rest).toHaveLength(2)
  })
  it('DingTalk: signed in the URL as its documentation computes it', () => {
    const r = render(event(), { kind: 'dingtalk', url: 'https://oapi.dingtalk.com/robot/send?access_token=t', secret: 'SECabc', lang: 'en' }, null, now)
    const u = new URL(r.url)
    expect(u.searchParams.get('access_token')).toBe('t')
    expect(u.searchParams.get('timestamp')).toBe(String(now))
    expect(u.searchParams.get('sign')).toBe(createHmac('sha256', 'SECabc').update(`${now}\nSECabc`).digest('base64'))
    const b = JSON.parse(r.body)
    expect(b).toEqual({ msgtype: 'text', text: { content: expect.stringContaining('老板 mentioned 张三 in a comment on 目标!B3 of "双11 计划"') } })
    expect(b.text.content).not.toContain('http://sheets')
  })
  it('Feishu: timestamp in seconds and the sign keyed with timestamp and secret', () => {
    const r = render(event(), { kind: 'feishu', url: 'https://open.feishu.cn/open-apis/bot/v2/hook/x', secret: 'fs', lang: null }, null, now)
    const b = JSON.parse(r.body)
    const ts = Math.floor(now / 1000)
    expect(b).toMatchObject({ msg_type: 'text', timestamp: String(ts), sign: createHmac('sha256', `${ts}\nfs`).update('').digest('base64') })
    expect(b.content.text).toContain('张三')
  })
  it('JSON: the event, and a signature header over timestamp and body', () => {
    const r = render(event(), { kind: 'json', url: 'https://hooks.example/x', secret: 'js', lang: null }, 'https://sheets.example.com/', now)
    const b = JSON.parse(r.body)
    expect(b).toMatchObject({ event: 'mention', workbook: { id: 'wb1', title: '双11 计划' }, sheet: { id: 's1', name: '目标' }, cell: 'B3', actor: '老板', people: ['张三'], url: 'https://sheets.example.com/w/wb1?sheet=s1&cell=B3', lang: 'zh-CN' })
    expect(r.headers['x-webhook-signature']).toBe(`sha256=${createHmac('sha256', 'js').update(`${now}.${r.body}`).digest('hex')}`)
  })
  it('sign-off and lock are one event; a test goes everywhere', () => {
    expect(subscribed(['lock'], 'sign-off')).toBe(true)
    expect(subscribed(['sign-off'], 'sign-off')).toBe(true)
    expect(subscribed(['mention'], 'sign-off')).toBe(false)
    expect(subscribed([], 'test')).toBe(true)
  })
  it('reads the vendors\' answers', () => {
    expect(answerProblem('wecom', 200, '{"errcode":0,"errmsg":"ok"}')).toBeNull()
    expect(answerProblem('dingtalk', 200, '{"errcode":310000,"errmsg":"sign not match"}')).toBe('error 310000: sign not match')
    expect(answerProblem('feishu', 200, '{"code":19021,"msg":"sign match fail"}')).toBe('error 19021: sign match fail')
    expect(answerProblem('json', 500, 'boom')).toBe('HTTP 500: boom')
    expect(answerProblem('json', 204, '')).toBeNull()
  })
})

describe('due-soon', () => {
  it('goes 24 hours before the due day ends in the workbook\'s zone', () => {
    expect(zonedMidnight('2025-03-10', 'Asia/Shanghai')).toBe(Date.parse('2025-03-09T16:00:00Z'))
    expect(zonedMidnight('2025-03-10', 'America/New_York')).toBe(Date.parse('2025-03-10T04:00:00Z'))
    expect(zonedMidnight('2025-03-08', 'America/New_York')).toBe(Date.parse('2025-03-08T05:00:00Z'))
    expect(dueSoonAt('2025-03-10', 'Asia/Shanghai', Date.parse('2025-03-01T00:00:00Z'))).toBe(Date.parse('2025-03-09T16:00:00Z'))
    // due today: at once; overdue: never
    const now = Date.parse('2025-03-10T02:00:00Z')
    expect(dueSoonAt('2025-03-10', 'Asia/Shanghai', now)).toBe(now)
    expect(dueSoonAt('2025-03-09', 'Asia/Shanghai', now)).toBeNull()
  })
})

describe('replacing targets', () => {
  it('keeps a target of the same kind and URL, makes the others, removes the rest', () => {
    const t = (id: string, kind: WebhookTarget['kind'], url: string) => ({ id, kind, url } as WebhookTarget)
    const plan = planReplace([t('a', 'json', 'https://x/1'), t('b', 'wecom', 'https://x/2')], [
      { kind: 'wecom', url: 'https://x/2', secret: null, events: ['mention'], lang: null },
      { kind: 'json', url: 'https://x/3', secret: null, events: [], lang: null },
    ])
    expect(plan.keep.map(k => [k.id, k.position])).toEqual([['b', 0]])
    expect(plan.add.map(k => k.position)).toEqual([1])
    expect(plan.remove).toEqual(['a'])
  })
})
