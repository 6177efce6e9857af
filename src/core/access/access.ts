/**
 * Who may change what in a workbook. No Vue imports: the server enforces these rules on every update
 * it receives, and the grid uses the same functions to show protected cells as read-only.
 *
 * Roles come from share links (owner, editor, viewer); the name of a link is the person's name.
 * The rules themselves live in the doc, so everyone sees them live:
 *
 *   access   Y.Map (root)
 *     protections   Protection[]   (plain JSON; only owners may change it)
 *     lock:<sheetId> SheetLock      a signed-off sheet: nobody edits it until it is unlocked
 *
 * A protection covers a sheet, some of its columns, or a block (rows × columns). Inside it only owners,
 * the people it names and the roles it lists may edit; with `personCol`, the person whose name stands in
 * that column of a row may also edit that row's covered cells (self-assessment), and the person column
 * itself is then editable only by those the protection allows.
 *
 * Everything read from the doc is untrusted (an old or hostile client may have written it): readers
 * check shapes and ignore what does not fit.
 */
import * as Y from 'yjs'
import {
  cellKey, isFormula, sheetOrderOf, sheetParts, sheetsOf, visibleIds, type CellInput, type ColumnMeta, type SheetMap,
} from '../workbook/schema'
import { columnFormulaFor } from '../workbook/table'

export type Role = 'owner' | 'editor' | 'viewer'
export const ROLES: readonly Role[] = ['owner', 'editor', 'viewer']
export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v)

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

export const MAX_PROTECTIONS = 200
const ID = /^[\w-]{1,64}$/

export function accessOf(doc: Y.Doc): Y.Map<unknown> { return doc.getMap('access') }

const idList = (v: unknown, max = 10_000): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && ID.test(x)).slice(0, max) : undefined

export const cleanPersonName = (v: unknown): string =>
  typeof v === 'string' ? v.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 80) : ''

