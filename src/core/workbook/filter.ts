/**
 * Filters. A person's filter hides data rows for that person only (it lives in their browser, never
 * in the doc); a filter view is a filter saved by name in the doc, for anyone to apply:
 *
 *   filterViews   Y.Map   viewId → { name, sheet, conditions: { colId: condition }, by, at }
 *
 * A condition keeps the rows whose cell in that column passes it; a row is shown when it passes every
 * condition. The rows a filter acts on are the sheet's data rows (below frozen header rows, above the
 * totals row, down to the last row holding anything), as a sort's.
 */
import type * as Y from 'yjs'
import { z } from '../zod'
import type { CellValue } from '../formulas/engine'
import { sheetsOf } from './schema'
import { dataRows } from './sort'

export const FILTER_OPS = ['>', '>=', '<', '<=', '=', '<>', 'contains', 'notContains', 'empty', 'notEmpty'] as const
export type FilterOp = typeof FILTER_OPS[number]

const ID = z.string().check(z.regex(/^[\w-]{1,64}$/))
const text = z.string().check(z.maxLength(1000))
const conditionSchema = z.discriminatedUnion('kind', [
  /** the shown texts to keep ('' keeps empty cells) */
  z.object({ kind: z.literal('values'), values: z.array(text).check(z.maxLength(5000)) }),
  z.object({ kind: z.literal('op'), op: z.enum(FILTER_OPS), value: z.optional(text) }),
  /** by fill colour (null: cells without a fill) */
  z.object({ kind: z.literal('color'), bg: z.union([z.string().check(z.regex(/^#[0-9a-f]{6}$/)), z.null()]) }),
])
export type FilterCondition = z.infer<typeof conditionSchema>
export const sheetFilterSchema = z.record(ID, conditionSchema).check(z.refine(f => Object.keys(f).length <= 100, { error: 'at most 100 columns' }))
export type SheetFilter = z.infer<typeof sheetFilterSchema>

export const filterViewSchema = z.object({
  name: z.string().check(z.minLength(1), z.maxLength(100)),
  sheet: ID,
  conditions: sheetFilterSchema,
  by: z.string().check(z.maxLength(100)),
  at: z.number(),
})
export type FilterView = z.infer<typeof filterViewSchema>

export function filterViewsOf(doc: Y.Doc): Y.Map<FilterView> { return doc.getMap<FilterView>('filterViews') }

/** What one cell is for a filter: its shown text, its computed value, its fill. */
export interface FilterCell { shown: string; value: CellValue; bg?: string }

const isBlank = (c: FilterCell) => c.shown.trim() === ''

/** Whether a cell passes a condition. */
export function passes(cond: FilterCondition, cell: FilterCell): boolean {
  switch (cond.kind) {
    case 'values': return cond.values.includes(isBlank(cell) ? '' : cell.shown)
    case 'color': return (cell.bg ?? null) === cond.bg
    case 'op': {
      if (cond.op === 'empty') return isBlank(cell)
      if (cond.op === 'notEmpty') return !isBlank(cell)
      const q = (cond.value ?? '').trim()
      if (cond.op === 'contains' || cond.op === 'notContains') {
        const has = cell.shown.toLowerCase().includes(q.toLowerCase())
        return cond.op === 'contains' ? has : !has
      }
      const n = Number(q.replace(/,/g, ''))
      const numeric = q !== '' && Number.isFinite(n) && typeof cell.value === 'number'
      const a: number | string = numeric ? (cell.value as number) : cell.shown.toLowerCase()
      const b: number | string = numeric ? n : q.toLowerCase()
      // a number compared with text (or text with a number) only passes <>
      if (!numeric && q !== '' && Number.isFinite(n) && cond.op !== '=' && cond.op !== '<>') return false
      switch (cond.op) {
        case '>': return a > b
        case '>=': return a >= b
        case '<': return a < b
        case '<=': return a <= b
        case '=': return a === b
        case '<>': return a !== b
      }
    }
  }
  return true
}

/**
 * The data rows of a sheet a filter hides: those failing any of its conditions. `cellOf` reads a cell
 * as the person sees it.
 */
export function filteredOut(doc: Y.Doc, sheetId: string, filter: SheetFilter, cellOf: (rowId: string, colId: string) => FilterCell): Set<string> {
  const out = new Set<string>()
  const sheet = sheetsOf(doc).get(sheetId)
  const entries = Object.entries(filter)
  if (!sheet || !entries.length) return out
  for (const rowId of dataRows(sheet)) {
    if (entries.some(([colId, cond]) => !passes(cond, cellOf(rowId, colId)))) out.add(rowId)
  }
  return out
}

/** Saves a filter view (a new one, or one of the same id again); returns its id. */
export function saveFilterView(doc: Y.Doc, view: FilterView, id = `fv${Math.random().toString(36).slice(2, 10)}`, origin: unknown = null): string {
  const parsed = filterViewSchema.parse(view)
  doc.transact(() => filterViewsOf(doc).set(id, parsed), origin)
  return id
}

export function deleteFilterView(doc: Y.Doc, id: string, origin: unknown = null): void {
  doc.transact(() => filterViewsOf(doc).delete(id), origin)
}

/** The saved views of a sheet, by name. */
export function sheetFilterViews(doc: Y.Doc, sheetId: string): { id: string; view: FilterView }[] {
  const out: { id: string; view: FilterView }[] = []
  filterViewsOf(doc).forEach((v, id) => {
    const r = filterViewSchema.safeParse(v)
    if (r.success && r.data.sheet === sheetId) out.push({ id, view: r.data })
  })
  return out.sort((a, b) => a.view.name.localeCompare(b.view.name, 'zh-CN'))
}
