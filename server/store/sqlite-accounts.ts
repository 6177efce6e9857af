/** The SQLite store's accounts, sessions and memberships (server/store/accounts.ts). */
import type Database from 'better-sqlite3'
import type { AccountStore } from './accounts'

/** Tables of schema version 10 (run inside the store's migration). */
export const SQLITE_ACCOUNTS_SCHEMA = ''

export class SqliteAccounts implements AccountStore {
  constructor(private readonly db: Database.Database, private readonly check: () => void) {}

  /** Called inside the store's deleteWorkbook transaction: what the workbook's id names goes with it. */
  deleteWorkbook(_id: string): void { void this.db; void this.check }
}
