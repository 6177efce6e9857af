/**
 * The workbook page's dialogs: which one is open, and what the column dialogs save. The page draws
 * them; the grid (a column's menu), the header and the keyboard open them.
 */
import { computed, ref, type Ref } from 'vue'
import * as m from '../core/workbook/mutations'
import { sheetParts, sheetsOf, visibleIds, type ColumnMeta } from '../core/workbook/schema'
import type { OpenWorkbook } from './useWorkbook'

/** the column a column dialog is open for */
export interface ColumnTarget { sheetId: string; colId: string; letter: string; meta: ColumnMeta }

/** `focusGrid`: the keyboard goes back to the grid when a column dialog closes */
export function useWorkbookDialogs(wb: OpenWorkbook, onError: (e: unknown) => void, focusGrid: () => void) {
  const shareOpen = ref(false)
  const protectOpen = ref(false)
  const appraisalOpen = ref(false)
  const shortcutsOpen = ref(false)
  /** a column's settings (type, options, …) */
  const columnDialog = ref<ColumnTarget | null>(null)
  /** a column's conditional colours */
  const rulesDialog = ref<ColumnTarget | null>(null)

  /** the other columns of the sheet, for rules that test another column of the row */
  const ruleColumns = computed(() => {
    const d = rulesDialog.value
    if (!d) return []
    const p = sheetParts(sheetsOf(wb.doc).get(d.sheetId)!)
    return visibleIds(p.cols, p.colsGone).filter(c => c !== d.colId).map((c, i) => {
      const meta = p.colMeta.get(c) as ColumnMeta | undefined
      return { id: c, label: meta?.title || c.slice(-4) || String(i + 1) }
    })
  })

  /** closes the dialog and writes its column's settings (one undo step) */
  function saveColumnMeta(dialog: Ref<ColumnTarget | null>, patch: Partial<ColumnMeta>) {
    const d = dialog.value
    dialog.value = null
    if (!d) return
    try { wb.mutate((doc, o) => m.setColumnMeta(doc, d.sheetId, d.colId, patch, o)) } catch (e) { onError(e) }
    focusGrid()
  }
  const saveRules = (patch: Partial<ColumnMeta>) => saveColumnMeta(rulesDialog, patch)
  const saveColumn = (patch: Partial<ColumnMeta>) => saveColumnMeta(columnDialog, patch)

  return { shareOpen, protectOpen, appraisalOpen, shortcutsOpen, columnDialog, rulesDialog, ruleColumns, saveRules, saveColumn }
}
