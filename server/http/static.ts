/**
 * Serves the built SPA: files from the static dir, and index.html for any other GET path (client-side
 * routes such as /w/<id>). Hashed /assets/* are cached for a year; index.html is always revalidated.
 *
 * index.html goes out with the licence keys in a `<meta name="pw-licenses">` (src/core/licenses.ts reads
 * it): the page allows no inline script, and a deployment's keys are configuration, not part of a build.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'
import { createReadStream, promises as fs, readFileSync, type Stats } from 'node:fs'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { extname, join, resolve, sep } from 'node:path'
import type { Logger } from '../log'
import { DEFAULT_LICENSE_KEYS, type LicenseKeys } from '../../src/core/licenses'
import { acceptedEncoding } from './encoding'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
}

export const contentType = (file: string): string => TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream'

function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'X-Content-Type-Options': 'nosniff', ...headers })
  res.end(text)
}

async function fileStats(path: string): Promise<Stats | null> {
  try {
    const st = await fs.stat(path)
    return st.isFile() ? st : null
  } catch {
    return null
  }
}

/**
 * No inline or foreign script, ever: user text that slipped into HTML could not run. Styles may be
 * inline (Vue and the grid set element styles); sockets go back to this server only.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data: blob:",
  "font-src 'self' data:", "connect-src 'self' ws: wss:", "worker-src 'self'", "object-src 'none'", "base-uri 'none'",
  "frame-ancestors 'none'", "form-action 'self'",
].join('; ')

/** Headers for every static answer: pages carry share-link tokens in their address, so no referrer leaves. */
export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
}

