/**
 * Persistence interface of the collaboration server. Async so that a networked implementation
 * (PostgreSQL) fits the same shape as the embedded SQLite one.
 *
 * A workbook's content is the list of Yjs updates stored for it; applying all of them (in any order)
 * to an empty Y.Doc gives the document. Rows are only ever appended, or replaced by an equivalent
 * merged update (compaction).
 */

export interface WorkbookRecord {
  id: string
  title: string
  /** id of the template the workbook was created from */
  template: string
  /** epoch milliseconds */
  createdAt: number
  /** epoch milliseconds */
  updatedAt: number
}

export type { Role } from '../../src/core/access/access'
import { ROLES, type Role } from '../../src/core/access/access'
import type { HistoryStore } from './history'
import type { WebhookStore } from './webhooks'
import type { RollupStore } from './rollups'
import type { RoundStore } from './rounds'
import type { AccountStore } from './accounts'

/**
 * The roles as an SQL list for the schemas' CHECK constraints (`'owner', 'editor', 'viewer'`), from the
 * one list the access rules use. A database keeps the constraint it was made with: a new role needs a
 * migration that replaces it.
 */
export const sqlRoleList = (): string => ROLES.map(r => {
  if (!/^[a-z]+$/.test(r)) throw new Error(`role ${r} cannot go into SQL as it is`)
  return `'${r}'`
}).join(', ')

/**
 * A share link: a role and a person's name for one workbook. Only the SHA-256 of its token is kept;
 * the token itself is shown once, when the link is made.
 */
export interface LinkRecord {
  id: string
  workbookId: string
  role: Role
  name: string
  createdAt: number
  /** epoch ms, or null while the link works */
  revokedAt: number | null
}

export interface StoredUpdate {
  seq: number
  data: Uint8Array
}

export interface Store {
  /** versions and the audit trail (server/store/history.ts) */
  readonly history: HistoryStore
  /** webhook targets and their delivery queue (server/store/webhooks.ts) */
  readonly webhooks: WebhookStore
  /** roll-up workbooks and their sources (server/store/rollups.ts) */
  readonly rollups: RollupStore
  /** fill-in rounds (server/store/rounds.ts) */
  readonly rounds: RoundStore
  /** accounts, sessions, memberships (server/store/accounts.ts) */
  readonly accounts: AccountStore
  /** Creates the workbook row and, in the same transaction, its first update and its owner link (if given). */
  createWorkbook(record: WorkbookRecord, initialUpdate?: Uint8Array, ownerLink?: { link: LinkRecord; tokenHash: string }): Promise<WorkbookRecord>
  /** Throws if the workbook does not exist. */
  createLink(link: LinkRecord, tokenHash: string): Promise<void>
  /** The link whose token hashes to `tokenHash`, revoked ones included; null when there is none. */
  findLink(tokenHash: string): Promise<LinkRecord | null>
  /** Oldest first, revoked ones included. */
  listLinks(workbookId: string): Promise<LinkRecord[]>
  /** Templates people saved or uploaded (the file's JSON as text). */
  saveTemplate(record: { id: string; json: string; createdAt: number }): Promise<void>
  listTemplates(): Promise<{ id: string; json: string; createdAt: number }[]>
  /** Returns false when there was no such template. */
  deleteTemplate(id: string): Promise<boolean>
  /** Which link first wrote with each Yjs client id of the workbook. */
  loadClientLinks(workbookId: string): Promise<Map<number, string>>
  /** Records first writers of client ids; an id already recorded keeps its link. */
  saveClientLinks(workbookId: string, entries: [clientId: number, linkId: string][]): Promise<void>
  /** Marks the link revoked; returns it, or null when the workbook has no such link. */
  revokeLink(workbookId: string, linkId: string, at: number): Promise<LinkRecord | null>
  getWorkbook(id: string): Promise<WorkbookRecord | null>
  /** Most recently updated first. */
  listWorkbooks(): Promise<WorkbookRecord[]>
  /** Returns false when the workbook does not exist. */
  updateWorkbookMeta(id: string, patch: { title?: string; updatedAt?: number }): Promise<boolean>
  /** Deletes the workbook and all its updates. Returns false when it did not exist. */
  deleteWorkbook(id: string): Promise<boolean>
  /** Appends one update; returns its sequence number. Throws if the workbook does not exist. */
  appendUpdate(id: string, data: Uint8Array): Promise<number>
  loadUpdates(id: string): Promise<Uint8Array[]>
  /** Like loadUpdates, with sequence numbers (ascending). */
  loadUpdateRecords(id: string): Promise<StoredUpdate[]>
  countUpdates(id: string): Promise<number>
  /**
   * The newest sequence number of the workbook's updates (0: none): it grows with every append and a
   * compaction keeps it, so an unchanged number means unchanged stored content.
   */
  lastSeq(id: string): Promise<number>
  /**
   * Replaces exactly the stored updates `replaced` (seq numbers) by `merged`, atomically; `merged` must
   * contain everything they contained. It takes the place of the newest of them. Rows not named stay,
   * even older ones (another instance's rows a reader had not seen). Returns how many rows it replaced;
   * 0 (and nothing written) when some of them are gone already (another compaction won).
   */
  compact(id: string, merged: Uint8Array, replaced: readonly number[]): Promise<number>
  /** Marks inbox items (`commentId:kind[:replyId]`) read for a link; items already read stay as they were. */
  markRead(workbookId: string, linkId: string, items: readonly string[], at: number): Promise<void>
  /** The items these links have read, as `linkId item`. */
  readItems(linkIds: readonly string[]): Promise<Set<string>>
  /** Resolves when the store answers (health checks). */
  ping(): Promise<void>
  close(): Promise<void>
}