/** One protection from untrusted JSON, or null. */
export function readProtection(v: unknown): Protection | null {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null
  const o = v as Record<string, unknown>
  if (typeof o.id !== 'string' || !ID.test(o.id) || typeof o.sheet !== 'string' || !ID.test(o.sheet)) return null
  const p: Protection = { id: o.id, sheet: o.sheet }
  const cols = idList(o.cols), rows = idList(o.rows)
  if (cols) p.cols = cols
  if (rows) p.rows = rows
  if (Array.isArray(o.names)) p.names = o.names.map(cleanPersonName).filter(Boolean).slice(0, 100)
  if (Array.isArray(o.roles)) p.roles = o.roles.filter(isRole)
  if (typeof o.personCol === 'string' && ID.test(o.personCol)) p.personCol = o.personCol
  if (typeof o.label === 'string') p.label = o.label.slice(0, 100)
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

export function sheetLock(doc: Y.Doc, sheetId: string): SheetLock | null {
  const v = accessOf(doc).get(lockKey(sheetId))
  if (!v || typeof v !== 'object') return null
  const o = v as Record<string, unknown>
  return { by: cleanPersonName(o.by), at: typeof o.at === 'number' ? o.at : 0 }
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

// ── questions ─────────────────────────────────────────────────────────────────────────────────────

/** The protection lets this person edit regardless of row (owner, named, or by role). */
export function allows(p: Protection, who: Principal): boolean {
  if (who.role === 'owner') return true
  if (who.role === 'viewer') return false
  return (!!who.name && !!p.names?.includes(who.name)) || !!p.roles?.includes(who.role)
}

export const covers = (p: Protection, sheetId: string, rowId: string, colId: string): boolean =>
  p.sheet === sheetId && (!p.cols || p.cols.includes(colId)) && (!p.rows || p.rows.includes(rowId))

/** A protection of the whole sheet (no columns or rows named). */
export const wholeSheet = (p: Protection): boolean => !p.cols && !p.rows

function personIn(sheet: SheetMap | undefined, rowId: string, colId: string): string {
  const v = sheet ? sheetParts(sheet).cells.get(cellKey(rowId, colId)) : undefined
  return typeof v === 'string' ? cleanPersonName(v) : ''
}

export interface AccessView {
  protections: Protection[]
  /** locks by sheet id */
  locks: Map<string, SheetLock>
}

export function readAccess(doc: Y.Doc): AccessView {
  const locks = new Map<string, SheetLock>()
  accessOf(doc).forEach((_v, k) => {
    if (k.startsWith('lock:')) { const l = sheetLock(doc, k.slice(5)); if (l) locks.set(k.slice(5), l) }
  })
  return { protections: readProtections(doc), locks }
}

/**
 * Why this person may not edit the cell, or null when they may. `doc` supplies the person column's
 * value (read it from the state before a change, so nobody can name themselves and edit at once).
 */
export function cellRefusal(view: AccessView, doc: Y.Doc, who: Principal, sheetId: string, rowId: string, colId: string): string | null {
  if (who.role === 'viewer') return 'read-only link'
  if (view.locks.has(sheetId)) return 'sheet is locked'
  const sheet = sheetsOf(doc).get(sheetId)
  for (const p of view.protections) {
    if (p.sheet !== sheetId || allows(p, who)) continue
    // the person column of a self-assessment rule belongs to those the rule allows
    if (p.personCol === colId && (!p.rows || p.rows.includes(rowId))) return protectionName(p)
    if (!covers(p, sheetId, rowId, colId)) continue
    if (p.personCol && who.name && personIn(sheet, rowId, p.personCol) === who.name) continue
    return protectionName(p)
  }
  return null
}

export const protectionName = (p: Protection): string => `protected${p.label ? `: ${p.label}` : ''}`

/** Whether this person may lock or unlock the sheet: owners, and those a protection of it allows by name or role. */
export function canLock(view: AccessView, who: Principal, sheetId: string): boolean {
  if (who.role === 'owner') return true
  if (who.role === 'viewer') return false
  return view.protections.some(p => p.sheet === sheetId && ((!!who.name && !!p.names?.includes(who.name)) || !!p.roles?.includes(who.role)))
}

/** Why this person may not change the sheet's structure (rows, columns, name, settings), or null. */
export function sheetRefusal(view: AccessView, who: Principal, sheetId: string): string | null {
  if (who.role === 'viewer') return 'read-only link'
  if (view.locks.has(sheetId)) return 'sheet is locked'
  const p = view.protections.find(x => x.sheet === sheetId && wholeSheet(x) && !allows(x, who))
  return p ? protectionName(p) : null
}

/** Why this person may not change or delete the column (its settings, type, formula), or null. */
export function columnRefusal(view: AccessView, who: Principal, sheetId: string, colId: string): string | null {
  const r = sheetRefusal(view, who, sheetId)
  if (r) return r
  const p = view.protections.find(x => x.sheet === sheetId && (!x.cols || x.cols.includes(colId) || x.personCol === colId) && !allows(x, who))
  return p ? protectionName(p) : null
}

// ── checking a change (server) ────────────────────────────────────────────────────────────────────

export interface Refusal { reason: string; sheet?: string; cell?: string }

const KNOWN_ROOTS = new Set(['meta', 'sheetOrder', 'sheets', 'access'])

function sameInput(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (isFormula(a) && isFormula(b)) return a.v === b.v
  return JSON.stringify(a) === JSON.stringify(b)
}

const REF = /\u27e6[^\u27e7]*\u27e7/g

/**
 * True when `next` is `prev` with some row ids inside references replaced by rows the same change
 * inserted right after them: what happens to a totals formula when rows are added at the end of its
 * table (the range grows over the new rows, never moves or shrinks). `order`: visible rows after.
 */
function onlyGrewInto(prev: unknown, next: unknown, newRows: ReadonlySet<string>, order: readonly string[]): boolean {
  if (!isFormula(prev) || !isFormula(next) || newRows.size === 0) return false
  const a = prev.v, b = next.v
  if (a.replace(REF, '⟦⟧') !== b.replace(REF, '⟦⟧')) return false
  const ra = a.match(REF) ?? [], rb = b.match(REF) ?? []
  if (ra.length !== rb.length) return false
  for (let i = 0; i < ra.length; i++) {
    const ta = ra[i]!.split(/([,:!])/), tb = rb[i]!.split(/([,:!])/)
    if (ta.length !== tb.length) return false
    for (let j = 0; j < ta.length; j++) {
      if (ta[j] === tb[j]) continue
      const from = ta[j]!.replace(/[\u27e6\u27e7$]/g, ''), to = tb[j]!.replace(/[\u27e6\u27e7$]/g, '')
      if (!newRows.has(to)) return false
      const i0 = order.indexOf(from), i1 = order.indexOf(to)
      if (i0 < 0 || i1 <= i0) return false
      for (let k = i0 + 1; k <= i1; k++) if (!newRows.has(order[k]!)) return false
    }
  }
  return true
}

/**
 * Gives a doc its root types with their classes. Call it on a doc before applying updates that
 * checkChange will look at: a root first seen in an update is a plain type until someone asks for it
 * by class, and asking replaces the instance (so the types a transaction lists would not be the doc's).
 */
export function defineRoots(doc: Y.Doc): void {
  doc.getMap('meta'); doc.getArray('sheetOrder'); doc.getMap('sheets'); doc.getMap('access')
}

/** Which sheet (and part of it) a type of the doc `after` belongs to. */
function locate(after: Y.Doc, type: Y.AbstractType<unknown>): { root?: string; sheet?: string; part?: string } {
  const item = type._item
  if (item === null) {
    for (const [name, t] of after.share) if (t === type) return { root: name }
    return { root: '?' }
  }
  const sheets = sheetsOf(after)
  if (item.parent === sheets) return { root: 'sheets', sheet: item.parentSub ?? undefined }
  const parent = item.parent as Y.AbstractType<unknown>
  const pItem = parent?._item
  if (pItem && pItem.parent === sheets) return { root: 'sheets', sheet: pItem.parentSub ?? undefined, part: item.parentSub ?? '?' }
  return { root: 'deep' }
}

/**
 * Checks a change that was applied to `after` (in transaction `tr`) against the rules as they stood in
 * `before`, the same doc without it. Returns the first reason to refuse it, or null.
 */
export function checkChange(before: Y.Doc, after: Y.Doc, tr: Y.Transaction, who: Principal): Refusal | null {
  if (who.role === 'viewer') return { reason: 'read-only link' }
  defineRoots(before)
  const view = readAccess(before)
  const owner = who.role === 'owner'
  const beforeSheets = sheetsOf(before)
  const visible = (s: SheetMap | undefined, axis: 'rows' | 'cols') => {
    if (!s) return [] as string[]
    const p = sheetParts(s)
    return axis === 'rows' ? visibleIds(p.rows, p.rowsGone) : visibleIds(p.cols, p.colsGone)
  }
  // a sheet that leaves the workbook or its tab order (hidden for everyone) must be free to delete
  const sheetGone = (k: string): string | null =>
    sheetRefusal(view, who, k) ?? (view.protections.some(p => p.sheet === k) && !owner ? 'only owners may delete a protected sheet' : null)
  // deleting a row deletes its protected values
  const rowGone = (sid: string, sheetBefore: SheetMap | undefined, rowId: string): Refusal | null => {
    const cells = sheetBefore ? sheetParts(sheetBefore).cells : null
    for (const colId of visible(sheetBefore, 'cols')) {
      if (cells?.get(cellKey(rowId, colId)) === undefined) continue
      const r = cellRefusal(view, before, who, sid, rowId, colId)
      if (r) return { reason: r, sheet: sid, cell: cellKey(rowId, colId) }
    }
    return null
  }
  for (const [type, keys] of tr.changed) {
    const at = locate(after, type as Y.AbstractType<unknown>)
    if (at.root === 'access') {
      for (const k of keys) {
        if (k === null) continue
        if (k.startsWith('lock:')) {
          if (!canLock(view, who, k.slice(5))) return { reason: 'only owners and the managers of a sheet may lock or unlock it', sheet: k.slice(5) }
          // a sign-off carries the signer's own name
          const lock = sheetLock(after, k.slice(5))
          if (lock && who.name && lock.by !== who.name) return { reason: 'a lock is signed with your own name', sheet: k.slice(5) }
        } else if (!owner) return { reason: 'only owners may change protections' }
      }
      continue
    }
    if (at.root === 'meta') continue
    if (at.root === 'sheetOrder') {
      // moving a tab takes its id out and puts it back; one that stays out hides the sheet
      const kept = new Set(sheetOrderOf(after).toArray())
      for (const k of new Set(sheetOrderOf(before).toArray())) {
        if (kept.has(k) || !beforeSheets.has(k)) continue
        const r = sheetGone(k)
        if (r) return { reason: r, sheet: k }
      }
      continue
    }
    if ((type as unknown) === sheetsOf(after)) {
      // sheets added, removed or replaced: a sheet that existed must be free to change
      for (const k of keys) {
        if (k === null || !beforeSheets.has(k)) continue
        const r = sheetGone(k)
        if (r) return { reason: r, sheet: k }
      }
      continue
    }
    if (at.root !== 'sheets' || at.sheet === undefined) {
      // unknown root types or nesting the app never writes
      return { reason: 'not part of a workbook' }
    }
    const sid = at.sheet
    if (at.part === undefined) {
      // a sheet's own keys: name, frozen panes, totals row, or its parts replaced
      const r = sheetRefusal(view, who, sid)
      if (r) return { reason: r, sheet: sid }
      for (const k of keys) {
        if (k && ['rows', 'cols', 'rowsGone', 'colsGone', 'colMeta', 'cells'].includes(k) && !owner && view.protections.some(p => p.sheet === sid)) {
          return { reason: 'only owners may replace parts of a protected sheet', sheet: sid }
        }
      }
      continue
    }
    const lock = view.locks.has(sid) ? 'sheet is locked' : null
    if (lock) return { reason: lock, sheet: sid }
    const sheetBefore = beforeSheets.get(sid)
    const sheetAfter = sheetsOf(after).get(sid)
    switch (at.part) {
      case 'rows':
      case 'cols': {
        const r = sheetRefusal(view, who, sid)
        if (r) return { reason: r, sheet: sid }
        // the app only appends ids (deleting makes a tombstone); an id that leaves the order (an undone
        // insert, or a hostile client) hides its row or column for everyone: the right to delete it is needed
        const axis = at.part
        const kept = new Set(sheetAfter ? (sheetParts(sheetAfter)[axis]).toArray() : [])
        const wasVisible = new Set(visible(sheetBefore, axis))
        for (const x of sheetBefore ? sheetParts(sheetBefore)[axis].toArray() : []) {
          if (kept.has(x) || !wasVisible.has(x)) continue
          if (axis === 'cols') {
            const c = columnRefusal(view, who, sid, x)
            if (c) return { reason: c, sheet: sid }
          } else {
            const g = rowGone(sid, sheetBefore, x)
            if (g) return g
          }
        }
        break
      }
      case 'rowsGone': {
        const wasVisible = new Set(visible(sheetBefore, 'rows'))
        for (const rowId of keys) {
          if (rowId === null || !wasVisible.has(rowId) || !sheetAfter || !sheetParts(sheetAfter).rowsGone.has(rowId)) continue
          const g = rowGone(sid, sheetBefore, rowId)
          if (g) return g
        }
        break
      }
      case 'colsGone':
      case 'colMeta': {
        for (const colId of keys) {
          if (colId === null) continue
          const r = columnRefusal(view, who, sid, colId)
          if (r) return { reason: r, sheet: sid }
        }
        break
      }
      case 'cells': {
        const cellsBefore = sheetBefore ? sheetParts(sheetBefore).cells : null
        const cellsAfter = sheetAfter ? sheetParts(sheetAfter).cells : null
        const rowsBefore = new Set(sheetBefore ? sheetParts(sheetBefore).rows.toArray() : [])
        const rowsAfter = sheetAfter ? sheetParts(sheetAfter).rows.toArray() : []
        const newRows = new Set(rowsAfter.filter(r => !rowsBefore.has(r)))
        let order: string[] | undefined
        const metaBefore = sheetBefore ? sheetParts(sheetBefore).colMeta : null
        for (const key of keys) {
          if (key === null) continue
          const i = key.indexOf(':')
          if (i < 0) return { reason: 'not a cell', sheet: sid }
          const rowId = key.slice(0, i), colId = key.slice(i + 1)
          const r = cellRefusal(view, before, who, sid, rowId, colId)
          if (!r) continue
          const prev = cellsBefore?.get(key) as CellInput | undefined
          const next = cellsAfter?.get(key) as CellInput | undefined
          if (sameInput(prev, next)) continue
          // what the workbook writes by itself: a calculated column's formula into an empty cell (it never
          // overwrites one: that would undo a manual value), a totals range growing
          const formula = (metaBefore?.get(colId) as ColumnMeta | undefined)?.formula
          if (formula && prev === undefined && next !== undefined) {
            order ??= visible(sheetAfter, 'rows')
            if (sameInput(columnFormulaFor(formula, rowId, order), next)) continue
          }
          order ??= visible(sheetAfter, 'rows')
          if (onlyGrewInto(prev, next, newRows, order)) continue
          return { reason: r, sheet: sid, cell: key }
        }
        break
      }
      default: {
        const r = sheetRefusal(view, who, sid)
        if (r) return { reason: r, sheet: sid }
      }
    }
  }
  for (const root of after.share.keys()) if (!KNOWN_ROOTS.has(root) && !before.share.has(root)) return { reason: 'not part of a workbook' }
  return null
}
