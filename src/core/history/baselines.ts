/** The values of a version's doc for BASELINE() (../formulas/baseline.ts): computed once, read by ids. */
import { computeView, viewOf } from '../workbook/view'
import { WorkbookLayout } from '../workbook/layout'
import { toCellValue } from '../formulas/engine'
import * as Y from 'yjs'
import { baselineSource, type BaselineSource, type BaselineValues } from '../formulas/baseline'

export function versionValues(doc: Y.Doc): BaselineValues {
  const hf = computeView(viewOf(doc))
  const layout = new WorkbookLayout(doc)
  return ({ sheetId, rowId, colId }) => {
    const sl = layout.sheet(sheetId), sheet = hf.getSheetId(sheetId)
    if (!sl || sheet === undefined) return null
    const row = sl.rows.indexOf(rowId), col = sl.cols.indexOf(colId)
    if (row < 0 || col < 0) return null
    return toCellValue(hf.getCellValue({ sheet, row, col }))
  }
}

/** A complete source of the given versions' states (the server's exports: everything there is is given). */
export function sourceOf(states: readonly (readonly [name: string, state: Uint8Array])[]): BaselineSource {
  const src = baselineSource()
  for (const [name, state] of states) {
    const doc = new Y.Doc()
    Y.applyUpdate(doc, state)
    src.versions.set(name, versionValues(doc))
  }
  src.complete = true
  return src
}
