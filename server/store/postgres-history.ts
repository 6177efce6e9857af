/** The PostgreSQL store's versions and audit trail (server/store/history.ts). JSON is kept as text: jsonb would reorder keys and the hashes cover the text. */
import type pg from 'pg'
import { chain, clampLimit, packState, unpackState, type AuditEntry, type AuditFilter, type AuditInput, type HistoryStore, type VersionRecord } from './history'
import { AUDIT_COLUMNS, auditFromRow, auditValues, auditWhere, versionFromRow, type AuditRow } from './sqlite-history'

/** Tables of schema version 2 (run inside the store's migration). */
export const POSTGRES_HISTORY_SCHEMA = `
  CREATE TABLE IF NOT EXISTS versions (
    id text NOT NULL,
    workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    name text,
    at bigint NOT NULL,
    by_names text NOT NULL,
    auto boolean NOT NULL,
    lock text,
    summary text NOT NULL,
    size integer NOT NULL,
    enc text NOT NULL DEFAULT 'raw',
    state bytea NOT NULL,
    seq bigserial,
    PRIMARY KEY (workbook_id, id)
  );
  CREATE INDEX IF NOT EXISTS versions_by_time ON versions (workbook_id, at);
  CREATE TABLE IF NOT EXISTS audit (
    workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    n integer NOT NULL,
    at bigint NOT NULL,
    link_id text NOT NULL,
    by_name text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    sheet text,
    cell text,
    row_id text,
    col_id text,
    before text,
    after text,
    detail text,
    hash text NOT NULL,
    PRIMARY KEY (workbook_id, n)
  );
  CREATE INDEX IF NOT EXISTS audit_by_cell ON audit (workbook_id, row_id, col_id);
`

const VERSION_COLUMNS = 'id, workbook_id, name, at, by_names, auto, lock, summary, size'
const json = (v: unknown): string | null => v === undefined || v === null ? null : JSON.stringify(v)

export class PostgresHistory implements HistoryStore {
  constructor(
    private readonly q: <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>,
    private readonly tx: <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>,
  ) {}

  async saveVersion(v: VersionRecord, state: Uint8Array): Promise<void> {
    const packed = await packState(state)
    await this.q('INSERT INTO versions (id, workbook_id, name, at, by_names, auto, lock, summary, size, enc, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
      [v.id, v.workbookId, v.name, v.at, JSON.stringify(v.by), v.auto, json(v.lock), JSON.stringify(v.summary), state.byteLength, 'br', packed])
  }

  async listVersions(workbookId: string): Promise<VersionRecord[]> {
    const { rows } = await this.q(`SELECT ${VERSION_COLUMNS} FROM versions WHERE workbook_id = $1 ORDER BY at DESC, seq DESC`, [workbookId])
    return rows.map(r => versionFromRow(r as Parameters<typeof versionFromRow>[0]))
  }

  async getVersion(workbookId: string, id: string): Promise<VersionRecord | null> {
    const { rows } = await this.q(`SELECT ${VERSION_COLUMNS} FROM versions WHERE workbook_id = $1 AND id = $2`, [workbookId, id])
    return rows[0] ? versionFromRow(rows[0] as Parameters<typeof versionFromRow>[0]) : null
  }

  async loadVersionState(workbookId: string, id: string): Promise<Uint8Array | null> {
    const { rows } = await this.q<{ state: Buffer; enc: string }>('SELECT state, enc FROM versions WHERE workbook_id = $1 AND id = $2', [workbookId, id])
    const b = rows[0]?.state
    return b ? unpackState(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), rows[0]!.enc) : null
  }

  async thinVersions(workbookId: string, ids: readonly string[]): Promise<number> {
    if (!ids.length) return 0
    const { rowCount } = await this.q('DELETE FROM versions WHERE workbook_id = $1 AND id = ANY($2) AND auto', [workbookId, [...ids]])
    return rowCount ?? 0
  }

  async appendAudit(workbookId: string, entries: readonly AuditInput[]): Promise<AuditEntry[]> {
    if (!entries.length) return []
    return this.tx(async c => {
      // the workbook's row, locked, orders appenders of one workbook (several instances): one chain
      const wb = await c.query('SELECT 1 FROM workbooks WHERE id = $1 FOR UPDATE', [workbookId])
      if (!wb.rowCount) throw new Error(`no workbook ${workbookId}`)
      const { rows } = await c.query<{ n: number; hash: string }>('SELECT n, hash FROM audit WHERE workbook_id = $1 ORDER BY n DESC LIMIT 1', [workbookId])
      const stored = chain(rows[0] ?? null, entries)
      // in chunks: one INSERT of many rows, within PostgreSQL's 65,535 parameters
      for (let i = 0; i < stored.length; i += 2000) {
        const chunk = stored.slice(i, i + 2000)
        const values: unknown[] = []
        const tuples = chunk.map(e => {
          const base = values.length
          values.push(...auditValues(workbookId, e))
          return `(${Array.from({ length: 15 }, (_, k) => `$${base + k + 1}`).join(', ')})`
        })
        await c.query(`INSERT INTO audit (${AUDIT_COLUMNS}) VALUES ${tuples.join(', ')}`, values)
      }
      return stored
    })
  }

  async listAudit(workbookId: string, filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const { where, values } = auditWhere(filter, i => `$${i}`)
    const { rows } = await this.q<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit WHERE ${where} ORDER BY n ${filter.order === 'desc' ? 'DESC' : ''} LIMIT $${values.length + 2}`,
      [workbookId, ...values, clampLimit(filter.limit)])
    return rows.map(auditFromRow)
  }
}
