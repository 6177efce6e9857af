/**
 * Exports run in one worker thread, started on the first export and stopped after `idleMs` without
 * one: reading a 10,000-row workbook and building its .xlsx is over a second of CPU, which on the
 * server's own thread held up every socket of the instance for that long (what the export
 * benchmark's event-loop figure measures). Jobs run one at a time, in order; each has `timeoutMs`
 * once it started, after which the worker is stopped (and the next job starts a new one). A worker
 * that dies (out of memory, say) fails only the job it was running.
 *
 * `inProcess` runs the same code on the calling thread instead (no worker), for comparison.
 */
import { EventEmitter } from 'node:events'
import { Worker } from 'node:worker_threads'
import type { Logger } from '../log'
import type { ExportJob, ExportReply, ExportRequest, ExportWorkerData } from './messages'
import { licenseKeys } from '../../src/core/licenses'

// (the messages are the runner's API too: callers keep importing them from here)
export type { ExportJob, ExportReply, ExportRequest } from './messages'

export interface ExportRunnerOptions {
  idleMs: number
  timeoutMs: number
  maxHeapMb: number
  /** jobs waiting at most (503 past that) */
  maxQueued: number
  inProcess: boolean
}

export const DEFAULT_EXPORT_OPTIONS: ExportRunnerOptions = { idleMs: 10 * 60_000, timeoutMs: 60_000, maxHeapMb: 1024, maxQueued: 16, inProcess: false }

export class ExportFailed extends Error {
  constructor(readonly status: 404 | 500 | 503, message: string) { super(message); this.name = 'ExportFailed' }
}

interface Queued { job: ExportJob; resolve: (r: ExportReply) => void }

/** Emits 'started' and 'stopped' as its worker comes and goes. */
export class ExportRunner extends EventEmitter {
  private worker: Worker | null = null
  private ready: Promise<void> | null = null
  private readonly queue: Queued[] = []
  private current: (Queued & { timer: NodeJS.Timeout }) | null = null
  private idle: NodeJS.Timeout | null = null
  private nextId = 1
  private closed = false
  /** workers started so far (for tests and the health of the process) */
  started = 0

  constructor(private readonly opts: ExportRunnerOptions, private readonly log: Logger) { super() }

  /** true while a job runs in the worker or waits for it */
  get busy(): boolean { return this.current !== null || this.queue.length > 0 }

  /** jobs run on the server's own thread (tests, benchmarks) */
  get inProcess(): boolean { return !!this.opts.inProcess }

  /** Resolves with the export, or rejects with ExportFailed (404: no such sheet; 503: too long or too big). */
  async run(request: ExportRequest): Promise<Exclude<ExportReply, { ok: false }>> {
    if (this.closed) throw new ExportFailed(503, 'the server is shutting down')
    if (this.queue.length >= this.opts.maxQueued) throw new ExportFailed(503, `${this.queue.length} exports are waiting already: try again in a moment`)
    const job = { ...request, id: this.nextId++ } as ExportJob
    const reply = this.opts.inProcess ? await runHere(job) : await new Promise<ExportReply>(resolve => { this.queue.push({ job, resolve }); this.pump() })
    if (!reply.ok) throw new ExportFailed(reply.status, reply.message)
    return reply
  }

  async close(): Promise<void> {
    this.closed = true
    for (const q of this.queue.splice(0)) q.resolve({ id: q.job.id, ok: false, status: 503, message: 'the server is shutting down' })
    this.finish({ id: this.current?.job.id ?? 0, ok: false, status: 503, message: 'the server is shutting down' })
    await this.stop()
  }

  private pump(): void {
    if (this.current || this.closed) return
    const next = this.queue.shift()
    if (!next) return
    if (this.idle) { clearTimeout(this.idle); this.idle = null }
    const timer = setTimeout(() => {
      this.log.warn(`[export] an export took longer than ${Math.round(this.opts.timeoutMs / 1000)} s: its worker is stopped`)
      // the worker goes first, so that the next job starts a new one
      void this.stop()
      this.finish({ id: next.job.id, ok: false, status: 503, message: `the export took longer than ${Math.round(this.opts.timeoutMs / 1000)} s` })
    }, this.opts.timeoutMs)
    this.current = { ...next, timer }
    let started: Promise<void>
    try {
      started = this.start()
    } catch (e) {
      // a worker that cannot even be made (no threads left): this job fails, the next one tries again
      started = Promise.reject(e as Error)
    }
    void started.then(
      () => { if (this.current?.job === next.job) this.worker?.postMessage(next.job) },
      (e: Error) => this.finish({ id: next.job.id, ok: false, status: 503, message: `the export could not start: ${e.message}` }),
    )
  }

  /** settles the running job with `reply` (once) and starts the next */
  private finish(reply: ExportReply): void {
    const cur = this.current
    if (!cur || cur.job.id !== reply.id) return
    clearTimeout(cur.timer)
    this.current = null
    cur.resolve(reply)
    if (this.queue.length) this.pump()
    else if (!this.closed) {
      this.idle = setTimeout(() => void this.stop(), this.opts.idleMs)
      this.idle.unref()
    }
  }

  private start(): Promise<void> {
    if (this.ready) return this.ready
    // (its console goes to the server's own output)
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb },
      // a thread has its own modules: the keys the server was given go with it (see ./worker.ts)
      workerData: { licenseKeys: licenseKeys() } satisfies ExportWorkerData,
    })
    this.worker = worker
    this.started++
    this.emit('started')
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: ExportReply | { ready: true }) => {
        if ('ready' in m) resolve()
        else this.finish(m)
      })
      const gone = (why: string) => {
        reject(new Error(why))
        if (this.worker !== worker) return
        this.worker = null
        this.ready = null
        this.emit('stopped')
        if (this.current) {
          this.log.warn(`[export] the export worker stopped: ${why}`)
          this.finish({ id: this.current.job.id, ok: false, status: 503, message: `the export failed: ${why}` })
        }
      }
      worker.on('error', (e: NodeJS.ErrnoException) => gone(e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'the workbook needs too much memory to export' : e.message.slice(0, 200)))
      worker.on('exit', code => gone(`exited (${code})`))
    })
    this.ready.catch(() => {})
    return this.ready
  }

  private async stop(): Promise<void> {
    if (this.idle) { clearTimeout(this.idle); this.idle = null }
    const w = this.worker
    this.worker = null
    this.ready = null
    if (!w) return
    await w.terminate()
    this.emit('stopped')
  }
}

/** The worker's job, on this thread. */
async function runHere(job: ExportJob): Promise<ExportReply> {
  const { runExport } = await import('./job')
  return runExport(job)
}
