/**
 * What the store keeps of a workbook's past: versions (full encoded states, so compaction of the
 * updates can never take what a version needs, and a version restores byte for byte) and the audit
 * trail (one entry per cell a stored change touched, and per link, protection, lock, restore and
 * export event), chained by hash.
 *
 * The chain: entry n's hash is SHA-256 over the previous entry's hash and entry n's fields in a fixed
 * order. The store computes it when it appends (inside its own transaction, so two instances appending
 * to one workbook at once still make one chain); `verifyChain` recomputes it and names the first entry
 * whose stored fields no longer give its hash, or whose previous hash is not the entry before it.
 */
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import { brotliCompress, brotliDecompress, constants } from 'node:zlib'

const compress = promisify(brotliCompress), decompress = promisify(brotliDecompress)

/**
 * A version's state as stored: brotli at quality 5 (a Yjs state shrinks about 9×, in ~5 ms per 300 KB,
 * off the event loop in libuv's pool): full states every 200 changes would otherwise be most of the database.
 */
export const packState = async (state: Uint8Array): Promise<Buffer> =>
  compress(state, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: state.byteLength } })
export const unpackState = async (stored: Uint8Array, enc: string): Promise<Uint8Array> => {
  if (enc === 'raw') return stored
  if (enc !== 'br') throw new Error(`a version stored as ${enc}, which this server cannot read`)
  const b = await decompress(stored)
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

export interface VersionLock { sheetId: string; sheetName: string }

export interface VersionRecord {
  id: string
  workbookId: string
  /** null for automatic checkpoints */
  name: string | null
  /** epoch ms */
  at: number
  /** who edited since the version before (automatic ones) or who saved it (named ones) */
  by: string[]
  auto: boolean
  /** a sign-off lock saved this version */
  lock: VersionLock | null
  /** cells changed since the version before, by sheet id */
  summary: Record<string, number>
  /** bytes of the encoded state */
  size: number
}

export const AUDIT_ACTIONS = [
  'edit', 'refused', 'rows', 'cols', 'sheet', 'protect', 'lock', 'unlock', 'restore', 'version', 'copy',
  'link-create', 'link-revoke', 'export', 'comment',
] as const
export type AuditAction = typeof AUDIT_ACTIONS[number]

export interface AuditInput {
  at: number
  linkId: string
  /** the person's name on the link */
  by: string
  role: string
  action: AuditAction
  /** sheet id, or null for workbook-wide events */
  sheet: string | null
  /** A1 address at the time, or null */
  cell: string | null
  rowId: string | null
  colId: string | null
  /** JSON values: the cell input before and after (null: empty), or what the event changed */
  before: unknown
  after: unknown
  /** a short machine word or id (the refusal code, the export kind, the version id …) */
  detail: string | null
}

export interface AuditEntry extends AuditInput {
  /** 1, 2, 3 … per workbook */
  n: number
  /** SHA-256 over the entry before's hash and this entry's fields (the entry before's is not stored again) */
  hash: string
}

export interface AuditFilter {
  sheet?: string
  rowId?: string
  colId?: string
  /** person's name */
  by?: string
  /** epoch ms, inclusive */
  since?: number
  /** entries after this number (paging, oldest first) */
  afterN?: number
  /** entries before this number (paging, newest first) */
  beforeN?: number
  /** default oldest first */
  order?: 'asc' | 'desc'
  /** default 1000, at most 10,000 */
  limit?: number
}

export interface HistoryStore {
  /** Throws if the workbook does not exist. */
  saveVersion(v: VersionRecord, state: Uint8Array): Promise<void>
  /** Newest first, without states. */
  listVersions(workbookId: string): Promise<VersionRecord[]>
  getVersion(workbookId: string, id: string): Promise<VersionRecord | null>
  loadVersionState(workbookId: string, id: string): Promise<Uint8Array | null>
  /** Deletes automatic versions among `ids` (named ones stay); returns how many went. */
  thinVersions(workbookId: string, ids: readonly string[]): Promise<number>
  /** Appends entries in order, chaining each to the one before; returns them as stored. */
  appendAudit(workbookId: string, entries: readonly AuditInput[]): Promise<AuditEntry[]>
  /** Oldest first (`order: 'desc'`: newest first). */
  listAudit(workbookId: string, filter?: AuditFilter): Promise<AuditEntry[]>
}

export const GENESIS_HASH = '0'.repeat(64)
export const MAX_AUDIT_PAGE = 10_000

/** The entry's fields in the order the hash covers them. */
function hashedFields(e: AuditInput & { n: number }): string {
  return JSON.stringify([e.n, e.at, e.linkId, e.by, e.role, e.action, e.sheet, e.cell, e.rowId, e.colId, e.before ?? null, e.after ?? null, e.detail])
}

export function entryHash(prevHash: string, e: AuditInput & { n: number }): string {
  return createHash('sha256').update(prevHash).update('\n').update(hashedFields(e)).digest('hex')
}

/** Gives entries numbers and hashes after `last` (the workbook's newest entry, or null). */
export function chain(last: { n: number; hash: string } | null, entries: readonly AuditInput[]): (AuditEntry & { prevHash: string })[] {
  let n = last?.n ?? 0
  let prev = last?.hash ?? GENESIS_HASH
  return entries.map(e => {
    n++
    const hash = entryHash(prev, { ...e, n })
    const out = { ...e, n, prevHash: prev, hash }
    prev = hash
    return out
  })
}

export interface ChainCheck { ok: boolean; entries: number; brokenAt?: number }

/**
 * Walks a workbook's whole trail, oldest first, page by page: the first entry that does not follow from
 * the one before (a field edited, an entry removed or inserted) is `brokenAt`.
 */
export async function verifyChain(store: HistoryStore, workbookId: string): Promise<ChainCheck> {
  let prev = GENESIS_HASH
  let expectN = 1
  let count = 0
  for (;;) {
    const page = await store.listAudit(workbookId, { afterN: expectN - 1, limit: MAX_AUDIT_PAGE })
    for (const e of page) {
      if (e.n !== expectN || entryHash(prev, e) !== e.hash) return { ok: false, entries: count, brokenAt: expectN }
      prev = e.hash
      expectN++
      count++
    }
    if (page.length < MAX_AUDIT_PAGE) return { ok: true, entries: count }
  }
}

export const clampLimit = (limit: number | undefined): number => Math.max(1, Math.min(MAX_AUDIT_PAGE, limit ?? 1000))

export interface Retention { hourlyAfterMs: number; dailyAfterMs: number }

/**
 * Automatic versions the retention policy lets go: older than `hourlyAfterMs`, one per hour is kept
 * (the newest of the hour); older than `dailyAfterMs`, one per day. Named versions always stay.
 */
export function thinned(versions: readonly Pick<VersionRecord, 'id' | 'at' | 'auto'>[], now: number, policy: Retention): string[] {
  const keep = new Map<string, { id: string; at: number }>()
  const out: string[] = []
  for (const v of versions) {
    if (!v.auto) continue
    const age = now - v.at
    const bucket = age > policy.dailyAfterMs ? `d${Math.floor(v.at / 86_400_000)}` : age > policy.hourlyAfterMs ? `h${Math.floor(v.at / 3_600_000)}` : null
    if (bucket === null) continue
    const held = keep.get(bucket)
    if (!held) { keep.set(bucket, v); continue }
    if (v.at > held.at) { out.push(held.id); keep.set(bucket, v) } else out.push(v.id)
  }
  return out
}
