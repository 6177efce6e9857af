/**
 * Handsontable as the grid uses it: the base build with only the editors and plugins it needs, so the
 * workbook page does not carry the full build (filters, formulas, nested headers, exports …).
 */
import Handsontable from 'handsontable/base'
import { registerEditor, TextEditor, DropdownEditor, AutocompleteEditor, DateEditor } from 'handsontable/editors'
import { registerRenderer, textRenderer, autocompleteRenderer } from 'handsontable/renderers'
import {
  registerPlugin, Autofill, ContextMenu, CopyPaste, DragToScroll, ManualColumnResize, AutoColumnSize, AutoRowSize, HiddenRows, HiddenColumns, MergeCells,
} from 'handsontable/plugins'

registerEditor(TextEditor)
registerEditor(AutocompleteEditor)
registerEditor(DropdownEditor)
registerEditor(DateEditor)
registerRenderer(textRenderer)
registerRenderer(autocompleteRenderer)
for (const plugin of [Autofill, ContextMenu, CopyPaste, DragToScroll, ManualColumnResize, AutoColumnSize, AutoRowSize, HiddenRows, HiddenColumns, MergeCells]) registerPlugin(plugin)

export default Handsontable
export { DateEditor, TextEditor }
