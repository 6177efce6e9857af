/**
 * Test helpers for durability tests: the real server as a child process (killable with SIGKILL),
 * stock y-websocket clients that reconnect quickly on their own, and reading what SQLite holds.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import WebSocket from 'ws'
import * as decoding from 'lib0/decoding'
import { WebsocketProvider } from 'y-websocket'
import { SqliteStore } from '../../server/store/sqlite'
import { nextEvent, ownerTokens, until } from './server'

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))

// ── the server as a child process ─────────────────────────────────────────────────────────────────

export interface ServerDirs {
  dataDir: string
  staticDir: string
  /** only the blank template: loading and dry-running all of them takes seconds per start */
  templatesDir: string
  remove(): void
}

/** Temp data, static (index.html) and templates (blank only) directories. */
export function serverDirs(): ServerDirs {
  const root = mkdtempSync(join(tmpdir(), 'pw-proc-'))
  const dirs = { dataDir: join(root, 'data'), staticDir: join(root, 'dist'), templatesDir: join(root, 'templates') }
  mkdirSync(dirs.staticDir, { recursive: true })
  mkdirSync(dirs.templatesDir, { recursive: true })
  writeFileSync(join(dirs.staticDir, 'index.html'), '<!doctype html><html><body><div id="app"></div></body></html>')
  copyFileSync(join(REPO_ROOT, 'templates', 'blank.json'), join(dirs.templatesDir, 'blank.json'))
  return { ...dirs, remove: () => rmSync(root, { recursive: true, force: true }) }
}

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

export interface ServerProcess {
  child: ChildProcess
  pid: number
  /** http://127.0.0.1:port */
  url: string
  /** ws://127.0.0.1:port/collab, the base for providers */
  collabUrl: string
  port: number
  /** stdout and stderr lines so far */
  output: string[]
  exited: Promise<Exit>
  /** sends `signal` and resolves with how the process ended */
  stop(signal: 'SIGKILL' | 'SIGTERM' | 'SIGINT'): Promise<Exit>
  /** POST /api/workbooks; returns the id */
  createWorkbook(body?: Record<string, unknown>): Promise<string>
}

const live = new Set<ChildProcess>()
// last resort if the test process goes away without running its afterEach (worker torn down)
process.once('exit', () => { for (const child of live) child.kill('SIGKILL') })

/**
 * Starts `server/index.ts` in a child process and resolves once it logs "listening on <url>".
 *
 * It runs as `node --import tsx server/index.ts` — what the `tsx` CLI does, minus its wrapper
 * process: `tsx` runs the script in a child of its own and can only relay catchable signals, so a
 * SIGKILL sent to it would leave the real server running (and holding the port).
 */
export function spawnServer(dirs: Pick<ServerDirs, 'dataDir' | 'staticDir' | 'templatesDir'>, opts: { port?: number; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PORT: String(opts.port ?? 0),
      HOST: '127.0.0.1',
      DATA_DIR: dirs.dataDir,
      STATIC_DIR: dirs.staticDir,
      TEMPLATES_DIR: dirs.templatesDir,
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  const output: string[] = []
  const exited = new Promise<Exit>(r => child.once('exit', (code, signal) => { live.delete(child); r({ code, signal }) }))
  const print = !!process.env.PW_TEST_LOG
  let urlSeen: ((url: string) => void) | null = null
  const onData = (stream: 'out' | 'err') => {
    let rest = ''
    return (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n')
      rest = lines.pop()!
      for (const line of lines) {
        output.push(line)
        if (print) console.log(`[server ${child.pid} ${stream}] ${line}`)
        const m = /listening on (http:\/\/\S+)/.exec(line)
        if (m && urlSeen) urlSeen(m[1]!)
      }
    }
  }
  child.stdout!.on('data', onData('out'))
  child.stderr!.on('data', onData('err'))

  return new Promise<ServerProcess>((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      rejectStart(new Error(`server did not start within ${opts.timeoutMs ?? 15_000} ms:\n${output.join('\n')}`))
    }, opts.timeoutMs ?? 15_000)
    void exited.then(e => {
      clearTimeout(timer)
      rejectStart(new Error(`server exited (${e.code ?? e.signal}) before listening:\n${output.join('\n')}`))
    })
    urlSeen = url => {
      urlSeen = null
      clearTimeout(timer)
      const port = Number(new URL(url).port)
      resolveStart({
        child,
        pid: child.pid!,
        url,
        collabUrl: url.replace(/^http/, 'ws') + '/collab',
        port,
        output,
        exited,
        stop: signal => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal)
          return exited
        },
        createWorkbook: async (body = {}) => {
          const res = await fetch(url + '/api/workbooks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
          const text = await res.text()
          if (res.status !== 201) throw new Error(`creating a workbook failed: ${res.status} ${text}`)
          const { id, token } = JSON.parse(text) as { id: string; token: string }
          ownerTokens.set(id, token)
          return id
        },
      })
    }
  })
}

