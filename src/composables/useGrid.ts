/**
 * The one binding between Handsontable and the workbook. The grid holds the *edit text* of each cell
 * (formulas as A1) in a plain array it owns; a custom renderer shows computed values from the formula
 * engine. Local edits become named mutations; engine change events update only the cells they touch.
 * Remote structural changes keep the cell being edited open, at its own (rowId, colId), with its text.
 */
import { onScopeDispose, ref, watch, type Ref } from 'vue'
import Handsontable from './handsontable'
import { baseRenderer } from 'handsontable/renderers'
import type { CellInput, ColumnMeta, ColumnType } from '../core/workbook/schema'
import { COLUMN_TYPES } from '../core/workbook/schema'
import { cellKey, sheetParts, sheetsOf, splitCellKey } from '../core/workbook/schema'
import * as m from '../core/workbook/mutations'
import { inputFromText, textForInput } from '../core/workbook/input'
import { colToLetters, decodeFormula, encodeFormula, shiftA1Formula } from '../core/formulas/references'
import type { WorkbookLayout } from '../core/workbook/layout'
import { diffOrder, isErrorValue, type EngineChange } from '../core/formulas/engine'
import { formatValue } from '../core/format'
import type { OpenWorkbook } from './useWorkbook'
import { ruleStyle, totalsRowOf, validationProblem, type ValidationProblem } from '../core/workbook/table'
import { RULE_STYLES } from '../core/workbook/schema'
import { DateTextEditor } from './gridEditors'
import { peerBox, type Peer, type PeerBox } from '../sync/presence'
import type { WorkbookAccess } from './useAccess'

export interface GridLabels {
  rowAbove: string; rowBelow: string; colLeft: string; colRight: string; removeRow: string; removeCol: string
  copy: string; cut: string
  columnType: string; types: Record<ColumnType, string>
  freezeRows: string; unfreeze: string
  invalid: (p: ValidationProblem) => string
  calculated: string
  applyColumnFormula: string; stopColumnFormula: string
  columnSettings: string
  /** a colleague deleted the cell being typed in; the text is shown so it can be copied */
  editLost: (text: string) => string
}

export interface Selected {
  row: number; col: number; rowId: string; colId: string; address: string; text: string
  /** the opposite corner of the selected range (the same cell when one cell is selected) */
  endRowId: string; endColId: string
}

/** The source tag of grid changes that come from the doc (never turned back into mutations). */
const SYNC = 'sync' as NonNullable<Parameters<Handsontable['alter']>[3]>

interface ClipboardMemo { tsv: string; texts: string[][]; row: number; col: number }
let clipboardMemo: ClipboardMemo | null = null

export interface GridActions {
  /** open the column settings for a column (the page owns the dialog) */
  columnSettings(colId: string, letter: string, meta: ColumnMeta): void
  /** colleagues present, whose selections are outlined in their colour */
  peers?: Ref<Peer[]>
  /** Ctrl+Z / Ctrl+Y (the page also takes the person back to where the step was made) */
  undo?(): void
  redo?(): void
  /** what I may edit: protected cells are read-only, structure changes of a locked sheet are refused */
  access?: WorkbookAccess
  /** told when an edit is not made because of access rules (with the reason) */
  refused?(reason: string): void
  /** a read-only grid already drawn in the container (from the workbook view), to take over */
  takeDrawnGrid?(): Handsontable | null
}

