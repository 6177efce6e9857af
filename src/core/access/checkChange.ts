/**
 * The server's full check of a change: every type the transaction changed is located (a root, a sheet,
 * a part of a sheet) and handed to the checker for that place, with the keys it changed. A checker
 * answers with the first reason to refuse, or null. After them, a change that moved rows or columns is
 * checked against the ranges of protected formulas (ranges.ts).
 */
import * as Y from 'yjs'
import { chartProblem, chartsOf, type ChartSpec } from '../charts/charts'
import { metaOf, sheetOrderOf, sheetParts, sheetsOf, type ColumnMeta } from '../workbook/schema'
import { isTimeZone } from '../workbook/zone'
import { isWorkbookLang } from '../workbook/mutations'
import { isStyleValue, parseStyleKey, stylesOf } from '../workbook/styles'
import { hiddenOf, parseHiddenKey } from '../workbook/hidden'
import { filterViewSchema, filterViewsOf, type FilterView } from '../workbook/filter'
import { isMergeEnd, mergesOf, parseMergeKey, type MergeEnd } from '../workbook/merges'
import { WorkbookLayout } from '../workbook/layout'
import { cellWriteRefusal } from './cells'
import { ChangeContext, visibleOf, type Axis } from './context'
import { mayComment, mayEdit, readAccess, sheetLock, type Principal } from './model'
import { appliedChange, commentsRefusal } from './comments'
import { rangeMoveRefusal } from './ranges'
import type { Refusal } from './refusal'
import { canLock, roleRefusal, cellRefusal, columnRefusal, sheetDeleteRefusal, sheetRefusal } from './rules'
import { defineRoots, ID_TEXT, isSheetShape, KNOWN_ROOTS, SHEET_PARTS } from './shape'

type Keys = ReadonlySet<string | null>
/** Where a changed type is: a root, or a sheet (its own keys, or one of its parts). */
export interface Place { root: string; sheet?: string; part?: string }
type Checker = (ctx: ChangeContext, keys: Keys, at: Place) => Refusal | null

/** Which sheet (and part of it) a type of the doc `after` belongs to. */
function locate(after: Y.Doc, type: Y.AbstractType<unknown>): Place {
  const item = type._item
  if (item === null) {
    for (const [name, t] of after.share) if (t === type) return { root: name }
    return { root: '?' }
  }
  const sheets = sheetsOf(after)
  if (item.parent === sheets) return { root: 'sheets', sheet: item.parentSub ?? undefined }
  const pItem = (item.parent as Y.AbstractType<unknown>)?._item
  if (pItem && pItem.parent === sheets) return { root: 'sheets', sheet: pItem.parentSub ?? undefined, part: item.parentSub ?? '?' }
  return { root: 'deep' }
}

const present = (keys: Keys): string[] => [...keys].filter((k): k is string => k !== null)

// ── roots ─────────────────────────────────────────────────────────────────────────────────────────

/** Locks go to owners and the managers of the sheet, signed with their own name; protections to owners. */
const access: Checker = (ctx, keys) => {
  for (const k of present(keys)) {
    // the mark of a roll-up sheet is the server's
    if (k.startsWith('rollup:')) return { code: 'rollup-read-only', sheet: k.slice(7) }
    if (!k.startsWith('lock:')) { if (!ctx.owner) return { code: 'protections-owner-only' }; continue }
    const sid = k.slice(5)
    if (!canLock(ctx.view, ctx.who, sid)) return { code: 'lock-not-allowed', sheet: sid }
    const lock = sheetLock(ctx.after, sid)
    if (lock && ctx.who.name && lock.by !== ctx.who.name) return { code: 'lock-own-name', sheet: sid }
  }
  return null
}

/** The title and settings of the workbook: anyone who may edit; a time zone must be one. */
const meta: Checker = (ctx, keys) => {
  if (keys.has('historyViewers') && !ctx.owner) return { code: 'history-owner-only' }
  if (keys.has('historyViewers') && typeof metaOf(ctx.after).get('historyViewers') !== 'boolean' && metaOf(ctx.after).get('historyViewers') !== undefined) return { code: 'not-workbook' }
  if (keys.has('lang') && metaOf(ctx.after).get('lang') !== undefined && !isWorkbookLang(metaOf(ctx.after).get('lang'))) return { code: 'not-workbook' }
  if (keys.has('timeZone')) {
    const z = metaOf(ctx.after).get('timeZone')
    if (z !== undefined && !isTimeZone(z)) return { code: 'not-a-time-zone' }
  }
  return null
}

