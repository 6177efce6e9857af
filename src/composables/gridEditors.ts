/**
 * A date cell's editor: a text field, as for any cell (what is typed is read as the column reads it:
 * 2025年6月18日, 2025/6/18, 6月18日, 45826 — core/workbook/input.ts), with a small calendar under the
 * cell (grid/datePicker.ts) while it is open, however it opened (double-click, F2, Enter or typing).
 * The calendar shows the month of the date in the field and follows it as it is typed (a bare number,
 * which a date column reads as Excel's serial, only once Enter stores it); a day clicked
 * (or Today) becomes the field's text as yyyy-mm-dd and the edit is finished, so it is saved exactly as
 * typing that date would be. Keys stay the text field's: Enter accepts what is typed, Escape cancels,
 * arrows move the caret (or, while typing over a cell, move to the next one) as in any cell.
 *
 * The calendar's labels come with the column's settings (`datePickerLabels`, from the page's labels:
 * render.ts); without them the editor is a plain text field.
 */
import { TextEditor } from './handsontable'
import { inputFromText } from '../core/workbook/input'
import { isDate, type ColumnMeta } from '../core/workbook/schema'
import type { FormulaContext } from '../core/formulas/references'
import { openDatePicker, type DatePicker, type DatePickerLabels } from './grid/datePicker'

/** The cell setting that carries the calendar's labels. */
export const DATE_PICKER_LABELS = 'datePickerLabels'
/** the cell property giving today's yyyy-mm-dd in the workbook's time zone */
export const DATE_PICKER_TODAY = 'datePickerToday'

const DATE_COLUMN: ColumnMeta = { type: 'date' }

/** The date typing `text` into a date column gives (yyyy-mm-dd), if it gives one. */
export function typedDate(text: string): string | undefined {
  // (a formula is never a date here; only a formula would need the sheet's context)
  if (text.trim().startsWith('=')) return undefined
  const input = inputFromText(text, {} as FormulaContext, DATE_COLUMN)
  return isDate(input) ? input.v : undefined
}

/**
 * The date the calendar follows while `text` is typed: not a bare number (on its way to 2025-06-18 or
 * 2025年6月, "2025" would be Excel's serial of a day in 1905).
 */
function followed(text: string): string | undefined {
  return /^\s*\d+\s*$/.test(text) ? undefined : typedDate(text)
}

export class DateTextEditor extends TextEditor {
  private picker: DatePicker | null = null

  override bindEvents(): void {
    super.bindEvents()
    // the calendar follows the date as it is typed (the listener goes with the editor's own)
    this.eventManager.addEventListener(this.TEXTAREA, 'input', () => {
      if (!this.picker) return
      const iso = followed(this.TEXTAREA.value)
      if (iso) this.picker.select(iso)
      this.picker.place()
    })
  }

  override open(): void {
    super.open()
    this.removePicker()
    const labels = (this.cellProperties?.[DATE_PICKER_LABELS] as (() => DatePickerLabels) | undefined)?.()
    if (!labels) return
    // the field's date; opened by typing, the cell's date until what is typed is one
    const value = followed(this.TEXTAREA.value)
      ?? (this.originalValue === null || this.originalValue === undefined ? undefined : typedDate(String(this.originalValue)))
    this.picker = openDatePicker({
      labels,
      value,
      today: this.cellProperties?.[DATE_PICKER_TODAY] as (() => string) | undefined,
      // the field covers the cell (and grows with a long text)
      anchor: () => this.TEXTAREA.getBoundingClientRect(),
      onPick: iso => {
        this.TEXTAREA.value = iso
        this.finishEditing()
      },
    }, this.hot.rootDocument)
  }

  override close(): void {
    this.removePicker()
    super.close()
  }

  override refreshDimensions(force = false): void {
    super.refreshDimensions(force)
    // the grid scrolled or the cell was resized: the calendar goes with the cell
    this.picker?.place()
  }

  override destroy(): void {
    this.removePicker()
    super.destroy()
  }

  private removePicker(): void {
    this.picker?.destroy()
    this.picker = null
  }
}
