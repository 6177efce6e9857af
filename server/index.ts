/**
 * The planning-workbook server: JSON API (/api), y-websocket collaboration (/collab/<id>) and the built
 * SPA (everything else), on one plain node:http server.
 *
 *   PORT (8080)  HOST (127.0.0.1)  DATA_DIR (./data)  STATIC_DIR (./dist)  TEMPLATES_DIR (<repo>/templates)
 *   UNLOAD_DELAY_MS (30000)  PING_INTERVAL_MS (30000)  FLUSH_DELAY_MS (0)
 *   DATABASE_URL (unset: SQLite under DATA_DIR)  REDIS_URL (unset: one instance)  REDIS_PREFIX (pw:)
 *   CREATE_SECRET (unset: anyone may create workbooks)  MAX_DOC_BYTES (100 MiB)  MAX_MESSAGE_BYTES (10 MiB)
 *   PUBLIC_URL (unset: webhook messages carry no link)  ALLOW_PRIVATE_WEBHOOKS (unset)  WEBHOOK_RETRY_BASE_MS (5000)
 *
 * `startServer(opts)` runs it in-process (tests use port 0 and a temp data dir); executing this file
 * starts it from the environment and stops it cleanly on SIGTERM/SIGINT.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { WebSocketServer } from 'ws'
import { SqliteStore } from './store/sqlite'
import { PostgresStore } from './store/postgres'
import type { LinkRecord, Store } from './store/types'
import { CLOSE, RoomManager, type RoomContext, type RoomHook, type RoomOptions } from './collab/rooms'
import { RedisBus } from './collab/bus'
import { handleApi, WORKBOOK_ID } from './http/api'
import { createStaticHandler } from './http/static'
import { forgetCompressed } from './http/encoding'
import { HttpError, sendError } from './http/util'
import { FailureBudget, authorize, hashToken, tokenOf } from './auth'
import { DEFAULT_IMPORT_LIMITS, type ImportLimits } from './import/xlsx'
import { DEFAULT_EXPORT_OPTIONS, ExportRunner, type ExportRunnerOptions } from './export/runner'
import { loadTemplates } from './templates'
import { consoleLogger, createLogger, parseLogFormat, parseLogLevel, type Logger } from './log'
import { setLicenseKeys, withDefaultKeys, type LicenseKeys } from '../src/core/licenses'
import { ROLES } from '../src/core/access/access'
import { NotifyHook } from './notify/hook'
import { DEFAULT_NOTIFY_OPTIONS, Notifier, stateReader, type NotifyOptions } from './notify/notifier'
import { RollupService, type RollupServiceOptions } from './rollup/service'
import { DEFAULT_ROUND_OPTIONS, RoundService, type RoundOptions } from './rounds/service'
import { oidcFromEnv, type OidcSettings } from './oidc/config'
import { OidcService } from './oidc/service'
import { handleAuth } from './oidc/routes'
import { isMemberLinkId, memberLink } from './oidc/members'

export interface ServerOptions extends Partial<RoomOptions> {
  /** 0 picks a free port (default 8080) */
  port?: number
  /** default 127.0.0.1 */
  host?: string
  /** SQLite database directory, created if missing (default ./data); ignored when `store` is given */
  dataDir?: string
  /** built SPA (default ./dist) */
  staticDir?: string
  /** template JSON files (default <repo>/templates) */
  templatesDir?: string
  /** use this store instead of SQLite under dataDir; it is closed with the server */
  store?: Store
  /** postgres://…: keep workbooks in PostgreSQL instead of SQLite (ignored when `store` is given) */
  databaseUrl?: string
  /** redis://…: share rooms with other instances through Redis */
  redisUrl?: string
  /** Redis key and channel prefix (default "pw:"), so instances of separate deployments (or tests) keep apart */
  redisPrefix?: string
  /** largest accepted WebSocket message (default 10 MiB): a larger one closes its socket with 4413 */
  maxMessageBytes?: number
  /** largest accepted API request body (default 1 MiB) */
  maxBodyBytes?: number
  /** default: console with timestamps */
  logger?: Logger
  /** when set, creating (and listing) workbooks needs `Authorization: Bearer <secret>`; default: open */
  createSecret?: string
  /** failed token attempts per address and minute before 429 (default 30) */
  maxAuthFailures?: number
  /** a request must arrive completely within this many ms (default 30 000) */
  requestTimeoutMs?: number
  /** largest .xlsx accepted for import (default 10 MiB) */
  maxImportBytes?: number
  /** limits on what an import may unpack to and hold, and how long it may take to read */
  importLimits?: Partial<ImportLimits>
  /** the export worker: idle time before it stops, time limit and heap of an export, or in process */
  exportOptions?: Partial<ExportRunnerOptions>
  /**
   * Handsontable and HyperFormula licence keys, for exports here and for the page (a meta tag in
   * index.html); default: HANDSONTABLE_LICENSE_KEY / HYPERFORMULA_LICENSE_KEY, else the non-commercial
   * and GPL ones
   */
  licenseKeys?: Partial<LicenseKeys>
  /** hooks each room runs after the built-in ones (server/collab/hooks/types.ts) */
  roomHooks?: ((ctx: RoomContext) => RoomHook)[]
  /** webhook targets may be on loopback and private addresses (default: refused) */
  allowPrivateWebhooks?: boolean
  /** the address people open the app at (https://sheets.example.com), for links in webhook messages */
  publicUrl?: string
  /** the delivery loop's retry delays, timeouts and poll interval (server/notify/notifier.ts) */
  webhookOptions?: Partial<NotifyOptions>
  /** fill-in rounds: the clock and how often periods are closed (server/rounds/service.ts) */
  roundOptions?: Partial<RoundOptions>
  /** live roll-ups: the debounce of source changes and how often links are checked (server/rollup/service.ts) */
  rollupOptions?: Partial<RollupServiceOptions>
  /** sign-in with OpenID Connect (server/oidc/config.ts); unset: links only */
  oidc?: OidcSettings
}

