/**
 * What the store keeps of signed-in people (issue 23): accounts, their server-side sessions, workbook
 * memberships and links bound to a person. Shared by the SQLite and the PostgreSQL implementations
 * (sqlite-accounts.ts, postgres-accounts.ts).
 *
 * A session is kept by the SHA-256 of its cookie value only (as link tokens are), so a copy of the
 * database hands on no session.
 */
import type { Role } from '../../src/core/access/access'

export interface AccountRecord {
  /** stable, ours (random); the issuer's subject may change format, this does not */
  id: string
  issuer: string
  subject: string
  email: string
  name: string
  avatar: string
  createdAt: number
  lastSeenAt: number
}

/** What the identity provider says of a person at sign-in. */
export interface AccountClaims { issuer: string; subject: string; email: string; name: string; avatar: string }

export interface SessionRecord { accountId: string; createdAt: number; expiresAt: number }

export interface MemberRecord { workbookId: string; accountId: string; role: Role; addedAt: number }

export interface AccountStore {
  /** the account of (issuer, subject), made with `newId` the first time, its name/email/avatar refreshed */
  upsertAccount(claims: AccountClaims, newId: string, now: number): Promise<AccountRecord>
  getAccount(id: string): Promise<AccountRecord | null>
  /** the accounts with this email (lower case), newest sign-in first */
  findAccountsByEmail(email: string): Promise<AccountRecord[]>
  createSession(idHash: string, accountId: string, now: number, expiresAt: number): Promise<void>
  /** a session that is neither expired at `now` nor revoked */
  findSession(idHash: string, now: number): Promise<SessionRecord | null>
  deleteSession(idHash: string): Promise<void>
  /** "sign out everywhere": every session of the account; how many there were */
  deleteSessionsOf(accountId: string): Promise<number>
  /** binds a link to an account (null: unbinds) */
  bindLink(linkId: string, workbookId: string, accountId: string | null): Promise<void>
  /** the account a link is bound to, or null */
  linkBinding(linkId: string): Promise<string | null>
  /** the bindings of a workbook's links: link id → account id */
  linkBindings(workbookId: string): Promise<Map<string, string>>
  setMember(workbookId: string, accountId: string, role: Role, now: number): Promise<void>
  removeMember(workbookId: string, accountId: string): Promise<void>
  members(workbookId: string): Promise<MemberRecord[]>
  membershipsOf(accountId: string): Promise<MemberRecord[]>
}

export interface AccountRow { id: string; issuer: string; subject: string; email: string; name: string; avatar: string; created_at: number | string; last_seen_at: number | string }
export interface MemberRow { workbook_id: string; account_id: string; role: string; added_at: number | string }

export const accountFromRow = (r: AccountRow): AccountRecord => ({
  id: r.id, issuer: r.issuer, subject: r.subject, email: r.email, name: r.name, avatar: r.avatar,
  createdAt: Number(r.created_at), lastSeenAt: Number(r.last_seen_at),
})
export const memberFromRow = (r: MemberRow): MemberRecord => ({ workbookId: r.workbook_id, accountId: r.account_id, role: r.role as Role, addedAt: Number(r.added_at) })
export const ACCOUNT_COLUMNS = 'id, issuer, subject, email, name, avatar, created_at, last_seen_at'
