/**
 * .xlsx import: the whole of it — checking the archive, parsing, building the workbook's Y.Doc and
 * encoding its state — runs in a worker thread (server/import/worker.ts) with a heap limit and a
 * deadline, so neither a hostile file nor a big honest one holds up the server's event loop; this
 * thread only starts the worker and stores the state it answers. The model it reads is capped in
 * sheets, rows, columns and cells. Everything read is data: names and values never become object keys.
 */
import { Worker } from 'node:worker_threads'
import { BadFile, checkSignature } from './zip'
import type { ImportedWorkbook } from './model'
import type { BuildOptions, ImportReport } from './build'
import { DEFAULT_IMPORT_LIMITS, checkImportLimits, type ImportLimits } from './options'
import type { ImportJob } from './worker'

export { BadFile } from './zip'
export { buildFromImport, typeFromFormat, type BuildOptions, type ImportReport } from './build'
export { DEFAULT_IMPORT_LIMITS } from './options'
export type { ImportLimits } from './options'

/** Imports running at once, server-wide: each worker may take `maxHeapMb`. */
export const MAX_PARSING = 2
let parsing = 0

export interface ImportedState { state: Uint8Array; report: ImportReport; title: string }

/** The whole import in a worker: the new workbook's encoded state and the report; rejects with BadFile. */
export function importXlsx(buf: Buffer, build: BuildOptions, given: ImportLimits = DEFAULT_IMPORT_LIMITS): Promise<ImportedState> {
  return inWorker<ImportedState>(buf, given, build)
}

/** Only the parse (in a worker): the plain model of the file. */
export function readXlsx(buf: Buffer, given: ImportLimits = DEFAULT_IMPORT_LIMITS): Promise<ImportedWorkbook> {
  return inWorker<{ model: ImportedWorkbook }>(buf, given).then(m => m.model)
}

type Answer = { ok: true } & Record<string, unknown> | { ok: false; status?: BadFile['status']; message: string }

async function inWorker<T>(buf: Buffer, given: ImportLimits, build?: BuildOptions): Promise<T> {
  const limits = checkImportLimits(given)
  checkSignature(buf)
  if (parsing >= MAX_PARSING) throw new BadFile(503, 'the server is reading other files; try again in a moment')
  parsing++
  try {
    return await new Promise<T>((resolve, reject) => {
      const copy = new Uint8Array(buf).buffer
      const job: ImportJob = { buffer: copy, limits, ...(build ? { build } : {}) }
      // the worker is TypeScript too: its bootstrap registers tsx in that thread (under tsx or vitest alike)
      const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
        workerData: job, transferList: [copy], resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb }, stdout: true, stderr: true,
      })
      let done = false
      const finish = (fn: () => void) => { if (!done) { done = true; clearTimeout(timer); fn(); void worker.terminate() } }
      const timer = setTimeout(() => finish(() => reject(new BadFile(422, `the file took longer than ${Math.round(limits.timeoutMs / 1000)} s to read`))), limits.timeoutMs)
      worker.on('message', (m: Answer) => finish(() => {
        if (m.ok) resolve(m as unknown as T)
        else if (m.status) reject(new BadFile(m.status, m.message))
        else if (m.message.startsWith('limit: ')) reject(new BadFile(413, `the file holds ${m.message.slice(7)}`))
        else reject(new BadFile(422, `the file could not be read as a workbook: ${m.message.slice(0, 200)}`))
      }))
      worker.on('error', (e: NodeJS.ErrnoException) => finish(() => reject(
        e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new BadFile(413, 'the file needs too much memory to read') : new BadFile(422, `the file could not be read: ${e.message.slice(0, 200)}`),
      )))
      worker.on('exit', code => finish(() => reject(new BadFile(422, `reading the file stopped (${code})`))))
    })
  } finally {
    parsing--
  }
}
