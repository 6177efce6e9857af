/**
 * The import worker: the whole import of an .xlsx runs in this thread — checking the archive, parsing
 * (server/import/read.ts), and, for a new workbook, building its Y.Doc and encoding its state — so a
 * big or hostile file is cut off by the parent's timer and heap limit and never holds up the server's
 * event loop. The state goes back as a transferred buffer; the server's thread only stores it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import * as Y from 'yjs'
import { BadFile, checkZip } from './zip'
import { readWorkbook } from './read'
import { buildFromImport, type BuildOptions } from './build'
import type { ImportLimits } from './options'
import { getTitle } from '../../src/core/workbook/schema'

export interface ImportJob { buffer: ArrayBuffer; limits: ImportLimits; build?: BuildOptions }

async function run(job: ImportJob): Promise<void> {
  const { limits } = job
  checkZip(Buffer.from(job.buffer), limits)
  const model = await readWorkbook(job.buffer, { maxSheets: limits.maxSheets, maxCells: limits.maxCells, maxRows: limits.maxRows, maxCols: limits.maxCols })
  if (!job.build) { parentPort!.postMessage({ ok: true, model }); return }
  const doc = new Y.Doc()
  const report = buildFromImport(doc, model, { ...job.build, maxGridCells: limits.maxGridCells })
  const state = Y.encodeStateAsUpdate(doc)
  const title = getTitle(doc)
  doc.destroy()
  parentPort!.postMessage({ ok: true, state, report, title }, [state.buffer as ArrayBuffer])
}

run(workerData as ImportJob).catch(e => parentPort!.postMessage(
  e instanceof BadFile ? { ok: false, status: e.status, message: e.message } : { ok: false, message: e instanceof Error ? e.message : String(e) },
))
