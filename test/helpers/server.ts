/**
 * Test helpers: the real server in-process (port 0, temp data dir), stock y-websocket clients, and
 * promise helpers that wait on events (with a timeout) instead of sleeping.
 */
import { EventEmitter } from 'node:events'
import { request as httpRequest } from 'node:http'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach } from 'vitest'
import * as Y from 'yjs'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { startServer, type RunningServer, type ServerOptions } from '../../server/index'
import { SqliteStore } from '../../server/store/sqlite'
import type { LinkRecord, Store, StoredUpdate, WorkbookRecord } from '../../server/store/types'
import type { Logger } from '../../server/log'

export const DEFAULT_TIMEOUT = 4_000

/** A temp directory removed by the returned function. */
export function tempDir(prefix = 'pw-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Collects log lines; prints them when PW_TEST_LOG is set. */
export function testLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  const print = !!process.env.PW_TEST_LOG
  const at = (level: string) => (...args: unknown[]) => {
    const line = `${level} ${args.map(a => (a instanceof Error ? a.stack ?? a.message : String(a))).join(' ')}`
    lines.push(line)
    if (print) console.log(line)
  }
  return { lines, info: at('info'), warn: at('warn'), error: at('error') }
}

export interface TestServer extends RunningServer {
  dataDir: string
  staticDir: string
  log: ReturnType<typeof testLogger>
  /** JSON request against the API; `rawBody` is sent as is */
  api(method: string, path: string, body?: unknown, init?: { rawBody?: string; headers?: Record<string, string> }): Promise<ApiResponse>
  /** ws://… base for clients */
  wsUrl: string
}

export interface ApiResponse {
  status: number
  headers: Headers
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any
  text: string
}

/** A tiny built SPA for static-serving tests. */
function writeStaticSite(dir: string): void {
  mkdirSync(join(dir, 'assets'), { recursive: true })
  writeFileSync(join(dir, 'index.html'), '<!doctype html><html><body><div id="app"></div><script type="module" src="/assets/app-abc123.js"></script></body></html>')
  writeFileSync(join(dir, 'assets', 'app-abc123.js'), 'console.log("app")\n')
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
}

/**
 * Starts the server on port 0. `dataDir` defaults to a fresh temp dir (reuse one to test restarts).
 * Short delays by default so tests run fast; override per test.
 */
export async function startTestServer(opts: ServerOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'pw-data-'))
  // <tmp>/dist is served; <tmp>/secret.txt lies just outside it, for traversal tests
  const staticDir = opts.staticDir ?? join(mkdtempSync(join(tmpdir(), 'pw-static-')), 'dist')
  if (!opts.staticDir) {
    writeStaticSite(staticDir)
    writeFileSync(join(staticDir, '..', 'secret.txt'), 'TOP SECRET')
  }
  const log = testLogger()
  const running = await startServer({ port: 0, unloadDelayMs: 60_000, logger: log, ...opts, dataDir, staticDir })
  const api: TestServer['api'] = async (method, path, body, init = {}) => {
    const res = await fetch(running.url + path, {
      method,
      headers: { 'content-type': 'application/json', ...ownerAuth(path), ...init.headers },
      body: init.rawBody ?? (body === undefined ? undefined : JSON.stringify(body)),
    })
    const text = await res.text()
    let json: unknown
    try { json = text ? JSON.parse(text) : undefined } catch { json = undefined }
    return { status: res.status, headers: res.headers, json, text }
  }
  return { ...running, dataDir, staticDir, log, api, wsUrl: running.url.replace(/^http/, 'ws') }
}

/**
 * Owner tokens of the workbooks tests created, by workbook id: `api` sends the owner's token with
 * requests about a workbook and `connectClient` opens sockets with it, unless a test says otherwise
 * (an explicit Authorization header, `{ token }`).
 */
export const ownerTokens = new Map<string, string>()

function ownerAuth(path: string): Record<string, string> {
  const m = /^\/api\/workbooks\/([^/?]+)/.exec(path)
  const token = m ? ownerTokens.get(decodeURIComponent(m[1]!)) : undefined
  return token ? { authorization: `Bearer ${token}` } : {}
}

/** Creates a workbook through the API and returns its id (its owner token goes to `ownerTokens`). */
export async function createWorkbook(server: TestServer, body: Record<string, unknown> = {}): Promise<string> {
  const res = await server.api('POST', '/api/workbooks', body)
  if (res.status !== 201) throw new Error(`creating a workbook failed: ${res.status} ${res.text}`)
  ownerTokens.set(res.json.id, res.json.token)
  return res.json.id as string
}

/** The socket address of a workbook, with its owner token unless `token` is given ('' for none). */
export function socketUrl(server: { wsUrl: string }, workbookId: string, token = ownerTokens.get(workbookId) ?? ''): string {
  return `${server.wsUrl}/collab/${workbookId}${token ? `?token=${encodeURIComponent(token)}` : ''}`
}

