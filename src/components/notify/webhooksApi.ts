/** The REST calls of a workbook's webhook targets (owners only; server/http/routes/webhooks.ts). */
import { ApiError } from '../../api'
import { heldToken } from '../../sync/links'

export const TARGET_KINDS = ['wecom', 'feishu', 'dingtalk', 'json'] as const
export type TargetKind = typeof TARGET_KINDS[number]
/** `lock` is the same event as `sign-off` on the server; the page offers sign-off and unlock */
export const EVENTS = ['mention', 'assignment', 'due-soon', 'sign-off', 'unlock', 'restore'] as const
export type EventName = typeof EVENTS[number] | 'lock'

export interface WebhookTarget {
  id: string; kind: TargetKind; url: string; hasSecret: boolean; events: EventName[]; lang: 'zh-CN' | 'en' | null; createdAt: number
  status: 'ok' | 'failed' | null; lastError: string | null; failures: number; lastAttemptAt: number | null; pending: number
}
/** `secret` left out: a target of the same kind and URL keeps the one it has; null or '': none */
export interface TargetInput { kind: TargetKind; url: string; secret?: string | null; events: EventName[]; lang?: 'zh-CN' | 'en' | null }

async function call<T>(method: string, workbookId: string, sub: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${heldToken(workbookId)}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(`/api/workbooks/${encodeURIComponent(workbookId)}/webhooks${sub}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
  } catch (e) {
    throw new ApiError(0, (e as Error).message || 'network error')
  }
  const data = await res.json().catch(() => undefined) as (T & { error?: string }) | undefined
  if (!res.ok || data === undefined) throw new ApiError(res.status, data?.error ?? `${res.status} ${res.statusText}`)
  return data
}

export const webhooksApi = {
  list: (workbookId: string) => call<WebhookTarget[]>('GET', workbookId, ''),
  save: (workbookId: string, targets: TargetInput[]) => call<WebhookTarget[]>('PUT', workbookId, '', targets),
  test: (workbookId: string, id?: string) => call<{ queued: number }>('POST', workbookId, '/test', id ? { id } : {}),
}
