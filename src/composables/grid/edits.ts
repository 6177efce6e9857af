/**
 * Guarded edits: what is typed, pasted or filled in the grid becomes named mutations, unless access
 * rules refuse it (a protected cell keeps showing what the doc has, and the page is told why). The
 * grid never changes its own shape: rows and columns come and go only as mutations, and the doc's
 * change comes back through docToGrid.
 */
import type Handsontable from '../handsontable'
import type { Doc } from 'yjs'
import { cellKey, sheetParts } from '../../core/workbook/schema'
import * as m from '../../core/workbook/mutations'
import { inputFromText } from '../../core/workbook/input'
import { fillTexts, type FillDirection } from '../../core/workbook/fill'
import { SYNC, type GridContext } from './context'
import type { Refusal } from '../../core/access/refusal'

export type GridEdits = ReturnType<typeof createEdits>

type FillCorner = { row: number | null; col: number | null }
type FillRange = { getTopStartCorner(): FillCorner; getBottomEndCorner(): FillCorner }

export function createEdits(ctx: GridContext) {
  const { wb, rows, sheetId, actions } = ctx

  /** Why I may not edit the cell at this visible position (access rules), or null. */
  function refusalAt(r: number, c: number): Refusal | null {
    const a = actions?.access
    const rowId = rows.rowIds[r], colId = rows.colIds[c]
    if (!a || !rowId || !colId) return null
    return a.cellRefusal(sheetId.value, rowId, colId)
  }

  function commitTexts(changes: { r: number; c: number; text: string }[]): void {
    const writes: m.CellWrite[] = []
    let refusal: Refusal | null = null
    for (const { r, c, text } of changes) {
      const rowId = rows.rowIds[r], colId = rows.colIds[c]
      if (!rowId || !colId) continue
      const no = refusalAt(r, c)
      if (no) {
        // the grid keeps showing what the doc has
        refusal = no
        rows.refreshCell(r, c)
        continue
      }
      writes.push({ rowId, colId, value: inputFromText(text, rows.refs(), rows.colMeta(c)) })
    }
    if (writes.length) wb.mutate((doc, origin) => m.editCells(doc, sheetId.value, writes, origin))
    if (refusal) { actions?.refused?.(refusal); ctx.scheduleRender() }
  }

  /**
   * A fill's writes without the rows my filter hides: Excel fills a filtered list's visible cells only
   * (rows hidden by hand are filled, as there). Formulas were shifted for each row where it stands.
   */
  function shownRowsOnly<T extends { r: number }>(list: T[]): T[] {
    const out = rows.filteredOut
    return out.size ? list.filter(x => !out.has(rows.rowIds[x.r] ?? '')) : list
  }

  /**
   * Runs a change of the sheet's structure or settings, unless access rules refuse it: the sheet is
   * locked or protected, a column in `cols` (changed or deleted) is protected, or a row in `rows`
   * (deleted) holds a protected value.
   */
  function structural(fn: (doc: Doc, origin: object) => void, scope: { cols?: [number, number]; rows?: [number, number] } = {}): void {
    const a = actions?.access
    const { rowIds, colIds } = rows
    let no = a?.sheetRefusal(sheetId.value) ?? null
    if (a && !no && scope.cols) {
      for (let c = scope.cols[0]; c <= scope.cols[1] && !no; c++) if (colIds[c]) no = a.columnRefusal(sheetId.value, colIds[c]!)
    }
    if (a && !no && scope.rows) {
      const sh = rows.sheet()
      const cells = sh ? sheetParts(sh).cells : null
      for (let r = scope.rows[0]; r <= scope.rows[1] && !no; r++) {
        for (let c = 0; c < colIds.length && !no; c++) {
          if (rowIds[r] && cells?.has(cellKey(rowIds[r]!, colIds[c]!))) no = refusalAt(r, c)
        }
      }
    }
    if (no) { actions?.refused?.(no); return }
    try { wb.mutate(fn) } catch (e) { ctx.onError(e) }
  }

  /** The grid's edit hooks: its own changes become mutations; it never changes its shape by itself. */
  const settings: Handsontable.GridSettings = {
    afterChange: (changes, source) => {
      if (!changes || source === 'loadData' || source === SYNC || source === 'updateData') return
      const list: { r: number; c: number; text: string }[] = []
      for (const [r, prop, prev, next] of changes) {
        // Enter on an unchanged cell must not re-read its value (a number would turn into text)
        if (prev === next) continue
        const c = typeof prop === 'number' ? prop : Number(prop)
        list.push({ r, c, text: next === null || next === undefined ? '' : String(next) })
      }
      commitTexts(list)
    },
    // the fill handle: formulas shifted and series continued (core/workbook/fill.ts), written as one
    // guarded edit; Handsontable's own copy of the texts is cancelled
    // (typed as returning data or nothing; Handsontable also takes false: cancel)
    beforeAutofill: ((_data: unknown, source: FillRange, target: FillRange, direction: FillDirection) => {
      const s1 = source.getTopStartCorner(), s2 = source.getBottomEndCorner()
      const t1 = target.getTopStartCorner(), t2 = target.getBottomEndCorner()
      const [sr1, sc1, sr2, sc2] = [s1.row ?? 0, s1.col ?? 0, s2.row ?? 0, s2.col ?? 0]
      const [tr1, tc1, tr2, tc2] = [t1.row ?? 0, t1.col ?? 0, t2.row ?? 0, t2.col ?? 0]
      const src: string[][] = []
      for (let r = sr1; r <= sr2; r++) src.push(Array.from({ length: sc2 - sc1 + 1 }, (_v, i) => rows.data[r]?.[sc1 + i] ?? ''))
      const vertical = direction === 'up' || direction === 'down'
      const texts = fillTexts(src, direction, vertical ? tr2 - tr1 + 1 : tc2 - tc1 + 1)
      const list: { r: number; c: number; text: string }[] = []
      texts.forEach((line, i) => line.forEach((text, j) => {
        const r = tr1 + i, c = tc1 + j
        if (r < rows.rowIds.length && c < rows.colIds.length && (rows.data[r]?.[c] ?? '') !== text) list.push({ r, c, text })
      }))
      try { commitTexts(shownRowsOnly(list)) } catch (e) { ctx.onError(e) }
      const hot = ctx.hot
      if (hot) queueMicrotask(() => hot.selectCell(Math.min(sr1, tr1), Math.min(sc1, tc1), Math.max(sr2, tr2), Math.max(sc2, tc2), false))
      return false
    }) as never,
    beforeCreateRow: (_i, _n, source) => source === SYNC,
    beforeCreateCol: (_i, _n, source) => source === SYNC,
    beforeRemoveRow: (_i, _n, _p, source) => source === SYNC,
    beforeRemoveCol: (_i, _n, _p, source) => source === SYNC,
    afterColumnResize: (size: number, c: number) => {
      const colId = rows.colIds[c]
      if (colId) structural((doc, origin) => m.setColumnMeta(doc, sheetId.value, colId, { width: Math.round(size) }, origin), { cols: [c, c] })
    },
  }

  return { refusalAt, commitTexts, shownRowsOnly, structural, settings }
}