/**
 * A chart is shared furniture: anyone who may edit its sheet may add, change or remove it, and what is
 * written must be a chart (a broken spec would break everyone's panel).
 */
const charts: Checker = (ctx, keys) => {
  for (const k of present(keys)) {
    const was = chartsOf(ctx.before).get(k) as ChartSpec | undefined
    const now = chartsOf(ctx.after).get(k)
    if (now !== undefined) {
      const problem = chartProblem(now)
      if (problem) return { code: 'not-a-chart', detail: problem }
    }
    for (const sid of new Set([was?.sheet, (now as ChartSpec | undefined)?.sheet])) {
      if (typeof sid !== 'string') continue
      // charts over a roll-up sheet are the editors' like any (its cells are not theirs)
      const r = ctx.view.rollups?.has(sid) ? roleRefusal(ctx.who) : sheetRefusal(ctx.view, ctx.who, sid)
      if (r) return { ...r, sheet: sid }
    }
  }
  return null
}

/** Moving a tab takes its id out and puts it back; one that stays out hides the sheet (as deleting it). */
const sheetOrder: Checker = (ctx) => {
  const now = sheetOrderOf(ctx.after).toArray()
  if (!now.every(x => typeof x === 'string')) return { code: 'not-a-sheet-id' }
  const kept = new Set(now)
  for (const k of new Set(sheetOrderOf(ctx.before).toArray())) {
    if (kept.has(k) || !ctx.sheetBefore(k)) continue
    const r = sheetDeleteRefusal(ctx.view, ctx.who, k)
    if (r) return { ...r, sheet: k }
  }
  return null
}

/** Sheets added, removed or replaced: one added must have every part; one that existed must be free to delete. */
const sheets: Checker = (ctx, keys) => {
  for (const k of present(keys)) {
    const now = ctx.sheetAfter(k)
    if (now !== undefined && !isSheetShape(now)) return { code: 'not-a-sheet', sheet: k }
    if (!ctx.sheetBefore(k)) continue
    const r = sheetDeleteRefusal(ctx.view, ctx.who, k)
    if (r) return { ...r, sheet: k }
  }
  return null
}

/**
 * Formats are the cell's: whoever may not edit a cell (protected, or its sheet signed off) may not
 * restyle it either; what is written must be a format the grid knows.
 */
const styles: Checker = (ctx, keys) => {
  const after = stylesOf(ctx.after)
  for (const k of present(keys)) {
    const at = parseStyleKey(k)
    const v = after.get(k)
    if (!at || (v !== undefined && !isStyleValue(at.prop, v))) return { code: 'not-a-style' }
    const sid = at.sheetId
    if (ctx.view.locks.has(sid)) return { code: 'locked', sheet: sid }
    const r = cellRefusal(ctx.view, ctx.before, ctx.who, sid, at.rowId, at.colId)
    if (r) return { ...r, sheet: sid, cell: `${at.rowId}:${at.colId}` }
  }
  return null
}

/**
 * Hiding or showing a row or column changes the sheet's structure for everyone: the right to change
 * the sheet, and for a column the right to change it, for a row the right to take it out of sight
 * (as deleting it: a protected value in it may not be hidden by someone the protection leaves out).
 */
const hidden: Checker = (ctx, keys) => {
  const after = hiddenOf(ctx.after)
  for (const k of present(keys)) {
    const at = parseHiddenKey(k)
    const v = after.get(k)
    if (!at || (v !== undefined && v !== true)) return { code: 'not-hidden-entry' }
    const sid = at.sheetId
    const r = sheetRefusal(ctx.view, ctx.who, sid)
    if (r) return { ...r, sheet: sid }
    const g = at.axis === 'cols' ? columnRefusal(ctx.view, ctx.who, sid, at.id) : ctx.rowGone(sid, ctx.sheetBefore(sid), at.id)
    if (g) return { ...g, sheet: sid }
  }
  return null
}

