/**
 * A fill-in round against the workbook's doc: what a request names (a sheet by id or name; columns by
 * id, template key or title), whose rows are whose, what a person's form shows, and a submission checked
 * and planned. Rows are a person's in one of two ways:
 *  - with a person column (named by `people: {personColumn}` or `personColumn`, else the sheet's first
 *    column of type person, else the person column of a protection of the sheet): the rows whose cell in
 *    it holds their name, read at the moment (rows added for them later are theirs too); a person named
 *    with no row gets one, appended when the round is made;
 *  - without one: the round appends one row per person and remembers it (the name goes into the sheet's
 *    first column when that is not one of the round's columns).
 * Pure over a doc; the HTTP routes (server/http/routes/rounds.ts) run these inside `rooms.withDoc`.
 */
import * as Y from 'yjs'
import { checkChange, cleanPersonName, readAccess, readProtections, type Principal } from '../../src/core/access/access'
import { cellRefusal } from '../../src/core/access/rules'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { cellKey, sheetIds, sheetName, sheetParts, sheetsOf, type CellInput, type ColumnMeta } from '../../src/core/workbook/schema'
import { editCells, insertRows, setCells, type CellWrite } from '../../src/core/workbook/mutations'
import { totalsRowOf } from '../../src/core/workbook/table'
import { textForInput } from '../../src/core/workbook/input'
import { a1, type FormulaContext } from '../../src/core/formulas/references'
import { problemText, readField, type FieldProblem } from '../../src/core/rounds/fields'
import { HttpError } from '../http/util'

export const MAX_ROUND_COLUMNS = 50
export const MAX_ROUND_PEOPLE = 200

const clip = (s: string) => JSON.stringify(s.slice(0, 60))

/** The sheet named by id or name (names case-insensitively, as in Excel). */
export function findSheet(doc: Y.Doc, given: string): string {
  const ids = sheetIds(doc)
  const found = ids.includes(given) ? given : new WorkbookLayout(doc).sheetIdByName(given.trim())
  if (!found) throw new HttpError(404, `no sheet ${clip(given)}`)
  return found
}

const metaOf = (doc: Y.Doc, sheetId: string, colId: string): ColumnMeta | undefined => sheetParts(sheetsOf(doc).get(sheetId)!).colMeta.get(colId)

/** A column of the sheet named by id, template key or title; `what` names the field in the error. */
export function findColumn(doc: Y.Doc, sheetId: string, given: string, what: string): string {
  const cols = new WorkbookLayout(doc).sheet(sheetId)!.cols.ids
  if (cols.includes(given)) return given
  const t = given.trim().toLowerCase()
  const byKey = cols.find(c => metaOf(doc, sheetId, c)?.key?.toLowerCase() === t)
  const found = byKey ?? cols.find(c => metaOf(doc, sheetId, c)?.title?.trim().toLowerCase() === t)
  if (!found) throw new HttpError(400, `${what}: no column ${clip(given)} on sheet ${clip(sheetName(doc, sheetId))}`)
  return found
}

/** The sheet's person column, when it has one: its first column of type person, else a protection's. */
export function detectPersonColumn(doc: Y.Doc, sheetId: string): string | null {
  const cols = new WorkbookLayout(doc).sheet(sheetId)!.cols.ids
  const typed = cols.find(c => metaOf(doc, sheetId, c)?.type === 'person')
  if (typed) return typed
  const p = readProtections(doc).find(x => x.sheet === sheetId && x.personCol && cols.includes(x.personCol))
  return p?.personCol ?? null
}

/** Data rows of a sheet (the totals row is nobody's). */
function dataRows(doc: Y.Doc, sheetId: string): string[] {
  const sheet = sheetsOf(doc).get(sheetId)!
  const totals = totalsRowOf(sheet)
  return new WorkbookLayout(doc).sheet(sheetId)!.rows.ids.filter(r => r !== totals)
}

const personIn = (doc: Y.Doc, sheetId: string, rowId: string, colId: string): string => {
  const v = sheetParts(sheetsOf(doc).get(sheetId)!).cells.get(cellKey(rowId, colId))
  return typeof v === 'string' ? cleanPersonName(v) : ''
}

/** The distinct names in a person column, in row order. */
export function namesIn(doc: Y.Doc, sheetId: string, colId: string): string[] {
  const out: string[] = []
  for (const r of dataRows(doc, sheetId)) {
    const n = personIn(doc, sheetId, r, colId)
    if (n && !out.includes(n)) out.push(n)
  }
  return out
}

