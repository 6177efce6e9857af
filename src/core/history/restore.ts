/**
 * Restoring a version as a new change: the cells, rows, columns and sheet names of the version are
 * written over the current doc, as a person would write them, so that everyone sees it, the person's
 * undo takes it back in one step, and the access rules apply: what this person could not edit (a
 * protected cell, a locked sheet) stays as it is and is reported as skipped.
 *
 * Scope: the whole workbook, one sheet, or one cell. Not restored: sheets deleted since (copy the version
 * into a new workbook to get them back), sheets added since (kept), row order after a sort, column
 * settings, charts, styles, protections and locks (access is never rolled back by a restore).
 */
import * as Y from 'yjs'
import { cellRefusal, columnRefusal, readAccess, rowGoneRefusal, sheetRefusal, type Principal, type RefusalCode } from '../access/access'
import { cellKey, sheetIds, sheetName, sheetParts, sheetsOf, visibleIds, type CellInput } from '../workbook/schema'
import { deleteCols, deleteRows, renameSheet, setCells, validateSheetName, type CellWrite } from '../workbook/mutations'

export interface RestoreScope { sheetId?: string; rowId?: string; colId?: string }

export interface Skipped { sheetId: string; rowId?: string; colId?: string; code: RefusalCode | 'sheet-deleted' | 'name-taken' }

export interface SheetRestore {
  sheetId: string
  writes: CellWrite[]
  /** ids deleted since the version: made visible again */
  undelete: { rows: string[]; cols: string[] }
  /** ids inserted since the version: deleted again */
  remove: { rows: string[]; cols: string[] }
  rename: string | null
}

export interface RestorePlan { sheets: SheetRestore[]; skipped: Skipped[] }

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null)

