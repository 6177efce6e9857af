/**
 * Find and replace over a workbook, as Excel's dialog does: in one sheet or all of them, in what people
 * typed (formulas as their A1 text) or in the values shown, matching case or not, the whole cell or part
 * of it. A replace-all is one transaction (one undo step); cells the person may not edit are left as
 * they are and counted, never half-written.
 */
import type * as Y from 'yjs'
import type { CellValue } from '../formulas/engine'
import { formatValue } from '../format'
import { WorkbookLayout } from './layout'
import { inputFromText, textForInput } from './input'
import { cellKey, sheetParts, sheetsOf, type CellInput, type ColumnMeta } from './schema'
import { editCells, type CellWrite } from './mutations'

export interface FindOptions {
  query: string
  /** 'sheet': only `sheetId`; 'all': every sheet in tab order */
  scope: 'sheet' | 'all'
  sheetId: string
  matchCase?: boolean
  /** the whole cell must equal the query */
  wholeCell?: boolean
  /** 'formulas': what was typed (formulas as A1 text); 'values': what the cell shows */
  lookIn?: 'formulas' | 'values'
}

export interface FoundCell { sheetId: string; rowId: string; colId: string; row: number; col: number; text: string }

/** the most cells one search lists (a search for "1" in 100,000 rows stops there, and says so) */
export const MAX_FOUND = 10_000

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

function matcher(o: FindOptions): RegExp | null {
  if (!o.query) return null
  const body = escapeRegExp(o.query)
  return new RegExp(o.wholeCell ? `^${body}$` : body, o.matchCase ? 'g' : 'gi')
}

/**
 * The cells that match, in reading order (sheet by sheet in tab order, row by row). `valueOf` gives a
 * cell's computed value (for `lookIn: 'values'`). `truncated` when more than MAX_FOUND matched.
 */
export function findCells(doc: Y.Doc, o: FindOptions, valueOf: (sheetId: string, rowId: string, colId: string) => CellValue): { found: FoundCell[]; truncated: boolean } {
  const re = matcher(o)
  const found: FoundCell[] = []
  if (!re) return { found, truncated: false }
  const layout = new WorkbookLayout(doc)
  const order = o.scope === 'all' ? [o.sheetId, ...layout.order.filter(id => id !== o.sheetId)] : [o.sheetId]
  for (const sheetId of order) {
    const sl = layout.sheet(sheetId)
    const sheet = sheetsOf(doc).get(sheetId)
    if (!sl || !sheet) continue
    const p = sheetParts(sheet)
    const hits: FoundCell[] = []
    p.cells.forEach((input, key) => {
      const i = key.indexOf(':')
      const rowId = key.slice(0, i), colId = key.slice(i + 1)
      const row = sl.rows.indexOf(rowId), col = sl.cols.indexOf(colId)
      if (row < 0 || col < 0) return
      const meta = p.colMeta.get(colId) as ColumnMeta | undefined
      const text = o.lookIn === 'values'
        ? formatValue(valueOf(sheetId, rowId, colId), meta)
        : textForInput(input as CellInput, { layout, sheetId }, meta)
      re.lastIndex = 0
      if (re.test(text)) hits.push({ sheetId, rowId, colId, row, col, text })
    })
    hits.sort((a, b) => a.row - b.row || a.col - b.col)
    for (const h of hits) {
      if (found.length >= MAX_FOUND) return { found, truncated: true }
      found.push(h)
    }
  }
  return { found, truncated: false }
}

/** A cell's typed text with the matches replaced (what Replace writes), or null when nothing matches. */
export function replacedText(text: string, o: FindOptions, replacement: string): string | null {
  const re = matcher(o)
  if (!re) return null
  re.lastIndex = 0
  if (!re.test(text)) return null
  re.lastIndex = 0
  // (a function, so "$1" in the replacement is written as typed)
  return text.replace(re, () => replacement)
}

export interface ReplaceResult { replaced: number; skipped: number; firstSkipped: FoundCell | null }

/**
 * Replaces the query in the typed text of `cells` (found with lookIn 'formulas'), in one transaction.
 * `mayEdit` decides each cell (access rules); refused ones are counted, not written.
 */
export function replaceCells(
  doc: Y.Doc, cells: readonly FoundCell[], o: FindOptions, replacement: string,
  mayEdit: (c: FoundCell) => boolean, origin: unknown = null,
): ReplaceResult {
  const layout = new WorkbookLayout(doc)
  const bySheet = new Map<string, CellWrite[]>()
  const result: ReplaceResult = { replaced: 0, skipped: 0, firstSkipped: null }
  for (const c of cells) {
    const sheet = sheetsOf(doc).get(c.sheetId)
    if (!sheet) continue
    const p = sheetParts(sheet)
    const meta = p.colMeta.get(c.colId) as ColumnMeta | undefined
    const text = textForInput(p.cells.get(cellKey(c.rowId, c.colId)), { layout, sheetId: c.sheetId }, meta)
    const next = replacedText(text, { ...o, lookIn: 'formulas' }, replacement)
    if (next === null) continue
    if (!mayEdit(c)) { result.skipped++; result.firstSkipped ??= c; continue }
    const list = bySheet.get(c.sheetId) ?? bySheet.set(c.sheetId, []).get(c.sheetId)!
    list.push({ rowId: c.rowId, colId: c.colId, value: inputFromText(next, { layout, sheetId: c.sheetId }, meta) })
    result.replaced++
  }
  if (bySheet.size) doc.transact(() => { for (const [sheetId, writes] of bySheet) editCells(doc, sheetId, writes, origin) }, origin)
  return result
}