/** For a single-quoted attribute value: `&`, `'`, `<` and `>` as character references. */
const attributeText = (text: string): string =>
  text.replace(/[&'<>]/g, c => ({ '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;' })[c]!)

/** `<meta name="pw-licenses" content='{"handsontable":"…","hyperformula":"…"}'>` */
export const licenseMetaTag = (keys: LicenseKeys): string =>
  `<meta name="pw-licenses" content='${attributeText(JSON.stringify({ handsontable: keys.handsontable, hyperformula: keys.hyperformula }))}'>`

/** The page with `tag` first in its head (or where the head would begin, for a page written without one). */
export function injectIntoHead(html: string, tag: string): string {
  const at = /<head(?:\s[^>]*)?>/i.exec(html) ?? /<html(?:\s[^>]*)?>/i.exec(html) ?? /<!doctype[^>]*>/i.exec(html)
  if (!at) return tag + html
  const end = at.index + at[0].length
  return `${html.slice(0, end)}\n    ${tag}${html.slice(end)}`
}

type Bodies = Record<'identity' | 'br' | 'gzip', Buffer>
const pack = (html: string): Bodies => {
  const body = Buffer.from(html, 'utf8')
  return { identity: body, br: brotliCompressSync(body), gzip: gzipSync(body) }
}

export interface StaticOptions {
  /** the keys the page is given (default: the non-commercial and GPL ones) */
  licenseKeys?: LicenseKeys
}

export function createStaticHandler(staticDir: string, log: Logger, opts: StaticOptions = {}) {
  const root = resolve(staticDir)
  const index = join(root, 'index.html')
  const meta = licenseMetaTag(opts.licenseKeys ?? DEFAULT_LICENSE_KEYS)
  // other keys (a restart with new ones) make another version of the page for caches
  const metaTag = createHash('sha256').update(meta).digest('hex').slice(0, 8)

  /**
   * The file, or its precompressed copy (`<file>.br` / `<file>.gz`, written by the build) when the
   * request takes that encoding.
   */
  async function serveFile(req: IncomingMessage, res: ServerResponse, path: string, st: Stats, cacheControl: string): Promise<void> {
    const encoding = acceptedEncoding(req)
    let sendPath = path, sendStats = st
    if (encoding) {
      const packed = await fileStats(`${path}.${encoding === 'br' ? 'br' : 'gz'}`)
      // a copy older than the file is stale (a file replaced without rebuilding): not used
      if (packed && packed.mtimeMs >= st.mtimeMs) { sendPath = `${path}.${encoding === 'br' ? 'br' : 'gz'}`; sendStats = packed }
    }
    const packedAs = sendPath === path ? null : encoding
    const etag = `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}${packedAs ? `-${packedAs}` : ''}"`
    const headers: Record<string, string> = {
      'Content-Type': contentType(path),
      'Cache-Control': cacheControl,
      ETag: etag,
      'Last-Modified': st.mtime.toUTCString(),
      Vary: 'Accept-Encoding',
      'X-Content-Type-Options': 'nosniff',
      ...SECURITY_HEADERS,
    }
    if (packedAs) headers['Content-Encoding'] = packedAs
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    headers['Content-Length'] = String(sendStats.size)
    if (req.method === 'HEAD') {
      res.writeHead(200, headers)
      res.end()
      return
    }
    const stream = createReadStream(sendPath)
    stream.on('open', () => { res.writeHead(200, headers); stream.pipe(res) })
    stream.on('error', err => {
      log.error(`[static] reading ${sendPath} failed:`, err)
      if (!res.headersSent) sendText(res, 500, 'Internal Server Error')
      else res.destroy()
    })
    res.on('close', () => stream.destroy())
  }

  /**
   * index.html as sent: read once per build of it, with the licence meta, compressed both ways. The
   * workbook page's variant (/w/<id>) also asks for that page's scripts and styles at once
   * (modulepreload / preload, from the build's manifest) instead of after the boot script has run;
   * null when there is no manifest.
   */
  let pages: { mtimeMs: number; size: number; html: string; plain: Bodies; workbook?: Bodies | null } | null = null
  function indexPages(indexStats: Stats): NonNullable<typeof pages> {
    if (pages?.mtimeMs === indexStats.mtimeMs && pages.size === indexStats.size) return pages
    const html = injectIntoHead(readFileSync(index, 'utf8'), meta)
    pages = { mtimeMs: indexStats.mtimeMs, size: indexStats.size, html, plain: pack(html) }
    return pages
  }

  function workbookHtml(p: NonNullable<typeof pages>): Bodies | null {
    if (p.workbook !== undefined) return p.workbook
    p.workbook = null
    try {
      const manifest = JSON.parse(readFileSync(join(root, '.vite', 'manifest.json'), 'utf8')) as Record<string, { file: string; imports?: string[]; css?: string[] }>
      const page = manifest['src/pages/WorkbookPage.vue']
      if (!page) return null
      const html = p.html
      const scripts = new Set<string>(), styles = new Set<string>(page.css ?? [])
      const walk = (key: string) => {
        const c = manifest[key]
        if (!c || scripts.has(c.file)) return
        scripts.add(c.file)
        for (const css of c.css ?? []) styles.add(css)
        for (const i of c.imports ?? []) walk(i)
      }
      walk('src/pages/WorkbookPage.vue')
      const links = [
        ...[...scripts].filter(f => !html.includes(`/${f}"`)).map(f => `<link rel="modulepreload" crossorigin href="/${f}">`),
        ...[...styles].filter(f => !html.includes(`/${f}"`)).map(f => `<link rel="preload" as="style" crossorigin href="/${f}">`),
      ].join('\n    ')
      p.workbook = pack(html.replace('</head>', `    ${links}\n  </head>`))
      return p.workbook
    } catch (e) {
      log.warn('[static] no workbook page variant of index.html:', (e as Error).message)
      return null
    }
  }

  function servePage(req: IncomingMessage, res: ServerResponse, bodies: Bodies, st: Stats, variant: 'p' | 'w'): void {
    const encoding = acceptedEncoding(req)
    const body = bodies[encoding ?? 'identity']
    const etag = `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}-${variant}${metaTag}${encoding ? `-${encoding}` : ''}"`
    const headers: Record<string, string> = {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-cache',
      ETag: etag,
      'Last-Modified': st.mtime.toUTCString(),
      Vary: 'Accept-Encoding',
      'X-Content-Type-Options': 'nosniff',
      ...SECURITY_HEADERS,
      ...(encoding ? { 'Content-Encoding': encoding } : {}),
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    headers['Content-Length'] = String(body.length)
    res.writeHead(200, headers)
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  return async function handleStatic(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' })
      return
    }
    let pathname: string
    try {
      pathname = decodeURIComponent(url.pathname)
    } catch {
      sendText(res, 400, 'Bad Request')
      return
    }
    if (pathname.includes('\0') || pathname.includes('\\')) {
      sendText(res, 400, 'Bad Request')
      return
    }
    const file = resolve(root, '.' + pathname)
    if (file !== root && !file.startsWith(root + sep)) {
      sendText(res, 404, 'Not Found')
      return
    }
    const isAsset = pathname.startsWith('/assets/')
    const st = file === root ? null : await fileStats(file)
    if (st && file !== index) {
      // the service worker is checked for updates on every visit
      await serveFile(req, res, file, st, isAsset ? 'public, max-age=31536000, immutable' : pathname === '/sw.js' ? 'no-cache' : 'public, max-age=3600')
      return
    }
    // missing hashed assets are real 404s (a stale index.html asking for an old build), not the app
    if (isAsset) {
      sendText(res, 404, 'Not Found')
      return
    }
    const indexStats = await fileStats(index)
    if (!indexStats) {
      sendText(res, 404, 'The web app is not built: run `npm run build`.')
      return
    }
    let p: NonNullable<typeof pages>
    try {
      p = indexPages(indexStats)
    } catch (e) {
      log.error(`[static] reading ${index} failed:`, e)
      sendText(res, 500, 'Internal Server Error')
      return
    }
    const page = /^\/w\/[^/]+\/?$/.test(pathname) ? workbookHtml(p) : null
    if (page) servePage(req, res, page, indexStats, 'w')
    else servePage(req, res, p.plain, indexStats, 'p')
  }
}
