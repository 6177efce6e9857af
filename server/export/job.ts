/**
 * One export job: the workbook's state (one encoded update) read into a doc of its own, and the file
 * or the review pack made from it. Runs in the export worker (./worker.ts), or in process.
 */
import * as Y from 'yjs'
import { getTitle } from '../../src/core/workbook/schema'
import { exportXlsx } from './xlsx'
import { exportCsv, SheetNotFound } from './csv'
import { reviewData } from './review'
import { computeView, firstScreenOf, viewOf } from '../../src/core/workbook/view'
import type { ExportJob, ExportReply } from './messages'
import { runDiff, trimKept } from './diffs'
import { sourceOf } from '../../src/core/history/baselines'

export async function runExport(job: ExportJob): Promise<ExportReply> {
  const doc = new Y.Doc()
  try {
    // a diff reads its states into docs it may keep (./diffs.ts)
    trimKept()
    if (job.kind === 'diff') {
      const { diff, title } = runDiff(job)
      return { id: job.id, ok: true, kind: 'diff', title: getTitle(title) || 'workbook', diff }
    }
    Y.applyUpdate(doc, job.state)
    const title = getTitle(doc) || 'workbook'
    switch (job.kind) {
      case 'xlsx': {
        const images = job.images ? new Map(job.images.map(([id, png]) => [id, Buffer.from(png)])) : undefined
        const { buffer, report } = await exportXlsx(doc, { author: job.author, images, filters: job.filters, now: job.now === undefined ? undefined : new Date(job.now), baselines: job.baselines && sourceOf(job.baselines) })
        return { id: job.id, ok: true, kind: 'xlsx', title, body: buffer, report }
      }
      case 'csv': {
        const { text, sheetName } = exportCsv(doc, job.sheet, job.baselines && sourceOf(job.baselines))
        return { id: job.id, ok: true, kind: 'csv', title, body: Buffer.from(text, 'utf8'), sheetName }
      }
      case 'json':
        return { id: job.id, ok: true, kind: 'json', title, review: reviewData(doc, job.baselines && sourceOf(job.baselines)) }
      case 'view': {
        const view = viewOf(doc)
        // `first`: with the first screen computed, so that a page shows values before its own engine is built
        if (job.first) {
          const hf = computeView(view)
          try {
            view.first = firstScreenOf(view, hf)
          } finally {
            hf.destroy()
          }
        }
        return { id: job.id, ok: true, kind: 'view', title, json: JSON.stringify(view) }
      }
    }
  } catch (e) {
    if (e instanceof SheetNotFound) return { id: job.id, ok: false, status: 404, message: e.message }
    return { id: job.id, ok: false, status: 500, message: (e as Error).message ?? String(e) }
  } finally {
    doc.destroy()
  }
}

