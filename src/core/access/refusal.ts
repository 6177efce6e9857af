/**
 * Why a change is not made, as data: a code the UI translates, and where (sheet, cell, the protection
 * that stands in the way). The server closes a refused socket with `refusalReason(r)` as the close
 * reason; the client reads it back with `parseRefusalReason`. No user text travels in a reason (labels
 * and names are looked up by the reader in its own copy of the doc), so a reason always fits the 123
 * bytes a WebSocket close reason may have.
 */

export const REFUSAL_CODES = [
  /** a view-only link */
  'read-only',
  /** the sheet is signed off and locked */
  'locked',
  /** a roll-up sheet: the server writes it from its sources, nobody edits it */
  'rollup-read-only',
  /** a protection does not let this person edit the cell, row, column or sheet */
  'protected',
  /** a row or column move would change what a protected formula reads */
  'protected-range-moved',
  /** only owners and the managers of a sheet may lock or unlock it */
  'lock-not-allowed',
  /** a lock is signed with one's own name */
  'lock-own-name',
  /** only owners may change protections */
  'protections-owner-only',
  /** only owners may choose who reads the workbook's history */
  'history-owner-only',
  /** only owners may delete a protected sheet */
  'protected-sheet-delete',
  /** what was written into the charts is not a chart */
  'not-a-chart',
  /** the tab order holds something other than sheet ids */
  'not-a-sheet-id',
  /** a sheet added without the parts every sheet has */
  'not-a-sheet',
  /** the parts of a sheet are not replaced once made */
  'sheet-parts',
  /** a sheet's name is not text */
  'not-a-sheet-name',
  /** a type or root the workbook never writes */
  'not-workbook',
  /** a row or column order holds something other than ids */
  'bad-id',
  /** a row or column inserted again (it would move) */
  'duplicate-insert',
  /** a cells key that is not rowId:colId */
  'not-a-cell',
  /** a cell value the workbook does not store */
  'not-a-cell-value',
  /** a cell format the workbook does not know */
  'not-a-style',
  /** an entry of the hidden rows and columns that is not one */
  'not-hidden-entry',
  /** what was written into the filter views is not one */
  'not-a-filter-view',
  /** a filter view is changed or deleted by the one who saved it, or an owner */
  'filter-view-not-yours',
  /** a commenter's link: comments only, no cell or structure */
  'comment-only',
  /** what was written into the comments is not a comment */
  'not-a-comment',
  /** a comment written under another person's name */
  'comment-as-other',
  /** a comment, reply or assignment changed or deleted by someone it is not for */
  'comment-not-yours',
  /** the workbook holds as many comments as it may */
  'too-many-comments',
  /** what was written into the merged cells is not a merge */
  'not-a-merge',
  /** the workbook's time zone is not one */
  'not-a-time-zone',
  /** a change the server cannot read */
  'malformed',
  /** the change builds on edits the server does not have */
  'unknown-base',
  /** changes under another person's client id */
  'foreign-client',
  /** the workbook would exceed its size limit */
  'too-large',
  /** one message too large to take at once */
  'message-too-large',
  /** a close reason this client does not know (an older or newer server) */
  'refused',
] as const

export type RefusalCode = typeof REFUSAL_CODES[number]

export interface Refusal {
  code: RefusalCode
  /** the sheet id */
  sheet?: string
  /** the cell key (rowId:colId) */
  cell?: string
  /** the id of the protection that stands in the way */
  protection?: string
  /** English, for logs only (never shown, never sent) */
  detail?: string
}

const CODES: ReadonlySet<string> = new Set(REFUSAL_CODES)
const ID = /^[\w-]{1,64}$/

export const isRefusalCode = (v: unknown): v is RefusalCode => typeof v === 'string' && CODES.has(v)

/** The WebSocket close reason for a refusal: its code, and the protection's id when it names one. */
export function refusalReason(r: Refusal): string {
  return r.protection !== undefined && ID.test(r.protection) ? `${r.code} ${r.protection}` : r.code
}

/** A close reason read back; text that is not one gives the generic code `refused` (with the text as detail). */
export function parseRefusalReason(text: string): Refusal {
  const [code, protection, more] = text.split(' ')
  if (!isRefusalCode(code) || more !== undefined) return { code: 'refused', detail: text }
  if (protection === undefined) return { code }
  return ID.test(protection) ? { code, protection } : { code: 'refused', detail: text }
}

/** A refusal in English, for logs. */
export function refusalLog(r: Refusal): string {
  const where = r.sheet ? ` (sheet ${r.sheet}${r.cell ? `, cell ${r.cell}` : ''})` : ''
  return `${r.code}${r.protection ? ` [${r.protection}]` : ''}${r.detail ? `: ${r.detail}` : ''}${where}`
}
