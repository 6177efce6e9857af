/**
 * The PostgreSQL and Redis the tests talk to: 127.0.0.1 by default (scripts/ensure-services.sh starts
 * them when they are installed but stopped), or TEST_DATABASE_URL / TEST_REDIS_URL. Each test gets its
 * own PostgreSQL schema and Redis key prefix, so test files never see each other's data.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { PostgresStore } from '../../server/store/postgres'

export const DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres:postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379'

export const uniqueName = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`

/** A PostgresStore in a fresh schema; `drop()` removes the schema (after the store is closed). */
export async function freshPostgres(schema = uniqueName('pw_test')): Promise<{ store: PostgresStore; schema: string; drop: () => Promise<void> }> {
  const store = await new PostgresStore(DATABASE_URL, { schema }).open()
  return {
    store, schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: DATABASE_URL })
      await c.connect()
      try { await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`) } finally { await c.end() }
    },
  }
}
