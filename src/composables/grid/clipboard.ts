/**
 * Copy and paste. The clipboard gets what people see (as Excel does); a paste back into a grid of this
 * page brings the formulas, shifted like Excel shifts relative references. A paste that does not fit
 * grows the sheet first, as a mutation.
 */
import type Handsontable from '../handsontable'
import * as m from '../../core/workbook/mutations'
import { shiftA1Formula } from '../../core/formulas/references'
import { formatValue } from '../../core/format'
import type { GridContext } from './context'
import type { GridEdits } from './edits'

/** The last copy from a grid of this page: its shown text (to recognise it when pasted) and its edit texts. */
interface ClipboardMemo { tsv: string; texts: string[][]; row: number; col: number }
let clipboardMemo: ClipboardMemo | null = null

export function clipboardSettings(ctx: GridContext, edits: Pick<GridEdits, 'structural'>): Handsontable.GridSettings {
  const { rows, sheetId } = ctx
  const { structural } = edits
  return {
    beforeCopy: (copied: unknown[][], coords: { startRow: number; startCol: number }[]) => {
      const c0 = coords[0]
      if (!c0) return
      const texts = copied.map((row, i) => row.map((_, j) => rows.data[c0.startRow + i]?.[c0.startCol + j] ?? ''))
      for (let i = 0; i < copied.length; i++) {
        for (let j = 0; j < copied[i]!.length; j++) {
          copied[i]![j] = formatValue(rows.engine().getValue(sheetId.value, c0.startRow + i, c0.startCol + j), rows.colMeta(c0.startCol + j))
        }
      }
      clipboardMemo = { tsv: copied.map(r => r.join('\t')).join('\n'), texts, row: c0.startRow, col: c0.startCol }
    },
    beforePaste: (pasted: unknown[][], coords: { startRow: number; startCol: number }[]) => {
      const c0 = coords[0]
      if (!c0) return
      // grow the sheet first so the paste fits (as a mutation, not as a grid-only change)
      const needRows = c0.startRow + pasted.length - rows.rowIds.length
      const width = Math.max(0, ...pasted.map(r => r.length))
      const needCols = c0.startCol + width - rows.colIds.length
      if (needRows > 0) structural((d, o) => m.insertRows(d, sheetId.value, rows.rowIds.length, needRows, o))
      if (needCols > 0) structural((d, o) => m.insertCols(d, sheetId.value, rows.colIds.length, needCols, o))
      const memo = clipboardMemo
      if (memo && pasted.map(r => r.join('\t')).join('\n') === memo.tsv) {
        const dr = c0.startRow - memo.row, dc = c0.startCol - memo.col
        for (let i = 0; i < pasted.length; i++) for (let j = 0; j < pasted[i]!.length; j++) {
          const t = memo.texts[i]?.[j] ?? ''
          pasted[i]![j] = t.startsWith('=') ? shiftA1Formula(t, dr, dc) : t
        }
      }
    },
  }
}
