/**
 * One audit entry as a sentence in the person's language: "编辑了 B3：100 → 120", "插入了 2 行",
 * "签核并锁定了工作表“预算”", "导出了 xlsx". Cell values are cut short (the cell's own history has them
 * whole). The words are the locale's `history.activity.*` keys; nothing here is HTML.
 */
import type { AuditEntry } from './historyApi'

/** vue-i18n's t: a key, its named values, and a count that picks the plural form (English) */
type T = (key: string, named?: Record<string, unknown>, plural?: number) => string

export interface ActivityNames {
  /** a sheet's name now ('' when it is gone) */
  sheet(id: string): string
  /** a version's name (null: not known, or an automatic one) */
  version(id: string): string | null
}

const CUT = 60
const cut = (s: string) => (s.length > CUT ? `${s.slice(0, CUT)}…` : s)
const count = (v: unknown): number => (Array.isArray(v) ? v.length : typeof v === 'number' ? v : 0)
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** The refusal's reason, short where the locale has a short word for it, else as the page says refusals. */
export function refusalWhy(code: string | null, t: T): string {
  if (!code) return ''
  const short = `history.activity.why.${code}`
  if (t(short) !== short) return t(short)
  const long = `access.refusal.${code}`
  return t(long) !== long ? t(long) : code
}

export function activitySentence(e: AuditEntry, t: T, names: ActivityNames): string {
  const k = (key: string, named: Record<string, unknown> = {}) => t(`history.activity.${key}`, named)
  const empty = t('history.empty1')
  const cell = e.cell ?? ''
  const sheet = (e.sheet && names.sheet(e.sheet)) || k('aSheet')
  switch (e.action) {
    case 'edit':
    case 'restore': {
      if (e.action === 'restore' && !e.rowId) {
        // the restore itself, as the API records it (its cells are entries of their own)
        const name = e.detail ? names.version(e.detail) : null
        const n = count((e.after as { changed?: unknown } | null)?.changed)
        return name ? k('restoredNamed', { name, n }) : k('restored', { n })
      }
      const before = cut(e.beforeText), after = cut(e.afterText)
      const verb = e.action === 'restore' ? 'restoreCell' : !after ? 'cleared' : !before ? 'filled' : 'edited'
      return k(cell ? verb : `${verb}Somewhere`, { cell, before: before || empty, after: after || empty })
    }
    case 'refused': {
      const why = refusalWhy(e.detail, t)
      return cell ? k('refusedCell', { cell, why }) : k('refused', { why })
    }
    case 'rows':
    case 'cols': {
      const what = e.detail === 'deleted' ? 'deleted' : e.detail === 'restored' ? 'back' : e.detail === 'reordered' ? 'reordered' : 'inserted'
      const n = count(what === 'deleted' ? e.before : e.after)
      return t(`history.activity.${e.action}.${what}`, { n }, n)
    }
    case 'sheet':
      if (e.detail === 'added') return k('sheetAdded', { name: str(e.after) })
      if (e.detail === 'removed') return k('sheetRemoved', { name: str(e.before) })
      return k('sheetRenamed', { from: str(e.before), to: str(e.after) })
    case 'protect':
      return k('protect')
    case 'lock':
      return k('lock', { sheet })
    case 'unlock':
      return k('unlock', { sheet })
    case 'version':
      return k('version', { name: str(e.after) || (e.detail && names.version(e.detail)) || '' })
    case 'link-create':
    case 'link-revoke': {
      const l = (e.after ?? {}) as { role?: string; name?: string }
      const role = l.role ? t(`roles.${l.role}`) : ''
      return k(e.action === 'link-create' ? 'linkCreated' : 'linkRevoked', { role, name: l.name || t('history.unknownPerson') })
    }
    case 'export':
      return k('export', { format: e.detail ?? '' })
    case 'copy':
      return k('copy', { name: (e.detail && names.version(e.detail)) || '' })
    case 'comment': {
      const verb = ['added', 'replied', 'edited', 'deleted', 'resolved', 'reopened', 'done', 'undone'].includes(e.detail ?? '') ? e.detail! : 'edited'
      return k(`comment.${verb}${cell ? '' : 'Somewhere'}`, { cell, text: cut(str(e.after) || str(e.before)) })
    }
    default:
      return String(e.action)
  }
}
