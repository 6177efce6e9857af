/**
 * What a CSV import takes and gives, declared once: the query options (zod), the server's limits, the
 * job a worker is given and the messages it sends back, the report the person reads.
 */
import { z } from 'zod'
import { CSV_ENCODINGS, type CsvEncoding } from '../../src/core/csv/decode'
import type { Delimiter } from '../../src/core/csv/parse'
import type { ColumnGuess, Coerced } from '../../src/core/csv/guess'
import type { CsvTable } from '../../src/core/csv/table'
import type { ColumnMatch, WriteResult } from '../../src/core/csv/build'
import type { SheetImportMode } from '../../src/core/csv/plan'
import type { Principal } from '../../src/core/access/access'
import type { ColumnType } from '../../src/core/workbook/schema'
import type { WorkbookLang } from '../../src/core/workbook/mutations'
import { locale, name, timeZone, title } from '../http/fields'

const empty = (v: unknown) => (v === '' ? undefined : v)
const delimiterNames: Record<string, Delimiter> = { comma: ',', tab: '\t', semicolon: ';', pipe: '|', ',': ',', '\t': '\t', ';': ';', '|': '|' }

/** The options both CSV routes read from the query string. */
export const csvOptions = z.object({
  /** absent: detected */
  encoding: z.preprocess(v => (typeof v === 'string' ? empty(v.toLowerCase()) : v), z.enum(CSV_ENCODINGS, { error: `must be one of ${CSV_ENCODINGS.join(', ')}` }).optional()),
  /** absent: sniffed; a character or its name (comma, tab, semicolon, pipe) */
  delimiter: z.preprocess(empty, z.string().transform((v, c) => {
    const d = delimiterNames[v]
    if (!d) { c.addIssue({ code: 'custom', message: `must be one of comma, tab, semicolon, pipe` }); return z.NEVER }
    return d
  }).optional()),
  /** the header row's number from 1 (the lines above are skipped), 0 for none; absent or auto: detected */
  header: z.preprocess(empty, z.union([z.literal('auto'), z.coerce.number().int().min(0).max(1000)], { error: 'must be auto or a row number (0 for no header)' }).default('auto')),
  /** keep: text starting with "=" becomes a formula; text (the default): it stays text */
  formulas: z.preprocess(empty, z.enum(['keep', 'text'], { error: 'must be keep or text' }).default('text')),
})
export type CsvOptions = { encoding?: CsvEncoding; delimiter?: Delimiter; header: 'auto' | number; formulas: boolean }
export const toCsvOptions = (q: z.output<typeof csvOptions>): CsvOptions => ({ encoding: q.encoding, delimiter: q.delimiter, header: q.header, formulas: q.formulas === 'keep' })

/** POST /api/workbooks/import with a CSV: ?title= (else the file's name), ?filename=, ?name=, ?lang=, ?timeZone= */
export const csvWorkbookQuery = csvOptions.extend({ lang: locale, title: title.optional(), name, timeZone, filename: z.string().max(255).optional() })
/** POST /api/workbooks/:id/sheets/import: ?mode=, ?sheet= (id, name or index from 0; append and replace), ?filename= (the new sheet's name) */
export const csvSheetQuery = csvOptions.extend({
  mode: z.enum(['new-sheet', 'append', 'replace'], { error: 'must be new-sheet, append or replace' }),
  sheet: z.string().max(200).optional(),
  filename: z.string().max(255).optional(),
})

export interface CsvLimits {
  /** bytes of the upload */
  maxBytes: number
  maxRows: number
  maxCols: number
  maxCells: number
  timeoutMs: number
  /** heap of the worker */
  maxHeapMb: number
}

/** A new workbook: 100 MB, 200,000 rows, 3,000,000 cells. */
export const DEFAULT_CSV_LIMITS: CsvLimits = { maxBytes: 100 * 1024 * 1024, maxRows: 200_000, maxCols: 500, maxCells: 3_000_000, timeoutMs: 120_000, maxHeapMb: 2048 }
/**
 * Into an open workbook the checked change is applied on the server's thread (planned and checked in
 * the worker; again on that thread when the doc changed meanwhile): smaller, so that stays well under a
 * second (100,000 cells: ~0.65 s measured).
 */
export const SHEET_CSV_LIMITS: CsvLimits = { maxBytes: 10 * 1024 * 1024, maxRows: 20_000, maxCols: 500, maxCells: 100_000, timeoutMs: 60_000, maxHeapMb: 1024 }

export type CsvJob =
  | { kind: 'workbook'; options: CsvOptions; limits: CsvLimits; title: string; sheetName: string; timeZone?: string; lang?: WorkbookLang }
  | { kind: 'table'; options: CsvOptions; limits: CsvLimits }
  /** into an open workbook: planned and checked against the access rules on `state` (the workbook's, encoded) */
  | { kind: 'sheet'; options: CsvOptions; limits: CsvLimits; state: Uint8Array; mode: SheetImportMode; sheet?: string; filename?: string; who: Principal }

export interface CsvReport {
  encoding: CsvEncoding
  detectedEncoding: CsvEncoding
  delimiter: Delimiter
  rows: number
  columns: number
  header: boolean
  skippedLines: number
  blankLines: number
  unclosedQuote: boolean
  replacedCharacters: number
  types: { title: string; type: ColumnType }[]
  /** what the coercions did (written cells) */
  coerced: Coerced | null
  bytes: number
  /** reading and building in the worker */
  ms: number
  workerHeapMb: number
}

export type CsvWorkerMessage =
  | { ok: true; kind: 'workbook'; state: Uint8Array; report: CsvReport }
  | { ok: true; kind: 'table'; table: CsvTable; guesses: ColumnGuess[]; report: CsvReport }
  /** `update`: the change, made on `state`; `vector`: state's vector (the doc must still be there to apply it as it is) */
  | { ok: true; kind: 'sheet'; table: CsvTable; guesses: ColumnGuess[]; report: CsvReport; update: Uint8Array; vector: Uint8Array; written: WriteResult; matches: ColumnMatch[] }
  | { ok: false; status: number; message: string }
