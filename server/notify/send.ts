/**
 * One webhook request: POST the body, connect only to addresses the URL check lets through (checked on
 * the very addresses the socket uses: a name rebound to 127.0.0.1 since it was saved is refused), never
 * follow a redirect, give up after `timeoutMs`, read at most `maxResponseBytes` of the answer.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import { pinnedLookup, refusedAddress, urlProblem, type Resolver } from './urls'

export interface SendOptions {
  allowPrivate: boolean
  timeoutMs: number
  maxResponseBytes: number
  resolver?: Resolver
}

export interface SendResult { status: number; body: string }

export function post(url: string, body: string, headers: Record<string, string>, opts: SendOptions): Promise<SendResult> {
  return new Promise((resolve, reject) => {
    const form = urlProblem(url)
    if (form) { reject(new Error(form)); return }
    const u = new URL(url)
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
    // an address in the URL is connected to without a lookup: checked here
    if (isIP(host)) {
      const why = refusedAddress(host, opts.allowPrivate)
      if (why) { reject(new Error(why)); return }
    }
    const payload = Buffer.from(body, 'utf8')
    const request = u.protocol === 'https:' ? httpsRequest : httpRequest
    let settled = false
    const done = (e: Error | null, r?: SendResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (e) reject(e)
      else resolve(r!)
    }
    const req = request(u, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(payload.byteLength), 'user-agent': 'planning-workbooks-webhook/1' },
      lookup: pinnedLookup(opts.allowPrivate, opts.resolver) as never,
      agent: false,
    }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        if (size >= opts.maxResponseBytes) return
        const room = opts.maxResponseBytes - size
        chunks.push(c.length > room ? c.subarray(0, room) : c)
        size += Math.min(c.length, room)
        // enough read: the rest is not waited for
        if (size >= opts.maxResponseBytes) { done(null, { status, body: Buffer.concat(chunks).toString('utf8') }); res.destroy() }
      })
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        if (status >= 300 && status < 400) done(new Error(`HTTP ${status}: redirects are not followed`))
        else done(null, { status, body: text })
      })
      res.on('error', e => done(e))
    })
    const timer = setTimeout(() => { req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)) }, opts.timeoutMs)
    timer.unref()
    req.on('error', e => done(e))
    req.end(payload)
  })
}
