/** The SQLite store's roll-ups (server/store/rollups.ts). */
import type Database from 'better-sqlite3'
import {
  SOURCES_SELECT, configFromRow, sourceFromRow,
  type RollupConfig, type RollupRow, type RollupSource, type RollupSourceInput, type RollupStore, type SourceRow,
} from './rollups'

/** Tables of schema version 8 (run inside the store's migration). */
export const SQLITE_ROLLUPS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS rollups (
    id TEXT PRIMARY KEY REFERENCES workbooks (id) ON DELETE CASCADE,
    template TEXT NOT NULL,
    sheet_key TEXT NOT NULL,
    sheet_name TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('stack', 'aggregate')),
    key_column TEXT,
    measures TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS rollup_sources (
    rollup_id TEXT NOT NULL REFERENCES rollups (id) ON DELETE CASCADE,
    workbook_id TEXT NOT NULL,
    link_id TEXT,
    token_hash TEXT NOT NULL,
    position INTEGER NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (rollup_id, workbook_id)
  );
`

export class SqliteRollups implements RollupStore {
  private readonly stmts

  constructor(private readonly db: Database.Database, private readonly check: () => void) {
    this.stmts = {
      insert: db.prepare('INSERT INTO rollups (id, template, sheet_key, sheet_name, mode, key_column, measures, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      get: db.prepare<[string], RollupRow>('SELECT id, template, sheet_key, sheet_name, mode, key_column, measures, created_at FROM rollups WHERE id = ?'),
      sources: db.prepare<[string], SourceRow>(`${SOURCES_SELECT} WHERE s.rollup_id = ? ORDER BY s.position`),
      upsert: db.prepare(`INSERT INTO rollup_sources (rollup_id, workbook_id, link_id, token_hash, position, added_at)
        VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(position), -1) + 1 FROM rollup_sources WHERE rollup_id = ?), ?)
        ON CONFLICT (rollup_id, workbook_id) DO UPDATE SET link_id = excluded.link_id, token_hash = excluded.token_hash`),
      remove: db.prepare('DELETE FROM rollup_sources WHERE rollup_id = ? AND workbook_id = ?'),
      dropSources: db.prepare('DELETE FROM rollup_sources WHERE rollup_id = ?'),
      drop: db.prepare('DELETE FROM rollups WHERE id = ?'),
    }
  }

  async create(c: RollupConfig, sources: readonly RollupSourceInput[]): Promise<void> {
    this.check()
    this.db.transaction(() => {
      this.stmts.insert.run(c.id, c.template, c.sheetKey, c.sheetName, c.mode, c.key, JSON.stringify(c.measures), c.createdAt)
      for (const s of sources) this.stmts.upsert.run(c.id, s.workbookId, s.linkId, s.tokenHash, c.id, s.addedAt)
    })()
  }

  async get(id: string): Promise<RollupConfig | null> {
    this.check()
    const r = this.stmts.get.get(id)
    return r ? configFromRow(r) : null
  }

  async sources(id: string): Promise<RollupSource[]> {
    this.check()
    return this.stmts.sources.all(id).map(sourceFromRow)
  }

  async addSource(id: string, s: RollupSourceInput): Promise<void> {
    this.check()
    this.stmts.upsert.run(id, s.workbookId, s.linkId, s.tokenHash, id, s.addedAt)
  }

  async removeSource(id: string, workbookId: string): Promise<boolean> {
    this.check()
    return this.stmts.remove.run(id, workbookId).changes > 0
  }

  /** Called inside the store's deleteWorkbook transaction: what the workbook's id names goes with it. */
  deleteWorkbook(id: string): void {
    // a deleted source stays listed in the roll-ups that have it (its link went with it: unavailable)
    this.stmts.dropSources.run(id)
    this.stmts.drop.run(id)
  }
}
