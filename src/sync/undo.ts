/**
 * Per-person undo: a Y.UndoManager over the whole workbook (cells, structure, sheets, title) that
 * tracks only this person's origin, so Ctrl+Z never takes back a colleague's work. Each step remembers
 * where it was made (sheet and cell), so undo and redo can take the person back there, as Excel does.
 */
import * as Y from 'yjs'
import { chartsOf } from '../core/charts/charts'
import { stylesOf } from '../core/workbook/styles'
import { hiddenOf } from '../core/workbook/hidden'
import { mergesOf } from '../core/workbook/merges'
import { filterViewsOf } from '../core/workbook/filter'
import { metaOf, sheetOrderOf, sheetsOf } from '../core/workbook/schema'

export interface UndoPlace { sheet: string; rowId?: string; colId?: string }

export interface PersonalUndo {
  manager: Y.UndoManager
  undo(): UndoPlace | null
  redo(): UndoPlace | null
  /** the next change starts a new step (each edit is its own step, as in Excel) */
  newStep(): void
  destroy(): void
}

export function personalUndo(doc: Y.Doc, origin: object, where: () => UndoPlace | null = () => null): PersonalUndo {
  const manager = new Y.UndoManager([sheetsOf(doc), sheetOrderOf(doc), metaOf(doc), chartsOf(doc), stylesOf(doc), hiddenOf(doc), mergesOf(doc), filterViewsOf(doc)], {
    trackedOrigins: new Set([origin]),
    // changes set off by the same edit within this time join its step
    captureTimeout: 400,
  })
  let popped: UndoPlace | null = null
  const placeOf = (item: { meta: Map<string, unknown> } | null | undefined) => (item?.meta.get('place') as UndoPlace | null | undefined) ?? null
  manager.on('stack-item-added', ({ stackItem }: { stackItem: { meta: Map<string, unknown> } }) => {
    if (stackItem.meta.has('place')) return
    // the step that undo/redo creates on the other stack happened where the step it reverses did
    const reversing = manager.undoing || manager.redoing
    stackItem.meta.set('place', reversing ? placeOf(manager.currStackItem) : where())
  })
  manager.on('stack-item-popped', ({ stackItem }: { stackItem: { meta: Map<string, unknown> } }) => {
    popped = placeOf(stackItem)
  })
  const run = (fn: () => unknown): UndoPlace | null => {
    popped = null
    fn()
    const place = popped
    popped = null
    return place
  }
  return {
    manager,
    undo: () => run(() => manager.undo()),
    redo: () => run(() => manager.redo()),
    newStep: () => manager.stopCapturing(),
    destroy: () => manager.destroy(),
  }
}