/**
 * Filter views: anyone who may edit saves one, under their own name; changing or deleting one is for
 * the person who saved it and for owners.
 */
const filterViews: Checker = (ctx, keys) => {
  for (const k of present(keys)) {
    const was = filterViewsOf(ctx.before).get(k) as FilterView | undefined
    const now = filterViewsOf(ctx.after).get(k)
    if (now !== undefined) {
      const r = filterViewSchema.safeParse(now)
      if (!r.success || !/^[\w-]{1,64}$/.test(k)) return { code: 'not-a-filter-view' }
      if (ctx.who.name && r.data.by !== ctx.who.name && !ctx.owner) return { code: 'filter-view-not-yours' }
    }
    if (was && !ctx.owner && (!ctx.who.name || was.by !== ctx.who.name)) return { code: 'filter-view-not-yours' }
  }
  return null
}

/** Merging or unmerging a block: the sheet's structure, and every cell of the block must be this person's to edit. */
const merges: Checker = (ctx, keys) => {
  const layouts = { before: new WorkbookLayout(ctx.before), after: new WorkbookLayout(ctx.after) }
  for (const k of present(keys)) {
    const at = parseMergeKey(k)
    const now = mergesOf(ctx.after).get(k), was = mergesOf(ctx.before).get(k)
    if (!at || (now !== undefined && !isMergeEnd(now))) return { code: 'not-a-merge' }
    const sid = at.sheetId
    const r = sheetRefusal(ctx.view, ctx.who, sid)
    if (r) return { ...r, sheet: sid }
    for (const [end, layout] of [[now, layouts.after], [was, layouts.before]] as [MergeEnd | undefined, WorkbookLayout][]) {
      const sl = end && isMergeEnd(end) ? layout.sheet(sid) : undefined
      if (!sl || !end) continue
      const r1 = sl.rows.indexOf(at.rowId), c1 = sl.cols.indexOf(at.colId), r2 = sl.rows.indexOf(end.r), c2 = sl.cols.indexOf(end.c)
      if (r1 < 0 || c1 < 0 || r2 < 0 || c2 < 0) continue
      if ((r2 - r1 + 1) * (c2 - c1 + 1) > 100_000) return { code: 'not-a-merge', sheet: sid }
      for (let i = Math.min(r1, r2); i <= Math.max(r1, r2); i++) {
        for (let j = Math.min(c1, c2); j <= Math.max(c1, c2); j++) {
          const g = cellRefusal(ctx.view, ctx.before, ctx.who, sid, sl.rows.ids[i]!, sl.cols.ids[j]!)
          if (g) return { ...g, sheet: sid, cell: `${sl.rows.ids[i]}:${sl.cols.ids[j]}` }
        }
      }
    }
  }
  return null
}

// (maps, not objects: a type named like an Object property must not find a checker)
const ROOTS = new Map<string, Checker>([['comments', (ctx, keys) => commentsRefusal(appliedChange(ctx.before, ctx.after, ctx.who), keys)], ['access', access], ['meta', meta], ['charts', charts], ['sheetOrder', sheetOrder], ['sheets', sheets], ['styles', styles], ['hidden', hidden], ['filterViews', filterViews], ['merges', merges]])

// ── a sheet ───────────────────────────────────────────────────────────────────────────────────────

/** A sheet's own keys (name, frozen panes, totals row): its structure; its parts are never replaced. */
const sheetKeys: Checker = (ctx, keys, { sheet: sid }) => {
  const r = sheetRefusal(ctx.view, ctx.who, sid!)
  if (r) return { ...r, sheet: sid }
  for (const k of present(keys)) {
    if (SHEET_PARTS.has(k)) return { code: 'sheet-parts', sheet: sid }
    if (k === 'name' && typeof ctx.sheetAfter(sid!)?.get('name') !== 'string') return { code: 'not-a-sheet-name', sheet: sid }
  }
  return null
}

/**
 * The order of rows or columns. The app only inserts ids (deleting makes a tombstone); an id that
 * leaves the order (an undone insert, or a hostile client) hides its row or column for everyone: the
 * right to delete it is needed. An id the order holds, inserted again, would move it (its first place wins).
 */