export interface RoundShape { sheetId: string; columns: string[]; personCol: string | null }

/** A person's rows, in sheet order. */
export function rowsOf(doc: Y.Doc, round: RoundShape, person: { name: string; rowId: string | null }): string[] {
  if (!sheetsOf(doc).has(round.sheetId)) return []
  const rows = dataRows(doc, round.sheetId)
  if (round.personCol) return rows.filter(r => personIn(doc, round.sheetId, r, round.personCol!) === person.name)
  return person.rowId && rows.includes(person.rowId) ? [person.rowId] : []
}

/**
 * Gives each named person without a row one (see the file's comment), applied with `origin` (the owner).
 * Returns the row assigned to each person when there is no person column.
 */
export function assignRows(doc: Y.Doc, round: RoundShape, names: readonly string[], origin: unknown): Map<string, string> {
  const assigned = new Map<string, string>()
  const missing = round.personCol ? names.filter(n => rowsOf(doc, round, { name: n, rowId: null }).length === 0) : [...names]
  if (!missing.length) return assigned
  const sheet = sheetsOf(doc).get(round.sheetId)!
  const layout = new WorkbookLayout(doc).sheet(round.sheetId)!
  const totals = totalsRowOf(sheet)
  const at = totals ? layout.rows.indexOf(totals) : layout.rows.length
  const labelCol = round.personCol ?? (layout.cols.ids[0] && !round.columns.includes(layout.cols.ids[0]) ? layout.cols.ids[0] : null)
  doc.transact(() => {
    const ids = insertRows(doc, round.sheetId, at < 0 ? layout.rows.length : at, missing.length, origin)
    if (labelCol) setCells(doc, round.sheetId, ids.map((rowId, i) => ({ rowId, colId: labelCol, value: missing[i]! })), origin)
    if (!round.personCol) ids.forEach((rowId, i) => assigned.set(missing[i]!, rowId))
  }, origin)
  return assigned
}

export interface FormColumn {
  id: string; title: string; type: string; options?: string[]; help?: string
  validation?: ColumnMeta['validation']; decimals?: number; currency?: string
}
export interface FormRow {
  id: string
  /** the row's number in the sheet (1-based, as shown) */
  number: number
  /** what names the row: the person column's or the first column's text */
  label: string
  /** the current text of each open column (as the grid's editor shows it) */
  values: Record<string, string>
  /** columns of this row the person may not change (protected, signed off), with why */
  readOnly: Record<string, string>
}

/** What a person's form shows: the round's columns and their rows. */
export function formOf(doc: Y.Doc, round: RoundShape, person: { name: string; rowId: string | null }, who: Principal): { columns: FormColumn[]; rows: FormRow[] } {
  const layout = new WorkbookLayout(doc)
  const sl = layout.sheet(round.sheetId)
  if (!sl) return { columns: [], rows: [] }
  const cols = round.columns.filter(c => sl.cols.indexOf(c) >= 0)
  const columns = cols.map(id => {
    const m = metaOf(doc, round.sheetId, id) ?? {}
    const letter = a1(0, sl.cols.indexOf(id)).replace(/\d+$/, '')
    return {
      id, title: m.title?.trim() || letter, type: m.type ?? 'text',
      ...(Array.isArray(m.options) ? { options: m.options } : {}), ...(m.help ? { help: m.help } : {}),
      ...(m.validation ? { validation: m.validation } : {}), ...(m.decimals !== undefined ? { decimals: m.decimals } : {}), ...(m.currency ? { currency: m.currency } : {}),
    }
  })
  const { cells } = sheetParts(sheetsOf(doc).get(round.sheetId)!)
  const ctx: FormulaContext = { layout, sheetId: round.sheetId }
  const view = readAccess(doc)
  const labelCol = round.personCol ?? sl.cols.ids[0]
  const rows = rowsOf(doc, round, person).map(rowId => {
    const values: Record<string, string> = {}, readOnly: Record<string, string> = {}
    for (const c of cols) {
      values[c] = textForInput(cells.get(cellKey(rowId, c)), ctx, metaOf(doc, round.sheetId, c))
      const r = cellRefusal(view, doc, who, round.sheetId, rowId, c)
      if (r) readOnly[c] = r.code
    }
    const lv = labelCol ? cells.get(cellKey(rowId, labelCol)) : undefined
    return { id: rowId, number: sl.rows.indexOf(rowId) + 1, label: typeof lv === 'string' || typeof lv === 'number' ? String(lv) : '', values, readOnly }
  })
  return { columns, rows }
}