/** Makes a share link through the API (as the owner); returns its token. */
export async function createLink(server: TestServer, workbookId: string, role: 'owner' | 'editor' | 'commenter' | 'viewer', name: string): Promise<string> {
  const res = await server.api('POST', `/api/workbooks/${workbookId}/links`, { role, name })
  if (res.status !== 201) throw new Error(`creating a link failed: ${res.status} ${res.text}`)
  return res.json.token as string
}

/** The workbook as stored in a test server's SQLite file, after writing what is pending. */
export async function storedDoc(s: { rooms: { flushAll(): Promise<void> }; dataDir: string }, id: string): Promise<Y.Doc> {
  await s.rooms.flushAll()
  const store = new SqliteStore(s.dataDir)
  try {
    const doc = new Y.Doc()
    for (const u of await store.loadUpdates(id)) Y.applyUpdate(doc, u)
    return doc
  } finally {
    await store.close()
  }
}

/** A GET with exactly these headers (fetch would add Accept-Encoding and undo the compression), body as sent. */
export function rawRequest(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url)
    const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'GET', headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

// ── waiting without sleeping ──────────────────────────────────────────────────────────────────────

/** Resolves when `check()` returns a value other than undefined/false, re-checking whenever `subscribe` calls back. */
export function until<T>(
  what: string,
  check: () => T | undefined | false,
  subscribe: (recheck: () => void) => () => void,
  timeoutMs = DEFAULT_TIMEOUT,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false
    let unsubscribe: () => void = () => {}
    const finish = (fn: () => void) => { if (!done) { done = true; clearTimeout(timer); unsubscribe(); fn() } }
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))), timeoutMs)
    const recheck = () => {
      if (done) return
      try {
        const v = check()
        if (v !== undefined && v !== false) finish(() => resolve(v as T))
      } catch (e) {
        finish(() => reject(e))
      }
    }
    unsubscribe = subscribe(recheck)
    recheck()
  })
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyListener = (...args: any[]) => void
interface Listenable {
  on(event: string, fn: AnyListener): unknown
  off(event: string, fn: AnyListener): unknown
}

/** Next `event` on an emitter (node EventEmitter or lib0 Observable) whose arguments pass `filter`. */
export function nextEvent<A extends unknown[] = unknown[]>(
  emitter: Listenable, event: string, filter: (...args: A) => boolean = () => true, timeoutMs = DEFAULT_TIMEOUT,
): Promise<A> {
  let args: A | undefined
  return until(`event "${event}"`, () => args, recheck => {
    const fn = (...a: A) => { if (args === undefined && filter(...a)) { args = a; recheck() } }
    emitter.on(event, fn as AnyListener)
    return () => { emitter.off(event, fn as AnyListener) }
  }, timeoutMs)
}

/** Resolves once `predicate(doc)` holds, checking after every update. */
export function docUntil(doc: Y.Doc, what: string, predicate: (doc: Y.Doc) => boolean, timeoutMs = DEFAULT_TIMEOUT): Promise<true> {
  return until(what, () => predicate(doc), recheck => {
    doc.on('update', recheck)
    return () => doc.off('update', recheck)
  }, timeoutMs)
}

// ── clients ───────────────────────────────────────────────────────────────────────────────────────

export interface Client {
  doc: Y.Doc
  provider: WebsocketProvider
  synced(): Promise<void>
  destroy(): void
}

/**
 * A stock WebsocketProvider client, exactly as the app connects (BroadcastChannel off: it would sync
 * in-process, around the server), with the workbook's owner token unless `token` is given.
 */
export function connectClient(server: { url: string }, workbookId: string, doc = new Y.Doc(), opts: { token?: string } = {}): Client {
  const token = opts.token ?? ownerTokens.get(workbookId)
  const provider = new WebsocketProvider(server.url.replace(/^http/, 'ws') + '/collab', workbookId, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    params: token ? { token } : {},
  })
  return {
    doc,
    provider,
    synced: () => provider.synced ? Promise.resolve() : nextEvent<[boolean]>(provider as unknown as Listenable, 'sync', s => s).then(() => {}),
    destroy: () => { provider.destroy(); doc.destroy() },
  }
}

/** A connected and synced client. */
export async function syncedClient(server: { url: string }, workbookId: string, opts: { token?: string } = {}): Promise<Client> {
  const c = connectClient(server, workbookId, undefined, opts)
  await c.synced()
  return c
}

/** A raw ws socket; resolves once open. */
export function rawSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

/** Resolves with the HTTP status of a refused upgrade (rejects if the upgrade succeeds). */
export function refusedUpgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); ws.terminate() })
    ws.once('open', () => { ws.terminate(); reject(new Error(`upgrade to ${url} was accepted`)) })
    ws.once('error', e => reject(e))
  })
}

/** Resolves with the close code and reason of a socket. */
export function closed(ws: WebSocket, timeoutMs = DEFAULT_TIMEOUT): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('socket already closed'))
  let info: { code: number; reason: string } | undefined
  return until('socket close', () => info, recheck => {
    const fn = (code: number, reason: Buffer) => { info = { code, reason: reason.toString() }; recheck() }
    ws.on('close', fn)
    return () => { ws.off('close', fn) }
  }, timeoutMs)
}

