/**
 * The filter our own export recorded for a sheet (src: the meta sheet, untrusted) back as a shared
 * filter view of the imported workbook, named for the importer's language: the rows it hid are shown
 * again (a filter is a view, not a hidden row), and anyone can apply the view to hide them again.
 */
import type * as Y from 'yjs'
import { filterViewSchema, saveFilterView, type FilterCondition } from '../../src/core/workbook/filter'
import { setHidden } from '../../src/core/workbook/hidden'

export function importFilter(doc: Y.Doc, sheetId: string, recorded: unknown, dataRows: readonly string[], colIds: readonly string[], name: string): boolean {
  if (!recorded || typeof recorded !== 'object') return false
  const { conditions, rows } = recorded as { conditions?: unknown; rows?: unknown }
  if (!conditions || typeof conditions !== 'object') return false
  const byCol: Record<string, FilterCondition> = {}
  for (const [c, cond] of Object.entries(conditions as Record<string, unknown>)) {
    const colId = colIds[Number(c)]
    if (colId) byCol[colId] = cond as FilterCondition
  }
  const view = filterViewSchema.safeParse({ name, sheet: sheetId, conditions: byCol, by: '', at: Date.now() })
  if (!view.success || !Object.keys(byCol).length) return false
  const shown = Array.isArray(rows) ? rows.filter((r): r is number => Number.isInteger(r)).map(r => dataRows[r]).filter((x): x is string => !!x) : []
  if (shown.length) setHidden(doc, sheetId, 'rows', shown, false)
  saveFilterView(doc, view.data)
  return true
}
