/**
 * A protected formula's ranges are part of what it is. A formula stores ranges as two end ids
 * (src/core/formulas/references.ts) and reads the rows (or columns) between them in the visible order,
 * so moving rows changes what `=SUM(B2:B6)` sums without touching the cell: take a row out of the
 * order and put it back below the range, and the total drops. A structural change that makes a range
 * of a protected formula read differently is therefore a change to that protected cell.
 *
 * "Reads" is the set of existing ids inside the range, before the change (on the order before it) and
 * after it (on the order after it, with the formula as it stands after it, which the workbook may have
 * grown over inserted rows). New ids joining a range is fine (rows inserted inside a table its totals
 * sum); ids leaving it because they are deleted is fine (deleting takes the right to delete their
 * cells, checked elsewhere); an id that is still there after the change but left the range, or one that
 * was there before and entered it from outside, is a change to the protected cell.
 */
import { AxisLayout } from '../workbook/layout'
import { isFormula, sheetParts, splitCellKey } from '../workbook/schema'
import type { Axis, ChangeContext } from './context'
import type { Refusal } from './refusal'
import { allows, cellRefusal } from './rules'

/** One reference of a stored formula: its sheet and the ids of its ends on each axis (absent: a whole row or column). */
interface StoredRef { sheet: string; rows?: [string, string]; cols?: [string, string] }

const REF = /\u27e6([^\u27e7]*)\u27e7/g

function point(p: string): { row?: string; col?: string } {
  const comma = p.indexOf(',')
  if (comma < 0) return {}
  const row = p.slice(0, comma).replace(/^\$/, ''), col = p.slice(comma + 1).replace(/^\$/, '')
  return { row: row || undefined, col: col || undefined }
}

/** The references of a stored formula, in order; a single cell gives no ends (it names its ids, moves do not change it). */
export function storedRefs(stored: string, home: string): StoredRef[] {
  const out: StoredRef[] = []
  for (const m of stored.matchAll(REF)) {
    const token = m[1]!
    const bang = token.indexOf('!')
    const sheet = bang >= 0 ? token.slice(0, bang) : home
    const body = bang >= 0 ? token.slice(bang + 1) : token
    const colon = body.indexOf(':')
    const ref: StoredRef = { sheet }
    if (colon >= 0) {
      const a = point(body.slice(0, colon)), b = point(body.slice(colon + 1))
      if (a.row !== undefined && b.row !== undefined) ref.rows = [a.row, b.row]
      if (a.col !== undefined && b.col !== undefined) ref.cols = [a.col, b.col]
    }
    out.push(ref)
  }
  return out
}

/** The visible positions a range covers (lo > hi: none, as the formula shows #REF!), as decodeFormula resolves it. */
function span(axis: AxisLayout | undefined, [start, end]: [string, string]): { lo: number; hi: number } {
  if (!axis) return { lo: 0, hi: -1 }
  const x = axis.resolveEnd(start, 'start'), y = axis.resolveEnd(end, 'end')
  if (x === undefined || y === undefined || x > y || x < 0 || y >= axis.length) return { lo: 0, hi: -1 }
  return { lo: x, hi: y }
}

/** Whether an id still there left the range, or one that was there came into it. */
function readsDiffer(before: AxisLayout | undefined, after: AxisLayout | undefined, endsBefore: [string, string], endsAfter: [string, string]): boolean {
  const a = span(before, endsBefore), b = span(after, endsAfter)
  for (let k = a.lo; k <= a.hi; k++) {
    const p = after?.pos.get(before!.ids[k]!)
    if (p !== undefined && (p < b.lo || p > b.hi)) return true
  }
  for (let k = b.lo; k <= b.hi; k++) {
    const q = before?.pos.get(after!.ids[k]!)
    if (q !== undefined && (q < a.lo || q > a.hi)) return true
  }
  return false
}

