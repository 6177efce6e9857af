/** The SQLite store's accounts, sessions and memberships (server/store/accounts.ts). */
import type Database from 'better-sqlite3'
import type { Role } from '../../src/core/access/access'
import {
  ACCOUNT_COLUMNS, accountFromRow, memberFromRow,
  type AccountClaims, type AccountRecord, type AccountRow, type AccountStore, type MemberRecord, type MemberRow, type SessionRecord,
} from './accounts'

/** Tables of schema version 10 (run inside the store's migration). */
export const SQLITE_ACCOUNTS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    avatar TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    UNIQUE (issuer, subject)
  );
  CREATE INDEX IF NOT EXISTS accounts_email ON accounts (email);
  CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id);
  CREATE TABLE IF NOT EXISTS link_bindings (
    link_id TEXT PRIMARY KEY,
    workbook_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE
  );
  CREATE INDEX IF NOT EXISTS link_bindings_workbook ON link_bindings (workbook_id);
  CREATE TABLE IF NOT EXISTS members (
    workbook_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (workbook_id, account_id)
  );
  CREATE INDEX IF NOT EXISTS members_account ON members (account_id);
`

export class SqliteAccounts implements AccountStore {
  private readonly stmts

  constructor(private readonly db: Database.Database, private readonly check: () => void) {
    this.stmts = {
      bySubject: db.prepare<[string, string], AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE issuer = ? AND subject = ?`),
      byId: db.prepare<[string], AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ?`),
      byEmail: db.prepare<[string], AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE email = ? ORDER BY last_seen_at DESC`),
      insertAccount: db.prepare('INSERT INTO accounts (id, issuer, subject, email, name, avatar, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      refreshAccount: db.prepare('UPDATE accounts SET email = ?, name = ?, avatar = ?, last_seen_at = ? WHERE id = ?'),
      insertSession: db.prepare('INSERT INTO sessions (id_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)'),
      session: db.prepare<[string, number], { account_id: string; created_at: number; expires_at: number }>('SELECT account_id, created_at, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?'),
      deleteSession: db.prepare('DELETE FROM sessions WHERE id_hash = ?'),
      deleteSessionsOf: db.prepare('DELETE FROM sessions WHERE account_id = ?'),
      deleteExpired: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
      bind: db.prepare('INSERT INTO link_bindings (link_id, workbook_id, account_id) VALUES (?, ?, ?) ON CONFLICT (link_id) DO UPDATE SET account_id = excluded.account_id'),
      unbind: db.prepare('DELETE FROM link_bindings WHERE link_id = ?'),
      binding: db.prepare<[string], { account_id: string }>('SELECT account_id FROM link_bindings WHERE link_id = ?'),
      bindings: db.prepare<[string], { link_id: string; account_id: string }>('SELECT link_id, account_id FROM link_bindings WHERE workbook_id = ?'),
      setMember: db.prepare('INSERT INTO members (workbook_id, account_id, role, added_at) VALUES (?, ?, ?, ?) ON CONFLICT (workbook_id, account_id) DO UPDATE SET role = excluded.role'),
      removeMember: db.prepare('DELETE FROM members WHERE workbook_id = ? AND account_id = ?'),
      members: db.prepare<[string], MemberRow>('SELECT workbook_id, account_id, role, added_at FROM members WHERE workbook_id = ? ORDER BY added_at'),
      membershipsOf: db.prepare<[string], MemberRow>('SELECT workbook_id, account_id, role, added_at FROM members WHERE account_id = ? ORDER BY added_at DESC'),
      dropMembers: db.prepare('DELETE FROM members WHERE workbook_id = ?'),
      dropBindings: db.prepare('DELETE FROM link_bindings WHERE workbook_id = ?'),
    }
  }

  async upsertAccount(c: AccountClaims, newId: string, now: number): Promise<AccountRecord> {
    this.check()
    return this.db.transaction(() => {
      const found = this.stmts.bySubject.get(c.issuer, c.subject)
      if (found) this.stmts.refreshAccount.run(c.email, c.name, c.avatar, now, found.id)
      else this.stmts.insertAccount.run(newId, c.issuer, c.subject, c.email, c.name, c.avatar, now, now)
      return accountFromRow(this.stmts.byId.get(found?.id ?? newId)!)
    })()
  }

  async getAccount(id: string): Promise<AccountRecord | null> {
    this.check()
    const r = this.stmts.byId.get(id)
    return r ? accountFromRow(r) : null
  }

  async findAccountsByEmail(email: string): Promise<AccountRecord[]> {
    this.check()
    return this.stmts.byEmail.all(email.toLowerCase()).map(accountFromRow)
  }

  async createSession(idHash: string, accountId: string, now: number, expiresAt: number): Promise<void> {
    this.check()
    this.stmts.deleteExpired.run(now)
    this.stmts.insertSession.run(idHash, accountId, now, expiresAt)
  }

  async findSession(idHash: string, now: number): Promise<SessionRecord | null> {
    this.check()
    const r = this.stmts.session.get(idHash, now)
    return r ? { accountId: r.account_id, createdAt: r.created_at, expiresAt: r.expires_at } : null
  }

  async deleteSession(idHash: string): Promise<void> { this.check(); this.stmts.deleteSession.run(idHash) }

  async deleteSessionsOf(accountId: string): Promise<number> { this.check(); return this.stmts.deleteSessionsOf.run(accountId).changes }

  async bindLink(linkId: string, workbookId: string, accountId: string | null): Promise<void> {
    this.check()
    if (accountId === null) this.stmts.unbind.run(linkId)
    else this.stmts.bind.run(linkId, workbookId, accountId)
  }

  async linkBinding(linkId: string): Promise<string | null> { this.check(); return this.stmts.binding.get(linkId)?.account_id ?? null }

  async linkBindings(workbookId: string): Promise<Map<string, string>> {
    this.check()
    return new Map(this.stmts.bindings.all(workbookId).map(r => [r.link_id, r.account_id]))
  }

  async setMember(workbookId: string, accountId: string, role: Role, now: number): Promise<void> { this.check(); this.stmts.setMember.run(workbookId, accountId, role, now) }
  async removeMember(workbookId: string, accountId: string): Promise<void> { this.check(); this.stmts.removeMember.run(workbookId, accountId) }
  async members(workbookId: string): Promise<MemberRecord[]> { this.check(); return this.stmts.members.all(workbookId).map(memberFromRow) }
  async membershipsOf(accountId: string): Promise<MemberRecord[]> { this.check(); return this.stmts.membershipsOf.all(accountId).map(memberFromRow) }

  /** Called inside the store's deleteWorkbook transaction: what the workbook's id names goes with it. */
  deleteWorkbook(id: string): void {
    this.stmts.dropMembers.run(id)
    this.stmts.dropBindings.run(id)
  }
}
