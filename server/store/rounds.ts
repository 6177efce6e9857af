/**
 * What the store keeps of fill-in rounds (收集表, issue 21): rounds, their people (each with a form
 * link), submissions per period, and the periods closed (with the named version saved then). Shared by
 * the SQLite and the PostgreSQL implementations (sqlite-rounds.ts, postgres-rounds.ts).
 *
 * A person's form link opens one thing: their rows of one round. Its token is looked up by its SHA-256
 * (as share links are) and also kept itself, so the owner can copy a person's link again from the status
 * board; it can do nothing but fill that person's open cells (server/rounds/).
 */
import type { Repeat } from '../../src/core/rounds/periods'

export interface RoundRecord {
  id: string
  workbookId: string
  sheetId: string
  /** the round's open columns (ids) */
  columns: string[]
  /** the column naming each row's person; null: each person has the row the round assigned them */
  personCol: string | null
  repeat: Repeat
  /** epoch ms the first period is due */
  firstDue: number
  /** the time zone periods are computed in (the workbook's when the round was made) */
  zone: string
  createdAt: number
  /** the owner's name */
  createdBy: string
}

export interface RoundPerson {
  roundId: string
  name: string
  position: number
  token: string
  tokenHash: string
  /** the row the round assigned them (no person column), else null */
  rowId: string | null
}

export interface Submission { roundId: string; period: number; name: string; at: number }

export interface ClosedPeriod { roundId: string; period: number; versionId: string | null; at: number }

export interface RoundStore {
  createRound(round: RoundRecord, people: readonly RoundPerson[]): Promise<void>
  /** The workbook's rounds, oldest first. */
  listRounds(workbookId: string): Promise<RoundRecord[]>
  getRound(workbookId: string, id: string): Promise<RoundRecord | null>
  /** Every round of every workbook (the closing timer). */
  allRounds(): Promise<RoundRecord[]>
  deleteRound(workbookId: string, id: string): Promise<boolean>
  /** In the order the owner gave them. */
  people(roundId: string): Promise<RoundPerson[]>
  /** Gives a person a new form token (the one before stops working). */
  replacePerson(p: RoundPerson): Promise<void>
  /** The person whose form token has this hash, with the round's workbook. */
  personByToken(tokenHash: string): Promise<(RoundPerson & { workbookId: string }) | null>
  /** Records (or moves to `at`) a person's submission in a period. */
  submit(s: Submission): Promise<void>
  submissions(roundId: string, period: number): Promise<Submission[]>
  /**
   * Records period `period` as closed; false when it already was (another instance, or before a
   * restart): only the caller that gets true saves the period's version.
   */
  claimClose(c: ClosedPeriod): Promise<boolean>
  /** Sets the version saved for a closed period. */
  setCloseVersion(roundId: string, period: number, versionId: string): Promise<void>
  closedPeriods(roundId: string): Promise<ClosedPeriod[]>
}

export interface RoundRow {
  id: string; workbook_id: string; sheet_id: string; columns: string; person_col: string | null; repeat: string
  first_due: number | string; zone: string; created_at: number | string; created_by: string
}
export const ROUND_COLUMNS = 'id, workbook_id, sheet_id, columns, person_col, repeat, first_due, zone, created_at, created_by'
export const roundFromRow = (r: RoundRow): RoundRecord => ({
  id: r.id, workbookId: r.workbook_id, sheetId: r.sheet_id, columns: JSON.parse(r.columns) as string[], personCol: r.person_col,
  repeat: r.repeat as Repeat, firstDue: Number(r.first_due), zone: r.zone, createdAt: Number(r.created_at), createdBy: r.created_by,
})

export interface PersonRow { round_id: string; name: string; position: number | string; token: string; token_hash: string; row_id: string | null }
export const PERSON_COLUMNS = 'round_id, name, position, token, token_hash, row_id'
export const personFromRow = (r: PersonRow): RoundPerson => ({
  roundId: r.round_id, name: r.name, position: Number(r.position), token: r.token, tokenHash: r.token_hash, rowId: r.row_id,
})

export interface ClosedRow { round_id: string; period: number | string; version_id: string | null; at: number | string }
export const closedFromRow = (r: ClosedRow): ClosedPeriod => ({ roundId: r.round_id, period: Number(r.period), versionId: r.version_id, at: Number(r.at) })
