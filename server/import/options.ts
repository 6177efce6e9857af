/**
 * What an import takes, each rule declared once (zod): the request's options (query string of
 * POST /api/workbooks/import; the body is the file) and the server's limits on what a file may hold.
 */
import { z } from 'zod'
import { locale, name, timeZone, title } from '../http/fields'

/** ?lang= (of the fallback title and the owner's name), ?title= (else the file's), ?name= (the owner's), ?timeZone= (the importer's) */
export const importQuery = z.object({ lang: locale, title: title.optional(), name, timeZone })
export type ImportQuery = z.output<typeof importQuery>

const count = z.int({ error: 'must be a positive whole number' }).positive({ error: 'must be a positive whole number' })

export const importLimits = z.object({
  maxEntries: count,
  maxUnpackedBytes: count,
  /** the parse is stopped after this long */
  timeoutMs: count,
  /** heap of the parsing worker */
  maxHeapMb: count,
  maxSheets: count,
  maxCells: count,
  maxRows: count,
  maxCols: count,
  /** rows × columns of all sheets together (a few cells far apart would make a huge empty grid) */
  maxGridCells: count,
})
export type ImportLimits = z.output<typeof importLimits>

/** The limits, or an error naming the one that is wrong (a mistake in the server's configuration). */
export function checkImportLimits(limits: unknown): ImportLimits {
  const r = importLimits.safeParse(limits)
  if (r.success) return r.data
  const issue = r.error.issues[0]!
  throw new Error(`import limits: ${issue.path.join('.')} ${issue.message}`)
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = {
  maxEntries: 2_000,
  // a 100,000-row × 10-column sheet with its formulas (issue 22: about 18 s to import on shared CPUs,
  // all of it in the worker) fits, with room to spare
  maxUnpackedBytes: 256 * 1024 * 1024,
  timeoutMs: 60_000,
  maxHeapMb: 1024,
  maxSheets: 50,
  maxCells: 1_500_000,
  maxRows: 200_000,
  maxCols: 500,
  maxGridCells: 3_000_000,
}
