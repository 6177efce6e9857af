/**
 * When the server refuses a change, the replica that made it is discarded (it holds a change the
 * server will never take) and the workbook opens afresh. What the person changed besides the refused
 * cells need not be lost: `carryOver` finds the cells the old replica changed that the server never
 * saw, and writes to the fresh replica those this person may edit. Only cell values are carried (rows,
 * columns and sheets made meanwhile are not), and only changes of this person (what the server has
 * already, whoever wrote it, is left alone).
 */
import * as Y from 'yjs'
import { cellRefusal, defineRoots, readAccess, type Principal } from '../core/access/access'
import { setCells, type CellWrite } from '../core/workbook/mutations'
import { sheetParts, sheetsOf, visibleIds, type CellInput } from '../core/workbook/schema'

export interface CarryResult { carried: number; refused: number; dropped: number }

/**
 * `old`: the discarded replica's state (Y.encodeStateAsUpdate); `doc`: the fresh replica, in step
 * with the server. Writes with `origin` (so the person can undo it) and says how many cells it kept.
 */
export function carryOver(old: Uint8Array, doc: Y.Doc, who: Principal, origin: unknown): CarryResult {
  const result: CarryResult = { carried: 0, refused: 0, dropped: 0 }
  // what the old replica has and the server does not: this person's unsent changes (refused ones too)
  const scratchFrom = new Y.Doc()
  Y.applyUpdate(scratchFrom, old)
  const unsent = Y.encodeStateAsUpdate(scratchFrom, Y.encodeStateVector(doc))
  scratchFrom.destroy()
  // which cells they change: applied on a copy of the fresh state, the transaction lists them
  const scratch = new Y.Doc()
  defineRoots(scratch)
  Y.applyUpdate(scratch, Y.encodeStateAsUpdate(doc))
  const changed = new Map<string, Set<string>>()
  scratch.transact(tr => {
    Y.applyUpdate(scratch, unsent)
    const sheets = sheetsOf(scratch)
    for (const [type, keys] of tr.changed) {
      const item = type._item
      const parent = item?.parent as Y.AbstractType<unknown> | undefined
      if (!item || item.parentSub !== 'cells' || parent?._item?.parent !== sheets) continue
      const sheetId = parent._item!.parentSub!
      const set = changed.get(sheetId) ?? new Set<string>()
      for (const k of keys) if (k) set.add(k)
      changed.set(sheetId, set)
    }
  })
  const view = readAccess(doc)
  for (const [sheetId, keys] of changed) {
    const target = sheetsOf(doc).get(sheetId)
    const from = sheetsOf(scratch).get(sheetId)
    if (!target || !from) { result.dropped += keys.size; continue }
    const tp = sheetParts(target)
    const rows = new Set(visibleIds(tp.rows, tp.rowsGone)), cols = new Set(visibleIds(tp.cols, tp.colsGone))
    const writes: CellWrite[] = []
    for (const key of keys) {
      const i = key.indexOf(':')
      const rowId = key.slice(0, i), colId = key.slice(i + 1)
      if (!rows.has(rowId) || !cols.has(colId)) { result.dropped++; continue }
      if (cellRefusal(view, doc, who, sheetId, rowId, colId)) { result.refused++; continue }
      const value = sheetParts(from).cells.get(key) as CellInput | undefined
      writes.push({ rowId, colId, value: value === undefined ? null : value })
    }
    if (writes.length) {
      setCells(doc, sheetId, writes, origin)
      result.carried += writes.length
    }
  }
  scratch.destroy()
  return result
}
