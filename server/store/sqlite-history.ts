/** The SQLite store's versions and audit trail (server/store/history.ts), on the store's database. */
import type Database from 'better-sqlite3'
import { chain, clampLimit, packState, unpackState, type AuditEntry, type AuditFilter, type AuditInput, type HistoryStore, type VersionRecord } from './history'

/** Tables of schema version 5 (run inside the store's migration). */
export const SQLITE_HISTORY_SCHEMA = `
  CREATE TABLE IF NOT EXISTS versions (
    id TEXT NOT NULL,
    workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    name TEXT,
    at INTEGER NOT NULL,
    by_names TEXT NOT NULL,
    auto INTEGER NOT NULL,
    lock TEXT,
    summary TEXT NOT NULL,
    size INTEGER NOT NULL,
    enc TEXT NOT NULL DEFAULT 'raw',
    state BLOB NOT NULL,
    PRIMARY KEY (workbook_id, id)
  );
  CREATE INDEX IF NOT EXISTS versions_by_time ON versions (workbook_id, at);
  CREATE TABLE IF NOT EXISTS audit (
    workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    at INTEGER NOT NULL,
    link_id TEXT NOT NULL,
    by_name TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    sheet TEXT,
    cell TEXT,
    row_id TEXT,
    col_id TEXT,
    before TEXT,
    after TEXT,
    detail TEXT,
    hash TEXT NOT NULL,
    PRIMARY KEY (workbook_id, n)
  );
  CREATE INDEX IF NOT EXISTS audit_by_cell ON audit (workbook_id, row_id, col_id);
`

interface VersionRow { id: string; workbook_id: string; name: string | null; at: number; by_names: string; auto: number; lock: string | null; summary: string; size: number }
export interface AuditRow {
  workbook_id: string; n: number; at: number | string; link_id: string; by_name: string; role: string; action: string
  sheet: string | null; cell: string | null; row_id: string | null; col_id: string | null
  before: string | null; after: string | null; detail: string | null; hash: string
}

export const versionFromRow = (r: VersionRow | (Omit<VersionRow, 'at' | 'size' | 'auto'> & { at: string; size: number | string; auto: boolean | number })): VersionRecord => ({
  id: r.id, workbookId: r.workbook_id, name: r.name, at: Number(r.at), by: JSON.parse(r.by_names) as string[], auto: Boolean(r.auto),
  lock: r.lock ? JSON.parse(r.lock) : null, summary: JSON.parse(r.summary) as Record<string, number>, size: Number(r.size),
})

const json = (v: unknown): string | null => v === undefined || v === null ? null : JSON.stringify(v)
const parse = (t: string | null): unknown => t === null ? null : JSON.parse(t)

export const auditFromRow = (r: AuditRow): AuditEntry => ({
  n: Number(r.n), at: Number(r.at), linkId: r.link_id, by: r.by_name, role: r.role, action: r.action as AuditEntry['action'],
  sheet: r.sheet, cell: r.cell, rowId: r.row_id, colId: r.col_id, before: parse(r.before), after: parse(r.after), detail: r.detail,
  hash: r.hash,
})

/** An entry as the row's values, in the INSERT's column order. */
export const auditValues = (workbookId: string, e: AuditEntry): unknown[] => [
  workbookId, e.n, e.at, e.linkId, e.by, e.role, e.action, e.sheet, e.cell, e.rowId, e.colId, json(e.before), json(e.after), e.detail, e.hash,
]
export const AUDIT_COLUMNS = 'workbook_id, n, at, link_id, by_name, role, action, sheet, cell, row_id, col_id, before, after, detail, hash'

/** WHERE conditions of a filter, with `?` or `$n` placeholders. */
export function auditWhere(filter: AuditFilter, placeholder: (i: number) => string): { where: string; values: unknown[] } {
  const conds = ['workbook_id = ' + placeholder(1)]
  const values: unknown[] = []
  const add = (sql: string, v: unknown) => { values.push(v); conds.push(sql.replace('?', placeholder(values.length + 1))) }
  if (filter.sheet !== undefined) add('sheet = ?', filter.sheet)
  if (filter.rowId !== undefined) add('row_id = ?', filter.rowId)
  if (filter.colId !== undefined) add('col_id = ?', filter.colId)
  if (filter.by !== undefined) add('by_name = ?', filter.by)
  if (filter.since !== undefined) add('at >= ?', filter.since)
  if (filter.afterN !== undefined) add('n > ?', filter.afterN)
  if (filter.beforeN !== undefined) add('n < ?', filter.beforeN)
  return { where: conds.join(' AND '), values }
}

/** how long audit appends gather before they are written together */
const AUDIT_WINDOW_MS = 25
/** rows of the audit trail one INSERT writes (15 values each, within SQLite's 32,766 variables) */
const INSERT_ROWS = 64

export class SqliteHistory implements HistoryStore {
  private readonly stmts

