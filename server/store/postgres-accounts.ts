/** The PostgreSQL store's accounts, sessions and memberships (server/store/accounts.ts). */
import type pg from 'pg'
import type { Role } from '../../src/core/access/access'
import {
  ACCOUNT_COLUMNS, accountFromRow, memberFromRow,
  type AccountClaims, type AccountRecord, type AccountRow, type AccountStore, type MemberRecord, type MemberRow, type SessionRecord,
} from './accounts'

type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>
type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>

/** Tables of schema version 7 (run inside the store's migration; deleting a workbook cascades). */
export const POSTGRES_ACCOUNTS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS accounts (
    id text PRIMARY KEY,
    issuer text NOT NULL,
    subject text NOT NULL,
    email text NOT NULL,
    name text NOT NULL,
    avatar text NOT NULL,
    created_at bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    UNIQUE (issuer, subject)
  );
  CREATE INDEX IF NOT EXISTS accounts_email ON accounts (email);
  CREATE TABLE IF NOT EXISTS sessions (
    id_hash text PRIMARY KEY,
    account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id);
  CREATE TABLE IF NOT EXISTS link_bindings (
    link_id text PRIMARY KEY,
    workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE
  );
  CREATE INDEX IF NOT EXISTS link_bindings_workbook ON link_bindings (workbook_id);
  CREATE TABLE IF NOT EXISTS members (
    workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role text NOT NULL,
    added_at bigint NOT NULL,
    PRIMARY KEY (workbook_id, account_id)
  );
  CREATE INDEX IF NOT EXISTS members_account ON members (account_id);
`

export class PostgresAccounts implements AccountStore {
  constructor(private readonly q: Query, private readonly tx: Tx) {}

  async upsertAccount(c: AccountClaims, newId: string, now: number): Promise<AccountRecord> {
    const r = await this.q<AccountRow>(
      `INSERT INTO accounts (id, issuer, subject, email, name, avatar, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
       ON CONFLICT (issuer, subject) DO UPDATE SET email = excluded.email, name = excluded.name, avatar = excluded.avatar, last_seen_at = excluded.last_seen_at
       RETURNING ${ACCOUNT_COLUMNS}`, [newId, c.issuer, c.subject, c.email, c.name, c.avatar, now])
    return accountFromRow(r.rows[0]!)
  }

  async getAccount(id: string): Promise<AccountRecord | null> {
    const r = await this.q<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1`, [id])
    return r.rows[0] ? accountFromRow(r.rows[0]) : null
  }

  async findAccountsByEmail(email: string): Promise<AccountRecord[]> {
    const r = await this.q<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE email = $1 ORDER BY last_seen_at DESC`, [email.toLowerCase()])
    return r.rows.map(accountFromRow)
  }

  async createSession(idHash: string, accountId: string, now: number, expiresAt: number): Promise<void> {
    await this.tx(async c => {
      await c.query('DELETE FROM sessions WHERE expires_at <= $1', [now])
      await c.query('INSERT INTO sessions (id_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [idHash, accountId, now, expiresAt])
    })
  }

  async findSession(idHash: string, now: number): Promise<SessionRecord | null> {
    const r = await this.q<{ account_id: string; created_at: string; expires_at: string }>('SELECT account_id, created_at, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2', [idHash, now])
    const s = r.rows[0]
    return s ? { accountId: s.account_id, createdAt: Number(s.created_at), expiresAt: Number(s.expires_at) } : null
  }

  async deleteSession(idHash: string): Promise<void> { await this.q('DELETE FROM sessions WHERE id_hash = $1', [idHash]) }

  async deleteSessionsOf(accountId: string): Promise<number> {
    return (await this.q('DELETE FROM sessions WHERE account_id = $1', [accountId])).rowCount ?? 0
  }

  async bindLink(linkId: string, workbookId: string, accountId: string | null): Promise<void> {
    if (accountId === null) await this.q('DELETE FROM link_bindings WHERE link_id = $1', [linkId])
    else await this.q('INSERT INTO link_bindings (link_id, workbook_id, account_id) VALUES ($1, $2, $3) ON CONFLICT (link_id) DO UPDATE SET account_id = excluded.account_id', [linkId, workbookId, accountId])
  }

  async linkBinding(linkId: string): Promise<string | null> {
    return (await this.q<{ account_id: string }>('SELECT account_id FROM link_bindings WHERE link_id = $1', [linkId])).rows[0]?.account_id ?? null
  }

  async linkBindings(workbookId: string): Promise<Map<string, string>> {
    const r = await this.q<{ link_id: string; account_id: string }>('SELECT link_id, account_id FROM link_bindings WHERE workbook_id = $1', [workbookId])
    return new Map(r.rows.map(x => [x.link_id, x.account_id]))
  }

  async setMember(workbookId: string, accountId: string, role: Role, now: number): Promise<void> {
    await this.q('INSERT INTO members (workbook_id, account_id, role, added_at) VALUES ($1, $2, $3, $4) ON CONFLICT (workbook_id, account_id) DO UPDATE SET role = excluded.role', [workbookId, accountId, role, now])
  }

  async removeMember(workbookId: string, accountId: string): Promise<void> {
    await this.q('DELETE FROM members WHERE workbook_id = $1 AND account_id = $2', [workbookId, accountId])
  }

  async members(workbookId: string): Promise<MemberRecord[]> {
    return (await this.q<MemberRow>('SELECT workbook_id, account_id, role, added_at FROM members WHERE workbook_id = $1 ORDER BY added_at', [workbookId])).rows.map(memberFromRow)
  }

  async membershipsOf(accountId: string): Promise<MemberRecord[]> {
    return (await this.q<MemberRow>('SELECT workbook_id, account_id, role, added_at FROM members WHERE account_id = $1 ORDER BY added_at DESC', [accountId])).rows.map(memberFromRow)
  }
}
