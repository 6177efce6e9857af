/**
 * What the import dialog shows before anything is sent: the start of the file decoded (the detected
 * encoding or the chosen one), its delimiter, header row and first rows, and each column's guessed
 * type — the same functions the server's worker runs, so the preview is what the import does.
 */
import { SAMPLE_BYTES, detectEncoding, replacements, textDecoderFor, type CsvEncoding } from './decode'
import type { Delimiter } from './parse'
import { sniff } from './sniff'
import { guessColumns, tableOf, type CsvTable } from './table'
import type { ColumnGuess } from './guess'

export const PREVIEW_BYTES = 4 * SAMPLE_BYTES
export const PREVIEW_ROWS = 20

export interface CsvPreview {
  detected: CsvEncoding
  encoding: CsvEncoding
  delimiter: Delimiter
  table: CsvTable
  /** the first rows as parsed, title lines and header included (what the header row number counts) */
  raw: string[][]
  guesses: ColumnGuess[]
  /** 1-based row (as the preview counts them) of the header, 0 without one */
  headerRow: number
  /** characters the encoding could not read, in the sample */
  replaced: number
}

/** `head`: the file's first bytes (PREVIEW_BYTES); a chosen encoding, delimiter or header row overrides. */
export function previewCsv(head: Uint8Array, chosen: { encoding?: CsvEncoding; delimiter?: Delimiter; header?: 'auto' | number } = {}): CsvPreview {
  const detected = detectEncoding(head.subarray(0, SAMPLE_BYTES)).encoding
  const encoding = chosen.encoding ?? detected
  const d = textDecoderFor(encoding)
  const text = d.write(head)
  const { delimiter, rows } = sniff(text, { delimiter: chosen.delimiter })
  const table = tableOf(rows, chosen.header ?? 'auto')
  const shown = { ...table, rows: table.rows.slice(0, PREVIEW_ROWS) }
  return {
    detected, encoding, delimiter, table: shown, raw: rows.slice(0, table.skipped + (table.header ? 1 : 0) + PREVIEW_ROWS), guesses: guessColumns(table),
    headerRow: table.header ? table.skipped + 1 : 0, replaced: replacements(text),
  }
}