  constructor(private readonly db: Database.Database, private readonly check: () => void) {
    this.stmts = {
      insertVersion: db.prepare('INSERT INTO versions (id, workbook_id, name, at, by_names, auto, lock, summary, size, enc, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      listVersions: db.prepare<[string], VersionRow>('SELECT id, workbook_id, name, at, by_names, auto, lock, summary, size FROM versions WHERE workbook_id = ? ORDER BY at DESC, rowid DESC'),
      getVersion: db.prepare<[string, string], VersionRow>('SELECT id, workbook_id, name, at, by_names, auto, lock, summary, size FROM versions WHERE workbook_id = ? AND id = ?'),
      versionState: db.prepare<[string, string], { state: Buffer; enc: string }>('SELECT state, enc FROM versions WHERE workbook_id = ? AND id = ?'),
      thin: db.prepare('DELETE FROM versions WHERE workbook_id = ? AND id = ? AND auto = 1'),
      lastAudit: db.prepare<[string], { n: number; hash: string }>('SELECT n, hash FROM audit WHERE workbook_id = ? ORDER BY n DESC LIMIT 1'),
    }
  }

  async saveVersion(v: VersionRecord, state: Uint8Array): Promise<void> {
    this.check()
    const packed = await packState(state)
    this.check()
    this.stmts.insertVersion.run(v.id, v.workbookId, v.name, v.at, JSON.stringify(v.by), v.auto ? 1 : 0, json(v.lock), JSON.stringify(v.summary), state.byteLength, 'br', packed)
  }

  async listVersions(workbookId: string): Promise<VersionRecord[]> {
    this.check()
    return this.stmts.listVersions.all(workbookId).map(versionFromRow)
  }

  async getVersion(workbookId: string, id: string): Promise<VersionRecord | null> {
    this.check()
    const row = this.stmts.getVersion.get(workbookId, id)
    return row ? versionFromRow(row) : null
  }

  async loadVersionState(workbookId: string, id: string): Promise<Uint8Array | null> {
    this.check()
    const row = this.stmts.versionState.get(workbookId, id)
    return row ? unpackState(new Uint8Array(row.state.buffer, row.state.byteOffset, row.state.byteLength), row.enc) : null
  }

  async thinVersions(workbookId: string, ids: readonly string[]): Promise<number> {
    this.check()
    return this.db.transaction(() => ids.reduce((n, id) => n + this.stmts.thin.run(workbookId, id).changes, 0))()
  }

  /**
   * Appends made within AUDIT_WINDOW_MS (every room's changes stored meanwhile) are written in one
   * transaction: a commit per room per write was three times the cost of storing the changes themselves.
   * The trail follows its changes by that much at most (a crash in between loses entries, never changes).
   */
  appendAudit(workbookId: string, entries: readonly AuditInput[]): Promise<AuditEntry[]> {
    try { this.check() } catch (e) { return Promise.reject(e) }
    if (!entries.length) return Promise.resolve([])
    return new Promise((resolve, reject) => {
      this.auditTimer ??= setTimeout(() => this.writeAudits(), AUDIT_WINDOW_MS)
      this.audits.push({ workbookId, entries, resolve, reject })
    })
  }

  private auditTimer: NodeJS.Timeout | null = null

  /** Writes what waits (the store is closing). */
  flushPending(): void {
    if (this.audits.length) this.writeAudits()
  }

  private audits: { workbookId: string; entries: readonly AuditInput[]; resolve: (e: AuditEntry[]) => void; reject: (e: unknown) => void }[] = []

  /** Chains and writes appends in order, several workbooks' rows to a statement (a statement a row was most of what the trail cost per edit). */
  private appendMany(batch: readonly { workbookId: string; entries: readonly AuditInput[] }[]): AuditEntry[][] {
    const last = new Map<string, { n: number; hash: string } | null>()
    const rows: unknown[][] = []
    const out = batch.map(({ workbookId, entries }) => {
      if (!last.has(workbookId)) last.set(workbookId, this.stmts.lastAudit.get(workbookId) ?? null)
      const stored = chain(last.get(workbookId)!, entries)
      if (stored.length) last.set(workbookId, stored[stored.length - 1]!)
      for (const e of stored) rows.push(auditValues(workbookId, e))
      return stored
    })
    for (let i = 0; i < rows.length; i += INSERT_ROWS) {
      const chunk = rows.slice(i, i + INSERT_ROWS)
      this.insertRows(chunk.length).run(...chunk.flat())
    }
    return out
  }

  private readonly inserts = new Map<number, Database.Statement>()
  private insertRows(n: number): Database.Statement {
    let st = this.inserts.get(n)
    if (!st) {
      const row = `(${Array(15).fill('?').join(', ')})`
      st = this.db.prepare(`INSERT INTO audit (${AUDIT_COLUMNS}) VALUES ${Array(n).fill(row).join(', ')}`)
      this.inserts.set(n, st)
    }
    return st
  }

  private writeAudits(): void {
    if (this.auditTimer) { clearTimeout(this.auditTimer); this.auditTimer = null }
    const batch = this.audits
    this.audits = []
    try {
      // one transaction: the last entry read and the new ones written cannot interleave with another writer's
      const out = this.db.transaction(() => this.appendMany(batch)).immediate()
      batch.forEach((a, i) => a.resolve(out[i]!))
    } catch {
      // one that cannot be written (its workbook deleted meanwhile) fails alone
      for (const a of batch) {
        try { a.resolve(this.db.transaction(() => this.appendMany([a])[0]!).immediate()) } catch (e) { a.reject(e) }
      }
    }
  }

  async listAudit(workbookId: string, filter: AuditFilter = {}): Promise<AuditEntry[]> {
    this.check()
    const { where, values } = auditWhere(filter, () => '?')
    const rows = this.db.prepare<unknown[], AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit WHERE ${where} ORDER BY n ${filter.order === 'desc' ? 'DESC' : ''} LIMIT ?`)
      .all(workbookId, ...values, clampLimit(filter.limit))
    return rows.map(auditFromRow)
  }
}