export interface RunningServer {
  /** the Redis fan-out, when configured */
  bus: RedisBus | null
  /** http://host:port */
  url: string
  port: number
  /** live rooms; emits room-loaded / room-unloading / room-unloaded / flushed / compacted … */
  rooms: RoomManager
  /** where exports are computed */
  exports: ExportRunner
  /** the webhook delivery loop */
  notify: Notifier
  /** fill-in rounds: periods, status, closing */
  rounds: RoundService
  /** live roll-ups (server/rollup/service.ts) */
  rollups: RollupService
  store: Store
  /** stop accepting, write everything pending, close sockets and the store; idempotent */
  close(): Promise<void>
}

const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))

/** The licence keys the environment sets (unset or empty: the defaults). */
export const licenseKeysFromEnv = (env: NodeJS.ProcessEnv = process.env): LicenseKeys =>
  withDefaultKeys({ handsontable: env.HANDSONTABLE_LICENSE_KEY?.trim(), hyperformula: env.HYPERFORMULA_LICENSE_KEY?.trim() })

/** A request address for the log: share-link tokens left out. */
export const redactUrl = (url: string | undefined): string => (url ?? '').replace(/([?&]token=)[^&#]*/gi, '$1…')

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  const body = JSON.stringify({ error: text })
  try {
    socket.end(
      `HTTP/1.1 ${status} ${statusText(status)}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    )
  } finally {
    // end() flushes the answer; destroy soon after in case the peer never closes its side
    setTimeout(() => socket.destroy(), 1_000).unref()
  }
}

function statusText(status: number): string {
  return ({
    400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests',
    500: 'Internal Server Error', 503: 'Service Unavailable',
  } as Record<number, string>)[status] ?? 'Error'
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const log = opts.logger ?? consoleLogger
  // before anything builds an engine (template previews, exports; worker threads are handed them)
  const licenseKeys = opts.licenseKeys ? withDefaultKeys(opts.licenseKeys) : licenseKeysFromEnv()
  setLicenseKeys(licenseKeys)
  const templates = loadTemplates(opts.templatesDir ?? resolve(REPO_ROOT, 'templates'))
  const store: Store = opts.store ?? (opts.databaseUrl
    ? await new PostgresStore(opts.databaseUrl).open()
    : new SqliteStore(resolve(opts.dataDir ?? './data')))
  const roomOptions: Partial<RoomOptions> = {}
  for (const k of ['unloadDelayMs', 'flushDelayMs', 'compactThreshold', 'metaThrottleMs', 'pingIntervalMs', 'maxBufferedBytes', 'maxQueuedMessages', 'maxQueuedBytes', 'messagesPerSecond', 'messageBurst', 'maxDocBytes', 'maxMessageBytes', 'busStateIntervalMs', 'restAfterMs', 'historyQuietMs', 'historyEveryUpdates', 'historyHourlyAfterMs', 'historyDailyAfterMs'] as const) {
    if (opts[k] !== undefined) roomOptions[k] = opts[k]
  }
  // templates people saved or uploaded join the shipped ones; one that no longer builds is left out, loudly
  for (const saved of await store.listTemplates()) {
    try {
      const { template, previews } = templates.prepare(JSON.parse(saved.json), `saved template ${saved.id}`)
      templates.addCustom(template, previews)
    } catch (e) {
      log.error(`[templates] saved template ${saved.id} is left out: ${(e as Error).message}`)
    }
  }
  const bus = opts.redisUrl ? new RedisBus(opts.redisUrl, log, opts.redisPrefix ?? 'pw:') : null
  if (bus) {
    try { await bus.ready() } catch (e) {
      // start anyway: one instance serves its clients, and joins the others when Redis answers
      log.warn(`[bus] Redis at ${opts.redisUrl} does not answer yet (${(e as Error).message})`)
    }
  }
  // the compressed copies the HTTP layer keeps of a room's state and views go when the room lets go of them
  const notify: Notifier = new Notifier(store, log, {
    ...DEFAULT_NOTIFY_OPTIONS, allowPrivate: !!opts.allowPrivateWebhooks, publicUrl: opts.publicUrl?.replace(/\/+$/, '') || null, ...opts.webhookOptions,
  }, id => stateReader(store, rooms)(id))
  const rooms = new RoomManager(store, log, { ...roomOptions, forgetCompressed, hooks: [ctx => new NotifyHook(ctx, notify), ...(opts.roomHooks ?? [])] }, bus)
  const rollups = new RollupService(store, rooms, bus, log, opts.rollupOptions)
  const exports = new ExportRunner({ ...DEFAULT_EXPORT_OPTIONS, ...opts.exportOptions }, log)
  const rounds = new RoundService(store, id => stateReader(store, rooms)(id), log, { ...DEFAULT_ROUND_OPTIONS, ...opts.roundOptions }, notify)
  const failures = new FailureBudget(opts.maxAuthFailures ?? 30)
  const apiContext = { store, rooms, templates, maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024, log, failures, createSecret: opts.createSecret || undefined,
    maxImportBytes: opts.maxImportBytes ?? 10 * 1024 * 1024, importLimits: { ...DEFAULT_IMPORT_LIMITS, ...opts.importLimits },
    exports, notify, rounds, rollups, oidc: undefined as OidcService | undefined, accountOf: undefined as ((req: IncomingMessage) => Promise<string | null>) | undefined,
    memberLink: undefined as ((req: IncomingMessage, id: string) => Promise<LinkRecord | null>) | undefined,
  }
  const handleStatic = createStaticHandler(opts.staticDir ?? './dist', log, { licenseKeys })
  // rooms close a message over maxMessageBytes with 4413; the socket layer cuts off at twice that (1009)
  const wss = new WebSocketServer({ noServer: true, maxPayload: 2 * (opts.maxMessageBytes ?? 10 * 1024 * 1024), perMessageDeflate: false })
  let closing = false

  const server = createServer((req, res) => {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://localhost')
    } catch {
      sendError(res, 400, 'bad request URL')
      return
    }
    // with cookie sessions, a state-changing request carrying the cookie must come from our origin (CSRF)
    if (apiContext.oidc && !apiContext.oidc.originAllowed(req)) return sendError(res, 403, 'cross-site request refused')
    const run = async () => {
      if (url.pathname === '/auth' || url.pathname.startsWith('/auth/')) await handleAuth(req, res, url, apiContext.oidc)
      else if (url.pathname === '/api' || url.pathname.startsWith('/api/')) await handleApi(req, res, url, apiContext)
      else if (url.pathname === '/collab' || url.pathname.startsWith('/collab/')) sendError(res, 426, 'WebSocket upgrade required', { Upgrade: 'websocket' })
      else await handleStatic(req, res, url)
    }
    run().catch(e => {
      log.error(`[http] ${req.method} ${redactUrl(req.url)} failed:`, e)
      if (!res.headersSent) sendError(res, 500, 'internal server error')
      else res.destroy()
    })
  })
  // slow or stalled requests do not hold sockets forever
  server.requestTimeout = opts.requestTimeoutMs ?? 30_000
  server.headersTimeout = Math.min(server.requestTimeout, 20_000)
  server.on('clientError', (err, socket) => {
    if (socket.writable && !(err as NodeJS.ErrnoException).code?.startsWith('ECONN')) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
    } else {
      socket.destroy()
    }
  })

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    const handle = async () => {
      if (closing) return refuseUpgrade(socket, 503, 'server shutting down')
      let url: URL
      try { url = new URL(req.url ?? '/', 'http://localhost') } catch { return refuseUpgrade(socket, 400, 'bad request URL') }
      const m = /^\/collab\/([^/]+)\/?$/.exec(url.pathname)
      if (!m) return refuseUpgrade(socket, 400, 'WebSocket endpoint is /collab/<workbookId>')
      // cross-site WebSocket hijacking: a browser page of another origin may not open the socket
      if (apiContext.oidc && !apiContext.oidc.upgradeAllowed(req)) return refuseUpgrade(socket, 403, 'cross-site socket refused')
      let id: string
      try { id = decodeURIComponent(m[1]!) } catch { return refuseUpgrade(socket, 404, 'workbook not found') }
      // the link is checked before anything of the workbook is loaded
      let link
      try {
        link = await authorize(req, url, apiContext, id, ROLES)
      } catch (e) {
        if (e instanceof HttpError) return refuseUpgrade(socket, e.status, e.message)
        throw e
      }
      if (!WORKBOOK_ID.test(id) || !(await store.getWorkbook(id))) return refuseUpgrade(socket, 404, 'workbook not found')
      if (closing) return refuseUpgrade(socket, 503, 'server shutting down')
      // the signed-in person, when there is one, is shown beside the link's name (presence)
      const person = apiContext.oidc ? (await apiContext.oidc.signedIn(req))?.account : undefined
      const who = { role: link.role, name: link.name, linkId: link.id, ...(person ? { account: person.email || person.id } : {}) }
      wss.handleUpgrade(req, socket, head, ws => {
        try {
          const conn = rooms.connect(id, ws, who)
          // a revoke that landed while this upgrade was being checked: its closeLink found no socket yet
          if (!isMemberLinkId(conn.who.linkId)) void store.findLink(hashToken(tokenOf(req, url))).then(l => {
            if (!l || l.revokedAt !== null) rooms.closeLink(id, conn.who.linkId, CLOSE.revoked, 'link revoked')
          }, () => {})
        } catch (e) {
          log.error(`[collab] ${id}: connecting failed:`, e)
          ws.terminate()
        }
      })
    }
    handle().catch(e => {
      log.error('[collab] upgrade failed:', e)
      if (!socket.destroyed) refuseUpgrade(socket, 500, 'internal server error')
    })
  })

  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject)
      server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject)
        resolveListen()
      })
    })
  } catch (e) {
    rollups.close()
    await exports.close()
    await rooms.close()
    await rounds.close()
    await notify.close()
    await bus?.close()
    await store.close()
    throw e
  }
  server.on('error', e => log.error('[http] server error:', e))
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  if (opts.oidc) {
    apiContext.oidc = new OidcService(opts.oidc, store, opts.publicUrl?.replace(/\/+$/, '') || url, log)
    apiContext.accountOf = apiContext.oidc.accountOf
    const oidc = apiContext.oidc
    apiContext.memberLink = (req, id) => memberLink(oidc, apiContext, req, id)
  }
  notify.start()
  rounds.start()
  log.info(`planning-workbooks server listening on ${url} (static: ${resolve(opts.staticDir ?? './dist')}, templates: ${templates.all().length})`)

  let closed: Promise<void> | null = null
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true
      const serverClosed = new Promise<void>(r => server.close(() => r()))
      server.closeIdleConnections()
      rollups.close()
      await Promise.all([rooms.close(), exports.close()])
      wss.close()
      server.closeAllConnections()
      await serverClosed
      await rounds.close()
      await notify.close()
      await bus?.close()
      await store.close()
    })()
    return closed
  }

  return { url, port: address.port, rooms, store, bus, exports, notify, rounds, rollups, close }
}

async function main(): Promise<void> {
  const env = process.env
  const port = env.PORT === undefined || env.PORT === '' ? 8080 : Number(env.PORT)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got ${JSON.stringify(env.PORT)}`)
  const ms = (name: string): number | undefined => {
    const v = env[name]
    if (v === undefined || v === '') return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number of milliseconds, got ${JSON.stringify(v)}`)
    return n
  }
  const count = (name: string): number | undefined => {
    const v = env[name]
    if (v === undefined || v === '') return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a whole number above 0, got ${JSON.stringify(v)}`)
    return n
  }
  const bytes = (name: string): number | undefined => {
    const v = env[name]
    if (v === undefined || v === '') return undefined
    const n = Number(v)
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a whole number of bytes, got ${JSON.stringify(v)}`)
    return n
  }
  const logger = createLogger({ level: parseLogLevel(env.LOG_LEVEL), format: parseLogFormat(env.LOG_FORMAT) })
  const running = await startServer({
    logger,
    unloadDelayMs: ms('UNLOAD_DELAY_MS'),
    pingIntervalMs: ms('PING_INTERVAL_MS'),
    flushDelayMs: ms('FLUSH_DELAY_MS'),
    busStateIntervalMs: ms('BUS_STATE_INTERVAL_MS'),
    restAfterMs: ms('REST_AFTER_MS'),
    historyQuietMs: ms('HISTORY_QUIET_MS'),
    historyEveryUpdates: count('HISTORY_EVERY_UPDATES'),
    historyHourlyAfterMs: ms('HISTORY_HOURLY_AFTER_MS'),
    historyDailyAfterMs: ms('HISTORY_DAILY_AFTER_MS'),
    port,
    host: env.HOST || '127.0.0.1',
    dataDir: env.DATA_DIR || './data',
    staticDir: env.STATIC_DIR || './dist',
    templatesDir: env.TEMPLATES_DIR || undefined,
    createSecret: env.CREATE_SECRET || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    redisUrl: env.REDIS_URL || undefined,
    redisPrefix: env.REDIS_PREFIX || undefined,
    maxDocBytes: bytes('MAX_DOC_BYTES'),
    maxMessageBytes: bytes('MAX_MESSAGE_BYTES'),
    licenseKeys: licenseKeysFromEnv(env),
    allowPrivateWebhooks: env.ALLOW_PRIVATE_WEBHOOKS === '1' || env.ALLOW_PRIVATE_WEBHOOKS === 'true',
    publicUrl: env.PUBLIC_URL || undefined,
    oidc: oidcFromEnv(env),
    webhookOptions: ms('WEBHOOK_RETRY_BASE_MS') === undefined ? undefined : { retryBaseMs: ms('WEBHOOK_RETRY_BASE_MS') },
  })
  logger.info(env.DATABASE_URL ? 'store: PostgreSQL' : `data: ${resolve(env.DATA_DIR || './data')}`)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info(`${signal}: shutting down`)
    setTimeout(() => { logger.error('shutdown took too long; exiting'); process.exit(1) }, 15_000).unref()
    running.close().then(
      () => { logger.info('stopped'); process.exit(0) },
      e => { logger.error('shutdown failed:', e); process.exit(1) },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch(e => {
    consoleLogger.error(e instanceof Error ? e.message : e)
    process.exit(1)
  })
}
