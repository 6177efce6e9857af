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
import * as decoding from 'lib0/decoding'
import { chartProblem, chartsOf, type ChartSpec } from '../charts/charts'
import {
  cellKey, isFormula, sheetOrderOf, sheetParts, sheetsOf, visibleIds, type CellInput, type ColumnMeta, type SheetMap,
} from '../workbook/schema'
import { columnFormulaFor } from '../workbook/table'
import type { Refusal } from './refusal'

export * from './refusal'

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
export function cellRefusal(view: AccessView, doc: Y.Doc, who: Principal, sheetId: string, rowId: string, colId: string): Refusal | null {
  if (who.role === 'viewer') return { code: 'read-only' }
  if (view.locks.has(sheetId)) return { code: 'locked', sheet: sheetId }
  const sheet = sheetsOf(doc).get(sheetId)
  for (const p of view.protections) {
    if (p.sheet !== sheetId || allows(p, who)) continue
    // the person column of a self-assessment rule belongs to those the rule allows
    if (p.personCol === colId && (!p.rows || p.rows.includes(rowId))) return protectedBy(p, cellKey(rowId, colId))
    if (!covers(p, sheetId, rowId, colId)) continue
    if (p.personCol && who.name && personIn(sheet, rowId, p.personCol) === who.name) continue
    return protectedBy(p, cellKey(rowId, colId))
  }
  return null
}

/** The refusal a protection gives (on its sheet; at a cell when one is named). */
export const protectedBy = (p: Protection, cell?: string): Refusal =>
  cell === undefined ? { code: 'protected', sheet: p.sheet, protection: p.id } : { code: 'protected', sheet: p.sheet, cell, protection: p.id }

/** Whether this person may lock or unlock the sheet: owners, and those a protection of it allows by name or role. */
export function canLock(view: AccessView, who: Principal, sheetId: string): boolean {
  if (who.role === 'owner') return true
  if (who.role === 'viewer') return false
  return view.protections.some(p => p.sheet === sheetId && ((!!who.name && !!p.names?.includes(who.name)) || !!p.roles?.includes(who.role)))
}

/** Why this person may not change the sheet's structure (rows, columns, name, settings), or null. */
export function sheetRefusal(view: AccessView, who: Principal, sheetId: string): Refusal | null {
  if (who.role === 'viewer') return { code: 'read-only' }
  if (view.locks.has(sheetId)) return { code: 'locked', sheet: sheetId }
  const p = view.protections.find(x => x.sheet === sheetId && wholeSheet(x) && !allows(x, who))
  return p ? protectedBy(p) : null
}

/** Why this person may not change or delete the column (its settings, type, formula), or null. */
export function columnRefusal(view: AccessView, who: Principal, sheetId: string, colId: string): Refusal | null {
  const r = sheetRefusal(view, who, sheetId)
  if (r) return r
  const p = view.protections.find(x => x.sheet === sheetId && (!x.cols || x.cols.includes(colId) || x.personCol === colId) && !allows(x, who))
  return p ? protectedBy(p) : null
}

// ── checking a change (server) ────────────────────────────────────────────────────────────────────

const KNOWN_ROOTS = new Set(['meta', 'sheetOrder', 'sheets', 'access'])

function sameInput(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (isFormula(a) && isFormula(b)) return a.v === b.v
  return JSON.stringify(a) === JSON.stringify(b)
}

const REF = /\u27e6[^\u27e7]*\u27e7/g

/**
 * True when `next` is `prev` with range ends moved over rows the same change inserted right after them:
 * what extendRangeEnds does to a totals formula (in any sheet) when rows are added at the end of a
 * table. Only the row of a range's end may differ; its start, columns and sheet stay; every row between
 * the old end and the new one is new. `newRows`: rows the change inserted, in any sheet; `orderOf`: a
 * sheet's visible rows after the change; `sheetId`: the sheet the formula is on.
 */
