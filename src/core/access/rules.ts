/**
 * The rules: pure questions over an AccessView, asked by the server's full check, by its quick check of
 * cell edits and by the UI (which shows what it may not edit as read-only, so nobody is refused for
 * what they could not have known). Each answers with why not (a Refusal) or null.
 */
import type * as Y from 'yjs'
import { cellKey, sheetParts, sheetsOf, type SheetMap } from '../workbook/schema'
import { cleanPersonName, mayEdit, type AccessView, type Principal, type Protection } from './model'
import type { Refusal } from './refusal'

/** Why this person's role changes no cell or structure at all (viewers: nothing; commenters: comments only). */
export function roleRefusal(who: Principal): Refusal | null {
  if (mayEdit(who.role)) return null
  return who.role === 'commenter' ? { code: 'comment-only' } : { code: 'read-only' }
}

/** The protection lets this person edit regardless of row (owner, named, or by role). */
export function allows(p: Protection, who: Principal): boolean {
  if (who.role === 'owner') return true
  if (!mayEdit(who.role)) return false
  return (!!who.name && !!p.names?.includes(who.name)) || !!p.roles?.includes(who.role)
}

/** The cell is one the protection covers. */
export const covers = (p: Protection, sheetId: string, rowId: string, colId: string): boolean =>
  p.sheet === sheetId && (!p.cols || p.cols.includes(colId)) && (!p.rows || p.rows.includes(rowId))

/** The cell is in the person column of a self-assessment protection (in a row it covers). */
export const isPersonCell = (p: Protection, sheetId: string, rowId: string, colId: string): boolean =>
  p.sheet === sheetId && p.personCol === colId && (!p.rows || p.rows.includes(rowId))

/** The cell lies in the protection at all: covered, or its person column (shown shaded, editable or not). */
export const inProtection = (p: Protection, sheetId: string, rowId: string, colId: string): boolean =>
  covers(p, sheetId, rowId, colId) || isPersonCell(p, sheetId, rowId, colId)

/** A protection of the whole sheet (no columns or rows named). */
export const wholeSheet = (p: Protection): boolean => !p.cols && !p.rows

/** The refusal a protection gives (on its sheet; at a cell when one is named). */
export const protectedBy = (p: Protection, cell?: string): Refusal =>
  cell === undefined ? { code: 'protected', sheet: p.sheet, protection: p.id } : { code: 'protected', sheet: p.sheet, cell, protection: p.id }

function personIn(sheet: SheetMap | undefined, rowId: string, colId: string): string {
  const v = sheet ? sheetParts(sheet).cells.get(cellKey(rowId, colId)) : undefined
  return typeof v === 'string' ? cleanPersonName(v) : ''
}

/** Viewers change nothing, commenters only comments; nobody changes a roll-up sheet or a signed-off one. */
function baseRefusal(view: AccessView, who: Principal, sheetId: string): Refusal | null {
  const r = roleRefusal(who)
  if (r) return r
  if (view.rollups?.has(sheetId)) return { code: 'rollup-read-only', sheet: sheetId }
  if (view.locks.has(sheetId)) return { code: 'locked', sheet: sheetId }
  return null
}

/**
 * Why this person may not edit the cell, or null when they may. `doc` supplies the person column's
 * value (read it from the state before a change, so nobody can name themselves and edit at once).
 */
export function cellRefusal(view: AccessView, doc: Y.Doc, who: Principal, sheetId: string, rowId: string, colId: string): Refusal | null {
  const base = baseRefusal(view, who, sheetId)
  if (base) return base
  let sheet: SheetMap | undefined
  for (const p of view.protections) {
    if (p.sheet !== sheetId || allows(p, who)) continue
    // the person column of a self-assessment rule belongs to those the rule allows
    if (isPersonCell(p, sheetId, rowId, colId)) return protectedBy(p, cellKey(rowId, colId))
    if (!covers(p, sheetId, rowId, colId)) continue
    if (p.personCol && who.name && personIn(sheet ??= sheetsOf(doc).get(sheetId), rowId, p.personCol) === who.name) continue
    return protectedBy(p, cellKey(rowId, colId))
  }
  return null
}

/** Whether this person may lock or unlock the sheet: owners, and those a protection of it allows. */
export function canLock(view: AccessView, who: Principal, sheetId: string): boolean {
  return who.role === 'owner' || view.protections.some(p => p.sheet === sheetId && allows(p, who))
}

/** Why this person may not change the sheet's structure (rows, columns, name, settings), or null. */
export function sheetRefusal(view: AccessView, who: Principal, sheetId: string): Refusal | null {
  const base = baseRefusal(view, who, sheetId)
  if (base) return base
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

/** Why this person may not delete the sheet (or take it out of the tab order), or null. */
export function sheetDeleteRefusal(view: AccessView, who: Principal, sheetId: string): Refusal | null {
  return sheetRefusal(view, who, sheetId)
    ?? (who.role !== 'owner' && view.protections.some(p => p.sheet === sheetId) ? { code: 'protected-sheet-delete', sheet: sheetId } : null)
}
