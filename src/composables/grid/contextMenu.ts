/**
 * The grid's context menu: rows and columns inserted or deleted, column type, frozen panes and column
 * formulas, each run as a guarded structural change (edits.ts). Built again when the language changes.
 */
import type Handsontable from '../handsontable'
import { COLUMN_TYPES } from '../../core/workbook/schema'
import * as m from '../../core/workbook/mutations'
import { hiddenIds, setHidden, type HiddenAxis } from '../../core/workbook/hidden'
import { mergeCells, unmergeIn } from '../../core/workbook/merges'
import { colToLetters } from '../../core/formulas/references'
import type { GridContext } from './context'
import type { GridEdits } from './edits'
import type { GridSort } from './sort'

export function contextMenu(ctx: GridContext, edits: Pick<GridEdits, 'structural'>, sorting: GridSort): Handsontable.GridSettings['contextMenu'] {
  const { rows, sheetId, actions } = ctx
  const { structural } = edits
  const L = ctx.labels()
  const sel = () => {
    const s = ctx.hot!.getSelectedRangeLast()
    if (!s) return undefined
    const from = s.getTopStartCorner(), to = s.getBottomEndCorner()
    return { r1: Math.max(0, from.row ?? 0), r2: Math.max(0, to.row ?? 0), c1: Math.max(0, from.col ?? 0), c2: Math.max(0, to.col ?? 0) }
  }
  /** the ids of the selected rows or columns (unhiding: the hidden ones among them, with one on each side) */
  const span = (axis: HiddenAxis, around: boolean): string[] => {
    const s = sel()
    if (!s) return []
    const ids = axis === 'rows' ? rows.rowIds : rows.colIds
    const [a, b] = axis === 'rows' ? [s.r1, s.r2] : [s.c1, s.c2]
    return ids.slice(Math.max(0, around ? a - 1 : a), b + 1 + (around ? 1 : 0))
  }
  const hiddenAround = (axis: HiddenAxis) => {
    const hidden = hiddenIds(ctx.wb.doc, sheetId.value, axis)
    return hidden.size > 0 && span(axis, true).some(id => hidden.has(id))
  }
  const hide = (axis: HiddenAxis, on: boolean) => {
    const ids = on ? span(axis, false) : span(axis, true).filter(id => hiddenIds(ctx.wb.doc, sheetId.value, axis).has(id))
    if (!ids.length) return
    // keep one row and one column in sight
    if (on && ids.length + hiddenIds(ctx.wb.doc, sheetId.value, axis).size >= (axis === 'rows' ? rows.rowIds.length : rows.colIds.length)) return
    const s = sel()!
    structural((d, o) => setHidden(d, sheetId.value, axis, ids, on, o), axis === 'cols' ? { cols: [s.c1, s.c2] } : { rows: [s.r1, s.r2] })
  }
  const single = () => { const s = sel(); return !s || (s.r1 === s.r2 && s.c1 === s.c2) }
  const merge = (across: boolean) => {
    const s = sel()
    if (!s) return
    // every cell of the block must be mine to edit (a protected cell is not merged away)
    const a = actions?.access
    for (let r = s.r1; r <= s.r2; r++) for (let c = s.c1; c <= s.c2; c++) {
      const no = a?.cellRefusal(sheetId.value, rows.rowIds[r]!, rows.colIds[c]!)
      if (no) { actions?.refused?.(no); return }
    }
    structural((d, o) => mergeCells(d, rows.engine().layout, sheetId.value, { rowId: rows.rowIds[s.r1]!, colId: rows.colIds[s.c1]! }, { rowId: rows.rowIds[s.r2]!, colId: rows.colIds[s.c2]! }, across, o))
  }
  // a read-only link (viewer, commenter) gets only what changes nothing: copying, comments, the history
  const readOnly = () => !!actions?.access?.isViewer.value
  const keep = new Set(['copy', 'sep_history', 'cell_history', 'comment'])
  const menu = {
    items: {
      comment: {
        name: L.comment,
        hidden: () => !actions?.comment || !(actions.mayComment?.() ?? true),
        callback: () => { const s = sel(); const r = s && rows.rowIds[s.r1], c = s && rows.colIds[s.c1]; if (r && c) actions?.comment?.(r, c) },
      },
      sep_comment: { name: '---------', hidden: () => readOnly() || !actions?.comment || !(actions.mayComment?.() ?? true) },
      row_above: { name: L.rowAbove, callback: () => { const s = sel(); if (s) structural((d, o) => m.insertRows(d, sheetId.value, s.r1, s.r2 - s.r1 + 1, o)) } },
      row_below: { name: L.rowBelow, callback: () => { const s = sel(); if (s) structural((d, o) => m.insertRows(d, sheetId.value, s.r2 + 1, s.r2 - s.r1 + 1, o)) } },
      sep1: { name: '---------' },
      col_left: { name: L.colLeft, callback: () => { const s = sel(); if (s) structural((d, o) => m.insertCols(d, sheetId.value, s.c1, s.c2 - s.c1 + 1, o)) } },
      col_right: { name: L.colRight, callback: () => { const s = sel(); if (s) structural((d, o) => m.insertCols(d, sheetId.value, s.c2 + 1, s.c2 - s.c1 + 1, o)) } },
      sep2: { name: '---------' },
      remove_row: { name: L.removeRow, callback: () => { const s = sel(); if (s && rows.rowIds.length > s.r2 - s.r1 + 1) structural((d, o) => m.deleteRows(d, sheetId.value, s.r1, s.r2 - s.r1 + 1, o), { rows: [s.r1, s.r2] }) } },
      remove_col: { name: L.removeCol, callback: () => { const s = sel(); if (s && rows.colIds.length > s.c2 - s.c1 + 1) structural((d, o) => m.deleteCols(d, sheetId.value, s.c1, s.c2 - s.c1 + 1, o), { cols: [s.c1, s.c2] }) } },
      sep3: { name: '---------' },
      merge: { name: L.merge, hidden: () => single(), callback: () => merge(false) },
      merge_across: { name: L.mergeAcross, hidden: () => single(), callback: () => merge(true) },
      unmerge: { name: L.unmerge, callback: () => { const s = sel(); if (s) structural((d, o) => { unmergeIn(d, rows.engine().layout, sheetId.value, s.r1, s.c1, s.r2, s.c2, o) }, { cols: [s.c1, s.c2] }) } },
      sep_merge: { name: '---------' },
      hide_rows: { name: L.hideRows, callback: () => hide('rows', true) },
      unhide_rows: { name: L.unhideRows, hidden: () => !hiddenAround('rows'), callback: () => hide('rows', false) },
      hide_cols: { name: L.hideCols, callback: () => hide('cols', true) },
      unhide_cols: { name: L.unhideCols, hidden: () => !hiddenAround('cols'), callback: () => hide('cols', false) },
      sep_hide: { name: '---------' },
      sort_asc: { name: L.sortAsc, callback: () => { sorting.sort(false) } },
      sort_desc: { name: L.sortDesc, callback: () => { sorting.sort(true) } },
      sep_sort: { name: '---------' },
      column_settings: {
        name: L.columnSettings,
        hidden: () => !actions,
        callback: () => {
          const s = sel()
          const colId = s && rows.colIds[s.c1]
          const no = colId ? actions?.access?.sheetRefusal(sheetId.value) ?? actions?.access?.columnRefusal(sheetId.value, colId) : null
          if (no) { actions?.refused?.(no); return }
          if (s && colId) actions?.columnSettings(colId, colToLetters(s.c1), { ...(rows.colMeta(s.c1) ?? {}) })
        },
      },
      color_rules: {
        name: L.colorRules,
        hidden: () => !actions?.colorRules,
        callback: () => {
          const s = sel()
          const colId = s && rows.colIds[s.c1]
          const no = colId ? actions?.access?.sheetRefusal(sheetId.value) ?? actions?.access?.columnRefusal(sheetId.value, colId) : null
          if (no) { actions?.refused?.(no); return }
          if (s && colId) actions?.colorRules?.(colId, colToLetters(s.c1), { ...(rows.colMeta(s.c1) ?? {}) })
        },
      },
      column_type: {
        name: L.columnType,
        submenu: {
          items: COLUMN_TYPES.filter(type => type !== 'select').map(type => ({
            key: `column_type:${type}`,
            name: L.types[type],
            callback: () => {
              const s = sel()
              if (!s) return
              structural((d, o) => d.transact(() => {
                for (let c = s.c1; c <= s.c2; c++) if (rows.colIds[c]) m.setColumnMeta(d, sheetId.value, rows.colIds[c]!, { type }, o)
              }, o), { cols: [s.c1, s.c2] })
            },
          })),
        },
      },
      freeze_rows: {
        name: L.freezeRows,
        callback: () => { const s = sel(); if (s) structural((d, o) => m.setFrozen(d, sheetId.value, { rows: s.r2 + 1 }, o)) },
      },
      freeze_cols: {
        name: L.freezeCols,
        callback: () => { const s = sel(); if (s) structural((d, o) => m.setFrozen(d, sheetId.value, { cols: s.c2 + 1 }, o)) },
      },
      unfreeze: {
        name: L.unfreeze,
        hidden: () => rows.frozen('frozenRows') === 0 && rows.frozen('frozenCols') === 0,
        callback: () => structural((d, o) => m.setFrozen(d, sheetId.value, { rows: 0, cols: 0 }, o)),
      },
      column_formula: {
        name: L.applyColumnFormula,
        hidden: () => { const s = sel(); return !s || rows.rowIds[s.r1] === rows.totalsId || !rows.data[s.r1]?.[s.c1]?.startsWith('=') },
        callback: () => {
          const s = sel()
          const input = s && rows.cellInput(rows.rowIds[s.r1]!, rows.colIds[s.c1]!)
          if (!s || !input || typeof input !== 'object' || input.t !== 'f') return
          structural((d, o) => m.setColumnFormula(d, sheetId.value, rows.colIds[s.c1]!, { rowId: rows.rowIds[s.r1]!, stored: input.v }, o), { cols: [s.c1, s.c1] })
        },
      },
      column_formula_off: {
        name: L.stopColumnFormula,
        hidden: () => { const s = sel(); return !s || !rows.colMeta(s.c1)?.formula },
        callback: () => { const s = sel(); if (s) structural((d, o) => m.setColumnFormula(d, sheetId.value, rows.colIds[s.c1]!, null, o), { cols: [s.c1, s.c1] }) },
      },
      sep4: { name: '---------' },
      copy: { name: L.copy },
      cut: { name: L.cut },
      sep_history: { name: '---------', hidden: () => !actions?.cellHistory },
      cell_history: {
        name: L.cellHistory,
        hidden: () => !actions?.cellHistory,
        callback: () => { const s = sel(); const r = s && rows.rowIds[s.r1], c = s && rows.colIds[s.c1]; if (s && r && c) actions?.cellHistory?.(r, c, colToLetters(s.c1) + (s.r1 + 1)) },
      },
    } as Record<string, { name: string; hidden?: () => boolean }>,
  }
  for (const [key, item] of Object.entries(menu.items)) {
    if (keep.has(key)) continue
    const was = item.hidden
    item.hidden = () => readOnly() || (was?.() ?? false)
  }
  return menu as Handsontable.GridSettings['contextMenu']
}
