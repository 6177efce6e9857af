/**
 * Version history and review for the workbook page: the versions list, saving a named version, the
 * review of a version against now (the changed cells marked in the grid, stepped through one by one),
 * restoring a version (or one cell of it) as ONE undo step of mine, copying a version into a new
 * workbook, and a cell's audit trail. The panel's state lives here; the components only show it.
 *
 * A restore is made here, not by the server: the version's state is fetched, planned against the doc
 * with my own access (core/history/restore: what I may not edit is skipped and reported) and applied
 * with my origin, so it goes out like any edit of mine and Ctrl+Z takes it back in one step.
 *
 * The activity (the whole audit trail, filtered) is ./useActivity.ts. Whether view-only links may read
 * the history is the doc's `meta.historyViewers` (owners set it here, the server enforces it): a viewer
 * it is off for is told so in the panel, and the panel reads again when the owner turns it back on.
 */
import { computed, onScopeDispose, ref, shallowRef, watch } from 'vue'
import { useI18n } from 'vue-i18n'
import * as Y from 'yjs'
import type { Principal } from '../core/access/access'
import { metaOf } from '../core/workbook/schema'
import { applyRestore, planRestore, planSize, type RestorePlan, type RestoreScope } from '../core/history/restore'
import { holdLink } from '../sync/links'
import { ApiError } from '../api'
import { historyApi, type AuditEntry, type CellChange, type VersionDiff, type VersionInfo } from '../components/history/historyApi'
import type { OpenWorkbook } from './useWorkbook'
import { useActivity } from './useActivity'

/** How a changed cell is marked in the grid, and what it held in the version. */
export interface ChangeMark { kind: CellChange['kind']; was: string }

/** One change the review steps through: a cell that is on its sheet now. */
export interface ReviewStep { sheetId: string; rowId: string; colId: string; change: CellChange }

export type HistoryView = 'versions' | 'changes' | 'cell' | 'activity'

export interface CellTarget { sheetId: string; rowId: string; colId: string; address: string }

export interface HistoryHooks {
  /** selects a cell (switching sheet when needed); `focus`: the grid takes the keyboard */
  select(sheetId: string, rowId: string, colId: string, focus: boolean): Promise<boolean> | boolean
  /** the cell selected now, if any */
  selected(): { sheetId: string; rowId: string; colId: string } | null
  /** the marks changed: redraw the grid */
  redraw(): void
  /** a word for the person (the page's toast) */
  notice(text: string): void
}

/** An error of the API in words: a history turned off for view-only links is said in the person's language. */
function reason(e: unknown, t: (k: string) => string): string {
  if (e instanceof ApiError && e.status === 403) return t('history.forbidden')
  // 409 on saving: the name is another version's (or the workbook holds as many named versions as it may)
  if (e instanceof ApiError && e.status === 409) return t(/name exists/.test(e.message) ? 'history.nameTaken' : 'history.tooMany')
  return (e as Error).message
}

const key = (sheetId: string, rowId: string, colId: string) => `${sheetId}\u0000${rowId}\u0000${colId}`

