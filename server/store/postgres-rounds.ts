/** The PostgreSQL store's fill-in rounds (server/store/rounds.ts). */
import type pg from 'pg'
import {
  PERSON_COLUMNS, ROUND_COLUMNS, closedFromRow, personFromRow, roundFromRow,
  type ClosedPeriod, type ClosedRow, type PersonRow, type RoundPerson, type RoundRecord, type RoundRow, type RoundStore, type Submission,
} from './rounds'

type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>
type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>

/** Tables of schema version 6 (run inside the store's migration; deleting a workbook cascades). */
export const POSTGRES_ROUNDS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS rounds (
    id text PRIMARY KEY,
    workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    sheet_id text NOT NULL,
    columns text NOT NULL,
    person_col text,
    repeat text NOT NULL,
    first_due bigint NOT NULL,
    zone text NOT NULL,
    created_at bigint NOT NULL,
    created_by text NOT NULL
  );
  CREATE INDEX IF NOT EXISTS rounds_by_workbook ON rounds (workbook_id, created_at);
  CREATE TABLE IF NOT EXISTS round_people (
    round_id text NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    name text NOT NULL,
    position integer NOT NULL,
    token text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    row_id text,
    PRIMARY KEY (round_id, name)
  );
  CREATE TABLE IF NOT EXISTS round_submissions (
    round_id text NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    period integer NOT NULL,
    name text NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (round_id, period, name)
  );
  CREATE TABLE IF NOT EXISTS round_closes (
    round_id text NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
    period integer NOT NULL,
    version_id text,
    at bigint NOT NULL,
    PRIMARY KEY (round_id, period)
  );
`

export class PostgresRounds implements RoundStore {
  constructor(private readonly q: Query, private readonly tx: Tx) {}

  async createRound(r: RoundRecord, people: readonly RoundPerson[]): Promise<void> {
    await this.tx(async c => {
      await c.query(`INSERT INTO rounds (${ROUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [r.id, r.workbookId, r.sheetId, JSON.stringify(r.columns), r.personCol, r.repeat, r.firstDue, r.zone, r.createdAt, r.createdBy])
      for (const p of people) await c.query(`INSERT INTO round_people (${PERSON_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`, [r.id, p.name, p.position, p.token, p.tokenHash, p.rowId])
    })
  }

  async listRounds(workbookId: string): Promise<RoundRecord[]> {
    return (await this.q<RoundRow>(`SELECT ${ROUND_COLUMNS} FROM rounds WHERE workbook_id = $1 ORDER BY created_at, id`, [workbookId])).rows.map(roundFromRow)
  }
  async getRound(workbookId: string, id: string): Promise<RoundRecord | null> {
    const r = (await this.q<RoundRow>(`SELECT ${ROUND_COLUMNS} FROM rounds WHERE workbook_id = $1 AND id = $2`, [workbookId, id])).rows[0]
    return r ? roundFromRow(r) : null
  }
  async allRounds(): Promise<RoundRecord[]> { return (await this.q<RoundRow>(`SELECT ${ROUND_COLUMNS} FROM rounds`)).rows.map(roundFromRow) }
  async deleteRound(workbookId: string, id: string): Promise<boolean> {
    return ((await this.q('DELETE FROM rounds WHERE workbook_id = $1 AND id = $2', [workbookId, id])).rowCount ?? 0) > 0
  }
  async people(roundId: string): Promise<RoundPerson[]> {
    return (await this.q<PersonRow>(`SELECT ${PERSON_COLUMNS} FROM round_people WHERE round_id = $1 ORDER BY position`, [roundId])).rows.map(personFromRow)
  }
  async replacePerson(p: RoundPerson): Promise<void> {
    await this.q('UPDATE round_people SET token = $1, token_hash = $2 WHERE round_id = $3 AND name = $4', [p.token, p.tokenHash, p.roundId, p.name])
  }
  async personByToken(tokenHash: string): Promise<(RoundPerson & { workbookId: string }) | null> {
    const r = (await this.q<PersonRow & { workbook_id: string }>('SELECT p.round_id, p.name, p.position, p.token, p.token_hash, p.row_id, r.workbook_id FROM round_people p JOIN rounds r ON r.id = p.round_id WHERE p.token_hash = $1', [tokenHash])).rows[0]
    return r ? { ...personFromRow(r), workbookId: r.workbook_id } : null
  }
  async submit(s: Submission): Promise<void> {
    await this.q('INSERT INTO round_submissions (round_id, period, name, at) VALUES ($1, $2, $3, $4) ON CONFLICT (round_id, period, name) DO UPDATE SET at = excluded.at', [s.roundId, s.period, s.name, s.at])
  }
  async submissions(roundId: string, period: number): Promise<Submission[]> {
    const { rows } = await this.q<{ round_id: string; period: number; name: string; at: string }>('SELECT round_id, period, name, at FROM round_submissions WHERE round_id = $1 AND period = $2', [roundId, period])
    return rows.map(r => ({ roundId: r.round_id, period: Number(r.period), name: r.name, at: Number(r.at) }))
  }
  async claimClose(c: ClosedPeriod): Promise<boolean> {
    return ((await this.q('INSERT INTO round_closes (round_id, period, version_id, at) VALUES ($1, $2, $3, $4) ON CONFLICT (round_id, period) DO NOTHING', [c.roundId, c.period, c.versionId, c.at])).rowCount ?? 0) > 0
  }
  async setCloseVersion(roundId: string, period: number, versionId: string): Promise<void> {
    await this.q('UPDATE round_closes SET version_id = $1 WHERE round_id = $2 AND period = $3', [versionId, roundId, period])
  }
  async closedPeriods(roundId: string): Promise<ClosedPeriod[]> {
    return (await this.q<ClosedRow>('SELECT round_id, period, version_id, at FROM round_closes WHERE round_id = $1 ORDER BY period', [roundId])).rows.map(closedFromRow)
  }
}