function onlyGrewInto(prev: unknown, next: unknown, newRows: ReadonlySet<string>, orderOf: (sheetId: string) => readonly string[], sheetId: string): boolean {
  if (!isFormula(prev) || !isFormula(next) || newRows.size === 0) return false
  const a = prev.v, b = next.v
  if (a.replace(REF, '⟦⟧') !== b.replace(REF, '⟦⟧')) return false
  const ra = a.match(REF) ?? [], rb = b.match(REF) ?? []
  if (ra.length !== rb.length) return false
  let grew = false
  for (let i = 0; i < ra.length; i++) {
    if (ra[i] === rb[i]) continue
    const x = ra[i]!.slice(1, -1), y = rb[i]!.slice(1, -1)
    const bang = x.indexOf('!')
    if (bang !== y.indexOf('!') || x.slice(0, bang + 1) !== y.slice(0, bang + 1)) return false
    const [sa, ea, more] = x.slice(bang + 1).split(':'), [sb, eb] = y.slice(bang + 1).split(':')
    if (more !== undefined || ea === undefined || eb === undefined || sa !== sb) return false
    const [rowA, colA] = ea.split(','), [rowB, colB] = eb.split(',')
    if (colA !== colB || rowA === undefined || rowB === undefined || rowA.startsWith('$') !== rowB.startsWith('$')) return false
    const from = rowA.replace('$', ''), to = rowB.replace('$', '')
    if (!newRows.has(to)) return false
    const order = orderOf(bang >= 0 ? x.slice(0, bang) : sheetId)
    const i0 = order.indexOf(from), i1 = order.indexOf(to)
    if (i0 < 0 || i1 <= i0) return false
    for (let k = i0 + 1; k <= i1; k++) if (!newRows.has(order[k]!)) return false
    grew = true
  }
  return grew
}

const ID_TEXT = /^[\w-]{1,64}$/

/** A value the app stores in a cell: a finite number, text, a boolean, a formula or a date. */
export function isCellInput(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v)
  if (typeof v === 'string') return v.length <= 100_000
  if (typeof v === 'boolean') return true
  if (!v || typeof v !== 'object' || Array.isArray(v) || v instanceof Y.AbstractType) return false
  const o = v as Record<string, unknown>
  const keys = Object.keys(o)
  if (keys.length !== 2 || typeof o.v !== 'string') return false
  return (o.t === 'f' && o.v.startsWith('=') && o.v.length <= 100_000) || (o.t === 'd' && /^\d{4}-\d{2}-\d{2}$/.test(o.v))
}

/** A sheet map with the parts the app reads (a sheet without them would break every replica's engine). */
export function isSheetShape(s: unknown): boolean {
  if (!(s instanceof Y.Map)) return false
  const arr = (k: string) => s.get(k) instanceof Y.Array
  const map = (k: string) => s.get(k) instanceof Y.Map
  if (typeof s.get('name') !== 'string' || !arr('rows') || !arr('cols') || !map('rowsGone') || !map('colsGone') || !map('colMeta') || !map('cells')) return false
  const ids = (k: string) => (s.get(k) as Y.Array<unknown>).toArray().every(x => typeof x === 'string' && ID_TEXT.test(x))
  if (!ids('rows') || !ids('cols')) return false
  let cellsOk = true
  ;(s.get('cells') as Y.Map<unknown>).forEach(v => { if (cellsOk && !isCellInput(v)) cellsOk = false })
  return cellsOk
}

/**
 * Gives a doc its root types with their classes. Call it on a doc before applying updates that
 * checkChange will look at: a root first seen in an update is a plain type until someone asks for it
 * by class, and asking replaces the instance (so the types a transaction lists would not be the doc's).
 */
