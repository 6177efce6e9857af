/**
 * The activity tab of the history panel: the workbook's audit trail newest first, filtered by person
 * and by sheet, a page at a time (newest first, each page below the oldest entry shown), and exported as
 * CSV or XLSX with the same filters. Part of useHistory; its state
 * lives here, ActivityList.vue only shows it.
 */
import { computed, ref, shallowRef } from 'vue'
import type { AuditEntry, AuditFilter, HistoryApi } from '../components/history/historyApi'

export function useActivity(api: HistoryApi, reason: (e: unknown) => string) {
  const filter = ref<{ by: string; sheet: string }>({ by: '', sheet: '' })
  const entries = shallowRef<AuditEntry[]>([])
  const loading = ref(false)
  const loadingMore = ref(false)
  const error = ref('')
  /** entries numbered this and below are still to be read (0: all were) */
  const below = ref(0)
  const loaded = ref(false)
  /** the names seen in the trail so far (any filter), for the person filter */
  const seen = ref<string[]>([])
  let seq = 0
  /** entries per page */
  const PAGE = 500

  const query = (): AuditFilter => ({ by: filter.value.by || undefined, sheet: filter.value.sheet || undefined })
  /** the page of entries below `before` (absent: the newest), newest first, and where the next one starts (0: none) */
  const page = async (before?: number) => {
    const list = await api.audit({ ...query(), order: 'desc', limit: PAGE, ...(before ? { before } : {}) })
    return { entries: list, hi: list.length < PAGE ? 0 : list[list.length - 1]!.n }
  }

  function note(list: AuditEntry[]): void {
    const names = new Set(seen.value)
    const before = names.size
    for (const e of list) if (e.by) names.add(e.by)
    if (names.size !== before) seen.value = [...names].sort((a, b) => a.localeCompare(b, 'zh-CN'))
  }

  /** Reads the newest page again (from the top: after a filter changed, or to see what came since). */
  async function load(): Promise<void> {
    const my = ++seq
    loading.value = true
    error.value = ''
    try {
      const first = await page()
      if (my !== seq) return
      entries.value = first.entries
      below.value = first.hi
      loaded.value = true
      note(first.entries)
    } catch (e) {
      if (my === seq) { error.value = reason(e); entries.value = []; below.value = 0 }
    } finally {
      if (my === seq) loading.value = false
    }
  }

  /** The next page of older entries. */
  async function more(): Promise<void> {
    if (loading.value || loadingMore.value || below.value <= 0) return
    const my = seq
    loadingMore.value = true
    error.value = ''
    try {
      const next = await page(below.value)
      if (my !== seq) return
      entries.value = [...entries.value, ...next.entries]
      below.value = next.hi
      note(next.entries)
    } catch (e) {
      if (my === seq) error.value = reason(e)
    } finally {
      loadingMore.value = false
    }
  }

  function setFilter(f: Partial<{ by: string; sheet: string }>): void {
    filter.value = { ...filter.value, ...f }
    void load()
  }

  /** the person filter's choices: the names seen, and the one chosen (even when its entries are not loaded) */
  const people = computed(() => {
    const by = filter.value.by
    return by && !seen.value.includes(by) ? [...seen.value, by].sort((a, b) => a.localeCompare(b, 'zh-CN')) : seen.value
  })

  return {
    filter, entries, loading, loadingMore, error, loaded, people,
    hasMore: computed(() => below.value > 0),
    load, more, setFilter,
    /** the trail as a file, as filtered now */
    exportFile: (format: 'csv' | 'xlsx') => api.exportAudit(format, query()),
  }
}

export type WorkbookActivity = ReturnType<typeof useActivity>
