/**
 * What an import into an open workbook will write, decided on a doc (the server's worker plans on a
 * copy of the state, the server's thread again on the live doc when it changed meanwhile): the sheet
 * (by id, name or index from 0; a new one named after the file), the columns matched by title, and a
 * function that writes it into a doc holding the same state.
 */
import type * as Y from 'yjs'
import { sheetIds, sheetName } from '../workbook/schema'
import { freeSheetName, matchColumns, writeIntoSheet, writeNewSheet, type ColumnMatch, type WriteResult } from './build'
import type { ColumnGuess } from './guess'
import type { CsvTable } from './table'

export type SheetImportMode = 'new-sheet' | 'append' | 'replace'

export class CsvPlanError extends Error {
  constructor(readonly status: 400 | 404 | 422, message: string) { super(message); this.name = 'CsvPlanError' }
}

/** the file's name without its folders and extension */
export const fileBaseName = (f: string | undefined) => (f ?? '').replace(/^.*[\\/]/, '').replace(/\.(csv|tsv|txt)$/i, '').trim()

export function findSheet(doc: Y.Doc, given: string | undefined): string {
  const ids = sheetIds(doc)
  if (given === undefined || given === '') throw new CsvPlanError(400, 'sheet is required for append and replace')
  const hit = ids.find(id => id === given) ?? ids.find(id => sheetName(doc, id) === given) ?? (/^\d+$/.test(given) ? ids[Number(given)] : undefined)
  if (!hit) throw new CsvPlanError(404, 'no such sheet')
  return hit
}

export interface SheetImportPlan {
  matches: ColumnMatch[]
  write: (doc: Y.Doc, origin: unknown) => WriteResult
}

export function planSheetImport(doc: Y.Doc, table: CsvTable, guesses: readonly ColumnGuess[], opts: { mode: SheetImportMode; sheet?: string; filename?: string; formulas: boolean }): SheetImportPlan {
  if (opts.mode === 'new-sheet') {
    const name = freeSheetName(doc, fileBaseName(opts.filename), `Sheet${sheetIds(doc).length + 1}`)
    return { matches: [], write: (d, origin) => writeNewSheet(d, table, guesses, { name, formulas: opts.formulas }, origin) }
  }
  const sheetId = findSheet(doc, opts.sheet)
  const matches = matchColumns(doc, sheetId, table)
  if (!matches.some(m => m.colId)) throw new CsvPlanError(422, 'no column of the file has the title of a column of the sheet')
  const mode = opts.mode
  return { matches, write: (d, origin) => writeIntoSheet(d, sheetId, table, mode, matches, { formulas: opts.formulas, guesses }, origin) }
}