const order: Checker = (ctx, _keys, { sheet: sid, part }) => {
  const r = sheetRefusal(ctx.view, ctx.who, sid!)
  if (r) return { ...r, sheet: sid }
  const axis = part as Axis
  const before = ctx.sheetBefore(sid!), after = ctx.sheetAfter(sid!)
  const nowIds = after ? sheetParts(after)[axis].toArray() : []
  const hadIds = before ? sheetParts(before)[axis].toArray() : []
  if (!nowIds.every(x => typeof x === 'string' && ID_TEXT.test(x))) return { code: 'bad-id', sheet: sid }
  const count = new Map<string, number>()
  for (const x of hadIds) count.set(x, (count.get(x) ?? 0) + 1)
  const seen = new Map<string, number>()
  for (const x of nowIds) {
    seen.set(x, (seen.get(x) ?? 0) + 1)
    if ((count.get(x) ?? 0) > 0 && seen.get(x)! > count.get(x)!) return { code: 'duplicate-insert', sheet: sid }
  }
  const kept = new Set(nowIds)
  const wasVisible = new Set(visibleOf(before, axis))
  for (const x of hadIds) {
    if (kept.has(x) || !wasVisible.has(x)) continue
    const g = axis === 'cols' ? columnRefusal(ctx.view, ctx.who, sid!, x) : ctx.rowGone(sid!, before, x)
    if (g) return { ...g, sheet: sid }
  }
  return null
}

/** Rows deleted take the right to delete their cells; a deleted row brought back brings its values back: the same right. */
const rowsGone: Checker = (ctx, keys, { sheet: sid }) => {
  if (ctx.view.rollups?.has(sid!)) return { code: 'rollup-read-only', sheet: sid }
  const before = ctx.sheetBefore(sid!), after = ctx.sheetAfter(sid!)
  if (!after) return null
  const wasVisible = new Set(visibleOf(before, 'rows'))
  for (const rowId of present(keys)) {
    const goneNow = sheetParts(after).rowsGone.has(rowId)
    if (goneNow && wasVisible.has(rowId)) {
      const g = ctx.rowGone(sid!, before, rowId)
      if (g) return g
    } else if (!goneNow && before && sheetParts(before).rowsGone.has(rowId)) {
      const r = sheetRefusal(ctx.view, ctx.who, sid!)
      if (r) return { ...r, sheet: sid }
      const g = ctx.rowGone(sid!, after, rowId)
      if (g) return g
    }
  }
  return null
}

/** Columns deleted or their settings changed; a calculated column whose ranges grew with the table is the workbook's doing. */
const columns: Checker = (ctx, keys, { sheet: sid, part }) => {
  for (const colId of present(keys)) {
    const r = columnRefusal(ctx.view, ctx.who, sid!, colId)
    if (!r) continue
    if (part === 'colMeta') {
      const mb = ctx.sheetBefore(sid!) ? sheetParts(ctx.sheetBefore(sid!)!).colMeta.get(colId) as ColumnMeta | undefined : undefined
      const ma = ctx.sheetAfter(sid!) ? sheetParts(ctx.sheetAfter(sid!)!).colMeta.get(colId) as ColumnMeta | undefined : undefined
      if (mb?.formula && ma?.formula && JSON.stringify({ ...mb, formula: 0 }) === JSON.stringify({ ...ma, formula: 0 })
        && ctx.automatic({ t: 'f', v: mb.formula }, { t: 'f', v: ma.formula }, sid!)) continue
    }
    return { ...r, sheet: sid }
  }
  return null
}

/** Cells set or cleared, each decided by cellWriteRefusal (as the quick check decides them). */
const cells: Checker = (ctx, keys, { sheet: sid }) => {
  const before = ctx.sheetBefore(sid!), after = ctx.sheetAfter(sid!)
  const cellsBefore = before ? sheetParts(before).cells : null, cellsAfter = after ? sheetParts(after).cells : null
  for (const key of keys) {
    if (key === null) { if (ctx.view.locks.has(sid!)) return { code: 'locked', sheet: sid }; continue }
    const r = cellWriteRefusal(ctx.view, ctx.before, ctx.who, sid!, key, cellsBefore?.get(key), cellsAfter?.get(key), ctx)
    if (r) return r
  }
  return null
}

