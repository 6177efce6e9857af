/**
 * Comments of the open workbook as refs: every thread (with its cell's current address, orphaned when
 * its row or column went), the open threads by cell of the sheet shown (the grid's corner marks), and
 * the people one may @mention (link names from the server, people present, names already in threads).
 * The actions call the core's named mutations under my link name.
 *
 * Comment changes carry an origin of their own, which the personal undo does not track: Ctrl+Z takes
 * back my cell edits, never a comment someone may already have answered (a comment is deleted, a
 * thread reopened, by its own buttons).
 */
import { computed, onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'
import * as Y from 'yjs'
import {
  addComment, addReply, CommentError, commentsOf, deleteComment, editComment, mentionsIn, openThreadCells, readThreads,
  setDone, setResolved, type CommentThread,
} from '../core/comments/comments'
import { WorkbookLayout } from '../core/workbook/layout'
import type { OpenWorkbook } from './useWorkbook'
import type { Peer } from '../sync/presence'
import { commentsApi } from '../components/comments/commentsApi'

/** The open threads of a cell: their ids, and whether one of them is an assignment not done yet. */
export interface CellMark { ids: string[]; assigned: boolean }

export interface CommentsOptions {
  workbookId: string
  token: string
  /** my link name (what the server lets me write under) */
  me: () => string
  /** whether my role may comment */
  mayComment: () => boolean
  peers: Ref<Peer[]>
  /** told when a comment action is not made (a CommentError's code) */
  failed?: (code: string) => void
}

export function useComments(wb: OpenWorkbook, sheetId: Ref<string>, opts: CommentsOptions) {
  const origin = { who: 'comments' }
  const threads = shallowRef<CommentThread[]>([])
  const marks = shallowRef<Map<string, CellMark>>(new Map())
  /** bumped on every change of the comments (the inbox is asked again) */
  const version = ref(0)
  const linkNames = shallowRef<string[]>([])

  const layout = () => wb.engine.value?.layout ?? new WorkbookLayout(wb.doc)
  function readMarks(): void {
    const cells = openThreadCells(wb.doc, sheetId.value)
    const map = commentsOf(wb.doc)
    const out = new Map<string, CellMark>()
    for (const [k, ids] of cells) {
      const assigned = ids.some(id => {
        const t = map.get(`t:${id}`) as { assignee?: unknown } | undefined
        return typeof t?.assignee === 'string' && (map.get(`d:${id}`) as { done?: unknown } | undefined)?.done !== true
      })
      out.set(k, { ids, assigned })
    }
    marks.value = out
  }
  const where = (list: CommentThread[]) => list.map(t => `${t.id}@${t.cell ?? ''}`).join(' ')
  function refresh(commentsChanged = true): void {
    const next = readThreads(wb.doc, layout())
    // only rows or columns moved: nothing to redraw unless a thread's address changed
    if (!commentsChanged && where(next) === where(threads.value)) return
    threads.value = next
    readMarks()
  }

  // the comments changed, or anything else while there are threads (rows and columns inserted,
  // deleted, moved or sorted change their addresses): read again once the transaction is through (the
  // formula engine's layout is brought up to date in the same event)
  let queued = false, commentsChanged = false
  const onTxn = (tr: Y.Transaction) => {
    const map: unknown = commentsOf(wb.doc)
    const comments = [...tr.changed.keys()].some(type => type === map)
    if (comments) { version.value++; commentsChanged = true }
    // typing into cells moves no thread: only changes beside a sheet's cells can (rows, columns, sheets)
    if (!comments && (threads.value.length === 0 || [...tr.changed.keys()].every(type => type._item?.parentSub === 'cells'))) return
    if (queued) return
    queued = true
    queueMicrotask(() => { queued = false; const c = commentsChanged; commentsChanged = false; refresh(c) })
  }
  wb.doc.on('afterTransaction', onTxn)
  watch(sheetId, readMarks)
  watch(wb.ready, (r) => { if (r) refresh() }, { immediate: true })

  let asked = false
  async function loadPeople(): Promise<void> {
    if (asked) return
    asked = true
    try { linkNames.value = (await commentsApi.people(opts.workbookId, opts.token)).map(p => p.name) } catch { asked = false }
  }
  const people = computed(() => {
    const names = new Set<string>(linkNames.value)
    for (const p of opts.peers.value) if (p.name) names.add(p.name)
    for (const t of threads.value) {
      names.add(t.author)
      for (const n of t.mentions) names.add(n)
      for (const r of t.replies) names.add(r.author)
    }
    names.delete(opts.me())
    names.delete('')
    return [...names].sort((a, b) => a.localeCompare(b, 'zh-CN'))
  })

  onScopeDispose(() => { wb.doc.off('afterTransaction', onTxn) })

  /** runs a mutation; false (and `failed` told) when it was not made */
  function run(fn: (doc: Y.Doc, by: string) => unknown): boolean {
    if (!opts.mayComment()) { opts.failed?.('read-only'); return false }
    try { fn(wb.doc, opts.me()); return true } catch (e) {
      if (e instanceof CommentError) { opts.failed?.(e.code); return false }
      throw e
    }
  }
  const named = (text: string) => mentionsIn(text, [...people.value, opts.me()])

  return {
    threads,
    marks,
    version,
    people,
    loadPeople,
    /** the open threads of a cell of the sheet shown */
    markAt: (rowId: string, colId: string): CellMark | undefined => marks.value.get(`${rowId}:${colId}`),
    /** the threads anchored to a cell (open first, then resolved; each oldest first) */
    threadsAt: (sid: string, rowId: string, colId: string): CommentThread[] =>
      threads.value.filter(t => t.sheetId === sid && t.rowId === rowId && t.colId === colId).sort((a, b) => Number(a.resolved) - Number(b.resolved)),
    mentionsIn: named,
    add: (c: { sheetId: string; rowId: string; colId: string; text: string; assignee?: string; due?: string }) => {
      let id = ''
      const ok = run((doc, by) => { id = addComment(doc, { ...c, mentions: named(c.text) }, by, origin) })
      return ok ? id : null
    },
    reply: (threadId: string, text: string) => run((doc, by) => addReply(doc, threadId, text, named(text), by, origin)),
    edit: (id: string, text: string) => run((doc, by) => editComment(doc, id, text, named(text), by, origin)),
    remove: (id: string) => run(doc => deleteComment(doc, id, origin)),
    resolve: (threadId: string, resolved: boolean) => run((doc, by) => setResolved(doc, threadId, resolved, by, origin)),
    done: (threadId: string, done: boolean) => run((doc, by) => setDone(doc, threadId, done, by, origin)),
  }
}

export type WorkbookComments = ReturnType<typeof useComments>
