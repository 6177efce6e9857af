/**
 * RFC 4180 CSV over text that arrives in chunks: quoted fields with the delimiter, doubled quotes and
 * line breaks inside, CRLF, LF or CR line ends (a CRLF cut between chunks is one line end). Lenient
 * where files in the wild are not: text after a closing quote is kept, an unclosed quote at the end
 * takes the rest of the file. Blank lines are skipped (and counted).
 */
export const DELIMITERS = [',', '\t', ';', '|'] as const
export type Delimiter = typeof DELIMITERS[number]
export const isDelimiter = (v: unknown): v is Delimiter => (DELIMITERS as readonly unknown[]).includes(v)

export class CsvLimitError extends Error {
  constructor(message: string) { super(message); this.name = 'CsvLimitError' }
}

export interface ParseLimits { maxField: number; maxCols: number }
export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxField: 32_000, maxCols: 500 }

const START = 0, UNQUOTED = 1, QUOTED = 2, QUOTE_SEEN = 3

export class CsvParser {
  private state = START
  private buf = ''
  private row: string[] = []
  private afterCR = false
  /** blank lines skipped */
  blank = 0
  /** whether the file ended inside a quoted field */
  unclosed = false
  private readonly d: number

  constructor(delimiter: Delimiter, private readonly limits: ParseLimits = DEFAULT_PARSE_LIMITS) {
    this.d = delimiter.charCodeAt(0)
  }

  /** Parses a chunk; complete rows go to `out`. */
  push(text: string, out: string[][]): void {
    const n = text.length, d = this.d
    let i = 0, seg = 0
    if (this.afterCR) { this.afterCR = false; if (text.charCodeAt(0) === 10) { i = 1; seg = 1 } }
    while (i < n) {
      const c = text.charCodeAt(i)
      if (this.state === QUOTED) {
        if (c === 34) { this.buf += text.slice(seg, i); this.state = QUOTE_SEEN; seg = ++i; continue }
        i++
        continue
      }
      if (this.state === QUOTE_SEEN) {
        if (c === 34) { this.buf += '"'; this.state = QUOTED; seg = ++i; continue }
        this.state = UNQUOTED
      }
      if (c === 34 && this.state === START) { this.state = QUOTED; seg = ++i; continue }
      if (c === d) { this.field(text.slice(seg, i)); this.state = START; seg = ++i; continue }
      if (c === 10 || c === 13) {
        this.field(text.slice(seg, i))
        this.endRow(out)
        if (c === 13) { if (i + 1 >= n) this.afterCR = true; else if (text.charCodeAt(i + 1) === 10) i++ }
        this.state = START
        seg = ++i
        continue
      }
      this.state = UNQUOTED
      i++
    }
    this.buf += text.slice(seg, n)
    if (this.buf.length > this.limits.maxField) throw new CsvLimitError(`a field longer than ${this.limits.maxField} characters`)
  }

  /** The last row (a file need not end with a line break). */
  end(out: string[][]): void {
    if (this.state === QUOTED) this.unclosed = true
    if (this.row.length || this.buf || this.state !== START) { this.field(''); this.endRow(out) }
  }

  private field(tail: string): void {
    const v = this.buf ? this.buf + tail : tail
    this.buf = ''
    if (v.length > this.limits.maxField) throw new CsvLimitError(`a field longer than ${this.limits.maxField} characters`)
    if (this.row.length >= this.limits.maxCols) throw new CsvLimitError(`more than ${this.limits.maxCols} columns`)
    this.row.push(v)
  }

  private endRow(out: string[][]): void {
    const r = this.row
    this.row = []
    if (r.length === 1 && r[0] === '') { this.blank++; return }
    out.push(r)
  }
}

/** All rows of a text (for samples and small files). */
export function parseCsv(text: string, delimiter: Delimiter, limits?: ParseLimits): string[][] {
  const p = new CsvParser(delimiter, limits)
  const out: string[][] = []
  p.push(text, out)
  p.end(out)
  return out
}
