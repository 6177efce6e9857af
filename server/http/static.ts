/**
 * Serves the built SPA: files from the static dir, and index.html for any other GET path (client-side
 * routes such as /w/<id>). Hashed /assets/* are cached for a year; index.html is always revalidated.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createReadStream, promises as fs, readFileSync, type Stats } from 'node:fs'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { extname, join, resolve, sep } from 'node:path'
import type { Logger } from '../log'
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

export function createStaticHandler(staticDir: string, log: Logger) {
  const root = resolve(staticDir)
  const index = join(root, 'index.html')

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
   * index.html for a workbook page (/w/<id>): the same page, with the workbook page's scripts and styles
   * asked for at once (modulepreload / preload, from the build's manifest) instead of after the boot
   * script has run. Made once per build of index.html; null when there is no manifest.
   */
  let workbookPage: { mtimeMs: number; bodies: Record<'identity' | 'br' | 'gzip', Buffer> } | null = null
  /** index.html's mtime when the variant could not be made (asked again only for a new build) */
  let noVariantFor = -1
  function workbookHtml(indexStats: Stats): typeof workbookPage {
    if (workbookPage?.mtimeMs === indexStats.mtimeMs) return workbookPage
    if (noVariantFor === indexStats.mtimeMs) return null
    noVariantFor = indexStats.mtimeMs
    try {
      const manifest = JSON.parse(readFileSync(join(root, '.vite', 'manifest.json'), 'utf8')) as Record<string, { file: string; imports?: string[]; css?: string[] }>
      const page = manifest['src/pages/WorkbookPage.vue']
      if (!page) return null
      const html = readFileSync(index, 'utf8')
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
      const body = Buffer.from(html.replace('</head>', `    ${links}\n  </head>`), 'utf8')
      workbookPage = { mtimeMs: indexStats.mtimeMs, bodies: { identity: body, br: brotliCompressSync(body), gzip: gzipSync(body) } }
      noVariantFor = -1
      return workbookPage
    } catch (e) {
      log.warn('[static] no workbook page variant of index.html:', (e as Error).message)
      return null
    }
  }

  function serveWorkbookPage(req: IncomingMessage, res: ServerResponse, page: NonNullable<typeof workbookPage>, st: Stats): void {
    const encoding = acceptedEncoding(req)
    const body = page.bodies[encoding ?? 'identity']
    const etag = `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}-w${encoding ? `-${encoding}` : ''}"`
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
    const page = /^\/w\/[^/]+\/?$/.test(pathname) ? workbookHtml(indexStats) : null
    if (page) serveWorkbookPage(req, res, page, indexStats)
    else await serveFile(req, res, index, indexStats, 'no-cache')
  }
}
