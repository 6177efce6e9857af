/**
 * The REST calls of fill-in rounds (server/http/routes/rounds.ts): the owner's (with the workbook's held
 * share link) and the person's form (with their form token, kept per round in this browser so a copied
 * page address hands on nothing).
 */
import { ApiError } from '../../api'
import { heldToken } from '../../sync/links'
import type { FieldProblem } from '../../core/rounds/fields'
import type { Repeat } from '../../core/rounds/periods'
import type { ColumnMeta } from '../../core/workbook/schema'

export interface PersonStatus { name: string; submitted: boolean; at?: number; state: 'submitted' | 'late' | 'not-yet'; late?: true }
export interface RoundBoard {
  id: string; sheetId: string; sheetName: string; columns: string[]; repeat: Repeat; period: number; label: string
  due: number; dueText: string; zone: string; createdAt: number; status: PersonStatus[]
  closed: { period: number; versionId: string | null; at: number }[]
  links: { name: string; url: string }[]
}
export interface NewRound { sheet: string; columns: string[]; people: string[] | { personColumn: string }; due: string; repeat: Repeat }
export interface FormColumn { id: string; title: string; type: NonNullable<ColumnMeta['type']>; options?: string[]; help?: string; validation?: ColumnMeta['validation'] }
export interface FormRow { id: string; number: number; label: string; values: Record<string, string>; readOnly: Record<string, string> }
export interface RoundForm {
  workbook: { id: string; title: string }; round: { id: string; sheetName: string; repeat: Repeat }; person: string
  period: number; label: string; due: number; dueText: string; zone: string; state: PersonStatus['state']; submitted: boolean; at?: number
  columns: FormColumn[]; rows: FormRow[]
}
export interface FieldError { rowId: string; colId: string; cell: string; code: FieldProblem['code']; message: string; min?: number; max?: number; options?: string[] }

/** An error answer, with the fields it names (400) or the refused cell (409). */
export class RoundError extends ApiError {
  constructor(status: number, message: string, readonly fields: FieldError[] = [], readonly code = '', readonly cell: string | null = null) { super(status, message) }
}

async function call<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
  } catch (e) {
    throw new RoundError(0, (e as Error).message || 'network error')
  }
  if (res.status === 204) return undefined as T
  const data = await res.json().catch(() => undefined) as (T & { error?: string; fields?: FieldError[]; code?: string; cell?: string | null }) | undefined
  if (!res.ok || data === undefined) throw new RoundError(res.status, data?.error ?? `${res.status} ${res.statusText}`, data?.fields ?? [], data?.code ?? '', data?.cell ?? null)
  return data
}

const base = (id: string) => `/api/workbooks/${encodeURIComponent(id)}/rounds`

export const roundsApi = {
  list: (id: string) => call<RoundBoard[]>('GET', base(id), heldToken(id)),
  create: (id: string, r: NewRound) => call<RoundBoard>('POST', base(id), heldToken(id), r),
  remove: (id: string, rid: string) => call<void>('DELETE', `${base(id)}/${encodeURIComponent(rid)}`, heldToken(id)),
  remind: (id: string, rid: string) => call<{ targets: number; people: string[]; links: { name: string; url: string }[] }>('POST', `${base(id)}/${encodeURIComponent(rid)}/remind`, heldToken(id)),
  form: (id: string, rid: string, token: string) => call<RoundForm>('GET', `${base(id)}/${encodeURIComponent(rid)}/form`, token),
  submit: (id: string, rid: string, token: string, rows: Record<string, Record<string, string>>) =>
    call<{ submitted: true; at: number; changed: number }>('POST', `${base(id)}/${encodeURIComponent(rid)}/submit`, token, { rows }),
}

const KEY = (id: string, rid: string) => `pw.form:${id}:${rid}`
export function heldFormToken(id: string, rid: string): string {
  try { return globalThis.localStorage?.getItem(KEY(id, rid)) ?? '' } catch { return '' }
}
export function holdFormToken(id: string, rid: string, token: string): void {
  try { globalThis.localStorage?.setItem(KEY(id, rid), token) } catch { /* private mode: this visit only */ }
}
