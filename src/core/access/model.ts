/**
 * The access model: who a person is (role and name, from their link) and the rules kept in the doc,
 * so everyone sees them live:
 *
 *   access   Y.Map (root)
 *     protections   Protection[]   (plain JSON; only owners may change it)
 *     lock:<sheetId> SheetLock      a signed-off sheet: nobody edits it until it is unlocked
 *     rollup:<sheetId> true         a roll-up sheet (issue 21): the server writes it, nobody else (no client may
 *                                   set or remove the mark either)
 *
 * A protection covers a sheet, some of its columns, or a block (rows × columns). Inside it only owners,
 * the people it names and the roles it lists may edit; with `personCol`, the person whose name stands in
 * that column of a row may also edit that row's covered cells (self-assessment), and the person column
 * itself is then editable only by those the protection allows.
 *
 * Everything read from the doc is untrusted (an old or hostile client may have written it): readers
 * check shapes and drop what does not fit; they never throw.
 */
import * as Y from 'yjs'
import { z } from '../zod'

/** Highest first: owners run the workbook, editors edit, commenters read and comment, viewers read. */
export const ROLES = ['owner', 'editor', 'commenter', 'viewer'] as const
export type Role = typeof ROLES[number]
export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v)
/** The roles that may change cells and structure (within protections and locks). */
export const mayEdit = (role: Role): boolean => role === 'owner' || role === 'editor'
/** The roles that may write comments: every one but viewers. */
export const mayComment = (role: Role): boolean => role !== 'viewer'

/** The person behind a connection, as the server knows them from their link. */
export interface Principal { role: Role; name: string }

export interface Protection {
  id: string
  sheet: string
  /** covered column ids; absent: every column */
  cols?: string[]
  /** covered row ids; absent: every row */
  rows?: string[]
  /** people (by link name) who may edit the covered cells */
  names?: string[]
  /** roles whose every member may edit them (owners always may) */
  roles?: Role[]
  /** column whose value names the person who may edit that row's covered cells */
  personCol?: string
  /** shown in the UI */
  label?: string
}

export interface SheetLock { by: string; at: number }

/** What the rules read: the protections, and the locks by sheet id. */
export interface AccessView {
  protections: Protection[]
  /** locks by sheet id */
  locks: Map<string, SheetLock>
  /** roll-up sheets: read-only for everyone (the server writes them) */
  rollups?: ReadonlySet<string>
}

export const MAX_PROTECTIONS = 200
const ID = /^[\w-]{1,64}$/

export function accessOf(doc: Y.Doc): Y.Map<unknown> { return doc.getMap('access') }

export const cleanPersonName = (v: unknown): string =>
  typeof v === 'string' ? v.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 80) : ''

// ── reading protections (zod): a field that does not fit is dropped, an entry that does not fit too ──

/** The items of a list that fit `item`, at most `max` of them. */
const listOf = <T>(item: z.ZodMiniType<T>, max: number) => z.pipe(z.array(z.unknown()), z.transform((a: unknown[]) => {
  const out: T[] = []
  for (const x of a) {
    const r = item.safeParse(x)
    if (r.success) out.push(r.data)
    if (out.length >= max) break
  }
  return out
}))
/** An optional field: what does not fit reads as absent. */
const lenient = <T>(schema: z.ZodMiniType<T>) => z.catch(z.optional(schema), undefined)

const Id = z.string().check(z.regex(ID))
const PersonName = z.pipe(z.string(), z.transform((s: string) => cleanPersonName(s))).check(z.minLength(1))
const ProtectionSchema = z.object({
  id: Id,
  sheet: Id,
  cols: lenient(listOf(Id, 10_000)),
  rows: lenient(listOf(Id, 10_000)),
  names: lenient(listOf(PersonName, 100)),
  roles: lenient(listOf(z.enum(ROLES), 100)),
  personCol: lenient(Id),
  label: lenient(z.pipe(z.string(), z.transform((s: string) => s.slice(0, 100)))),
})

/** One protection from untrusted JSON, or null. */
export function readProtection(v: unknown): Protection | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null
  const r = ProtectionSchema.safeParse(v)
  if (!r.success) return null
  // absent fields stay absent (the protection is written back into the doc as it reads)
  const p: Protection = { id: r.data.id, sheet: r.data.sheet }
  for (const k of ['cols', 'rows', 'names', 'roles', 'personCol', 'label'] as const) {
    if (r.data[k] !== undefined) (p as unknown as Record<string, unknown>)[k] = r.data[k]
  }
  return p
}

export function readProtections(doc: Y.Doc): Protection[] {
  const v = accessOf(doc).get('protections')
  if (!Array.isArray(v)) return []
  const out: Protection[] = []
  for (const x of v.slice(0, MAX_PROTECTIONS)) { const p = readProtection(x); if (p) out.push(p) }
  return out
}

export const lockKey = (sheetId: string) => `lock:${sheetId}`
export const rollupMarkKey = (sheetId: string) => `rollup:${sheetId}`

export function sheetLock(doc: Y.Doc, sheetId: string): SheetLock | null {
  const v = accessOf(doc).get(lockKey(sheetId))
  if (!v || typeof v !== 'object') return null
  const o = v as Record<string, unknown>
  return { by: cleanPersonName(o.by), at: typeof o.at === 'number' ? o.at : 0 }
}

export function readAccess(doc: Y.Doc): AccessView {
  const locks = new Map<string, SheetLock>()
  const rollups = new Set<string>()
  accessOf(doc).forEach((v, k) => {
    if (k.startsWith('lock:')) { const l = sheetLock(doc, k.slice(5)); if (l) locks.set(k.slice(5), l) }
    else if (k.startsWith('rollup:') && v === true) rollups.add(k.slice(7))
  })
  return { protections: readProtections(doc), locks, rollups }
}

// ── mutations (the UI calls these; the server checks who made them) ─────────────────────────────

export function setProtections(doc: Y.Doc, list: Protection[], origin: unknown = null): void {
  const clean = list.map(readProtection).filter((p): p is Protection => p !== null).slice(0, MAX_PROTECTIONS)
  doc.transact(() => accessOf(doc).set('protections', clean), origin)
}

export function lockSheet(doc: Y.Doc, sheetId: string, by: string, origin: unknown = null, now = Date.now()): void {
  doc.transact(() => accessOf(doc).set(lockKey(sheetId), { by: cleanPersonName(by), at: now }), origin)
}

export function unlockSheet(doc: Y.Doc, sheetId: string, origin: unknown = null): void {
  doc.transact(() => accessOf(doc).delete(lockKey(sheetId)), origin)
}
