/**
 * Parsed rows → a table: title lines above it skipped, the header row's texts as the column titles
 * (detected, or the row the person chose: 1-based, 0 for none), the data rows after it, the column
 * types guessed from them.
 */
import { detectHeader } from './sniff'
import { guessColumn, type ColumnGuess } from './guess'

export interface CsvTable {
  /** the columns' titles ('' where the header had none, or all '' without a header) */
  titles: string[]
  rows: string[][]
  width: number
  /** title lines skipped above the header (or above the data, without one) */
  skipped: number
  header: boolean
}

/** `header`: 'auto', or the 1-based number of the header row (the lines above it are skipped), 0 for none */
export function tableOf(rows: string[][], header: 'auto' | number = 'auto'): CsvTable {
  const guess = detectHeader(rows)
  let at: number, skip: number
  if (header === 'auto') { at = guess.header; skip = guess.skip }
  else if (header === 0) { at = -1; skip = 0 }
  else { at = Math.min(header - 1, rows.length - 1); skip = Math.max(0, at) }
  const titles = at >= 0 ? (rows[at] ?? []).map(t => t.trim().slice(0, 100)) : []
  const data = rows.slice(at >= 0 ? at + 1 : skip)
  let width = titles.length
  for (const r of data) if (r.length > width) width = r.length
  while (titles.length < width) titles.push('')
  return { titles, rows: data, width, skipped: skip, header: at >= 0 }
}

/** Rows the types are guessed from: the first ones, then every n-th (a column's later values count too). */
export const GUESS_ROWS = 5_000

export function guessColumns(t: CsvTable): ColumnGuess[] {
  const step = Math.max(1, Math.floor(t.rows.length / GUESS_ROWS))
  const picked: string[][] = []
  for (let i = 0; i < t.rows.length && picked.length < GUESS_ROWS * 2; i += i < GUESS_ROWS ? 1 : step) picked.push(t.rows[i]!)
  const out: ColumnGuess[] = []
  for (let c = 0; c < t.width; c++) out.push(guessColumn(picked.map(r => r[c] ?? '')))
  return out
}