/** What restoring `version` over `current` writes, for this person. Pure: nothing is changed. */
export function planRestore(current: Y.Doc, version: Y.Doc, who: Principal, scope: RestoreScope = {}): RestorePlan {
  const access = readAccess(current)
  const plan: RestorePlan = { sheets: [], skipped: [] }
  const now = sheetsOf(current)
  const ids = scope.sheetId ? [scope.sheetId] : sheetIds(version)
  for (const sheetId of ids) {
    const old = sheetsOf(version).get(sheetId)
    if (!old) continue
    const cur = now.get(sheetId)
    if (!cur || !sheetIds(current).includes(sheetId)) { plan.skipped.push({ sheetId, code: 'sheet-deleted' }); continue }
    const op = sheetParts(old), cp = sheetParts(cur)
    const out: SheetRestore = { sheetId, writes: [], undelete: { rows: [], cols: [] }, remove: { rows: [], cols: [] }, rename: null }
    const single = scope.rowId !== undefined && scope.colId !== undefined
    const oldRows = visibleIds(op.rows, op.rowsGone), oldCols = visibleIds(op.cols, op.colsGone)
    const curRows = new Set(visibleIds(cp.rows, cp.rowsGone)), curCols = new Set(visibleIds(cp.cols, cp.colsGone))
    if (!single) {
      const structure = sheetRefusal(access, who, sheetId)
      const oldRowSet = new Set(oldRows), oldColSet = new Set(oldCols)
      const known = (order: Y.Array<string>) => new Set(order.toArray())
      const curKnownRows = known(cp.rows), curKnownCols = known(cp.cols)
      const undelete = { rows: oldRows.filter(r => !curRows.has(r) && curKnownRows.has(r)), cols: oldCols.filter(c => !curCols.has(c) && curKnownCols.has(c)) }
      const remove = { rows: [...curRows].filter(r => !oldRowSet.has(r)), cols: [...curCols].filter(c => !oldColSet.has(c)) }
      const name = sheetName(version, sheetId)
      const rename = name && name !== sheetName(current, sheetId) ? name : null
      if (undelete.rows.length || undelete.cols.length || remove.rows.length || remove.cols.length || rename) {
        if (structure) plan.skipped.push({ sheetId, code: structure.code })
        else {
          // a row taken out or brought back takes the right to each of its cells; a column, to the column
          const rowOk = (rowId: string) => {
            const r = rowGoneRefusal(access, current, who, sheetId, cur, rowId)
            if (r) plan.skipped.push({ sheetId, rowId, code: r.code })
            return !r
          }
          const colOk = (colId: string) => {
            const r = columnRefusal(access, who, sheetId, colId)
            if (r) plan.skipped.push({ sheetId, colId, code: r.code })
            return !r
          }
          out.undelete = { rows: undelete.rows.filter(rowOk), cols: undelete.cols.filter(colOk) }
          out.remove = { rows: remove.rows.filter(rowOk), cols: remove.cols.filter(colOk) }
          if (rename) {
            try { validateSheetName(current, rename, sheetId); out.rename = rename } catch { plan.skipped.push({ sheetId, code: 'name-taken' }) }
          }
        }
      }
    }
    // the rows and columns the sheet has once restored (the version's, where they came back)
    const back = { rows: new Set(out.undelete.rows), cols: new Set(out.undelete.cols) }
    const rowSet = new Set(single ? [scope.rowId!] : oldRows.filter(r => curRows.has(r) || back.rows.has(r)))
    const colSet = new Set(single ? [scope.colId!] : oldCols.filter(c => curCols.has(c) || back.cols.has(c)))
    const keys = new Set<string>()
    const collect = (cells: Y.Map<CellInput>) => {
      for (const key of cells.keys()) {
        const i = key.indexOf(':')
        if (rowSet.has(key.slice(0, i)) && colSet.has(key.slice(i + 1))) keys.add(key)
      }
    }
    if (single) keys.add(cellKey(scope.rowId!, scope.colId!))
    else { collect(op.cells); collect(cp.cells) }
    for (const key of keys) {
      const before = cp.cells.get(key), after = op.cells.get(key)
      if (same(before, after)) continue
      const i = key.indexOf(':')
      const rowId = key.slice(0, i), colId = key.slice(i + 1)
      const refusal = cellRefusal(access, current, who, sheetId, rowId, colId)
      if (refusal) { plan.skipped.push({ sheetId, rowId, colId, code: refusal.code }); continue }
      out.writes.push({ rowId, colId, value: after ?? null })
    }
    if (out.writes.length || out.rename || out.undelete.rows.length || out.undelete.cols.length || out.remove.rows.length || out.remove.cols.length) plan.sheets.push(out)
  }
  return plan
}

/** Applies a plan in one transaction (one undo step of `origin`'s). */
export function applyRestore(doc: Y.Doc, plan: RestorePlan, origin: unknown): void {
  doc.transact(() => {
    for (const s of plan.sheets) {
      const p = sheetParts(sheetsOf(doc).get(s.sheetId)!)
      for (const r of s.undelete.rows) p.rowsGone.delete(r)
      for (const c of s.undelete.cols) p.colsGone.delete(c)
      for (const r of s.remove.rows) {
        const at = visibleIds(p.rows, p.rowsGone).indexOf(r)
        if (at >= 0) deleteRows(doc, s.sheetId, at, 1, origin)
      }
      for (const c of s.remove.cols) {
        const at = visibleIds(p.cols, p.colsGone).indexOf(c)
        if (at >= 0) deleteCols(doc, s.sheetId, at, 1, origin)
      }
      if (s.rename) renameSheet(doc, s.sheetId, s.rename, origin)
      if (s.writes.length) setCells(doc, s.sheetId, s.writes, origin)
    }
  }, origin)
}

/** How many cells, rows and columns a plan changes. */
export function planSize(plan: RestorePlan): number {
  return plan.sheets.reduce((n, s) => n + s.writes.length + s.undelete.rows.length + s.undelete.cols.length + s.remove.rows.length + s.remove.cols.length + (s.rename ? 1 : 0), 0)
}
