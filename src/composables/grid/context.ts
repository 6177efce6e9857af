/**
 * What the pieces of the grid binding share: the workbook and sheet shown, the page's labels and
 * callbacks, the sheet's ids and texts, and the Handsontable instance once mounted. Each piece
 * (render, edits, contextMenu, clipboard, docToGrid) is made from this context; useGrid makes it.
 */
import type { Ref } from 'vue'
import type Handsontable from '../handsontable'
import type { ColumnMeta, ColumnType } from '../../core/workbook/schema'
import type { ValidationProblem } from '../../core/workbook/table'
import type { Peer } from '../../sync/presence'
import type { OpenWorkbook } from '../useWorkbook'
import type { WorkbookAccess } from '../useAccess'
import type { RowTexts } from './rowTexts'
import type { Refusal } from '../../core/access/refusal'
import type { DatePickerLabels } from './datePicker'

export interface GridLabels {
  rowAbove: string; rowBelow: string; colLeft: string; colRight: string; removeRow: string; removeCol: string
  copy: string; cut: string
  columnType: string; types: Record<ColumnType, string>
  freezeRows: string; freezeCols: string; unfreeze: string
  invalid: (p: ValidationProblem) => string
  calculated: string
  applyColumnFormula: string; stopColumnFormula: string
  columnSettings: string
  colorRules: string
  /** merge the selection into one cell, each of its rows, or take merges off */
  merge: string; mergeAcross: string; unmerge: string
  /** hide / show again the selected rows or columns */
  hideRows: string; unhideRows: string; hideCols: string; unhideCols: string
  /** sort by the active column, ascending / descending */
  sortAsc: string; sortDesc: string
  /** a format change over more cells than one change takes */
  formatTooMany: (max: number) => string
  /** a colleague deleted the cell being typed in; the text is shown so it can be copied */
  editLost: (text: string) => string
  /** the calendar of a date cell's editor (weekdays from Monday, the month shown, its buttons) */
  datePicker: DatePickerLabels
  /** the context menu's way to a cell's history; a reviewed cell's tooltip with what it held */
  cellHistory: string
  was: (text: string) => string
  /** the context menu's way to comment on a cell */
  comment: string
}

export interface Selected {
  row: number; col: number; rowId: string; colId: string; address: string; text: string
  /** the opposite corner of the selected range (the same cell when one cell is selected) */
  endRowId: string; endColId: string
}

export interface GridActions {
  /** open the column settings for a column (the page owns the dialog) */
  columnSettings(colId: string, letter: string, meta: ColumnMeta): void
  /** open the conditional colours of a column */
  colorRules?(colId: string, letter: string, meta: ColumnMeta): void
  /** colleagues present, whose selections are outlined in their colour */
  peers?: Ref<Peer[]>
  /** Ctrl+Z / Ctrl+Y (the page also takes the person back to where the step was made) */
  undo?(): void
  redo?(): void
  /** what I may edit: protected cells are read-only, structure changes of a locked sheet are refused */
  access?: WorkbookAccess
  /** told when an edit is not made because of access rules (with why) */
  refused?(refusal: Refusal): void
  /** a read-only grid already drawn in the container (from the workbook view), to take over */
  takeDrawnGrid?(): Handsontable | null
  /** where this browser keeps my filters of the workbook (absent: they last as long as the page) */
  filterStorageKey?: string
  /** under review: how a cell changed since the version compared (marked in the grid), or null */
  changeAt?(sheetId: string, rowId: string, colId: string): { kind: 'added' | 'changed' | 'removed'; was: string } | null
  /** open a cell's history (the page owns the panel) */
  cellHistory?(rowId: string, colId: string, address: string): void
  /** the cell's open comments, marked in its corner: 'assigned' when one is an assignment not done, or null */
  commentMark?(rowId: string, colId: string): 'open' | 'assigned' | null
  /** start a comment on a cell (the page owns the thread card); absent or false: I may not comment */
  comment?(rowId: string, colId: string): void
  mayComment?(): boolean
  /** the pointer is over a cell (null: it left the grid's cells), for showing a marked cell's thread */
  hoverCell?(cell: { rowId: string; colId: string; td: HTMLTableCellElement } | null): void
}

/** The source tag of grid changes that come from the doc (never turned back into mutations). */
export const SYNC = 'sync' as NonNullable<Parameters<Handsontable['alter']>[3]>

export interface GridContext {
  readonly wb: OpenWorkbook
  readonly sheetId: Ref<string>
  readonly labels: () => GridLabels
  readonly onError: (e: unknown) => void
  readonly actions?: GridActions
  /** the sheet's ids and edit texts, as the grid shows them */
  readonly rows: RowTexts
  /** the grid, once mounted */
  hot: Handsontable | null
  /** redraws on the next frame (colleagues' outlines and the selection are read afresh) */
  scheduleRender(): void
  /** reads the selection from the grid into `selected` */
  refreshSelected(): void
}

/** The active editor with its text field (Handsontable's editors keep it as TEXTAREA). */
export type GridEditor = Handsontable.editors.BaseEditor & { TEXTAREA?: HTMLTextAreaElement }