export function useGrid(container: Ref<HTMLElement | null>, wb: OpenWorkbook, sheetId: Ref<string>, labels: () => GridLabels, onError: (e: unknown) => void, actions?: GridActions) {
  const selected = ref<Selected | null>(null)
  let hot: Handsontable | null = null
  /**
   * The edit text of each row, read from the doc when first asked for (by a render, an editor, a copy):
   * opening a sheet reads only the rows in view. Handsontable keeps this very array (a proxy over
   * `rowTexts`, which is refilled in place), so it is never replaced.
   */
  const rowTexts: ((string | null)[] | undefined)[] = []
  const data: (string | null)[][] = new Proxy(rowTexts as (string | null)[][], {
    get(target, prop, receiver) {
      if (typeof prop === 'string') {
        const r = Number(prop)
        if (Number.isInteger(r) && r >= 0 && r < target.length && target[r] === undefined) target[r] = readRow(r)
      }
      return Reflect.get(target, prop, receiver)
    },
  })
  let rowIds: string[] = []
  let colIds: string[] = []
  let renderQueued = false
  let unsubscribe: (() => void) | null = null
  /** the layout the grid currently shows (the engine's is already the new one when a change arrives) */
  let prevLayout: WorkbookLayout | null = null
  /** labels for the renderer, rebuilt when the language changes */
  let cachedLabels: GridLabels | null = null
  /** the totals row id, cached: looked up per rendered cell */
  let totalsId: string | undefined
  /** colleagues' selections on this sheet, in visible positions (recomputed when they or the layout change) */
  let boxes: PeerBox[] = []

  const engine = () => wb.engine.value!
  const sheet = () => sheetsOf(wb.doc).get(sheetId.value)
  const colMeta = (c: number): ColumnMeta | undefined => {
    const s = sheet()
    return s ? sheetParts(s).colMeta.get(colIds[c]!) : undefined
  }
  const ctx = () => ({ layout: engine().layout, sheetId: sheetId.value })
  const cellInput = (rowId: string, colId: string): CellInput | undefined => {
    const s = sheet()
    return s ? sheetParts(s).cells.get(cellKey(rowId, colId)) : undefined
  }
  const textAt = (r: number, c: number) => textForInput(cellInput(rowIds[r]!, colIds[c]!), ctx(), colMeta(c))

  /** The edit texts of row `r` (visible position), from the doc. */
  function readRow(r: number): (string | null)[] {
    const out: (string | null)[] = new Array(colIds.length).fill(null)
    const s = sheet(), rowId = rowIds[r]
    if (!s || rowId === undefined) return out
    const { cells, colMeta: metas } = sheetParts(s)
    const cx = ctx()
    for (let c = 0; c < colIds.length; c++) {
      const input = cells.get(cellKey(rowId, colIds[c]!))
      if (input !== undefined) out[c] = textForInput(input, cx, metas.get(colIds[c]!)) || null
    }
    return out
  }

  /** Forgets every row's text: each is read again from the doc when next asked for. */
  function rereadRows(): void {
    rowTexts.fill(undefined)
  }

  /** The ids and texts of the sheet shown, afresh (texts are read as they are asked for). */
  function buildData(): void {
    prevLayout = engine().layout
    const sl = engine().layout.sheet(sheetId.value)
    const sh = sheet()
    totalsId = sh ? totalsRowOf(sh) : undefined
    rowIds = sl ? [...sl.rows.ids] : []
    colIds = sl ? [...sl.cols.ids] : []
    rowTexts.length = rowIds.length
    rereadRows()
  }

  function scheduleRender(): void {
    if (renderQueued) return
    renderQueued = true
    requestAnimationFrame(() => {
      renderQueued = false
      computeBoxes()
      hot?.render()
      refreshSelected()
    })
  }

  function computeBoxes(): void {
    const peers = actions?.peers?.value ?? []
    if (!peers.length) { boxes = []; return }
    const rowIndex = new Map(rowIds.map((id, i) => [id, i]))
    const colIndex = new Map(colIds.map((id, i) => [id, i]))
    boxes = peers
      .map(p => peerBox(p, sheetId.value, id => rowIndex.get(id) ?? -1, id => colIndex.get(id) ?? -1))
      .filter((b): b is PeerBox => b !== null)
  }

  /** Outlines colleagues' selections in their colour, with their name on the active cell. */
  function paintPresence(td: HTMLTableCellElement, row: number, col: number): void {
    let shadow = ''
    let tag: PeerBox | undefined
    for (const b of boxes) {
      if (row < b.r1 || row > b.r2 || col < b.c1 || col > b.c2) continue
      const edges: string[] = []
      if (row === b.r1) edges.push(`inset 0 2px 0 0 ${b.peer.color}`)
      if (row === b.r2) edges.push(`inset 0 -2px 0 0 ${b.peer.color}`)
      if (col === b.c1) edges.push(`inset 2px 0 0 0 ${b.peer.color}`)
      if (col === b.c2) edges.push(`inset -2px 0 0 0 ${b.peer.color}`)
      if (edges.length) shadow = shadow ? `${shadow}, ${edges.join(', ')}` : edges.join(', ')
      if (row === b.tagRow && col === b.tagCol && !tag) tag = b
    }
    td.style.boxShadow = shadow
    td.classList.toggle('cell-peer', !!shadow)
    if (tag) {
      const span = document.createElement('span')
      span.className = 'presence-tag'
      span.style.background = tag.peer.color
      // text only: a name is user input
      span.textContent = tag.peer.name
      span.dataset.peer = String(tag.peer.clientId)
      td.appendChild(span)
    }
  }

  function refreshSelected(): void {
    const sel = hot?.getSelectedLast()
    if (!sel) { selected.value = null; return }
    const [r, c, r2, c2] = sel
    if (r < 0 || c < 0 || r >= rowIds.length || c >= colIds.length) { selected.value = null; return }
    const er = Math.min(Math.max(r2, 0), rowIds.length - 1), ec = Math.min(Math.max(c2, 0), colIds.length - 1)
    const next: Selected = {
      row: r, col: c, rowId: rowIds[r]!, colId: colIds[c]!, address: colToLetters(c) + (r + 1), text: data[r]?.[c] ?? '',
      endRowId: rowIds[er]!, endColId: colIds[ec]!,
    }
    const prev = selected.value
    // the same selection again (a re-render): keep the object, so watchers do not fire for nothing
    if (prev && prev.rowId === next.rowId && prev.colId === next.colId && prev.endRowId === next.endRowId && prev.endColId === next.endColId
      && prev.row === next.row && prev.col === next.col && prev.text === next.text) return
    selected.value = next
  }

  // ---- rendering --------------------------------------------------------------------------------

  function cellRenderer(this: unknown, instance: Handsontable, td: HTMLTableCellElement, row: number, col: number, prop: string | number, value: unknown, cp: Handsontable.CellProperties) {
    baseRenderer.call(this as never, instance as never, td, row, col, prop, value, cp as never)
    const v = engine().getValue(sheetId.value, row, col)
    const meta = colMeta(col)
    // text only: user content never becomes HTML
    td.textContent = formatValue(v, meta)
    const numeric = typeof v === 'number'
    const rowId = rowIds[row]
    const isTotals = rowId !== undefined && rowId === totalsId
    td.classList.toggle('htRight', numeric)
    td.classList.toggle('cell-error', isErrorValue(v))
    td.classList.toggle('cell-select', meta?.type === 'select')
    td.classList.toggle('cell-totals', isTotals)
    const colIdHere = colIds[col]
    td.classList.toggle('cell-protected', !!rowId && !!colIdHere && !!actions?.access?.isProtected(sheetId.value, rowId, colIdHere))
    const style = meta?.rules && rowId
      ? ruleStyle(meta, id => (id === undefined ? v : engine().getValueById(sheetId.value, rowId, id)), isTotals)
      : undefined
    for (const st of RULE_STYLES) td.classList.toggle(`cell-${st}`, st === style)
    const problem = validationProblem(meta, v)
    td.classList.toggle('cell-invalid', !!problem)
    if (isErrorValue(v) && v.message) td.title = v.message
    else if (problem) td.title = (cachedLabels ??= labels()).invalid(problem)
    else td.removeAttribute('title')
    paintPresence(td, row, col)
  }

  function columnSettings(c: number): Handsontable.ColumnSettings {
    const meta = colMeta(c)
    // Handsontable's dropdown strips anything tag-like from its options (it never renders them as HTML,
    // but would show and write "<b>x</b>" as "x"): such options are left out of the list, and typed
    const options = meta?.type === 'select' ? meta.options?.filter(o => !/<[^>]*>/.test(o)) : undefined
    if (options?.length) {
      return { editor: 'dropdown', source: options, strict: false, filter: false, renderer: cellRenderer as never }
    }
    if (meta?.type === 'date') return { editor: DateTextEditor as never, renderer: cellRenderer as never }
    return { editor: 'text', renderer: cellRenderer as never }
  }

  /** Why I may not edit the cell at this visible position (access rules), or null. */
  function refusalAt(r: number, c: number): string | null {
    const a = actions?.access
    const rowId = rowIds[r], colId = colIds[c]
    if (!a || !rowId || !colId) return null
    return a.cellRefusal(sheetId.value, rowId, colId)
  }

  function headerText(c: number): string {
    const meta = colMeta(c)
    return meta?.title ? `${colToLetters(c)} · ${meta.title}` : colToLetters(c)
  }

  // ---- local edits → mutations ------------------------------------------------------------------

  function commitTexts(changes: { r: number; c: number; text: string }[]): void {
    const writes: m.CellWrite[] = []
    let refusal: string | null = null
    for (const { r, c, text } of changes) {
      const rowId = rowIds[r], colId = colIds[c]
      if (!rowId || !colId) continue
      const no = refusalAt(r, c)
      if (no) {
        // the grid keeps showing what the doc has
        refusal = no
        if (rowTexts[r]) rowTexts[r]![c] = textAt(r, c) || null
        continue
      }
      writes.push({ rowId, colId, value: inputFromText(text, ctx(), colMeta(c)) })
    }
    if (writes.length) wb.mutate((doc, origin) => m.editCells(doc, sheetId.value, writes, origin))
    if (refusal) { actions?.refused?.(refusal); scheduleRender() }
  }

  /** Edits typed in the formula bar. */
  function commitSelected(text: string): void {
    const s = selected.value
    if (!s) return
    data[s.row]![s.col] = text || null
    commitTexts([{ r: s.row, c: s.col, text }])
    hot?.selectCell(s.row, s.col)
  }

  /**
   * Runs a change of the sheet's structure or settings, unless access rules refuse it: the sheet is
   * locked or protected, a column in `cols` (changed or deleted) is protected, or a row in `rows`
   * (deleted) holds a protected value.
   */
  function structural(fn: (doc: import('yjs').Doc, origin: object) => void, scope: { cols?: [number, number]; rows?: [number, number] } = {}): void {
    const a = actions?.access
    let no = a?.sheetRefusal(sheetId.value) ?? null
    if (a && !no && scope.cols) {
      for (let c = scope.cols[0]; c <= scope.cols[1] && !no; c++) if (colIds[c]) no = a.columnRefusal(sheetId.value, colIds[c]!)
    }
    if (a && !no && scope.rows) {
      const cells = sheet() ? sheetParts(sheet()!).cells : null
      for (let r = scope.rows[0]; r <= scope.rows[1] && !no; r++) {
        for (let c = 0; c < colIds.length && !no; c++) {
          if (rowIds[r] && cells?.has(cellKey(rowIds[r]!, colIds[c]!))) no = refusalAt(r, c)
        }
      }
    }
    if (no) { actions?.refused?.(no); return }
    try { wb.mutate(fn) } catch (e) { onError(e) }
  }

  function contextMenu(): Handsontable.GridSettings['contextMenu'] {
    const L = labels()
    const sel = () => {
      const s = hot!.getSelectedRangeLast()
      if (!s) return undefined
      const from = s.getTopStartCorner(), to = s.getBottomEndCorner()
      return { r1: Math.max(0, from.row ?? 0), r2: Math.max(0, to.row ?? 0), c1: Math.max(0, from.col ?? 0), c2: Math.max(0, to.col ?? 0) }
    }
    return {
      items: {
        row_above: { name: L.rowAbove, callback: () => { const s = sel(); if (s) structural((d, o) => m.insertRows(d, sheetId.value, s.r1, s.r2 - s.r1 + 1, o)) } },
        row_below: { name: L.rowBelow, callback: () => { const s = sel(); if (s) structural((d, o) => m.insertRows(d, sheetId.value, s.r2 + 1, s.r2 - s.r1 + 1, o)) } },
        sep1: { name: '---------' },
        col_left: { name: L.colLeft, callback: () => { const s = sel(); if (s) structural((d, o) => m.insertCols(d, sheetId.value, s.c1, s.c2 - s.c1 + 1, o)) } },
        col_right: { name: L.colRight, callback: () => { const s = sel(); if (s) structural((d, o) => m.insertCols(d, sheetId.value, s.c2 + 1, s.c2 - s.c1 + 1, o)) } },
        sep2: { name: '---------' },
        remove_row: { name: L.removeRow, callback: () => { const s = sel(); if (s && rowIds.length > s.r2 - s.r1 + 1) structural((d, o) => m.deleteRows(d, sheetId.value, s.r1, s.r2 - s.r1 + 1, o), { rows: [s.r1, s.r2] }) } },
        remove_col: { name: L.removeCol, callback: () => { const s = sel(); if (s && colIds.length > s.c2 - s.c1 + 1) structural((d, o) => m.deleteCols(d, sheetId.value, s.c1, s.c2 - s.c1 + 1, o), { cols: [s.c1, s.c2] }) } },
        sep3: { name: '---------' },
        column_settings: {
          name: L.columnSettings,
          hidden: () => !actions,
          callback: () => {
            const s = sel()
            const colId = s && colIds[s.c1]
            const no = colId ? actions?.access?.sheetRefusal(sheetId.value) ?? actions?.access?.columnRefusal(sheetId.value, colId) : null
            if (no) { actions?.refused?.(no); return }
            if (s && colId) actions?.columnSettings(colId, colToLetters(s.c1), { ...(colMeta(s.c1) ?? {}) })
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
                  for (let c = s.c1; c <= s.c2; c++) if (colIds[c]) m.setColumnMeta(d, sheetId.value, colIds[c]!, { type }, o)
                }, o), { cols: [s.c1, s.c2] })
              },
            })),
          },
        },
        freeze_rows: {
          name: L.freezeRows,
          callback: () => { const s = sel(); if (s) structural((d, o) => m.setFrozen(d, sheetId.value, { rows: s.r2 + 1 }, o)) },
        },
        unfreeze: {
          name: L.unfreeze,
          hidden: () => frozen('frozenRows') === 0 && frozen('frozenCols') === 0,
          callback: () => structural((d, o) => m.setFrozen(d, sheetId.value, { rows: 0, cols: 0 }, o)),
        },
        column_formula: {
          name: L.applyColumnFormula,
          hidden: () => { const s = sel(); return !s || rowIds[s.r1] === totalsId || !data[s.r1]?.[s.c1]?.startsWith('=') },
          callback: () => {
            const s = sel()
            const input = s && cellInput(rowIds[s.r1]!, colIds[s.c1]!)
            if (!s || !input || typeof input !== 'object' || input.t !== 'f') return
            structural((d, o) => m.setColumnFormula(d, sheetId.value, colIds[s.c1]!, { rowId: rowIds[s.r1]!, stored: input.v }, o), { cols: [s.c1, s.c1] })
          },
        },
        column_formula_off: {
          name: L.stopColumnFormula,
          hidden: () => { const s = sel(); return !s || !colMeta(s.c1)?.formula },
          callback: () => { const s = sel(); if (s) structural((d, o) => m.setColumnFormula(d, sheetId.value, colIds[s.c1]!, null, o), { cols: [s.c1, s.c1] }) },
        },
        sep4: { name: '---------' },
        copy: { name: L.copy },
        cut: { name: L.cut },
      },
    } as Handsontable.GridSettings['contextMenu']
  }

  // ---- doc → grid ---------------------------------------------------------------------------------

  /** Applies a structural change to the grid, keeping the selection and an open editor on their cell. */
  function applyStructure(): void {
    if (!hot) return
    const sl = engine().layout.sheet(sheetId.value)
    if (!sl) return
    const editor = hot.getActiveEditor() as (Handsontable.editors.BaseEditor & { TEXTAREA?: HTMLTextAreaElement }) | undefined
    const sel = hot.getSelectedLast()
    const keep = sel ? { rowId: rowIds[sel[0]], colId: colIds[sel[1]] } : null
    // a remote change must not pull the keyboard away from the title, formula bar or a tab being renamed
    const listening = hot.isListening()
    let editing: { value: string; start: number; end: number; full: boolean } | null = null
    if (editor?.isOpened()) {
      const ta = editor.TEXTAREA
      editing = { value: String(editor.getValue() ?? ''), start: ta?.selectionStart ?? 0, end: ta?.selectionEnd ?? 0, full: editor.isInFullEditMode() }
      editor.finishEditing(true) // close without writing: the text is kept and reopened below
    }
    // an open formula draft keeps meaning the same cells: read it against the old layout, write it for the new
    if (editing?.value.startsWith('=') && prevLayout) {
      editing.value = decodeFormula(encodeFormula(editing.value, { layout: prevLayout, sheetId: sheetId.value }), ctx())
    }
    const rows = diffOrder(rowIds, sl.rows.ids)
    const cols = diffOrder(colIds, sl.cols.ids)
    hot.batch(() => {
      for (const [at, n] of rows.removes) hot!.alter('remove_row', at, n, SYNC)
      for (const [at, n] of cols.removes) hot!.alter('remove_col', at, n, SYNC)
      for (const [at, n] of rows.inserts) hot!.alter('insert_row_above', at, n, SYNC)
      for (const [at, n] of cols.inserts) hot!.alter('insert_col_start', at, n, SYNC)
    })
    rowIds = [...sl.rows.ids]
    colIds = [...sl.cols.ids]
    // formulas elsewhere now read differently (B5 → B6); refill every text from the doc
    buildDataInto()
    hot.updateSettings({ fixedRowsTop: frozen('frozenRows'), fixedColumnsStart: frozen('frozenCols') })
    if (keep?.rowId && keep.colId) {
      const r = rowIds.indexOf(keep.rowId), c = colIds.indexOf(keep.colId)
      if (r >= 0 && c >= 0) {
        hot.selectCell(r, c, r, c, false, listening)
        if (editing) {
          const ed = hot.getActiveEditor() as Handsontable.editors.BaseEditor & { TEXTAREA?: HTMLTextAreaElement }
          // the same mode as before: quick edit (arrows commit) or full edit (arrows move the caret)
          if (editing.full) ed.enableFullEditMode()
          ed.beginEditing(editing.value)
          // quick-edit mode opens on an empty field (for input methods): put the text back
          ed.setValue(editing.value)
          ed.TEXTAREA?.setSelectionRange(editing.start, editing.end)
        }
      } else if (editing?.value) {
        // a colleague deleted the row or column being typed in: say so, and keep the text where it can be copied
        onError(new Error(labels().editLost(editing.value)))
      }
    }
  }

  /** Refills the grid's own array in place (Handsontable keeps a reference to it). */
  function buildDataInto(): void {
    buildData()
  }

  function frozen(key: 'frozenRows' | 'frozenCols'): number {
    const v = sheet()?.get(key)
    return typeof v === 'number' ? v : 0
  }

  function onEngineChange(c: EngineChange): void {
    try { applyEngineChange(c) } finally { prevLayout = engine().layout }
  }

  function applyEngineChange(c: EngineChange): void {
    if (!hot) return
    if (!sheet()) return // the sheet was deleted; the page switches sheets
    if (c.structural.has(sheetId.value)) {
      applyStructure()
    } else if (c.sheetsChanged || c.structural.size > 0) {
      // another sheet changed shape or a sheet was renamed: formulas here may read differently
      refreshFormulaTexts()
    }
    const keys = c.cells.get(sheetId.value)
    if (keys) {
      const sl = engine().layout.sheet(sheetId.value)!
      for (const key of keys) {
        const [rowId, colId] = splitCellKey(key)
        const r = sl.rows.indexOf(rowId), col = sl.cols.indexOf(colId)
        // a row not read yet is read with the new text when it is asked for
        if (r < 0 || col < 0 || !rowTexts[r]) continue
        rowTexts[r]![col] = textAt(r, col) || null
      }
    }
    scheduleRender()
  }

  /** Column types, widths and frozen panes are not the engine's business: watch them here. */
  function onDocTransaction(txn: import('yjs').Transaction): void {
    const s = sheet()
    if (!hot || !s) return
    const colMetaMap = sheetParts(s).colMeta
    const metaChanged = txn.changed.has(colMetaMap as never)
    const sheetKeys = txn.changed.get(s as never)
    const frozenChanged = !!sheetKeys && (sheetKeys.has('frozenRows') || sheetKeys.has('frozenCols'))
    if (sheetKeys?.has('totalsRow')) { totalsId = totalsRowOf(s); scheduleRender() }
    if (!metaChanged && !frozenChanged) return
    if (metaChanged) {
      // text of inputs depends on the type (0.15 edits as 15% in a percent column)
      rereadRows()
    }
    hot.updateSettings({ fixedRowsTop: frozen('frozenRows'), fixedColumnsStart: frozen('frozenCols') })
    scheduleRender()
  }

  function refreshFormulaTexts(): void {
    // formulas read their references anew; the rows are read again as they are asked for
    rereadRows()
  }

  // ---- lifecycle ------------------------------------------------------------------------------------

  function mount(): void {
    if (!container.value || !wb.engine.value) return
    performance.mark('pw:grid-start')
    buildData()
    const L = labels()
    void L
    const settings: Handsontable.GridSettings = {
      data,
      licenseKey: 'non-commercial-and-evaluation',
      themeName: 'ht-theme-main',
      rowHeaders: true,
      colHeaders: (c: number) => colToLetters(c),
      afterGetColHeader: (c: number, th: HTMLTableCellElement) => {
        if (c < 0) return
        const span = th.querySelector('.colHeader')
        if (span) span.textContent = headerText(c)
        const meta = colMeta(c)
        // headers are narrow: the tooltip carries the whole title, its help and whether it is calculated
        const tip = [meta?.title, meta?.help, meta?.formula ? labels().calculated : ''].filter(Boolean).join('\n')
        th.classList.toggle('col-help', !!meta?.help)
        th.classList.toggle('col-calculated', !!meta?.formula)
        if (tip) th.title = tip
        else th.removeAttribute('title')
      },
      colWidths: (c: number) => colMeta(c)?.width ?? (colMeta(c)?.title ? 120 : 90),
      height: '100%',
      width: '100%',
      stretchH: 'none',
      autoWrapRow: true,
      autoWrapCol: true,
      manualColumnResize: true,
      outsideClickDeselects: false,
      undo: false,
      fillHandle: true,
      // typing through an IME (Chinese input) straight into a selected cell
      imeFastEdit: true,
      fixedRowsTop: frozen('frozenRows'),
      fixedColumnsStart: frozen('frozenCols'),
      contextMenu: contextMenu(),
      copyPaste: true,
      cells: (r: number, c: number) => {
        const st = columnSettings(c) as Handsontable.CellMeta
        // always set: Handsontable merges this into a cached meta, so a true would outlive the lock
        st.readOnly = !!refusalAt(r, c)
        return st
      },
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
      beforeCreateRow: (_i, _n, source) => source === SYNC,
      beforeCreateCol: (_i, _n, source) => source === SYNC,
      beforeRemoveRow: (_i, _n, _p, source) => source === SYNC,
      beforeRemoveCol: (_i, _n, _p, source) => source === SYNC,
      afterSelectionEnd: () => refreshSelected(),
      // while dragging a range, colleagues see it grow
      afterSelection: () => refreshSelected(),
      afterColumnResize: (size: number, c: number) => {
        const colId = colIds[c]
        if (colId) structural((doc, origin) => m.setColumnMeta(doc, sheetId.value, colId, { width: Math.round(size) }, origin), { cols: [c, c] })
      },
      beforeKeyDown: (e: KeyboardEvent) => {
        const mod = e.ctrlKey || e.metaKey
        // on a read-only cell the cell itself keeps the focus: a space there would scroll the grid's
        // pane away from the selection (Excel's Space never scrolls)
        if (e.key === ' ' && !mod && !hot?.getActiveEditor()?.isOpened() && (e.target as HTMLElement | null)?.tagName === 'TD') { e.preventDefault(); return }
        if (!mod || hot?.getActiveEditor()?.isOpened()) return
        const k = e.key.toLowerCase()
        if ((k === 'z' && !e.shiftKey) || k === 'y' || (k === 'z' && e.shiftKey)) {
          e.preventDefault()
          e.stopImmediatePropagation()
          if (k === 'z' && !e.shiftKey) void (actions?.undo ? actions.undo() : wb.undo())
          else void (actions?.redo ? actions.redo() : wb.redo())
        }
      },
      beforeCopy: (copied: unknown[][], coords: { startRow: number; startCol: number }[]) => {
        // the clipboard gets what people see (as Excel does); a paste back into the grid brings the
        // formulas, shifted like Excel shifts relative references
        const c0 = coords[0]
        if (!c0) return
        const texts = copied.map((row, i) => row.map((_, j) => data[c0.startRow + i]?.[c0.startCol + j] ?? ''))
        for (let i = 0; i < copied.length; i++) {
          for (let j = 0; j < copied[i]!.length; j++) {
            copied[i]![j] = formatValue(engine().getValue(sheetId.value, c0.startRow + i, c0.startCol + j), colMeta(c0.startCol + j))
          }
        }
        clipboardMemo = { tsv: copied.map(r => r.join('\t')).join('\n'), texts, row: c0.startRow, col: c0.startCol }
      },
      beforePaste: (pasted: unknown[][], coords: { startRow: number; startCol: number }[]) => {
        const c0 = coords[0]
        if (!c0) return
        // grow the sheet first so the paste fits (as a mutation, not as a grid-only change)
        const needRows = c0.startRow + pasted.length - rowIds.length
        const width = Math.max(0, ...pasted.map(r => r.length))
        const needCols = c0.startCol + width - colIds.length
        if (needRows > 0) structural((d, o) => m.insertRows(d, sheetId.value, rowIds.length, needRows, o))
        if (needCols > 0) structural((d, o) => m.insertCols(d, sheetId.value, colIds.length, needCols, o))
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
    // the grid drawn from the workbook view while the doc was read becomes this one: no second grid
    const drawn = actions?.takeDrawnGrid?.() ?? null
    if (drawn) {
      hot = drawn
      hot.updateSettings({ ...settings, readOnly: false, renderer: 'text' })
      performance.mark('pw:grid-taken-over')
    } else {
      hot = new Handsontable(container.value, settings)
    }
    container.value.dataset.live = '1'
    // With imeFastEdit, Handsontable select()s its textarea 1 ms after a selection change or render. When
    // someone types fast after Enter ("=A1*A2"), that select() can land after the first characters and
    // the next ones replace them. Once an editor is open (typing began), there is nothing to select.
    const focus = (hot as unknown as { getFocusManager?: () => { setRefocusElementGetter?: (f: () => HTMLElement | null) => void } }).getFocusManager?.()
    focus?.setRefocusElementGetter?.(() => {
      const ed = hot?.getActiveEditor() as (Handsontable.editors.BaseEditor & { TEXTAREA?: HTMLTextAreaElement }) | undefined
      return ed && !ed.isOpened() ? ed.TEXTAREA ?? null : null
    })
    const offEngine = wb.engine.value.onChange(onEngineChange)
    wb.doc.on('afterTransaction', onDocTransaction)
    unsubscribe = () => { offEngine(); wb.doc.off('afterTransaction', onDocTransaction) }
    if (rowIds.length && colIds.length) hot.selectCell(0, 0)
    refreshSelected()
  }

  function switchSheet(): void {
    if (!hot) return
    buildData()
    computeBoxes()
    hot.updateSettings({
      data,
      fixedRowsTop: frozen('frozenRows'),
      fixedColumnsStart: frozen('frozenCols'),
      contextMenu: contextMenu(),
    })
    // select A1 of the new sheet without taking the focus (a tab may be going into rename)
    if (rowIds.length && colIds.length) hot.selectCell(0, 0, 0, 0, true, false)
    hot.unlisten()
    refreshSelected()
  }

  function destroy(): void {
    unsubscribe?.()
    unsubscribe = null
    hot?.destroy()
    hot = null
  }

  watch([container, wb.engine], () => { if (!hot) mount() }, { flush: 'post' })
  if (actions?.peers) watch(actions.peers, () => scheduleRender())
  watch(sheetId, () => switchSheet())
  onScopeDispose(destroy)

  return {
    selected,
    commitSelected,
    relabel: () => { cachedLabels = null; hot?.updateSettings({ contextMenu: contextMenu() }); hot?.render() },
    focusGrid: () => { const s = selected.value; if (hot && s) hot.selectCell(s.row, s.col) },
    /** selects a cell by ids (on the sheet shown) and scrolls it into view; false when it is gone */
    selectById: (rowId: string, colId: string, endRowId = rowId, endColId = colId): boolean => {
      const r = rowIds.indexOf(rowId), c = colIds.indexOf(colId)
      if (!hot || r < 0 || c < 0) return false
      const r2 = rowIds.indexOf(endRowId), c2 = colIds.indexOf(endColId)
      hot.selectCell(r, c, r2 < 0 ? r : r2, c2 < 0 ? c : c2)
      refreshSelected()
      return true
    },
    addRows: (n: number) => structural((d, o) => m.insertRows(d, sheetId.value, rowIds.length, n, o)),
    get hot() { return hot },
  }
}