export function useHistory(wb: OpenWorkbook, workbookId: string, who: () => Principal, hooks: HistoryHooks, token?: string) {
  const { t, locale } = useI18n()
  const api = historyApi(workbookId, token)

  const open = ref(false)
  /** what the panel shows: the versions, the review's changes, a cell's history, or the activity */
  const view = ref<HistoryView>('versions')

  // ---- who may read the history: view-only links unless the owner turned that off
  const meta = metaOf(wb.doc)
  const viewersMayRead = ref(meta.get('historyViewers') !== false)
  /** the server said no to me, a viewer (the doc may not have told me yet) */
  const refused = ref(false)
  const isOwner = computed(() => who().role === 'owner')
  /** the history is closed to me: I am a viewer and the owner turned it off */
  const shut = computed(() => who().role === 'viewer' && (!viewersMayRead.value || refused.value))
  const onMeta = (ev: Y.YMapEvent<unknown>) => {
    if (!ev.keysChanged.has('historyViewers')) return
    const now = meta.get('historyViewers') !== false
    if (now === viewersMayRead.value) return
    viewersMayRead.value = now
    refused.value = false
    // closed: the review's marks go with the rest of the history
    if (!now && who().role === 'viewer') exitReview()
    // opened again: what the panel shows is read again
    if (now && open.value && who().role === 'viewer') reloadView()
  }
  meta.observe(onMeta)
  onScopeDispose(() => meta.unobserve(onMeta))
  /** Owners: whether view-only links may read the history (one change of mine, undoable like any). */
  function setViewersMayRead(on: boolean): void {
    if (!isOwner.value || on === viewersMayRead.value) return
    wb.mutate((doc, origin) => doc.transact(() => metaOf(doc).set('historyViewers', on), origin))
  }
  /** an error of the API in words; a 403 to a viewer closes the panel's history */
  const why = (e: unknown): string => {
    if (e instanceof ApiError && e.status === 403 && who().role === 'viewer') refused.value = true
    return reason(e, t)
  }

  // ---- versions
  const versions = ref<VersionInfo[]>([])
  const loading = ref(false)
  const error = ref('')
  const busy = ref('')
  let loadSeq = 0
  async function load(): Promise<void> {
    const seq = ++loadSeq
    loading.value = true
    error.value = ''
    try {
      const list = await api.versions()
      if (seq === loadSeq) { versions.value = list; refused.value = false }
    } catch (e) {
      if (seq === loadSeq) error.value = why(e)
    } finally {
      if (seq === loadSeq) loading.value = false
    }
  }
  function show(which: HistoryView = 'versions'): void {
    open.value = true
    view.value = which
    // closed to me: nothing is asked of the server (the panel says why)
    if (shut.value) return
    if (which === 'versions') void load()
    if (which === 'activity') {
      void activity.load()
      // the versions name the restores of the trail
      if (!versions.value.length && !loading.value) void load()
    }
  }
  /** What the panel shows, read again (after the owner opened the history again, or to try again). */
  function reloadView(): void {
    refused.value = false
    if (view.value === 'changes') { if (review.value) void refresh(); else view.value = 'versions' }
    if (view.value === 'cell' && cell.value) void openCell(cell.value)
    else if (view.value !== 'changes') show(view.value)
  }
  function close(): void { open.value = false }

  async function save(name: string): Promise<VersionInfo | null> {
    busy.value = 'save'
    try {
      const v = await api.save(name)
      hooks.notice(t('history.saved', { name: v.name ?? name }))
      await load()
      return v
    } catch (e) {
      hooks.notice(t('history.failed', { error: why(e) }))
      return null
    } finally { busy.value = '' }
  }

  /** a version as people name it: its name, else its time */
  const fmt = computed(() => new Intl.DateTimeFormat(locale.value, { dateStyle: 'medium', timeStyle: 'short' }))
  const label = (v: VersionInfo): string => v.name ?? fmt.value.format(new Date(v.at))

  // ---- review
  const review = shallowRef<{ version: VersionInfo; diff: VersionDiff } | null>(null)
  const reviewLoading = ref(false)
  const reviewError = ref('')
  const marks = shallowRef(new Map<string, ChangeMark>())
  const steps = shallowRef<ReviewStep[]>([])
  /** the step selected last (-1: none yet) */
  const at = ref(-1)

  function build(diff: VersionDiff | null): void {
    const m = new Map<string, ChangeMark>()
    const list: ReviewStep[] = []
    const layout = wb.engine.value?.layout
    for (const s of diff?.sheets ?? []) {
      if (s.status === 'removed') continue
      const sl = layout?.sheet(s.sheetId)
      for (const c of s.cells) {
        if (!sl || sl.rows.indexOf(c.rowId) < 0 || sl.cols.indexOf(c.colId) < 0) continue
        m.set(key(s.sheetId, c.rowId, c.colId), { kind: c.kind, was: c.beforeText })
        list.push({ sheetId: s.sheetId, rowId: c.rowId, colId: c.colId, change: c })
      }
    }
    marks.value = m
    steps.value = list
    hooks.redraw()
  }

  async function compare(v: VersionInfo): Promise<void> {
    reviewLoading.value = true
    reviewError.value = ''
    open.value = true
    view.value = 'changes'
    try {
      const diff = await api.diff(v.id)
      review.value = { version: v, diff }
      at.value = -1
      build(diff)
    } catch (e) {
      reviewError.value = why(e)
    } finally { reviewLoading.value = false }
  }
  /** the review read again (after edits since it was opened) */
  async function refresh(): Promise<void> {
    const r = review.value
    if (r) await compare(r.version)
  }
  function exitReview(): void {
    if (!review.value && !reviewError.value) return
    review.value = null
    reviewError.value = ''
    at.value = -1
    build(null)
    if (view.value === 'changes') view.value = 'versions'
  }

  const changeAt = (sheetId: string, rowId: string, colId: string): ChangeMark | null =>
    marks.value.size ? marks.value.get(key(sheetId, rowId, colId)) ?? null : null

  async function goToStep(i: number, focus = false): Promise<void> {
    const s = steps.value[i]
    if (!s) return
    at.value = i
    await hooks.select(s.sheetId, s.rowId, s.colId, focus)
  }
  /** the next (or previous) change after the cell selected, in sheet order, then by row and column */
  function step(dir: 1 | -1): Promise<void> {
    const n = steps.value.length
    if (!n) return Promise.resolve()
    const sel = hooks.selected()
    const here = sel ? steps.value.findIndex(s => s.sheetId === sel.sheetId && s.rowId === sel.rowId && s.colId === sel.colId) : -1
    const from = here >= 0 ? here : at.value
    const next = from < 0 ? (dir === 1 ? 0 : n - 1) : (from + dir + n) % n
    return goToStep(next)
  }

  // ---- restore and copy
  function skippedText(plan: RestorePlan): string {
    const by = new Map<string, number>()
    for (const s of plan.skipped) by.set(s.code, (by.get(s.code) ?? 0) + 1)
    return [...by].map(([code, n]) => {
      const k = `history.skip.${code}`
      const why = t(k) !== k ? t(k) : t(`access.refusal.${code}`)
      return t('history.skipped', { n, why })
    }).join('；')
  }

  /** Restores a version (all of it, or the scope) over the doc, as one undo step of mine. */
  async function restore(v: VersionInfo, scope: RestoreScope = {}): Promise<boolean> {
    busy.value = `restore:${v.id}`
    let version: Y.Doc | null = null
    try {
      const state = await api.state(v.id)
      version = new Y.Doc()
      Y.applyUpdate(version, state)
      const plan = planRestore(wb.doc, version, who(), scope)
      const n = planSize(plan)
      if (n) wb.mutate((doc, origin) => applyRestore(doc, plan, origin))
      const skipped = plan.skipped.length ? skippedText(plan) : ''
      const done = n ? t('history.restored', { name: label(v), n }) : t('history.nothingToRestore', { name: label(v) })
      hooks.notice(skipped ? `${done}\n${t('history.notRestored', { list: skipped })}` : done)
      // the marks were of the doc before the restore
      if (review.value) void refresh()
      return n > 0
    } catch (e) {
      hooks.notice(t('history.failed', { error: why(e) }))
      return false
    } finally {
      version?.destroy()
      busy.value = ''
    }
  }

  /** Copies a version into a new workbook, opened in a new tab. */
  async function copy(v: VersionInfo): Promise<void> {
    // the tab is opened while the click still counts as the person's (a popup blocker lets it through)
    const tab = window.open('', '_blank')
    busy.value = `copy:${v.id}`
    try {
      const made = await api.copy(v.id)
      holdLink(made.id, { token: made.token, role: made.you?.role, name: made.you?.name, title: made.title })
      if (tab) { tab.opener = null; tab.location.href = made.url } else window.open(made.url, '_blank', 'noopener')
      hooks.notice(t('history.copied', { title: made.title }))
    } catch (e) {
      tab?.close()
      hooks.notice(t('history.failed', { error: why(e) }))
    } finally { busy.value = '' }
  }

  // ---- a cell's history
  const cell = shallowRef<CellTarget | null>(null)
  const entries = ref<AuditEntry[]>([])
  const cellLoading = ref(false)
  const cellError = ref('')
  let cellSeq = 0
  async function openCell(target: CellTarget): Promise<void> {
    const seq = ++cellSeq
    cell.value = target
    open.value = true
    view.value = 'cell'
    cellLoading.value = true
    cellError.value = ''
    entries.value = []
    try {
      const list = await api.cellAudit(target.sheetId, target.rowId, target.colId)
      if (seq === cellSeq) entries.value = list
    } catch (e) {
      if (seq === cellSeq) cellError.value = why(e)
    } finally {
      if (seq === cellSeq) cellLoading.value = false
    }
  }

  // ---- the audit trail
  const check = ref<{ ok: boolean; entries: number; brokenAt?: number } | null>(null)
  async function verify(): Promise<void> {
    busy.value = 'verify'
    check.value = null
    try { check.value = await api.verify() } catch (e) { hooks.notice(t('history.failed', { error: why(e) })) } finally { busy.value = '' }
  }
  // ---- the activity: the whole trail, filtered
  const activity = useActivity(api, why)
  /** Selects an entry's cell (on its sheet); says so when its row, column or sheet is gone. */
  async function goToEntry(e: AuditEntry): Promise<void> {
    if (!e.sheet || !e.rowId || !e.colId) return
    if (!await hooks.select(e.sheet, e.rowId, e.colId, false)) hooks.notice(t('history.activity.gone', { cell: e.cell ?? '' }))
  }
  /** the trail as a file, with the activity's filters */
  async function exportAudit(format: 'csv' | 'xlsx'): Promise<void> {
    busy.value = `export:${format}`
    try { hooks.notice(t('history.exported', { name: await activity.exportFile(format) })) } catch (e) { hooks.notice(t('history.failed', { error: why(e) })) } finally { busy.value = '' }
  }

  // Escape leaves the review (not while a cell is being typed in, nor from a field or a dialog)
  const onKey = (e: KeyboardEvent) => {
    if (e.key !== 'Escape' || !(review.value || reviewError.value)) return
    const el = e.target as HTMLElement | null
    // (in the history panel, the panel's own Escape leaves the review)
    if (document.querySelector('.modal-backdrop') || el?.closest('[data-testid="history-panel"]')) return
    if (el && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName) && !el.classList.contains('handsontableInput')) return
    if (el?.classList.contains('handsontableInput') && editing()) return
    exitReview()
  }
  let editing: () => boolean = () => false
  window.addEventListener('keydown', onKey, true)
  onScopeDispose(() => window.removeEventListener('keydown', onKey, true))
  // a sheet that appeared or went: the review's cells are placed again
  // (and the activity's sheet filter of a sheet gone is let go)
  watch(wb.sheets, (list) => {
    if (review.value) build(review.value.diff)
    const f = activity.filter.value.sheet
    if (f && !list.some(s => s.id === f)) {
      activity.filter.value = { ...activity.filter.value, sheet: '' }
      if (open.value && view.value === 'activity') void activity.load()
    }
  })

  return {
    open, view, show, close,
    /** the workbook's sheets now (the activity's sheet filter) */
    sheets: wb.sheets,
    versions, loading, error, busy, load, save, label,
    review, reviewLoading, reviewError, steps, at, compare, refresh, exitReview, changeAt, goToStep, step,
    restore, copy,
    cell, entries, cellLoading, cellError, openCell,
    check, verify, exportAudit, activity, goToEntry,
    viewersMayRead, setViewersMayRead, isOwner, shut, reloadView,
    /** how the page tells whether a cell is being typed in (Escape then closes the editor, not the review) */
    setEditing(fn: () => boolean) { editing = fn },
  }
}

export type WorkbookHistory = ReturnType<typeof useHistory>
