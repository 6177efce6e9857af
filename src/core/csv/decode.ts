/**
 * Bytes of a CSV → text. Detection looks at the start of the file: a byte-order mark (UTF-8, UTF-16
 * LE/BE), UTF-16 without one (zero bytes in every other place), valid UTF-8, else the Chinese national
 * encoding: GB18030 when it holds GB18030's four-byte sequences (characters GBK lacks), GBK otherwise
 * (GB18030 is a superset of GBK, so either decodes as GB18030). The person may override it.
 * No Node or browser specifics: decoding goes through a `ChunkDecoder` the caller makes (TextDecoder
 * in the browser, iconv-lite on the server).
 */
export const CSV_ENCODINGS = ['utf-8', 'gb18030', 'gbk', 'utf-16le', 'utf-16be'] as const
export type CsvEncoding = typeof CSV_ENCODINGS[number]
export const isCsvEncoding = (v: unknown): v is CsvEncoding => (CSV_ENCODINGS as readonly unknown[]).includes(v)

export interface DetectedEncoding {
  encoding: CsvEncoding
  /** bytes of a byte-order mark at the start */
  bom: number
}

/** How much of the start detection and sniffing read. */
export const SAMPLE_BYTES = 64 * 1024

export function bomOf(b: Uint8Array): DetectedEncoding | null {
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return { encoding: 'utf-8', bom: 3 }
  if (b[0] === 0xff && b[1] === 0xfe) return { encoding: 'utf-16le', bom: 2 }
  if (b[0] === 0xfe && b[1] === 0xff) return { encoding: 'utf-16be', bom: 2 }
  return null
}

/** Whether the bytes are UTF-8 (an incomplete character cut off at the end of the sample is fine). */
export function isUtf8(b: Uint8Array): boolean {
  let i = 0
  const n = b.length
  while (i < n) {
    const c = b[i]!
    if (c < 0x80) { i++; continue }
    const len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0
    if (!len) return false
    for (let k = 1; k < len; k++) {
      if (i + k >= n) return true
      const x = b[i + k]!
      if ((x & 0xc0) !== 0x80) return false
    }
    if (len === 3 && ((c === 0xe0 && b[i + 1]! < 0xa0) || (c === 0xed && b[i + 1]! > 0x9f))) return false
    if (len === 4 && ((c === 0xf0 && b[i + 1]! < 0x90) || (c === 0xf4 && b[i + 1]! > 0x8f))) return false
    i += len
  }
  return true
}

/** UTF-16 without a mark: one of each byte pair is mostly zero (ASCII digits, delimiters, line ends). */
function utf16Without(b: Uint8Array): CsvEncoding | null {
  const n = Math.min(b.length, 8192) & ~1
  if (n < 4) return null
  let even = 0, odd = 0
  for (let i = 0; i < n; i += 2) { if (b[i] === 0) even++; if (b[i + 1] === 0) odd++ }
  const pairs = n / 2
  if (odd > pairs * 0.2 && even < pairs * 0.02) return 'utf-16le'
  if (even > pairs * 0.2 && odd < pairs * 0.02) return 'utf-16be'
  return null
}

/** GB18030's four-byte form: lead 81–FE, then 30–39, 81–FE, 30–39 (GBK has no such sequence). */
function hasFourByteGb(b: Uint8Array): boolean {
  for (let i = 0; i + 3 < b.length; i++) {
    const c = b[i]!
    if (c < 0x81) continue
    if (c === 0xff) continue
    const x = b[i + 1]!
    if (x >= 0x30 && x <= 0x39 && b[i + 2]! >= 0x81 && b[i + 2]! <= 0xfe && b[i + 3]! >= 0x30 && b[i + 3]! <= 0x39) return true
    i++ // a two-byte character
  }
  return false
}

export function detectEncoding(sample: Uint8Array): DetectedEncoding {
  const bom = bomOf(sample)
  if (bom) return bom
  const wide = utf16Without(sample)
  if (wide) return { encoding: wide, bom: 0 }
  if (isUtf8(sample)) return { encoding: 'utf-8', bom: 0 }
  return { encoding: hasFourByteGb(sample) ? 'gb18030' : 'gbk', bom: 0 }
}

/** Something that decodes a stream of chunks (state kept across a character cut between chunks). */
export interface ChunkDecoder {
  write(bytes: Uint8Array): string
  end(): string
}

/** The label a decoder library takes: GBK text decodes as GB18030, its superset (the euro sign, 0x80, too). */
export const decoderLabel = (e: CsvEncoding): string => (e === 'gbk' ? 'gb18030' : e)

/** A ChunkDecoder over the platform's TextDecoder (browsers; Node with ICU). Drops a byte-order mark. */
export function textDecoderFor(e: CsvEncoding): ChunkDecoder {
  const d = new TextDecoder(decoderLabel(e))
  return { write: b => d.decode(b, { stream: true }), end: () => d.decode() }
}

/** Characters the decoder could not map (U+FFFD) in `text`. */
export function replacements(text: string): number {
  let n = 0
  for (let i = text.indexOf('\ufffd'); i >= 0; i = text.indexOf('\ufffd', i + 1)) n++
  return n
}

/** Why these bytes are not a CSV at all (a binary or an Excel file), or null. */
export function notText(sample: Uint8Array, e: CsvEncoding): string | null {
  if (sample[0] === 0x50 && sample[1] === 0x4b && sample[2] === 0x03 && sample[3] === 0x04) return 'the file is a ZIP archive (an .xlsx?), not CSV text'
  if (e.startsWith('utf-16')) return null
  const n = Math.min(sample.length, 8192)
  for (let i = 0; i < n; i++) if (sample[i] === 0) return 'the file holds binary data (zero bytes), not CSV text'
  return null
}
