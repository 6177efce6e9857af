/**
 * Comments as the cell notes of an exported file: one note per commented cell, its threads one after
 * another, each as author and time (in the workbook's time zone) above the text, replies indented
 * below, an assignment and a resolved thread marked with signs that read the same in any language.
 * Threads whose row or column is gone have no cell to go on and are left out.
 */
import type * as Y from 'yjs'
import { readThreads, type CommentThread } from '../../src/core/comments/comments'
import type { WorkbookLayout } from '../../src/core/workbook/layout'
import { workbookTimeZone } from '../../src/core/workbook/zone'

/** Excel keeps at most 32,767 characters in a cell's text; a note is cut well before that. */
const MAX_NOTE = 30_000
/**
 * What XML 1.0 cannot hold, dropped as the data cells drop it (sheetxml.ts): ExcelJS drops control
 * characters from a note but writes U+FFFE, U+FFFF and lone surrogate halves, which any client can put
 * into a comment, and a part with them is not well-formed XML (a strict reader refuses the file).
 */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

export interface CellNote { row: number; col: number; text: string }

function stamp(at: number, zone: string): string {
  try {
    return new Intl.DateTimeFormat('sv-SE', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).format(at)
  } catch {
    return new Date(at).toISOString().slice(0, 16).replace('T', ' ')
  }
}

function threadText(t: CommentThread, zone: string): string {
  const lines = [`${t.resolved ? '✓ ' : ''}${t.author} ${stamp(t.at, zone)}`, t.text]
  if (t.assignee) lines.push(`→ ${t.assignee}${t.due ? ` · ${t.due}` : ''}${t.done ? ' ✓' : ''}`)
  for (const r of t.replies) lines.push(`  ↳ ${r.author} ${stamp(r.at, zone)}`, ...r.text.split('\n').map(l => `    ${l}`))
  return lines.join('\n')
}

/** The notes of each sheet (by id), at visible positions of `layout`. */
export function commentNotes(doc: Y.Doc, layout: WorkbookLayout): Map<string, CellNote[]> {
  const zone = workbookTimeZone(doc)
  const byCell = new Map<string, { sheetId: string; row: number; col: number; parts: string[] }>()
  for (const t of readThreads(doc, layout)) {
    const sl = layout.sheet(t.sheetId)
    const row = sl?.rows.indexOf(t.rowId) ?? -1, col = sl?.cols.indexOf(t.colId) ?? -1
    if (row < 0 || col < 0) continue
    const key = `${t.sheetId} ${row} ${col}`
    const at = byCell.get(key) ?? byCell.set(key, { sheetId: t.sheetId, row, col, parts: [] }).get(key)!
    at.parts.push(threadText(t, zone))
  }
  const out = new Map<string, CellNote[]>()
  for (const n of byCell.values()) {
    let text = n.parts.join('\n\n').replace(NOT_XML, '')
    if (text.length > MAX_NOTE) text = `${text.slice(0, MAX_NOTE - 1)}…`
    ;(out.get(n.sheetId) ?? out.set(n.sheetId, []).get(n.sheetId)!).push({ row: n.row, col: n.col, text })
  }
  return out
}
