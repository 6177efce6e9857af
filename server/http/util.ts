/** Small helpers for JSON over node:http, and reading its input through a schema. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { z } from 'zod'
import { firstProblem } from '../../src/core/zod'

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

/**
 * The value as the schema reads it (typed, defaults filled), or a 400 naming the field: `title must be
 * a string`, `images[2].png must be base64`. A message for the whole value is sent as it is.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const { field, message } = firstProblem(r.error)
  throw new HttpError(400, field ? `${field} ${message}` : message)
}

/** A JSON body through a schema; an empty body reads as `{}` when `optional`. */
export async function readBody<S extends z.ZodType>(req: IncomingMessage, limit: number, schema: S, { optional = false }: { optional?: boolean } = {}): Promise<z.output<S>> {
  const body = await readJsonBody(req, limit)
  return parseInput(schema, body === undefined && optional ? {} : body)
}

/** Query-string options through a schema (an option given twice: its first value). */
export function readQuery<S extends z.ZodType>(url: URL, schema: S): z.output<S> {
  const query = Object.create(null) as Record<string, string>
  for (const [k, v] of url.searchParams) if (!Object.hasOwn(query, k)) query[k] = v
  return parseInput(schema, query)
}