// ── a store whose writes/loads can be held back ───────────────────────────────────────────────────

/** A gate: `wait()` blocks while closed; emits 'waiting' when something starts waiting on it. */
export class Gate extends EventEmitter {
  private waiting: (() => void)[] = []
  private isOpen = true
  /** how many calls have waited on the closed gate so far */
  waiters = 0
  close(): void { this.isOpen = false }
  open(): void { this.isOpen = true; const w = this.waiting; this.waiting = []; w.forEach(f => f()) }
  wait(): Promise<void> {
    if (this.isOpen) return Promise.resolve()
    this.waiters++
    const p = new Promise<void>(r => this.waiting.push(r))
    this.emit('waiting', this.waiters)
    return p
  }
}

/** SqliteStore whose appendUpdate and loadUpdateRecords can be held back by gates. */
export class GatedStore implements Store {
  readonly inner: SqliteStore
  readonly appendGate = new Gate()
  readonly loadGate = new Gate()
  constructor(dataDir: string) { this.inner = new SqliteStore(dataDir) }
  get history() { return this.inner.history }
  get webhooks() { return this.inner.webhooks }
  get rollups() { return this.inner.rollups }
  get rounds() { return this.inner.rounds }
  get accounts() { return this.inner.accounts }
  createWorkbook(r: WorkbookRecord, u?: Uint8Array, l?: { link: LinkRecord; tokenHash: string }) { return this.inner.createWorkbook(r, u, l) }
  createLink(l: LinkRecord, h: string) { return this.inner.createLink(l, h) }
  findLink(h: string) { return this.inner.findLink(h) }
  listLinks(id: string) { return this.inner.listLinks(id) }
  revokeLink(id: string, linkId: string, at: number) { return this.inner.revokeLink(id, linkId, at) }
  loadClientLinks(id: string) { return this.inner.loadClientLinks(id) }
  saveTemplate(r: { id: string; json: string; createdAt: number }) { return this.inner.saveTemplate(r) }
  listTemplates() { return this.inner.listTemplates() }
  deleteTemplate(id: string) { return this.inner.deleteTemplate(id) }
  saveClientLinks(id: string, e: [number, string][]) { return this.inner.saveClientLinks(id, e) }
  getWorkbook(id: string) { return this.inner.getWorkbook(id) }
  listWorkbooks() { return this.inner.listWorkbooks() }
  updateWorkbookMeta(id: string, patch: { title?: string; updatedAt?: number }) { return this.inner.updateWorkbookMeta(id, patch) }
  deleteWorkbook(id: string) { return this.inner.deleteWorkbook(id) }
  async appendUpdate(id: string, data: Uint8Array) { await this.appendGate.wait(); return this.inner.appendUpdate(id, data) }
  loadUpdates(id: string) { return this.inner.loadUpdates(id) }
  async loadUpdateRecords(id: string): Promise<StoredUpdate[]> { await this.loadGate.wait(); return this.inner.loadUpdateRecords(id) }
  countUpdates(id: string) { return this.inner.countUpdates(id) }
  lastSeq(id: string) { return this.inner.lastSeq(id) }
  compact(id: string, merged: Uint8Array, replaced: readonly number[]) { return this.inner.compact(id, merged, replaced) }
  markRead(id: string, linkId: string, items: readonly string[], at: number) { return this.inner.markRead(id, linkId, items, at) }
  readItems(linkIds: readonly string[]) { return this.inner.readItems(linkIds) }
  ping() { return this.inner.ping() }
  close() { return this.inner.close() }
}

// ── per-test bookkeeping ──────────────────────────────────────────────────────────────────────────

/**
 * Everything a test opens, closed after it (last opened first: clients before servers). Call once at
 * the top of a test file; it registers its own afterEach.
 */
export function testScope() {
  const cleanups: (() => unknown)[] = []
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f()
  })
  /** A test server (temp dirs removed afterwards); closing it early is fine. */
  const server = async (opts: ServerOptions = {}): Promise<TestServer> => {
    const s = await startTestServer(opts)
    let isClosed = false
    cleanups.push(async () => {
      if (!isClosed) await s.close()
      if (!opts.dataDir) rmSync(s.dataDir, { recursive: true, force: true })
      if (!opts.staticDir) rmSync(dirname(s.staticDir), { recursive: true, force: true })
    })
    return { ...s, close: async () => { isClosed = true; await s.close() } }
  }
  const dataDir = (): string => {
    const t = tempDir('pw-data-')
    cleanups.push(t.remove)
    return t.dir
  }
  const track = (c: Client): Client => { cleanups.push(() => c.destroy()); return c }
  const socket = (ws: WebSocket): WebSocket => { cleanups.push(() => ws.terminate()); return ws }
  return { cleanups, server, dataDir, track, socket }
}
