/**
 * What a webhook says: one event (a mention, an assignment, a due date near, a sheet signed off or
 * unlocked, a version restored) rendered for one target, in its vendor's JSON shape and the target's
 * language, at the moment it is sent (DingTalk and Feishu signatures carry the time of sending).
 *
 *   wecom     企业微信群机器人  {msgtype: "text", text: {content}}
 *   feishu    飞书自定义机器人  {msg_type: "text", content: {text}} (+ timestamp, sign when a secret is set)
 *   dingtalk  钉钉群机器人      {msgtype: "text", text: {content}}, URL + &timestamp=…&sign=… when a secret is set
 *   json      any endpoint     the event itself (+ X-Webhook-Timestamp / X-Webhook-Signature with a secret)
 *
 * The chat robots get plain text, never markdown: a comment is user text, and user text is never markup
 * (a comment's "[点这里](http://…)" stays those characters). The link to the cell is the workbook page
 * on the server's public address (PUBLIC_URL) without any share-link token: whoever opens it uses their
 * own link. Without a public address the messages name the workbook, sheet and cell, with no link.
 */
import { createHmac } from 'node:crypto'

export const TARGET_KINDS = ['wecom', 'feishu', 'dingtalk', 'json'] as const
export type TargetKind = typeof TARGET_KINDS[number]

/**
 * The events a target may choose. `sign-off` and `lock` are the same event (in this product a sheet is
 * signed off by locking it): a target that lists either gets it; `unlock` is the lock removed.
 */
export const EVENT_NAMES = ['mention', 'assignment', 'due-soon', 'sign-off', 'lock', 'unlock', 'restore'] as const
export type EventName = typeof EVENT_NAMES[number]

export const LANGS = ['zh-CN', 'en'] as const
export type Lang = typeof LANGS[number]

/**
 * `remind` (a fill-in round's owner asks those who have not submitted, server/rounds/) is an explicit act
 * of the owner and, like `test`, goes to every target of the workbook, whatever events it chose.
 */
export type NotifyKind = 'mention' | 'assignment' | 'due-soon' | 'sign-off' | 'unlock' | 'restore' | 'test' | 'remind'

export interface NotifyEvent {
  event: NotifyKind
  /** `lang`: the language the workbook was made in (a target without a language of its own gets it) */
  workbook: { id: string; title: string; lang?: Lang }
  sheet: { id: string; name: string } | null
  /** A1 address of the comment's cell (or the restored cell) */
  cell: string | null
  /** the person who did it (their link's name) */
  actor: string
  /** the comment's text */
  text: string | null
  /** who is mentioned (mention), the assignee (assignment, due-soon) */
  people: string[]
  /** YYYY-MM-DD (assignment, due-soon) */
  due: string | null
  /** the comment thread */
  thread: string | null
  /** the version restored: its name, or its time */
  version: string | null
  /** epoch ms of the event */
  at: number
  /** the fill-in round (remind): the link is its form page, never with a token */
  round?: string | null
}

/** Whether a target choosing `events` gets `kind` (a test message goes to every target). */
export const subscribed = (events: readonly string[], kind: NotifyKind): boolean =>
  kind === 'test' || kind === 'remind' || events.includes(kind) || (kind === 'sign-off' && events.includes('lock'))

const MAX_QUOTE = 500
const quote = (t: string | null): string => {
  if (!t) return ''
  const one = t.replace(/\s+/g, ' ').trim()
  return one.length > MAX_QUOTE ? `${one.slice(0, MAX_QUOTE)}…` : one
}

/** The workbook page at the cell, on the public address; null without one. */
export function cellLink(publicUrl: string | null, e: NotifyEvent): string | null {
  if (!publicUrl) return null
  if (e.event === 'remind' && e.round) return `${publicUrl.replace(/\/+$/, '')}/f/${encodeURIComponent(e.workbook.id)}/${encodeURIComponent(e.round)}`
  const q = new URLSearchParams()
  if (e.sheet) q.set('sheet', e.sheet.id)
  if (e.sheet && e.cell) q.set('cell', e.cell)
  const qs = q.toString()
  return `${publicUrl.replace(/\/+$/, '')}/w/${encodeURIComponent(e.workbook.id)}${qs ? `?${qs}` : ''}`
}

