/**
 * The one decision about a cell write, made by the full check's `cells` checker and by the quick check
 * of cell edits alike: may this person change the cell `key` of sheet `sid` from `prev` to `next`?
 */
import type * as Y from 'yjs'
import { columnFormulaFor } from '../workbook/table'
import type { CellContext } from './context'
import type { AccessView, Principal } from './model'
import type { Refusal } from './refusal'
import { cellRefusal } from './rules'
import { isCellInput, sameInput } from './shape'

/**
 * Why the write may not be made, or null. `before` is the doc without the change (the person column's
 * value is read there); `ctx` tells what else the change did (rows inserted or taken out, formulas the
 * workbook rewrote by itself).
 */
export function cellWriteRefusal(
  view: AccessView, before: Y.Doc, who: Principal, sid: string, key: string, prev: unknown, next: unknown, ctx: CellContext,
): Refusal | null {
  // a roll-up sheet is the server's (its writes never come through here)
  if (view.rollups?.has(sid)) return sameInput(prev, next) ? null : { code: 'rollup-read-only', sheet: sid }
  // a signed-off sheet changes only where the workbook keeps its references right by itself: a totals
  // range here growing over rows inserted at the end of a table it sums
  if (view.locks.has(sid)) return sameInput(prev, next) || ctx.automatic(prev, next, sid) ? null : { code: 'locked', sheet: sid }
  const i = key.indexOf(':')
  if (i < 0) return { code: 'not-a-cell', sheet: sid }
  const rowId = key.slice(0, i), colId = key.slice(i + 1)
  // what the engine reads: anything else (nested types, NaN, objects) breaks every replica
  if (next !== undefined && !isCellInput(next)) return { code: 'not-a-cell-value', sheet: sid, cell: key }
  const r = cellRefusal(view, before, who, sid, rowId, colId)
  if (!r || sameInput(prev, next)) return null
  if (writtenByWorkbook(sid, rowId, colId, prev, next, ctx)) return null
  return { ...r, sheet: sid, cell: key }
}

/**
 * What the workbook writes by itself in cells nobody may edit: a calculated column's formula into an
 * empty cell (it never overwrites one: that would undo a manual value), a totals range growing, a
 * calculated formula going with its row (an undone insert).
 */
function writtenByWorkbook(sid: string, rowId: string, colId: string, prev: unknown, next: unknown, ctx: CellContext): boolean {
  const formula = ctx.calcBefore(sid, colId)
  if (formula && prev === undefined && next !== undefined) {
    const order = ctx.rowsAfter(sid)
    if (sameInput(columnFormulaFor(formula, rowId, order), next)) return true
    // the column's formula may have grown with the table in this very change
    const grown = ctx.calcAfter(sid, colId)
    if (grown && grown !== formula && ctx.automatic({ t: 'f', v: formula }, { t: 'f', v: grown }, sid)
      && sameInput(columnFormulaFor(grown, rowId, order), next)) return true
  }
  if (ctx.automatic(prev, next, sid)) return true
  return next === undefined && !!formula && ctx.removedRows().has(rowId)
    && sameInput(prev, columnFormulaFor(formula, rowId, ctx.rowsBefore(sid)))
}
