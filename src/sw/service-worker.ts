/**
 * The service worker: keeps the built app (the page and its hashed files) in the browser so that a
 * workbook opened before opens again without a network; its content comes from IndexedDB
 * (y-indexeddb). It never touches /api or /collab: data goes through the document sync only.
 *
 *   page navigations  network first; offline → the app page of this version
 *   /assets/*         cache first (names carry a content hash), filled on first use
 *
 * The build (vite.config.ts) replaces the two placeholders below with this build's file list and version.
 */

interface ExtendableEvent extends Event { waitUntil(p: Promise<unknown>): void }
interface FetchEvent extends ExtendableEvent { request: Request; respondWith(r: Response | Promise<Response>): void }
interface SwScope {
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void
  skipWaiting(): Promise<void>
  clients: { claim(): Promise<void> }
  location: Location
}

const sw = self as unknown as SwScope
const PRECACHE: string[] = JSON.parse('__PW_PRECACHE__')
const CACHE = 'pw-app-__PW_VERSION__'
const SHELL = '/'

sw.addEventListener('install', (e) => {
  e.waitUntil((async () => {
    const cache = await caches.open(CACHE)
    // the page itself is fetched fresh (it is served no-cache); then every file it can load
    await cache.addAll([SHELL, ...PRECACHE])
    await sw.skipWaiting()
  })())
})

sw.addEventListener('activate', (e) => {
  e.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith('pw-app-') && key !== CACHE) await caches.delete(key)
    await sw.clients.claim()
  })())
})

sw.addEventListener('fetch', (e) => {
  const req = e.request
  if (req.method !== 'GET') return
  const url = new URL(req.url)
  if (url.origin !== sw.location.origin) return
  if (url.pathname.startsWith('/api/') || url.pathname === '/api' || url.pathname.startsWith('/collab')) return
  if (req.mode === 'navigate') {
    e.respondWith(fetch(req).catch(async () => (await caches.match(SHELL, { cacheName: CACHE })) ?? Response.error()))
    return
  }
  if (url.pathname.startsWith('/assets/')) {
    e.respondWith((async () => {
      const hit = await caches.match(req, { cacheName: CACHE })
      if (hit) return hit
      const res = await fetch(req)
      if (res.ok) void caches.open(CACHE).then(c => c.put(req, res.clone()))
      return res
    })())
    return
  }
  e.respondWith(fetch(req).catch(async () => (await caches.match(req, { cacheName: CACHE })) ?? Response.error()))
})

export {}
