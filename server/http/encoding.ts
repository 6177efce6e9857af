/**
 * Compressed answers: which encoding a request takes (Accept-Encoding, with its q-values), and the
 * workbook state compressed once per version.
 */
import type { IncomingMessage } from 'node:http'
import { brotliCompress, constants, gzip } from 'node:zlib'
import { promisify } from 'node:util'

export type Encoding = 'br' | 'gzip'

/** The best encoding the request accepts (brotli before gzip), or null for none. */
export function acceptedEncoding(req: IncomingMessage): Encoding | null {
  const header = req.headers['accept-encoding']
  if (typeof header !== 'string' || !header) return null
  const q = new Map<string, number>()
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';')
    if (!name) continue
    const qp = params.map(p => p.trim()).find(p => p.startsWith('q='))
    const value = qp ? Number(qp.slice(2)) : 1
    q.set(name, Number.isFinite(value) ? value : 0)
  }
  const of = (name: string) => q.get(name) ?? (q.get('*') ?? 0)
  if (of('br') > 0) return 'br'
  if (of('gzip') > 0) return 'gzip'
  return null
}

const brotli = promisify(brotliCompress)
const gzipAsync = promisify(gzip)

/**
 * Quality 1 / level 1, on libuv's thread pool: a 10,000-row workbook's 6.2 MB state becomes about
 * 1.1 MB in 26 ms (brotli) or 45 ms (gzip); higher levels cost several times that for 10–30 % less.
 */
export function compress(body: Uint8Array, encoding: Encoding): Promise<Buffer> {
  return encoding === 'br'
    ? brotli(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } })
    : gzipAsync(body, { level: 1 })
}

/** Compressed copies of encoded states, per state (rooms hand out one Uint8Array per doc version). */
const compressed = new WeakMap<Uint8Array, Partial<Record<Encoding, Promise<Buffer>>>>()

export function compressedOnce(body: Uint8Array, encoding: Encoding): Promise<Buffer> {
  let byEncoding = compressed.get(body)
  if (!byEncoding) compressed.set(body, byEncoding = {})
  const p = byEncoding[encoding] ??= compress(body, encoding)
  // a failure is not kept: the next request tries again
  p.catch(() => { if (byEncoding![encoding] === p) delete byEncoding![encoding] })
  return p
}

/** Lets go of the compressed copies of `body` (a resting room keeps only its state). */
export function forgetCompressed(body: Uint8Array): void {
  compressed.delete(body)
}

/** Below this, compressing costs more than it saves. */
export const COMPRESS_MIN_BYTES = 1024
