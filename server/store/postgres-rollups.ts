/** The PostgreSQL store's roll-ups (server/store/rollups.ts). */
import type pg from 'pg'
import {
  SOURCES_SELECT, configFromRow, sourceFromRow,
  type RollupConfig, type RollupRow, type RollupSource, type RollupSourceInput, type RollupStore, type SourceRow,
} from './rollups'

type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>
type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>

/** Tables of schema version 5 (run inside the store's migration; deleting a workbook cascades). */
export const POSTGRES_ROLLUPS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS rollups (
    id text PRIMARY KEY REFERENCES workbooks (id) ON DELETE CASCADE,
    template text NOT NULL,
    sheet_key text NOT NULL,
    sheet_name text NOT NULL,
    mode text NOT NULL CHECK (mode IN ('stack', 'aggregate')),
    key_column text,
    measures text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE TABLE IF NOT EXISTS rollup_sources (
    rollup_id text NOT NULL REFERENCES rollups (id) ON DELETE CASCADE,
    workbook_id text NOT NULL,
    link_id text,
    token_hash text NOT NULL,
    position integer NOT NULL,
    added_at bigint NOT NULL,
    PRIMARY KEY (rollup_id, workbook_id)
  );
`

const UPSERT = `INSERT INTO rollup_sources (rollup_id, workbook_id, link_id, token_hash, position, added_at)
  VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(position), -1) + 1 FROM rollup_sources WHERE rollup_id = $1), $5)
  ON CONFLICT (rollup_id, workbook_id) DO UPDATE SET link_id = excluded.link_id, token_hash = excluded.token_hash`

export class PostgresRollups implements RollupStore {
  constructor(private readonly q: Query, private readonly tx: Tx) {}

  async create(c: RollupConfig, sources: readonly RollupSourceInput[]): Promise<void> {
    await this.tx(async client => {
      await client.query('INSERT INTO rollups (id, template, sheet_key, sheet_name, mode, key_column, measures, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [c.id, c.template, c.sheetKey, c.sheetName, c.mode, c.key, JSON.stringify(c.measures), c.createdAt])
      for (const s of sources) await client.query(UPSERT, [c.id, s.workbookId, s.linkId, s.tokenHash, s.addedAt])
    })
  }

  async get(id: string): Promise<RollupConfig | null> {
    const { rows } = await this.q<RollupRow>('SELECT id, template, sheet_key, sheet_name, mode, key_column, measures, created_at FROM rollups WHERE id = $1', [id])
    return rows[0] ? configFromRow(rows[0]) : null
  }

  async sources(id: string): Promise<RollupSource[]> {
    const { rows } = await this.q<SourceRow>(`${SOURCES_SELECT} WHERE s.rollup_id = $1 ORDER BY s.position`, [id])
    return rows.map(sourceFromRow)
  }

  async addSource(id: string, s: RollupSourceInput): Promise<void> {
    await this.q(UPSERT, [id, s.workbookId, s.linkId, s.tokenHash, s.addedAt])
  }

  async removeSource(id: string, workbookId: string): Promise<boolean> {
    const r = await this.q('DELETE FROM rollup_sources WHERE rollup_id = $1 AND workbook_id = $2', [id, workbookId])
    return (r.rowCount ?? 0) > 0
  }
}
