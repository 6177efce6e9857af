/** Small helpers for JSON over node:http. */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** An error with an HTTP status; its message is sent to the client as {"error": message}. */
export class HttpError extends Error {
  constructor(public readonly status: number, message: string, public readonly headers: Record<string, string> = {}) {
    super(message)
    this.name = 'HttpError'
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.end(); return }
  const text = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    ...headers,
  })
  res.end(text)
}

export function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: message }, headers)
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204, { 'Cache-Control': 'no-store' })
  res.end()
}

/**
 * Reads the request body as JSON. Empty body → undefined. Larger than `limit` bytes → 413 (declared by
 * Content-Length: at once; otherwise as soon as it is exceeded). Malformed → 400.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const text = (await readRawBody(req, limit, `request body larger than ${limit} bytes`)).toString('utf8')
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, 'malformed JSON body')
  }
}

/** Reads the request body as bytes; larger than `limit` → 413 (declared: at once; otherwise when exceeded). */
export function readRawBody(req: IncomingMessage, limit: number, tooLargeMessage = `the file is larger than ${Math.round(limit / 1048576)} MB`): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, tooLargeMessage, { Connection: 'close' })
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit) { req.resume(); reject(tooLarge()); return }
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    req.on('data', (chunk: Buffer) => {
      if (failed) return
      size += chunk.length
      if (size > limit) { failed = true; chunks.length = 0; reject(tooLarge()); return }
      chunks.push(chunk)
    })
    req.on('error', err => { if (!failed) { failed = true; reject(new HttpError(400, `request body could not be read: ${err.message}`)) } })
    req.on('end', () => { if (!failed) resolve(Buffer.concat(chunks)) })
  })
}