export function defineRoots(doc: Y.Doc): void {
  doc.getMap('meta'); doc.getArray('sheetOrder'); doc.getMap('sheets'); doc.getMap('access'); doc.getMap('charts')
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
  if (who.role === 'viewer') return { code: 'read-only' }
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
  const sheetGone = (k: string): Refusal | null =>
    sheetRefusal(view, who, k) ?? (view.protections.some(p => p.sheet === k) && !owner ? { code: 'protected-sheet-delete', sheet: k } : null)
  // deleting a row deletes its protected values (a calculated column's own formula is nobody's value)
  const rowGone = (sid: string, sheetBefore: SheetMap | undefined, rowId: string): Refusal | null => {
    const cells = sheetBefore ? sheetParts(sheetBefore).cells : null
    const metas = sheetBefore ? sheetParts(sheetBefore).colMeta : null
    for (const colId of visible(sheetBefore, 'cols')) {
      const v = cells?.get(cellKey(rowId, colId))
      if (v === undefined) continue
      const calc = (metas?.get(colId) as ColumnMeta | undefined)?.formula
      if (calc && sameInput(v, columnFormulaFor(calc, rowId, visible(sheetBefore, 'rows')))) continue
      const r = cellRefusal(view, before, who, sid, rowId, colId)
      if (r) return { ...r, sheet: sid, cell: cellKey(rowId, colId) }
    }
    return null
  }
  // rows the change inserted, in every sheet (range ends may grow over them), and each sheet's rows after it
  let inserted: Set<string> | undefined
  const newRows = (): Set<string> => {
    if (inserted) return inserted
    inserted = new Set<string>()
    sheetsOf(after).forEach((s, id) => {
      if (!(s instanceof Y.Map) || !(s.get('rows') instanceof Y.Array)) return
      const had = new Set(beforeSheets.get(id) ? sheetParts(beforeSheets.get(id)!).rows.toArray() : [])
      for (const r of (s.get('rows') as Y.Array<string>).toArray()) if (!had.has(r)) inserted!.add(r)
    })
    return inserted
  }
  const orders = new Map<string, string[]>()
  const orderOf = (id: string) => { let o = orders.get(id); if (!o) { o = visible(sheetsOf(after).get(id), 'rows'); orders.set(id, o) } return o }
  // and rows it took out of the order (an undone insert): range ends shrink back over them
  let removed: Set<string> | undefined
  const removedRows = (): Set<string> => {
    if (removed) return removed
    removed = new Set<string>()
    beforeSheets.forEach((s, id) => {
      const now = sheetsOf(after).get(id)
      const kept = new Set(now instanceof Y.Map && now.get('rows') instanceof Y.Array ? (now.get('rows') as Y.Array<string>).toArray() : [])
      for (const r of sheetParts(s).rows.toArray()) if (!kept.has(r)) removed!.add(r)
    })
    return removed
  }
  const beforeOrders = new Map<string, string[]>()
  const beforeOrderOf = (id: string) => { let o = beforeOrders.get(id); if (!o) { o = visible(beforeSheets.get(id), 'rows'); beforeOrders.set(id, o) } return o }
  /** A formula the workbook rewrote by itself: a range grown over inserted rows, or shrunk back when they went. */
  const automatic = (prev: unknown, next: unknown, sid: string) =>
    onlyGrewInto(prev, next, newRows(), orderOf, sid) || onlyGrewInto(next, prev, removedRows(), beforeOrderOf, sid)
  for (const [type, keys] of tr.changed) {
    const at = locate(after, type as Y.AbstractType<unknown>)
    if (at.root === 'access') {
      for (const k of keys) {
        if (k === null) continue
        if (k.startsWith('lock:')) {
          if (!canLock(view, who, k.slice(5))) return { code: 'lock-not-allowed', sheet: k.slice(5) }
          // a sign-off carries the signer's own name
          const lock = sheetLock(after, k.slice(5))
          if (lock && who.name && lock.by !== who.name) return { code: 'lock-own-name', sheet: k.slice(5) }
        } else if (!owner) return { code: 'protections-owner-only' }
      }
      continue
    }
    if (at.root === 'meta') continue
    if (at.root === 'charts') {
      // a chart is shared furniture: anyone who may edit its sheet may add, change or remove it, and
      // what is written must be a chart (a broken spec would break everyone's panel)
      for (const k of keys) {
        if (k === null) continue
        const was = chartsOf(before).get(k) as ChartSpec | undefined
        const now = chartsOf(after).get(k)
        if (now !== undefined) {
          const problem = chartProblem(now)
          if (problem) return { code: 'not-a-chart', detail: problem }
        }
        for (const sid of new Set([was?.sheet, (now as ChartSpec | undefined)?.sheet])) {
          if (typeof sid !== 'string') continue
          const r = sheetRefusal(view, who, sid)
          if (r) return { ...r, sheet: sid }
        }
      }
      continue
    }
    if (at.root === 'sheetOrder') {
      if (!sheetOrderOf(after).toArray().every(x => typeof x === 'string')) return { code: 'not-a-sheet-id' }
      // moving a tab takes its id out and puts it back; one that stays out hides the sheet
      const kept = new Set(sheetOrderOf(after).toArray())
      for (const k of new Set(sheetOrderOf(before).toArray())) {
        if (kept.has(k) || !beforeSheets.has(k)) continue
        const r = sheetGone(k)
        if (r) return { ...r, sheet: k }
      }
      continue
    }
    if ((type as unknown) === sheetsOf(after)) {
      // sheets added, removed or replaced: a sheet that existed must be free to change
      for (const k of keys) {
        if (k === null) continue
        const now = sheetsOf(after).get(k)
        // a sheet added (or brought back) must have every part, or it breaks everyone's workbook
        if (now !== undefined && !isSheetShape(now)) return { code: 'not-a-sheet', sheet: k }
        if (!beforeSheets.has(k)) continue
        const r = sheetGone(k)
        if (r) return { ...r, sheet: k }
      }
      continue
    }
    if (at.root !== 'sheets' || at.sheet === undefined) {
      // unknown root types or nesting the app never writes
      return { code: 'not-workbook' }
    }
    const sid = at.sheet
    if (at.part === undefined) {
      // a sheet's own keys: name, frozen panes, totals row, or its parts replaced
      const r = sheetRefusal(view, who, sid)
      if (r) return { ...r, sheet: sid }
      for (const k of keys) {
        // the app never replaces a sheet's parts once made: doing so breaks every replica's engine
        if (k && ['rows', 'cols', 'rowsGone', 'colsGone', 'colMeta', 'cells'].includes(k)) return { code: 'sheet-parts', sheet: sid }
        if (k === 'name' && typeof sheetsOf(after).get(sid)?.get('name') !== 'string') return { code: 'not-a-sheet-name', sheet: sid }
      }
      continue
    }
    const sheetBefore = beforeSheets.get(sid)
    const sheetAfter = sheetsOf(after).get(sid)
    if (view.locks.has(sid)) {
      // a signed-off sheet changes only where the workbook keeps its references right by itself: a
      // totals range here growing over rows inserted at the end of a table it sums
      const cellsB = sheetBefore ? sheetParts(sheetBefore).cells : null, cellsA = sheetAfter ? sheetParts(sheetAfter).cells : null
      const untouched = at.part === 'cells' && [...keys].every(k => k !== null
        && (sameInput(cellsB?.get(k), cellsA?.get(k)) || automatic(cellsB?.get(k), cellsA?.get(k), sid)))
      if (!untouched) return { code: 'locked', sheet: sid }
      continue
    }
    switch (at.part) {
      case 'rows':
      case 'cols': {
        const r = sheetRefusal(view, who, sid)
        if (r) return { ...r, sheet: sid }
        // the app only appends ids (deleting makes a tombstone); an id that leaves the order (an undone
        // insert, or a hostile client) hides its row or column for everyone: the right to delete it is needed
        const axis = at.part
        const nowIds = sheetAfter ? sheetParts(sheetAfter)[axis].toArray() : []
        const hadIds = sheetBefore ? sheetParts(sheetBefore)[axis].toArray() : []
        if (!nowIds.every(x => typeof x === 'string' && ID_TEXT.test(x))) return { code: 'bad-id', sheet: sid }
        // an id the order already holds, inserted again, would move that row or column (its first place wins)
        const count = new Map<string, number>()
        for (const x of hadIds) count.set(x, (count.get(x) ?? 0) + 1)
        const seen = new Map<string, number>()
        for (const x of nowIds) {
          seen.set(x, (seen.get(x) ?? 0) + 1)
          if ((count.get(x) ?? 0) > 0 && seen.get(x)! > count.get(x)!) return { code: 'duplicate-insert', sheet: sid }
        }
        const kept = new Set(nowIds)
        const wasVisible = new Set(visible(sheetBefore, axis))
        for (const x of hadIds) {
          if (kept.has(x) || !wasVisible.has(x)) continue
          if (axis === 'cols') {
            const c = columnRefusal(view, who, sid, x)
            if (c) return { ...c, sheet: sid }
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
          if (rowId === null || !sheetAfter) continue
          const goneNow = sheetParts(sheetAfter).rowsGone.has(rowId)
          if (goneNow && wasVisible.has(rowId)) {
            const g = rowGone(sid, sheetBefore, rowId)
            if (g) return g
          } else if (!goneNow && sheetBefore && sheetParts(sheetBefore).rowsGone.has(rowId)) {
            // a deleted row brought back brings its values back: it takes the right to have deleted it
            const r = sheetRefusal(view, who, sid)
            if (r) return { ...r, sheet: sid }
            const g = rowGone(sid, sheetAfter, rowId)
            if (g) return g
          }
        }
        break
      }
      case 'colsGone':
      case 'colMeta': {
        for (const colId of keys) {
          if (colId === null) continue
          const r = columnRefusal(view, who, sid, colId)
          if (!r) continue
          if (at.part === 'colMeta') {
            // a calculated column whose ranges grew with the table, and nothing else changed
            const mb = (sheetBefore ? sheetParts(sheetBefore).colMeta.get(colId) : undefined) as ColumnMeta | undefined
            const ma = (sheetAfter ? sheetParts(sheetAfter).colMeta.get(colId) : undefined) as ColumnMeta | undefined
            if (mb?.formula && ma?.formula && JSON.stringify({ ...mb, formula: 0 }) === JSON.stringify({ ...ma, formula: 0 })
              && automatic({ t: 'f', v: mb.formula }, { t: 'f', v: ma.formula }, sid)) continue
          }
          return { ...r, sheet: sid }
        }
        break
      }
      case 'cells': {
        const cellsBefore = sheetBefore ? sheetParts(sheetBefore).cells : null
        const cellsAfter = sheetAfter ? sheetParts(sheetAfter).cells : null
        let order: string[] | undefined
        const metaBefore = sheetBefore ? sheetParts(sheetBefore).colMeta : null
        for (const key of keys) {
          if (key === null) continue
          const i = key.indexOf(':')
          if (i < 0) return { code: 'not-a-cell', sheet: sid }
          const rowId = key.slice(0, i), colId = key.slice(i + 1)
          const next = cellsAfter?.get(key) as CellInput | undefined
          // what the engine reads: anything else (nested types, NaN, objects) breaks every replica
          if (next !== undefined && !isCellInput(next)) return { code: 'not-a-cell-value', sheet: sid, cell: key }
          const r = cellRefusal(view, before, who, sid, rowId, colId)
          if (!r) continue
          const prev = cellsBefore?.get(key) as CellInput | undefined
          if (sameInput(prev, next)) continue
          // what the workbook writes by itself: a calculated column's formula into an empty cell (it never
          // overwrites one: that would undo a manual value), a totals range growing
          const formula = (metaBefore?.get(colId) as ColumnMeta | undefined)?.formula
          if (formula && prev === undefined && next !== undefined) {
            order ??= visible(sheetAfter, 'rows')
            if (sameInput(columnFormulaFor(formula, rowId, order), next)) continue
            // the column's formula may have grown with the table in this very change
            const grown = (sheetAfter ? sheetParts(sheetAfter).colMeta.get(colId) as ColumnMeta | undefined : undefined)?.formula
            if (grown && grown !== formula && automatic({ t: 'f', v: formula }, { t: 'f', v: grown }, sid)
              && sameInput(columnFormulaFor(grown, rowId, order), next)) continue
          }
          if (automatic(prev, next, sid)) continue
          // a calculated formula going with its row (an undone insert)
          if (next === undefined && removedRows().has(rowId)) {
            const calc = (metaBefore?.get(colId) as ColumnMeta | undefined)?.formula
            if (calc && sameInput(prev, columnFormulaFor(calc, rowId, beforeOrderOf(sid)))) continue
          }
          return { ...r, sheet: sid, cell: key }
        }
        break
      }
      default: {
        const r = sheetRefusal(view, who, sid)
        if (r) return { ...r, sheet: sid }
      }
    }
  }
  for (const root of after.share.keys()) if (!KNOWN_ROOTS.has(root) && !before.share.has(root)) return { code: 'not-workbook' }
  return null
}

// ── the quick check: changes that only set or clear cells ─────────────────────────────────────────

type DecodedStructs = { structs: Array<Y.Item | Y.GC | { constructor: unknown }>; ds: { clients: Map<number, { clock: number; len: number }[]> } }

/** The sheet whose cells map `type` is, in `doc`'s live sheets, or null. */
function cellsSheetOf(doc: Y.Doc, type: unknown): string | null {
  if (!(type instanceof Y.Map)) return null
  const partItem = type._item
  if (!partItem || partItem.deleted || partItem.parentSub !== 'cells') return null
  const sheet = partItem.parent
  const sheetItem = sheet instanceof Y.Map ? sheet._item : null
  if (!sheetItem || sheetItem.deleted || sheetItem.parent !== sheetsOf(doc) || sheetItem.parentSub === null) return null
  return sheetsOf(doc).get(sheetItem.parentSub) === sheet && (sheet as SheetMap).get('cells') === type ? sheetItem.parentSub : null
}

/** The struct of `doc` at (client, clock), when the doc has it. */
function structAt(doc: Y.Doc, client: number, clock: number): Y.Item | Y.GC | null {
  if (clock >= Y.getState(doc.store, client)) return null
  const structs = doc.store.clients.get(client)!
  return structs[Y.findIndexSS(structs, clock)] as Y.Item | Y.GC
}

/**
 * The verdict of checkChange on an update (decoded, not applied) that only sets or clears cells of
 * existing sheets, what editing does nearly always: read off `doc` as it stands, without a copy of the
 * doc to try it on. `undefined` when the update is anything else, or not plainly so (concurrent with
 * an edit the doc has, building on edits it lacks, repeating some it holds): the full check decides.
 */
export function quickCellCheck(doc: Y.Doc, update: Uint8Array, decoded: DecodedStructs, who: Principal): Refusal | null | undefined {
  if (who.role === 'viewer') return { code: 'read-only' }
  try {
    defineRoots(doc)
    // one group of structs per client: Yjs keeps only the last group a client id has in an update
    // (an empty one too), so the structs decodeUpdate lists would not all be what is applied
    const clients = new Set<number>()
    let last = -1
    for (const s of decoded.structs) {
      const c = s instanceof Y.Item ? s.id.client : -1
      if (c !== last && clients.has(c)) return undefined
      clients.add(c)
      last = c
    }
    if (decoding.readVarUint(decoding.createDecoder(update)) !== clients.size) return undefined
    // sheet → key → the value after the change
    const changes = new Map<string, Map<string, unknown>>()
    /** the entries new items take over (Yjs deletes each as its successor comes in) */
    const replaced = new Set<Y.Item>()
    const next = new Map<number, number>()
    for (const s of decoded.structs) {
      if (!(s instanceof Y.Item) || s.length !== 1 || !(s.content instanceof Y.ContentAny) || s.rightOrigin !== null) return undefined
      const client = s.id.client
      const expected = next.get(client) ?? Y.getState(doc.store, client)
      if (s.id.clock !== expected) return undefined
      next.set(client, expected + 1)
      let map: unknown, key: string | null
      if (s.origin) {
        // an existing entry overwritten: its parent and key are the entry's (the update does not repeat them)
        const left = structAt(doc, s.origin.client, s.origin.clock)
        // (an origin inside a longer item would split it, and the new entry would not end up last)
        if (!(left instanceof Y.Item) || left.parentSub === null || replaced.has(left) || s.origin.clock !== left.id.clock + left.length - 1) return undefined
        map = left.parent
        key = left.parentSub
        if (!(map instanceof Y.Map) || map._map.get(key) !== left) return undefined
        replaced.add(left)
      } else {
        // a new key: the parent is named, and nobody may have written the key meanwhile
        if (!(s.parent instanceof Y.ID) || typeof s.parentSub !== 'string') return undefined
        const parentItem = structAt(doc, s.parent.client, s.parent.clock)
        if (!(parentItem instanceof Y.Item) || !(parentItem.content instanceof Y.ContentType)) return undefined
        map = parentItem.content.type
        key = s.parentSub
        if (!(map instanceof Y.Map) || map._map.has(key)) return undefined
      }
      const sid = cellsSheetOf(doc, map)
      if (sid === null) return undefined
      const keys = changes.get(sid) ?? changes.set(sid, new Map()).get(sid)!
      if (keys.has(key)) return undefined
      keys.set(key, (s.content as Y.ContentAny).arr[0])
    }
    for (const [client, ranges] of decoded.ds.clients) {
      for (const { clock, len } of ranges) {
        if (len <= 0 || clock + len > Y.getState(doc.store, client)) return undefined
        for (let c = clock; c < clock + len;) {
          const item = structAt(doc, client, c)!
          c = item.id.clock + item.length
          if (!(item instanceof Y.Item) || item.deleted) continue
          if (item.parentSub === null || item.id.clock < clock || c > clock + len) return undefined
          const sid = cellsSheetOf(doc, item.parent)
          if (sid === null) return undefined
          // an entry some later one overwrote already: deleting it shows nothing
          if ((item.parent as Y.Map<unknown>)._map.get(item.parentSub) !== item) continue
          // the entry a new item takes over goes with it; any other is a cell cleared
          if (!replaced.has(item)) {
            const keys = changes.get(sid) ?? changes.set(sid, new Map()).get(sid)!
            if (keys.has(item.parentSub)) return undefined
            keys.set(item.parentSub, undefined)
          }
        }
      }
    }
    const view = readAccess(doc)
    for (const [sid, keys] of changes) {
      const sheet = sheetsOf(doc).get(sid)!
      const cells = sheetParts(sheet).cells
      let order: string[] | undefined
      for (const [key, value] of keys) {
        const prev = cells.get(key)
        if (view.locks.has(sid)) {
          if (!sameInput(prev, value)) return { code: 'locked', sheet: sid }
          continue
        }
        const i = key.indexOf(':')
        if (i < 0) return { code: 'not-a-cell', sheet: sid }
        const rowId = key.slice(0, i), colId = key.slice(i + 1)
        if (value !== undefined && !isCellInput(value)) return { code: 'not-a-cell-value', sheet: sid, cell: key }
        const r = cellRefusal(view, doc, who, sid, rowId, colId)
        if (!r || sameInput(prev, value)) continue
        // a calculated column's formula into an empty cell: what the workbook writes by itself
        const formula = (sheetParts(sheet).colMeta.get(colId) as ColumnMeta | undefined)?.formula
        if (formula && prev === undefined && value !== undefined) {
          order ??= visibleIds(sheetParts(sheet).rows, sheetParts(sheet).rowsGone)
          if (sameInput(columnFormulaFor(formula, rowId, order), value)) continue
        }
        return { ...r, sheet: sid, cell: key }
      }
    }
    return null
  } catch {
    return undefined
  }
}