const line = (t: string): string => t.replace(/[\s\u2028\u2029]+/g, ' ').trim()
const oneLine = (e: NotifyEvent): NotifyEvent => ({
  ...e, workbook: { ...e.workbook, title: line(e.workbook.title) }, ...(e.sheet ? { sheet: { ...e.sheet, name: line(e.sheet.name) } } : {}),
  actor: e.actor && line(e.actor), people: e.people.map(line), ...(e.version ? { version: line(e.version) } : {}),
})

/** The message's sentence, in `lang`. */
export function sentence(given: NotifyEvent, lang: Lang): string {
  // names are one line in a message: a newline in a title or sheet name would make a line of its own
  // (a fake link, a fake sender)
  const e = oneLine(given)
  const zh = lang === 'zh-CN'
  const title = zh ? `「${e.workbook.title || '未命名'}」` : `"${e.workbook.title || 'Untitled'}"`
  const where = e.sheet ? (zh ? `${title}的${e.sheet.name}${e.cell ? `!${e.cell}` : ''}` : `${e.sheet.name}${e.cell ? `!${e.cell}` : ''} of ${title}`) : title
  const sheet = e.sheet ? (zh ? `工作表「${e.sheet.name}」` : `sheet "${e.sheet.name}"`) : (zh ? '工作簿' : 'the workbook')
  const people = e.people.join(zh ? '、' : ', ')
  const due = e.due ? (zh ? `（截止 ${e.due}）` : ` (due ${e.due})`) : ''
  const actor = e.actor || (zh ? '有人' : 'Someone')
  switch (e.event) {
    case 'mention': return zh ? `${actor} 在${where}的评论中提到了 ${people}` : `${actor} mentioned ${people} in a comment on ${where}`
    case 'assignment': return zh ? `${actor} 在${where}给 ${people} 分配了任务${due}` : `${actor} assigned a task on ${where} to ${people}${due}`
    case 'due-soon': return zh ? `${where}分配给 ${people} 的任务即将到期${due}` : `The task on ${where} assigned to ${people} is due soon${due}`
    case 'sign-off': return zh ? `${actor} 签核并锁定了${title}的${sheet}` : `${actor} signed off and locked ${sheet} of ${title}`
    case 'unlock': return zh ? `${actor} 解锁了${title}的${sheet}` : `${actor} unlocked ${sheet} of ${title}`
    case 'restore': {
      const v = e.version ? (zh ? `版本「${e.version}」` : `version "${e.version}"`) : (zh ? '一个版本' : 'a version')
      const what = e.sheet ? (zh ? `${title}的${sheet}${e.cell ? `!${e.cell}` : ''}` : `${sheet}${e.cell ? `!${e.cell}` : ''} of ${title}`) : title
      return zh ? `${actor} 将${what}恢复到了${v}` : `${actor} restored ${what} to ${v}`
    }
    case 'remind': return zh
      ? `${actor} 提醒：${title}的收集表「${e.sheet?.name ?? ''}」${due}还有 ${people} 未填写，请打开自己的填写链接提交`
      : `${actor} reminds you: ${people} ${e.people.length === 1 ? 'has' : 'have'} not yet filled in the form "${e.sheet?.name ?? ''}" of ${title}${due}; open your own form link to submit`
    case 'test': return zh ? `这是${title}的测试消息：通知已接通` : `A test message from ${title}: notifications are connected`
  }
}

/** The whole text of a chat message: the sentence, the comment quoted, the link. */
export function messageText(e: NotifyEvent, lang: Lang, link: string | null): string {
  const lines = [sentence(e, lang)]
  const q = quote(e.text)
  if (q) lines.push(lang === 'zh-CN' ? `“${q}”` : `“${q}”`)
  if (link) lines.push(link)
  return lines.join('\n')
}

export interface TargetForMessage { kind: TargetKind; url: string; secret: string | null; lang: Lang | null }

