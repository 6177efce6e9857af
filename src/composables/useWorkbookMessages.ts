/**
 * What the workbook page tells the person: the notice (a toast at the bottom: an error, or a word from
 * a panel) and a refusal of the access rules in their language.
 */
import { ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { WorkbookError } from '../core/workbook/mutations'
import { parseRefusalReason, type Refusal, type RefusalCode } from '../core/access/refusal'
import type { WorkbookAccess } from './useAccess'

/** Codes whose message names the protection (by its label, looked up in the doc by the id the refusal carries). */
const REFUSALS_WITH_LABEL: ReadonlySet<RefusalCode> = new Set<RefusalCode>(['protected', 'protected-range-moved'])

/** A refusal (the rules', or the server's close reason read back) in the person's language. */
export function useRefusalText(access: WorkbookAccess): (r: Refusal | string) => string {
  const { t } = useI18n()
  return (r) => {
    const refusal = typeof r === 'string' ? parseRefusalReason(r) : r
    const label = REFUSALS_WITH_LABEL.has(refusal.code) ? access.protection(refusal.protection)?.label : undefined
    return label ? t(`access.refusalAs.${refusal.code}`, { label }) : t(`access.refusal.${refusal.code}`)
  }
}

export function useWorkbookMessages(access: WorkbookAccess) {
  const { t } = useI18n()
  const refusalText = useRefusalText(access)
  /** the notice shown, '' for none */
  const notice = ref('')
  let noticeTimer = 0

  /** Shows an error (a workbook error by its code, in the person's language) or any text, as the notice. */
  function showError(e: unknown) {
    if (e instanceof WorkbookError) {
      const key = `sheet.errors.${e.code}`
      notice.value = t(key) !== key ? t(key) : e.message
    } else notice.value = (e as Error).message ?? String(e)
    // long messages (text someone may want to copy) stay until dismissed or replaced
    if (noticeTimer) window.clearTimeout(noticeTimer)
    const shown = notice.value
    noticeTimer = notice.value.length > 80 ? 0 : window.setTimeout(() => { if (notice.value === shown) notice.value = '' }, 4000)
  }
  /** a panel's word for the person (`notice` events) */
  const tell = (text: string) => showError(new Error(text))
  /** an edit the access rules do not let me make, and why */
  const showRefusal = (r: Refusal | string) => tell(t('access.cellRefused', { reason: refusalText(r) }))

  return { notice, showError, tell, showRefusal, refusalText }
}