/** Anything else of a sheet: its structure. */
const otherPart: Checker = (ctx, _keys, { sheet: sid }) => {
  const r = sheetRefusal(ctx.view, ctx.who, sid!)
  return r ? { ...r, sheet: sid } : null
}

const PARTS = new Map<string, Checker>([['rows', order], ['cols', order], ['rowsGone', rowsGone], ['colsGone', columns], ['colMeta', columns], ['cells', cells]])

/** Unknown root types, or nesting the app never writes. */
const notWorkbook: Checker = () => ({ code: 'not-workbook' })

/** A signed-off sheet: only its cells may change, where the workbook rewrites formulas by itself (see cells). */
const lockedSheet: Checker = (_ctx, _keys, { sheet: sid }) => ({ code: 'locked', sheet: sid })

/** A role that edits nothing (commenters): anything but the comments is refused. */
const roleOnly: Checker = (ctx) => roleRefusal(ctx.who)

function checkerFor(ctx: ChangeContext, at: Place): Checker {
  if (!mayEdit(ctx.who.role) && at.root !== 'comments') return roleOnly
  if (at.root !== 'sheets' || at.sheet === undefined) return ROOTS.get(at.root) ?? notWorkbook
  if (at.part === undefined) return sheetKeys
  if (ctx.view.locks.has(at.sheet) && at.part !== 'cells') return lockedSheet
  return PARTS.get(at.part) ?? otherPart
}

/** Whether a change of a row or column order did more than insert new ids (existing ones keep their order). */
function reordered(ctx: ChangeContext, sid: string, axis: Axis): boolean {
  const before = ctx.sheetBefore(sid), after = ctx.sheetAfter(sid)
  if (!before || !after) return false
  const had = sheetParts(before)[axis].toArray()
  const known = new Set(had)
  const kept = sheetParts(after)[axis].toArray().filter(x => known.has(x))
  return kept.length !== had.length || kept.some((x, i) => x !== had[i])
}

/**
 * Checks a change that was applied to `after` (in transaction `tr`) against the rules as they stood in
 * `before`, the same doc without it. Returns the first reason to refuse it, or null.
 */
export function checkChange(before: Y.Doc, after: Y.Doc, tr: Y.Transaction, who: Principal): Refusal | null {
  if (!mayComment(who.role)) return { code: 'read-only' }
  defineRoots(before)
  const ctx = new ChangeContext(before, after, tr, who, readAccess(before))
  function* places(): Generator<[Place, Keys]> {
    for (const [type, keys] of tr.changed) yield [locate(after, type as Y.AbstractType<unknown>), keys]
  }
  return judgeChange(ctx, places(), () => {
    for (const root of after.share.keys()) if (!KNOWN_ROOTS.has(root) && !before.share.has(root)) return { code: 'not-workbook' }
    return null
  })
}

/**
 * The verdict on a change: each place it changed (in the order Yjs noted them) by its checker, then
 * `roots` (types the change added at the top), then the ranges of protected formulas over rows or
 * columns it moved. (The quick check of row moves, quick.ts, gives it the places it works out itself.)
 */
export function judgeChange(ctx: ChangeContext, places: Iterable<[Place, Keys]>, roots: () => Refusal | null): Refusal | null {
  // the axes whose order or deletions changed: what protected formulas read may have moved
  const moved = new Map<string, Set<Axis>>()
  for (const [place, keys] of places) {
    const r = checkerFor(ctx, place)(ctx, keys, place)
    if (r) return r
    if (place.sheet === undefined || place.part === undefined) continue
    const axis: Axis | null = place.part === 'rows' || place.part === 'rowsGone' ? 'rows' : place.part === 'cols' || place.part === 'colsGone' ? 'cols' : null
    if (axis && (place.part.endsWith('Gone') || reordered(ctx, place.sheet, axis))) {
      (moved.get(place.sheet) ?? moved.set(place.sheet, new Set()).get(place.sheet)!).add(axis)
    }
  }
  const r = roots()
  if (r) return r
  return rangeMoveRefusal(ctx, moved)
}
