/**
 * The shape of a CSV from its first lines: the delimiter (the one giving the most lines with the same
 * number of fields, more than one), and the header row: title lines at the top (a report name, a date
 * range: fewer filled fields than the table is wide) are skipped, and the first full row is the header
 * when its fields are distinct text (no numbers or dates), else the file has no header.
 */
import { CsvParser, DELIMITERS, type Delimiter } from './parse'
import { readField } from './guess'

const SAMPLE_ROWS = 50

function sampleRows(text: string, d: Delimiter): string[][] {
  // whole lines only: cut at the last line break
  const cut = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'))
  const p = new CsvParser(d, { maxField: 1_000_000, maxCols: 10_000 })
  const out: string[][] = []
  p.push(cut > 0 ? text.slice(0, cut + 1) : text, out)
  if (cut <= 0) p.end(out)
  return out.slice(0, SAMPLE_ROWS)
}

function mode(ns: number[]): number {
  const c = new Map<number, number>()
  let best = 0, n = 0
  for (const x of ns) {
    const k = (c.get(x) ?? 0) + 1
    c.set(x, k)
    if (k > n || (k === n && x > best)) { best = x; n = k }
  }
  return best
}

export function sniffDelimiter(text: string): Delimiter {
  let best: Delimiter = ',', score = 0, width = 0
  for (const d of DELIMITERS) {
    const rows = sampleRows(text, d)
    const w = mode(rows.map(r => r.length))
    if (w < 2) continue
    const s = rows.filter(r => r.length === w).length
    if (s > score || (s === score && w > width)) { best = d; score = s; width = w }
  }
  return best
}

const filled = (r: readonly string[]) => r.reduce((n, x) => n + (x.trim() ? 1 : 0), 0)

export interface HeaderGuess {
  /** index of the header row among the rows, or -1 (no header: data starts at `skip`) */
  header: number
  /** title lines skipped above the table */
  skip: number
  /** the table's width, the fields most rows have */
  width: number
}

export function detectHeader(rows: readonly string[][]): HeaderGuess {
  const sample = rows.slice(0, SAMPLE_ROWS)
  const width = mode(sample.map(filled).filter(n => n > 0))
  const need = width <= 1 ? 1 : Math.max(2, Math.ceil(width * 0.6))
  let first = sample.findIndex(r => filled(r) >= need)
  if (first < 0) first = 0
  const row = sample[first] ?? []
  const texts = row.map(x => x.trim()).filter(Boolean)
  const allText = texts.length > 0 && texts.every(x => readField(x).kind === 'text')
  const distinct = new Set(texts).size === texts.length
  const header = allText && distinct && sample.length > first + 1 ? first : allText && sample.length === 1 ? first : -1
  return { header, skip: first, width: Math.max(width, row.length) }
}

/** Delimiter and header of a decoded sample. */
export function sniff(text: string, given: { delimiter?: Delimiter } = {}): { delimiter: Delimiter; rows: string[][]; header: HeaderGuess } {
  const delimiter = given.delimiter ?? sniffDelimiter(text)
  const rows = sampleRows(text, delimiter)
  return { delimiter, rows, header: detectHeader(rows) }
}
