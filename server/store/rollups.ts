/**
 * What the store keeps of roll-up workbooks: their configuration and sources (issue 21). Shared by the SQLite and the PostgreSQL
 * implementations (sqlite-rollups.ts, postgres-rollups.ts).
 *
 * A roll-up is a workbook (its id is the workbook's); its sources are other workbooks, each added with a
 * share link of theirs. Only the link's id and the SHA-256 of its token are kept, never the token. A
 * source is available while that link exists, is not revoked and belongs to the source workbook: the
 * store answers that with the sources (a join on the links), so a revoke anywhere shows at the next read.
 */

import type { MeasureFn, RollupMode } from '../../src/core/rollup/plan'
export { MEASURE_FNS, type MeasureFn, type RollupMode } from '../../src/core/rollup/plan'

/** One aggregated column: `column` and `weight` are column keys or titles of the template sheet. */
export interface Measure { column: string; fn: MeasureFn; weight?: string }

export interface RollupConfig {
  /** the roll-up workbook's id */
  id: string
  template: string
  /** the template's sheet key ('' when the sheet is matched by name) */
  sheetKey: string
  /** the sheet's name (zh-CN, as the template builds it): the match when a source's sheet has no key */
  sheetName: string
  mode: RollupMode
  /** aggregate: the key column (a key or title) */
  key: string | null
  measures: Measure[]
  createdAt: number
}

export interface RollupSourceInput {
  workbookId: string
  /** the link the token was, or null when the token was no link (shown unavailable) */
  linkId: string | null
  tokenHash: string
  addedAt: number
}

export interface RollupSource extends RollupSourceInput {
  position: number
  /** its link is live and belongs to the workbook */
  available: boolean
}

export interface RollupStore {
  /** Records a roll-up for an existing workbook, with its sources in order. */
  create(config: RollupConfig, sources: readonly RollupSourceInput[]): Promise<void>
  /** The roll-up of this workbook id, or null when the workbook is none. */
  get(id: string): Promise<RollupConfig | null>
  /** Its sources in order, each with whether its link is still good. */
  sources(id: string): Promise<RollupSource[]>
  /** Adds a source (at the end), or replaces the link of one already there. */
  addSource(id: string, source: RollupSourceInput): Promise<void>
  /** Returns false when the roll-up had no such source. */
  removeSource(id: string, workbookId: string): Promise<boolean>
}

export interface RollupRow {
  id: string; template: string; sheet_key: string; sheet_name: string; mode: string; key_column: string | null; measures: string; created_at: number | string
}
export interface SourceRow {
  workbook_id: string; link_id: string | null; token_hash: string; position: number; added_at: number | string; available: number | boolean
}

export const configFromRow = (r: RollupRow): RollupConfig => ({
  id: r.id, template: r.template, sheetKey: r.sheet_key, sheetName: r.sheet_name, mode: r.mode === 'aggregate' ? 'aggregate' : 'stack',
  key: r.key_column, measures: JSON.parse(r.measures) as Measure[], createdAt: Number(r.created_at),
})

export const sourceFromRow = (r: SourceRow): RollupSource => ({
  workbookId: r.workbook_id, linkId: r.link_id, tokenHash: r.token_hash, position: r.position, addedAt: Number(r.added_at), available: !!r.available,
})

/** The select both stores list sources with ($1 / ?: the roll-up id). */
export const SOURCES_SELECT = `SELECT s.workbook_id, s.link_id, s.token_hash, s.position, s.added_at,
    CASE WHEN l.id IS NOT NULL AND l.revoked_at IS NULL AND l.workbook_id = s.workbook_id THEN 1 ELSE 0 END AS available
  FROM rollup_sources s LEFT JOIN links l ON l.id = s.link_id`
