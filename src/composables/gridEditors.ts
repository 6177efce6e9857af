/**
 * A date cell editor with both habits: Enter, F2 or a double-click opens the browser's date picker on
 * the ISO date; typing straight into the cell (as in Excel: "2024-5-1", "5/1") edits text, which the
 * cell parses like any other input. Handsontable's own DateEditor drops typed characters.
 */
import { DateEditor, TextEditor } from './handsontable'

const ISO = /^\d{4}-\d{2}-\d{2}$/

export class DateTextEditor extends DateEditor {
  private typing = false

  override beginEditing(newInitialValue?: unknown, event?: Event): void {
    const current = this.row === null || this.col === null ? null : this.hot.getDataAtCell(this.row, this.col)
    // a keystroke opens the editor with an initial value ('' plus the typed character, or the IME's
    // text); Enter, F2 and double-click open it without one
    this.typing = (typeof newInitialValue === 'string' && !ISO.test(newInitialValue))
      || (current !== null && current !== '' && !ISO.test(String(current)))
    this.TEXTAREA.setAttribute('type', this.typing ? 'text' : 'date')
    super.beginEditing(newInitialValue, event)
  }

  override close(): void {
    super.close()
    // between edits the field takes fast typing (imeFastEdit keeps the focus in it): keep it a text field
    this.typing = false
    this.TEXTAREA.setAttribute('type', 'text')
  }

  override setValue(value?: unknown): void {
    if (this.typing) {
      this.TEXTAREA.value = value === null || value === undefined ? '' : String(value)
      return
    }
    super.setValue(value)
  }

  override open(): void {
    if (this.typing) {
      TextEditor.prototype.open.call(this)
      return
    }
    super.open()
  }
}