/** SIGKILLs every server child still running and waits for each to be gone (afterEach). */
export async function killAllServers(): Promise<void> {
  await Promise.all(Array.from(live, child => new Promise<void>(r => {
    if (child.exitCode !== null || child.signalCode !== null) { live.delete(child); r(); return }
    child.once('exit', () => r())
    child.kill('SIGKILL')
  })))
  live.clear()
}

// ── clients ───────────────────────────────────────────────────────────────────────────────────────

export interface LiveClient {
  name: string
  doc: Y.Doc
  provider: WebsocketProvider
  /** resolves when the provider is synced (now, or at its next 'sync' true) */
  synced(timeoutMs?: number): Promise<void>
  destroy(): void
}

const clients = new Set<LiveClient>()

/**
 * A stock WebsocketProvider as the app creates it (BroadcastChannel off: it would sync in-process,
 * around the server), reconnecting with at most `maxBackoffTime` ms between attempts.
 */
export function liveClient(collabUrl: string, workbookId: string, name: string, opts: { maxBackoffTime?: number; doc?: Y.Doc } = {}): LiveClient {
  const doc = opts.doc ?? new Y.Doc()
  const provider = new WebsocketProvider(collabUrl, workbookId, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    maxBackoffTime: opts.maxBackoffTime ?? 300,
    params: { token: ownerTokens.get(workbookId) ?? '' },
  })
  const c: LiveClient = {
    name,
    doc,
    provider,
    synced: (timeoutMs = 10_000) => provider.synced
      ? Promise.resolve()
      : nextEvent<[boolean]>(provider as never, 'sync', s => s, timeoutMs).then(() => {}),
    destroy: () => {
      if (!clients.delete(c)) return
      provider.destroy()
      doc.destroy()
    },
  }
  clients.add(c)
  return c
}

/** Destroys every client liveClient made that is still around (afterEach). */
export function destroyAllClients(): void {
  for (const c of Array.from(clients)) c.destroy()
}

/** The awareness client ids carried by a y-websocket awareness message (type 1), or null for other messages. */
export function awarenessClientsOf(message: Uint8Array): number[] | null {
  const d = decoding.createDecoder(message)
  if (decoding.readVarUint(d) !== 1) return null
  const update = decoding.createDecoder(decoding.readVarUint8Array(d))
  const ids: number[] = []
  const n = decoding.readVarUint(update)
  for (let i = 0; i < n; i++) {
    ids.push(decoding.readVarUint(update))
    decoding.readVarUint(update) // clock
    decoding.readVarString(update) // state JSON
  }
  return ids
}

// ── documents ─────────────────────────────────────────────────────────────────────────────────────

/** The workbook as stored: every update in SQLite applied to a fresh doc (read straight from the file). */
export async function storedDoc(dataDir: string, id: string): Promise<{ doc: Y.Doc; rows: number }> {
  const store = new SqliteStore(dataDir)
  try {
    const updates = await store.loadUpdates(id)
    const doc = new Y.Doc()
    Y.transact(doc, () => { for (const u of updates) Y.applyUpdate(doc, u) })
    return { doc, rows: updates.length }
  } finally {
    await store.close()
  }
}

/**
 * True when `big` already holds everything in `small` (a doc or a full state update): applying it to
 * a copy of `big` changes nothing — no new items, no new deletions.
 */
export function contains(big: Y.Doc, small: Y.Doc | Uint8Array): boolean {
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(big))
  let changed = false
  copy.on('update', () => { changed = true })
  Y.applyUpdate(copy, small instanceof Uint8Array ? small : Y.encodeStateAsUpdate(small))
  const pending = copy.store.pendingStructs !== null || copy.store.pendingDs !== null
  copy.destroy()
  return !changed && !pending
}

/** Same content: each holds everything the other does. */
export function sameContent(a: Y.Doc, b: Y.Doc): boolean {
  return contains(a, b) && contains(b, a)
}

/** Resolves once `predicate()` holds, re-checking after every update of any of `docs`. */
export function docsUntil(docs: Y.Doc[], what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<true> {
  return until(what, predicate, recheck => {
    for (const d of docs) d.on('update', recheck)
    return () => { for (const d of docs) d.off('update', recheck) }
  }, timeoutMs)
}