export interface FieldError { rowId: string; colId: string; cell: string; code: FieldProblem['code']; message: string; problem: FieldProblem }

export class SubmissionInvalid extends Error {
  constructor(readonly fields: FieldError[]) { super(`${fields.length === 1 ? 'a field is' : `${fields.length} fields are`} not valid: ${fields.slice(0, 5).map(f => `${f.cell} ${f.message}`).join('; ')}`) }
}

/** The A1 address of a cell (or the row's number / the column's id when one is not on the sheet). */
export function cellA1(doc: Y.Doc, sheetId: string, rowId: string, colId: string): string {
  const sl = new WorkbookLayout(doc).sheet(sheetId)
  const r = sl?.rows.indexOf(rowId) ?? -1, c = sl?.cols.indexOf(colId) ?? -1
  return r >= 0 && c >= 0 ? a1(r, c) : `${sheetName(doc, sheetId)}!${rowId}:${colId}`
}

/**
 * A submission `{rowId: {colId: text}}` checked and planned: a row not the person's or a column not the
 * round's is a 403 naming the cell; fields that do not hold are a SubmissionInvalid (every one of them).
 */
export function planSubmission(doc: Y.Doc, round: RoundShape, person: { name: string; rowId: string | null }, given: Record<string, Record<string, unknown>>): CellWrite[] {
  const sl = new WorkbookLayout(doc).sheet(round.sheetId)
  if (!sl) throw new HttpError(404, 'the round\'s sheet was deleted')
  const mine = new Set(rowsOf(doc, round, person))
  const writes: CellWrite[] = [], bad: FieldError[] = []
  for (const [rowId, fields] of Object.entries(given)) {
    for (const [colId, raw] of Object.entries(fields)) {
      const cell = cellA1(doc, round.sheetId, rowId, colId)
      if (!mine.has(rowId)) throw new HttpError(403, `row ${sl.rows.indexOf(rowId) >= 0 ? sl.rows.indexOf(rowId) + 1 : rowId} is not ${person.name}'s: ${cell} may not be written through this form`)
      if (!round.columns.includes(colId) || sl.cols.indexOf(colId) < 0) throw new HttpError(403, `${cell} is not in one of this round's columns`)
      const text = raw === null ? '' : typeof raw === 'string' ? raw : typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : null
      if (text === null) throw new HttpError(400, `rows.${rowId}.${colId}: must be text or a number`)
      const read = readField(text, metaOf(doc, round.sheetId, colId))
      if ('problem' in read) bad.push({ rowId, colId, cell, code: read.problem.code, message: problemText(read.problem), problem: read.problem })
      else writes.push({ rowId, colId, value: read.value })
    }
  }
  if (bad.length) throw new SubmissionInvalid(bad)
  const { cells } = sheetParts(sheetsOf(doc).get(round.sheetId)!)
  // a field left as it was is no change (a protected cell shown unchanged is not a write)
  return writes.filter(w => !same(cells.get(cellKey(w.rowId, w.colId)), w.value))
}

const same = (a: CellInput | undefined, b: CellInput | null) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null)

export class SubmissionRefused extends Error {
  constructor(readonly code: string, readonly cell: string | null, message: string) { super(message) }
}

/** Tries the writes on a mirror of the doc under the rules of every change; throws SubmissionRefused. */
export function checkSubmission(doc: Y.Doc, sheetId: string, writes: CellWrite[], who: Principal): void {
  const mirror = new Y.Doc()
  Y.applyUpdate(mirror, Y.encodeStateAsUpdate(doc))
  try {
    let refusal: ReturnType<typeof checkChange> = null
    mirror.transact(tr => { editCells(mirror, sheetId, writes, null); refusal = checkChange(doc, mirror, tr, who) })
    const r = refusal as ReturnType<typeof checkChange>
    if (!r) return
    const key = r.cell && /^[^:]+:[^:]+$/.test(r.cell) ? r.cell.split(':') as [string, string] : null
    const cell = key ? cellA1(doc, sheetId, key[0], key[1]) : null
    const why = r.code === 'protected' ? 'is protected' : r.code === 'locked' ? 'is on a signed-off sheet' : `may not be changed (${r.code})`
    throw new SubmissionRefused(r.code, cell, `${cell ?? 'a cell'} ${why}: ${who.name} may not change it (${r.code})`)
  } finally {
    mirror.destroy()
  }
}
