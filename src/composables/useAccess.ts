/**
 * What I may do in the open workbook: my role and name (from my link, as the server says) and the
 * protections and locks in the doc, kept current as they change. The grid asks it cell by cell; the
 * server enforces the same rules (src/core/access/rules.ts), so this only spares people refused edits.
 */
import { computed, onScopeDispose, shallowRef, type Ref } from 'vue'
import * as Y from 'yjs'
import {
  accessOf, canLock, cellRefusal, checkChange, columnRefusal, defineRoots, inProtection, mayComment, mayEdit, readAccess, sheetRefusal,
  type AccessView, type Principal, type Protection, type Refusal,
} from '../core/access/access'
import type { OpenWorkbook } from './useWorkbook'

export function useAccess(wb: OpenWorkbook, who: Ref<Principal>) {
  const view = shallowRef<AccessView>(readAccess(wb.doc))
  const refresh = () => { view.value = readAccess(wb.doc) }
  const map = accessOf(wb.doc)
  map.observe(refresh)
  // the person column of self-assessment rules: a name typed there changes who may edit the row
  const onTxn = () => { if (view.value.protections.some(p => p.personCol)) view.value = { ...view.value } }
  wb.doc.on('afterTransaction', onTxn)
  onScopeDispose(() => { map.unobserve(refresh); wb.doc.off('afterTransaction', onTxn) })

  return {
    view,
    /** cells and structure are read-only to me: a viewer's link, or a commenter's (who comments, edits nothing) */
    isViewer: computed(() => !mayEdit(who.value.role)),
    /** a commenter's link: read-only cells, but comments */
    isCommenter: computed(() => who.value.role === 'commenter'),
    /** I may write comments (everyone but viewers) */
    mayComment: computed(() => mayComment(who.value.role)),
    isOwner: computed(() => who.value.role === 'owner'),
    /** why I may not edit this cell, or null */
    cellRefusal: (sheetId: string, rowId: string, colId: string) => cellRefusal(view.value, wb.doc, who.value, sheetId, rowId, colId),
    /** why I may not insert/delete rows or columns or change the sheet's settings, or null */
    sheetRefusal: (sheetId: string) => sheetRefusal(view.value, who.value, sheetId),
    /** why I may not change or delete this column, or null */
    columnRefusal: (sheetId: string, colId: string) => columnRefusal(view.value, who.value, sheetId, colId),
    /** whether the cell lies in a protection at all (shown shaded, editable or not) */
    isProtected: (sheetId: string, rowId: string, colId: string) => view.value.protections.some(p => inProtection(p, sheetId, rowId, colId)),
    canLock: (sheetId: string) => canLock(view.value, who.value, sheetId),
    lockOf: (sheetId: string) => view.value.locks.get(sheetId) ?? null,
    /**
     * Why the server would refuse the change `run` makes (tried on a copy of the doc, checked as the
     * server checks it), or null: for changes too wide to judge cell by cell (a sort).
     */
    changeRefusal: (run: (copy: Y.Doc) => void): Refusal | null => {
      const copy = new Y.Doc({ gc: false })
      defineRoots(copy)
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(wb.doc))
      let refusal: Refusal | null = null
      try {
        // (the open doc is the doc without the change)
        copy.transact(tr => { run(copy); refusal = checkChange(wb.doc, copy, tr, who.value) })
      } finally { copy.destroy() }
      return refusal
    },
    /** a protection by its id (a refusal names it), as the doc has it now */
    protection: (id: string | undefined): Protection | null => (id && view.value.protections.find(p => p.id === id)) || null,
  }
}

export type WorkbookAccess = ReturnType<typeof useAccess>