export interface OutgoingRequest { url: string; body: string; headers: Record<string, string> }

/** DingTalk's signature: base64(HMAC-SHA256 with the secret over `${timestamp}\n${secret}`), timestamp in ms. */
export const dingtalkSign = (timestampMs: number, secret: string): string =>
  createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64')

/** Feishu's signature: base64(HMAC-SHA256 keyed with `${timestamp}\n${secret}` over nothing), timestamp in s. */
export const feishuSign = (timestampS: number, secret: string): string =>
  createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64')

/** The generic webhook's signature: hex HMAC-SHA256 with the secret over `${timestamp}.${body}`. */
export const jsonSign = (timestampMs: number, body: string, secret: string): string =>
  createHmac('sha256', secret).update(`${timestampMs}.${body}`, 'utf8').digest('hex')

/**
 * Feishu reads `<at user_id="all"></at>` in a text message as @everyone (and `<at user_id="ou_…">` as
 * a person): user text (a comment, a title, a sheet name) must not carry one, so the `<` of anything
 * that opens or closes an `at` tag is shown as the full-width ＜.
 */
export const feishuText = (text: string): string => text.replace(/<(?=\s*\/?\s*at\b)/gi, '\uff1c')

/** The request that delivers `e` to `target` at `now`. */
export function render(e: NotifyEvent, target: TargetForMessage, publicUrl: string | null, now = Date.now()): OutgoingRequest {
  const lang: Lang = target.lang ?? e.workbook.lang ?? 'zh-CN'
  const link = cellLink(publicUrl, e)
  const text = messageText(e, lang, link)
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' }
  switch (target.kind) {
    case 'wecom':
      return { url: target.url, body: JSON.stringify({ msgtype: 'text', text: { content: text } }), headers }
    case 'feishu': {
      const ts = Math.floor(now / 1000)
      const sign = target.secret ? { timestamp: String(ts), sign: feishuSign(ts, target.secret) } : {}
      return { url: target.url, body: JSON.stringify({ ...sign, msg_type: 'text', content: { text: feishuText(text) } }), headers }
    }
    case 'dingtalk': {
      let url = target.url
      if (target.secret) url += `${url.includes('?') ? '&' : '?'}timestamp=${now}&sign=${encodeURIComponent(dingtalkSign(now, target.secret))}`
      return { url, body: JSON.stringify({ msgtype: 'text', text: { content: text } }), headers }
    }
    case 'json': {
      const body = JSON.stringify({
        event: e.event, workbook: e.workbook, sheet: e.sheet, cell: e.cell, actor: e.actor, people: e.people,
        comment: e.text, due: e.due, thread: e.thread, version: e.version, ...(e.round ? { round: e.round } : {}), text: sentence(e, lang), lang, url: link, at: new Date(e.at).toISOString(),
      })
      if (target.secret) {
        headers['x-webhook-timestamp'] = String(now)
        headers['x-webhook-signature'] = `sha256=${jsonSign(now, body, target.secret)}`
      }
      return { url: target.url, body, headers }
    }
  }
}

/**
 * Whether a vendor's answer says the message was taken: a 2xx, and for the chat robots no error code in
 * the JSON (WeCom and DingTalk answer 200 with {"errcode": 310000, …} for a bad signature or key;
 * Feishu with {"code": 19021, …}). Returns the error text, or null.
 */
export function answerProblem(kind: TargetKind, status: number, body: string): string | null {
  if (status < 200 || status >= 300) return `HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`
  if (kind === 'json') return null
  let j: unknown
  try { j = JSON.parse(body) } catch { return null }
  if (!j || typeof j !== 'object') return null
  const o = j as Record<string, unknown>
  const code = typeof o.errcode === 'number' ? o.errcode : typeof o.code === 'number' ? o.code : typeof o.StatusCode === 'number' ? o.StatusCode : 0
  if (code === 0) return null
  const msg = o.errmsg ?? o.msg ?? o.StatusMessage
  return `error ${code}${typeof msg === 'string' ? `: ${msg.slice(0, 200)}` : ''}`
}
