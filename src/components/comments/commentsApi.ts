/**
 * The REST calls of comments: the people who hold links to a workbook (for @ suggestions) and the
 * inbox across every workbook this browser holds links for (all its tokens in one Bearer header).
 * Comments themselves are read and written in the doc, live for everyone (useComments).
 */
import { ApiError } from '../../api'

export type InboxKind = 'mention' | 'assignment' | 'reply'

export interface InboxItem {
  workbookId: string; workbookTitle: string; linkId?: string; commentId: string; replyId?: string; kind: InboxKind
  sheetId: string; sheetName?: string | null; cell: string | null; text: string; author: string; at: number
  due?: string; done?: boolean; resolved: boolean; read: boolean
}
export interface InboxAnswer { items: InboxItem[]; unread: number }
export interface ReadMark { workbookId: string; commentId: string; kind: InboxKind; replyId?: string }

async function call<T>(method: string, path: string, tokens: string[], body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${tokens.join(' ')}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
  } catch (e) {
    throw new ApiError(0, (e as Error).message || 'network error')
  }
  if (res.status === 204) return undefined as T
  const data = await res.json().catch(() => undefined) as (T & { error?: string }) | undefined
  if (!res.ok || data === undefined) throw new ApiError(res.status, data?.error ?? `${res.status} ${res.statusText}`)
  return data
}

export const commentsApi = {
  people: async (workbookId: string, token: string): Promise<{ name: string; role: string }[]> => {
    const r = await call<{ people?: unknown }>('GET', `/api/workbooks/${encodeURIComponent(workbookId)}/people`, [token])
    return Array.isArray(r.people)
      ? r.people.filter((p): p is { name: string; role: string } => !!p && typeof (p as { name?: unknown }).name === 'string')
      : []
  },
  inbox: (tokens: string[]) => call<InboxAnswer>('GET', '/api/inbox', tokens),
  markRead: (tokens: string[], body: { items: ReadMark[] } | { all: true }) => call<void>('POST', '/api/inbox/read', tokens, body),
}
