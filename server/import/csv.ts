/**
 * Streams an uploaded CSV into a worker thread: each chunk of the request goes to the worker as it
 * arrives (the request is paused while the worker is behind), so the server's thread never holds the
 * file nor parses it, and a file past a limit is cut off as soon as it is. The worker's heap limit
 * and a deadline bound what a hostile file can take.
 */
import { Worker } from 'node:worker_threads'
import { EventEmitter } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { HttpError } from '../http/util'
import type { CsvJob, CsvLimits, CsvWorkerMessage } from './csv-model'

/** CSV imports reading at once, server-wide */
export const MAX_CSV_PARSING = 2
let parsing = 0

const IN_FLIGHT_HIGH = 16, IN_FLIGHT_LOW = 4

/** 'reading' (kind) when a worker starts on an upload (for a sheet import: after the workbook's state was taken) */
export const csvEvents = new EventEmitter()

export const isCsvRequest = (req: IncomingMessage): boolean =>
  /^\s*(text\/csv|text\/tab-separated-values|application\/csv)\b/i.test(String(req.headers['content-type'] ?? ''))

type Ok = Extract<CsvWorkerMessage, { ok: true }>

export async function readCsv(req: IncomingMessage, job: CsvJob): Promise<Ok> {
  const limits: CsvLimits = job.limits
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limits.maxBytes) {
    req.resume()
    throw new HttpError(413, `the file is larger than ${Math.round(limits.maxBytes / 1048576)} MB`, { Connection: 'close' })
  }
  if (parsing >= MAX_CSV_PARSING) { req.resume(); throw new HttpError(503, 'the server is reading other files; try again in a moment') }
  parsing++
  try {
    return await stream(req, job, limits)
  } finally {
    parsing--
  }
}

function stream(req: IncomingMessage, job: CsvJob, limits: CsvLimits): Promise<Ok> {
  return new Promise<Ok>((resolve, reject) => {
    const worker = new Worker(new URL('./csv-worker-boot.mjs', import.meta.url), {
      workerData: job, resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb }, stdout: true, stderr: true,
    })
    let done = false, inFlight = 0, size = 0, ended = false
    csvEvents.emit('reading', job.kind)
    const finish = (fn: () => void) => {
      if (done) return
      done = true
      clearTimeout(timer)
      req.off('data', onData)
      if (!ended) req.resume() // drain what is still coming, unread
      fn()
      void worker.terminate()
    }
    const timer = setTimeout(() => finish(() => reject(new HttpError(422, `the file took longer than ${Math.round(limits.timeoutMs / 1000)} s to read`))), limits.timeoutMs)
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limits.maxBytes) { finish(() => reject(new HttpError(413, `the file is larger than ${Math.round(limits.maxBytes / 1048576)} MB`, { Connection: 'close' }))); return }
      // a copy of its own (a socket's chunk may share its memory with others), moved to the worker
      const copy = new Uint8Array(chunk)
      worker.postMessage({ chunk: copy }, [copy.buffer])
      if (++inFlight >= IN_FLIGHT_HIGH) req.pause()
    }
    req.on('data', onData)
    req.on('end', () => { ended = true; if (!done) worker.postMessage({ end: true }) })
    req.on('error', e => finish(() => reject(new HttpError(400, `the upload could not be read: ${e.message}`))))
    // a client gone mid-upload: the worker is stopped now, not at the deadline
    req.on('close', () => { if (!ended) finish(() => reject(new HttpError(400, 'the upload was cut off'))) })
    worker.on('message', (m: CsvWorkerMessage | { ack: true }) => {
      if ('ack' in m) { if (--inFlight <= IN_FLIGHT_LOW && req.isPaused() && !done) req.resume(); return }
      finish(() => (m.ok ? resolve(m) : reject(new HttpError(m.status, m.message))))
    })
    worker.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(
      e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new HttpError(413, 'the file needs too much memory to read') : new HttpError(422, `the file could not be read: ${e.message.slice(0, 200)}`),
    )))
    worker.on('exit', code => finish(() => reject(new HttpError(422, `reading the file stopped (${code})`))))
  })
}
