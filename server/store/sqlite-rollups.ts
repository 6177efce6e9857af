/** The SQLite store's roll-ups (server/store/rollups.ts). */
import type Database from 'better-sqlite3'
import type { RollupStore } from './rollups'

/** Tables of schema version 8 (run inside the store's migration). */
export const SQLITE_ROLLUPS_SCHEMA = ''

export class SqliteRollups implements RollupStore {
  constructor(private readonly db: Database.Database, private readonly check: () => void) {}

  /** Called inside the store's deleteWorkbook transaction: what the workbook's id names goes with it. */
  deleteWorkbook(_id: string): void { void this.db; void this.check }
}
