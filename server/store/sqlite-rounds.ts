/** The SQLite store's fill-in rounds (server/store/rounds.ts). */
import type Database from 'better-sqlite3'
import {
  PERSON_COLUMNS, ROUND_COLUMNS, closedFromRow, personFromRow, roundFromRow,
  type ClosedPeriod, type ClosedRow, type PersonRow, type RoundPerson, type RoundRecord, type RoundRow, type RoundStore, type Submission,
} from './rounds'

/** Tables of schema version 9 (run inside the store's migration). */
export const SQLITE_ROUNDS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS rounds (
    id TEXT PRIMARY KEY,
    workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    sheet_id TEXT NOT NULL,
    columns TEXT NOT NULL,
    person_col TEXT,
    repeat TEXT NOT NULL,
    first_due INTEGER NOT NULL,
    zone TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS rounds_by_workbook ON rounds (workbook_id, created_at);
  CREATE TABLE IF NOT EXISTS round_people (
    round_id TEXT NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    token TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    row_id TEXT,
    PRIMARY KEY (round_id, name)
  );
  CREATE TABLE IF NOT EXISTS round_submissions (
    round_id TEXT NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    period INTEGER NOT NULL,
    name TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (round_id, period, name)
  );
  CREATE TABLE IF NOT EXISTS round_closes (
    round_id TEXT NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    period INTEGER NOT NULL,
    version_id TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (round_id, period)
  );
`

export class SqliteRounds implements RoundStore {
  private readonly stmts

  constructor(private readonly db: Database.Database, private readonly check: () => void) {
    this.stmts = {
      insert: db.prepare(`INSERT INTO rounds (${ROUND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertPerson: db.prepare(`INSERT INTO round_people (${PERSON_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`),
      list: db.prepare<[string], RoundRow>(`SELECT ${ROUND_COLUMNS} FROM rounds WHERE workbook_id = ? ORDER BY created_at, id`),
      get: db.prepare<[string, string], RoundRow>(`SELECT ${ROUND_COLUMNS} FROM rounds WHERE workbook_id = ? AND id = ?`),
      all: db.prepare<[], RoundRow>(`SELECT ${ROUND_COLUMNS} FROM rounds`),
      remove: db.prepare('DELETE FROM rounds WHERE workbook_id = ? AND id = ?'),
      people: db.prepare<[string], PersonRow>(`SELECT ${PERSON_COLUMNS} FROM round_people WHERE round_id = ? ORDER BY position`),
      replace: db.prepare('UPDATE round_people SET token = ?, token_hash = ? WHERE round_id = ? AND name = ?'),
      byToken: db.prepare<[string], PersonRow & { workbook_id: string }>(`SELECT p.round_id, p.name, p.position, p.token, p.token_hash, p.row_id, r.workbook_id FROM round_people p JOIN rounds r ON r.id = p.round_id WHERE p.token_hash = ?`),
      submit: db.prepare('INSERT INTO round_submissions (round_id, period, name, at) VALUES (?, ?, ?, ?) ON CONFLICT (round_id, period, name) DO UPDATE SET at = excluded.at'),
      submissions: db.prepare<[string, number], { round_id: string; period: number; name: string; at: number }>('SELECT round_id, period, name, at FROM round_submissions WHERE round_id = ? AND period = ?'),
      claim: db.prepare('INSERT INTO round_closes (round_id, period, version_id, at) VALUES (?, ?, ?, ?) ON CONFLICT (round_id, period) DO NOTHING'),
      setVersion: db.prepare('UPDATE round_closes SET version_id = ? WHERE round_id = ? AND period = ?'),
      closes: db.prepare<[string], ClosedRow>('SELECT round_id, period, version_id, at FROM round_closes WHERE round_id = ? ORDER BY period'),
      deleteWorkbook: db.prepare('DELETE FROM rounds WHERE workbook_id = ?'),
    }
  }

  async createRound(r: RoundRecord, people: readonly RoundPerson[]): Promise<void> {
    this.check()
    this.db.transaction(() => {
      this.stmts.insert.run(r.id, r.workbookId, r.sheetId, JSON.stringify(r.columns), r.personCol, r.repeat, r.firstDue, r.zone, r.createdAt, r.createdBy)
      for (const p of people) this.stmts.insertPerson.run(r.id, p.name, p.position, p.token, p.tokenHash, p.rowId)
    })()
  }

  async listRounds(workbookId: string): Promise<RoundRecord[]> { this.check(); return this.stmts.list.all(workbookId).map(roundFromRow) }
  async getRound(workbookId: string, id: string): Promise<RoundRecord | null> {
    this.check()
    const r = this.stmts.get.get(workbookId, id)
    return r ? roundFromRow(r) : null
  }
  async allRounds(): Promise<RoundRecord[]> { this.check(); return this.stmts.all.all().map(roundFromRow) }
  async deleteRound(workbookId: string, id: string): Promise<boolean> { this.check(); return this.stmts.remove.run(workbookId, id).changes > 0 }
  async people(roundId: string): Promise<RoundPerson[]> { this.check(); return this.stmts.people.all(roundId).map(personFromRow) }
  async replacePerson(p: RoundPerson): Promise<void> { this.check(); this.stmts.replace.run(p.token, p.tokenHash, p.roundId, p.name) }
  async personByToken(tokenHash: string): Promise<(RoundPerson & { workbookId: string }) | null> {
    this.check()
    const r = this.stmts.byToken.get(tokenHash)
    return r ? { ...personFromRow(r), workbookId: r.workbook_id } : null
  }
  async submit(s: Submission): Promise<void> { this.check(); this.stmts.submit.run(s.roundId, s.period, s.name, s.at) }
  async submissions(roundId: string, period: number): Promise<Submission[]> {
    this.check()
    return this.stmts.submissions.all(roundId, period).map(r => ({ roundId: r.round_id, period: r.period, name: r.name, at: r.at }))
  }
  async claimClose(c: ClosedPeriod): Promise<boolean> { this.check(); return this.stmts.claim.run(c.roundId, c.period, c.versionId, c.at).changes > 0 }
  async setCloseVersion(roundId: string, period: number, versionId: string): Promise<void> { this.check(); this.stmts.setVersion.run(versionId, roundId, period) }
  async closedPeriods(roundId: string): Promise<ClosedPeriod[]> { this.check(); return this.stmts.closes.all(roundId).map(closedFromRow) }

  /** Called inside the store's deleteWorkbook transaction: what the workbook's id names goes with it. */
  deleteWorkbook(id: string): void { this.stmts.deleteWorkbook.run(id) }
}
