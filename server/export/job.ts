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
import { diffDocs } from '../../src/core/history/diff'
import { sourceOf } from '../../src/core/history/baselines'

/**
 * Versions diffed lately, decoded and with their values once computed: a review diffs the same version
 * against now again and again (refresh, the review pack). Versions never change; two are kept.
 */
interface Decoded { doc: Y.Doc; hf: () => ReturnType<typeof computeView>; drop(): void }
const versions = new Map<string, Decoded>()
const KEPT_VERSIONS = 2

function decoded(key: string | undefined, state: Uint8Array): Decoded {
  const kept = key === undefined ? undefined : versions.get(key)
  if (kept) { versions.delete(key!); versions.set(key!, kept); return kept }
  const doc = new Y.Doc()
  Y.applyUpdate(doc, state)
  let hf: ReturnType<typeof computeView> | undefined
  const d: Decoded = { doc, hf: () => (hf ??= computeView(viewOf(doc))), drop: () => { hf?.destroy(); doc.destroy() } }
  if (key !== undefined) {
    versions.set(key, d)
    while (versions.size > KEPT_VERSIONS) { const [k, old] = versions.entries().next().value!; versions.delete(k); old.drop() }
  }
  return d
}

export async function runExport(job: ExportJob): Promise<ExportReply> {
  const doc = new Y.Doc()
  try {
    // a diff to a version kept decoded reads that one instead
    const cachedTo = job.kind === 'diff' && job.toKey ? decoded(job.toKey, job.state) : null
    if (!cachedTo) Y.applyUpdate(doc, job.state)
    const title = getTitle(cachedTo?.doc ?? doc) || 'workbook'
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
      case 'diff': {
        const from = decoded(job.fromKey, job.from)
        const to = cachedTo
        try {
          const diff = diffDocs(from.doc, to?.doc ?? doc, { values: job.values, engines: { before: from.hf, after: to?.hf } })
          return { id: job.id, ok: true, kind: 'diff', title, diff }
        } finally {
          if (!job.fromKey) from.drop()
        }
      }
    }
  } catch (e) {
    if (e instanceof SheetNotFound) return { id: job.id, ok: false, status: 404, message: e.message }
    return { id: job.id, ok: false, status: 500, message: (e as Error).message ?? String(e) }
  } finally {
    doc.destroy()
  }
}

