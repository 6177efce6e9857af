/**
 * Folds stored rows into one update in a worker thread (compact-worker.mjs), so that fifty rooms
 * reaching their compaction threshold together cost the sockets nothing: in the main thread that was
 * 4–9 ms a room, back to back. The thread starts with the first compaction and stops when idle; if it
 * cannot run, the work is done here.
 */
import { Worker } from 'node:worker_threads'
import * as Y from 'yjs'

type Job = { resolve: (u: Uint8Array) => void; reject: (e: Error) => void }

export class Compactor {
  private worker: Worker | null = null
  private jobs = new Map<number, Job>()
  private nextId = 1
  private idleTimer: NodeJS.Timeout | null = null
  private broken = false

  constructor(private readonly idleMs = 60_000) {}

  /** The rows merged (`full`: applied to a doc and encoded again, deleted content dropped). */
  fold(rows: Uint8Array[], full: boolean): Promise<Uint8Array> {
    if (this.broken) return Promise.resolve(foldHere(rows, full))
    const worker = this.start()
    const id = this.nextId++
    if (this.idleTimer) { clearTimeout(this.idleTimer); this.idleTimer = null }
    return new Promise<Uint8Array>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject })
      worker.postMessage({ id, rows, full })
    })
  }

  /** Starts the thread ahead of the first fold (its start-up then costs no socket a wait). */
  warm(): void {
    if (this.broken || this.worker) return
    this.start()
    if (this.jobs.size === 0) this.idleSoon()
  }

  private start(): Worker {
    if (this.worker) return this.worker
    const worker = new Worker(new URL('./compact-worker.mjs', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 512 } })
    worker.unref()
    worker.on('message', (m: { id: number; ok: boolean; update?: Uint8Array; error?: string }) => {
      const job = this.jobs.get(m.id)
      if (!job) return
      this.jobs.delete(m.id)
      if (m.ok) job.resolve(m.update!)
      else job.reject(new Error(`compaction: ${m.error}`))
      if (this.jobs.size === 0) this.idleSoon()
    })
    const fail = (e: Error) => {
      // the thread is gone (out of memory, or it could not start): what waited is done here
      this.worker = null
      const jobs = this.jobs
      this.jobs = new Map()
      for (const job of jobs.values()) job.reject(e)
    }
    worker.on('error', e => { this.broken ||= /Cannot find|ERR_WORKER/.test(String(e)); fail(e) })
    worker.on('exit', code => { if (this.worker === worker) fail(new Error(`compaction worker exited (${code})`)) })
    this.worker = worker
    return worker
  }

  private idleSoon(): void {
    if (this.idleTimer) return
    this.idleTimer = setTimeout(() => { this.idleTimer = null; void this.close() }, this.idleMs)
    this.idleTimer.unref()
  }

  async close(): Promise<void> {
    if (this.idleTimer) { clearTimeout(this.idleTimer); this.idleTimer = null }
    const w = this.worker
    this.worker = null
    if (w) await w.terminate()
  }
}

/** The same work on this thread. */
export function foldHere(rows: Uint8Array[], full: boolean): Uint8Array {
  const merged = Y.mergeUpdates(rows)
  if (!full) return merged
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, merged)
    return Y.encodeStateAsUpdate(doc)
  } finally {
    doc.destroy()
  }
}