const sameEnds = (x?: [string, string], y?: [string, string]) => x === y || (!!x && !!y && x[0] === y[0] && x[1] === y[1])

/**
 * Why the change may not be made because it moves rows or columns into or out of a range of a formula
 * in a cell this person may not edit, or null. `moved`: the axes of each sheet the change reordered or
 * whose deletions it changed (inserting new ids alone moves nothing).
 */
export function rangeMoveRefusal(ctx: ChangeContext, moved: ReadonlyMap<string, ReadonlySet<Axis>>): Refusal | null {
  if (moved.size === 0) return null
  const layouts = new Map<string, AxisLayout | undefined>()
  const layout = (when: 'before' | 'after', sid: string, axis: Axis): AxisLayout | undefined => {
    const k = `${when}|${axis}|${sid}`
    if (layouts.has(k)) return layouts.get(k)
    const s = when === 'before' ? ctx.sheetBefore(sid) : ctx.sheetAfter(sid)
    const p = s ? sheetParts(s) : undefined
    const l = p ? (axis === 'rows' ? new AxisLayout(p.rows, p.rowsGone) : new AxisLayout(p.cols, p.colsGone)) : undefined
    layouts.set(k, l)
    return l
  }
  const verdicts = new Map<string, boolean>()
  const differs = (axis: Axis, sheetB: string, sheetA: string, endsB: [string, string], endsA: [string, string]) => {
    const k = `${axis}|${sheetB}|${endsB.join(',')}|${sheetA}|${endsA.join(',')}`
    let v = verdicts.get(k)
    if (v === undefined) verdicts.set(k, v = readsDiffer(layout('before', sheetB, axis), layout('after', sheetA, axis), endsB, endsA))
    return v
  }
  const { view, who } = ctx
  // the sheets where some cell is not this person's to edit
  const guarded = new Set(view.locks.keys())
  for (const p of view.protections) if (!allows(p, who)) guarded.add(p.sheet)
  for (const sid of guarded) {
    const sheetB = ctx.sheetBefore(sid)
    if (!sheetB) continue
    const sheetA = ctx.sheetAfter(sid)
    const cellsAfter = sheetA ? sheetParts(sheetA).cells : undefined
    let refusal: Refusal | null = null
    sheetParts(sheetB).cells.forEach((v, key) => {
      if (refusal || !isFormula(v) || !v.v.includes(':')) return
      const refsB = storedRefs(v.v, sid)
      const touches = refsB.some(r => (r.rows && moved.get(r.sheet)?.has('rows')) || (r.cols && moved.get(r.sheet)?.has('cols')))
      const now = cellsAfter?.get(key)
      // cleared with its row (an undone insert) or rewritten: the cells check decided that
      if (!isFormula(now)) return
      if (!touches && now.v === v.v) return
      const [rowId, colId] = splitCellKey(key)
      // a cell of a deleted row or column reads nothing anyone sees
      if (layout('before', sid, 'rows')?.pos.has(rowId) !== true || layout('before', sid, 'cols')?.pos.has(colId) !== true) return
      const no = cellRefusal(view, ctx.before, who, sid, rowId, colId)
      if (!no) return
      const refsA = storedRefs(now.v, sid)
      const moves = refsA.length !== refsB.length || refsB.some((b, i) => {
        const a = refsA[i]!
        if (a.sheet !== b.sheet || !!a.rows !== !!b.rows || !!a.cols !== !!b.cols) return true
        for (const axis of ['rows', 'cols'] as const) {
          const eb = b[axis], ea = a[axis]
          if (!eb || !ea) continue
          if (sameEnds(eb, ea) && !moved.get(b.sheet)?.has(axis)) continue
          if (differs(axis, b.sheet, a.sheet, eb, ea)) return true
        }
        return false
      })
      if (moves) refusal = { code: 'protected-range-moved', sheet: sid, cell: key, ...(no.protection ? { protection: no.protection } : {}) }
    })
    if (refusal) return refusal
  }
  return null
}
