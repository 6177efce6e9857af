/**
 * Diff jobs (src/core/history/diff.ts) in the export worker, with what a review asks for again kept:
 *
 *  - the two versions diffed last, decoded, with their values once computed (versions never change);
 *  - the current state of the workbook diffed last, as a doc with its formula engine, brought up to date
 *    with only what changed since (`Y.diffUpdate` against the doc's state vector reads the new state
 *    without building it; the engine follows the doc incrementally), instead of decoding and computing
 *    the whole workbook again for every "compare with now".
 */
import * as Y from 'yjs'
import { getHeapStatistics } from 'node:v8'
import { computeView, viewOf } from '../../src/core/workbook/view'
import { FormulaEngine, toCellValue, type CellValue } from '../../src/core/formulas/engine'
import { diffDocs, type WorkbookDiff } from '../../src/core/history/diff'
import type { ExportJob } from './messages'

type ValueAt = (sheetId: string, row: number, col: number) => CellValue
interface Side { doc: Y.Doc; value: ValueAt; drop(): void }

const versions = new Map<string, Side>()
const KEPT_VERSIONS = 2
let current: (Side & { key: string }) | null = null

function version(state: Uint8Array): Side {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, state)
  let hf: ReturnType<typeof computeView> | undefined
  return {
    doc,
    value: (sheetId, row, col) => {
      hf ??= computeView(viewOf(doc))
      const sheet = hf.getSheetId(sheetId)
      return sheet === undefined ? null : toCellValue(hf.getCellValue({ sheet, row, col }))
    },
    drop: () => { hf?.destroy(); doc.destroy() },
  }
}

function keptVersion(key: string | undefined, state: Uint8Array): Side {
  if (key === undefined) return version(state)
  const kept = versions.get(key)
  if (kept) { versions.delete(key); versions.set(key, kept); return kept }
  const side = version(state)
  versions.set(key, side)
  while (versions.size > KEPT_VERSIONS) {
    const [k, old] = versions.entries().next().value!
    versions.delete(k)
    old.drop()
  }
  return side
}

/** The workbook's current state: the kept doc brought up to date when it is this workbook's, else a new one. */
function currentSide(key: string | undefined, state: Uint8Array): Side {
  if (key !== undefined && current?.key === key) {
    Y.applyUpdate(current.doc, Y.diffUpdate(state, Y.encodeStateVector(current.doc)))
    return current
  }
  const doc = new Y.Doc()
  Y.applyUpdate(doc, state)
  if (key === undefined) return version(state)
  current?.drop()
  let engine: FormulaEngine | undefined
  current = {
    key, doc,
    value: (sheetId, row, col) => (engine ??= new FormulaEngine(doc)).getValue(sheetId, row, col),
    drop: () => { engine?.destroy(); doc.destroy() },
  }
  return current
}

/** Kept sides are not dropped here; a side made for this job alone is. */
export function runDiff(job: Extract<ExportJob, { kind: 'diff' }>): { diff: WorkbookDiff; title: Y.Doc } {
  const from = keptVersion(job.fromKey, job.from)
  const to = job.toKey ? keptVersion(job.toKey, job.state) : currentSide(job.currentKey, job.state)
  const diff = diffDocs(from.doc, to.doc, { values: job.values, valuesOf: { before: from.value, after: to.value } })
  if (!job.fromKey) from.drop()
  if (!job.toKey && !job.currentKey) to.drop()
  return { diff, title: to.doc }
}

/**
 * Lets the kept docs go when the worker's heap is past half its limit (a large export is about to need
 * it): what is kept only saves time, and a worker out of memory fails the job in hand.
 */
export function trimKept(): void {
  const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics()
  if (used < limit / 2) return
  for (const side of versions.values()) side.drop()
  versions.clear()
  current?.drop()
  current = null
}
