/** Store on an embedded SQLite database (better-sqlite3, WAL mode) under the data directory. */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { sqlRoleList, type LinkRecord, type Role, type Store, type StoredUpdate, type WorkbookRecord } from './types'
import { SQLITE_HISTORY_SCHEMA, SqliteHistory } from './sqlite-history'
import { SQLITE_WEBHOOKS_SCHEMA, SqliteWebhooks } from './sqlite-webhooks'
import { SQLITE_ROLLUPS_SCHEMA, SqliteRollups } from './sqlite-rollups'
import { SQLITE_ROUNDS_SCHEMA, SqliteRounds } from './sqlite-rounds'
import { SQLITE_ACCOUNTS_SCHEMA, SqliteAccounts } from './sqlite-accounts'

const SCHEMA_VERSION = 10
/** log pages (4 KB) past which a commit on the serving thread checkpoints itself */
const CHECKPOINT_BACKSTOP_PAGES = 10_000

interface WorkbookRow { id: string; title: string; template: string; created_at: number; updated_at: number }

interface LinkRow { id: string; workbook_id: string; role: string; name: string; created_at: number; revoked_at: number | null }

const linkFromRow = (r: LinkRow): LinkRecord => ({
  id: r.id, workbookId: r.workbook_id, role: r.role as Role, name: r.name, createdAt: r.created_at, revokedAt: r.revoked_at,
})

const fromRow = (r: WorkbookRow): WorkbookRecord => ({
  id: r.id, title: r.title, template: r.template, createdAt: r.created_at, updatedAt: r.updated_at,
})

/** better-sqlite3 returns Buffers; hand out plain Uint8Arrays over the same memory. */
const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

export class SqliteStore implements Store {
  readonly db: Database.Database
  private readonly file: string
  private closed = false
  /** the thread that checkpoints the write-ahead log (started with the first append) */
  private checkpointer: Worker | null = null
  private readonly stmts
  /** versions and the audit trail */
  readonly history: SqliteHistory
  /** webhook targets and deliveries */
  readonly webhooks: SqliteWebhooks
  /** roll-up workbooks and their sources */
  readonly rollups: SqliteRollups
  /** fill-in rounds */
  readonly rounds: SqliteRounds
  /** accounts, sessions, memberships */
  readonly accounts: SqliteAccounts

  /** `dataDir` is created if missing; the database file is `<dataDir>/workbooks.sqlite`. */
  constructor(dataDir: string, fileName = 'workbooks.sqlite') {
    mkdirSync(dataDir, { recursive: true })
    this.file = join(dataDir, fileName)
    this.db = new Database(this.file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('foreign_keys = ON')
    this.db.pragma('busy_timeout = 5000')
    this.migrate()
    const db = this.db
    this.stmts = {
      insertWorkbook: db.prepare('INSERT INTO workbooks (id, title, template, created_at, updated_at) VALUES (@id, @title, @template, @createdAt, @updatedAt)'),
      getWorkbook: db.prepare<[string], WorkbookRow>('SELECT * FROM workbooks WHERE id = ?'),
      listWorkbooks: db.prepare<[], WorkbookRow>('SELECT * FROM workbooks ORDER BY updated_at DESC, created_at DESC, id'),
      setTitle: db.prepare('UPDATE workbooks SET title = ? WHERE id = ?'),
      setUpdatedAt: db.prepare('UPDATE workbooks SET updated_at = MAX(updated_at, ?) WHERE id = ?'),
      exists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM workbooks WHERE id = ?'),
      deleteUpdates: db.prepare('DELETE FROM updates WHERE workbook_id = ?'),
      deleteWorkbook: db.prepare('DELETE FROM workbooks WHERE id = ?'),
      append: db.prepare('INSERT INTO updates (workbook_id, data) VALUES (?, ?)'),
      load: db.prepare<[string], { seq: number; data: Buffer }>('SELECT seq, data FROM updates WHERE workbook_id = ? ORDER BY seq'),
      count: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM updates WHERE workbook_id = ?'),
      hasSeq: db.prepare<[string, number], { one: number }>('SELECT 1 AS one FROM updates WHERE workbook_id = ? AND seq = ?'),
      deleteSeq: db.prepare('DELETE FROM updates WHERE workbook_id = ? AND seq = ?'),
      insertAt: db.prepare('INSERT INTO updates (seq, workbook_id, data) VALUES (?, ?, ?)'),
      insertLink: db.prepare('INSERT INTO links (id, workbook_id, role, name, token_hash, created_at) VALUES (@id, @workbookId, @role, @name, @tokenHash, @createdAt)'),
      findLink: db.prepare<[string], LinkRow>('SELECT id, workbook_id, role, name, created_at, revoked_at FROM links WHERE token_hash = ?'),
      listLinks: db.prepare<[string], LinkRow>('SELECT id, workbook_id, role, name, created_at, revoked_at FROM links WHERE workbook_id = ? ORDER BY created_at, id'),
      revokeLink: db.prepare('UPDATE links SET revoked_at = COALESCE(revoked_at, ?) WHERE workbook_id = ? AND id = ?'),
      getLink: db.prepare<[string, string], LinkRow>('SELECT id, workbook_id, role, name, created_at, revoked_at FROM links WHERE workbook_id = ? AND id = ?'),
      deleteLinks: db.prepare('DELETE FROM links WHERE workbook_id = ?'),
      loadClients: db.prepare<[string], { client_id: number; link_id: string }>('SELECT client_id, link_id FROM client_links WHERE workbook_id = ?'),
      saveClient: db.prepare('INSERT OR IGNORE INTO client_links (workbook_id, client_id, link_id) VALUES (?, ?, ?)'),
      deleteClients: db.prepare('DELETE FROM client_links WHERE workbook_id = ?'),
      saveTemplate: db.prepare('INSERT OR REPLACE INTO user_templates (id, json, created_at) VALUES (@id, @json, @createdAt)'),
      listTemplates: db.prepare<[], { id: string; json: string; created_at: number }>('SELECT id, json, created_at FROM user_templates ORDER BY created_at, id'),
      deleteTemplate: db.prepare('DELETE FROM user_templates WHERE id = ?'),
    }
    this.history = new SqliteHistory(db, () => this.check())
    this.webhooks = new SqliteWebhooks(db, () => this.check())
    this.rollups = new SqliteRollups(db, () => this.check())
    this.rounds = new SqliteRounds(db, () => this.check())
    this.accounts = new SqliteAccounts(db, () => this.check())
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number
    if (version > SCHEMA_VERSION) throw new Error(`database schema version ${version} is newer than this server (${SCHEMA_VERSION})`)
    if (version < 1) {
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS workbooks (
          id TEXT PRIMARY KEY,
          title TEXT NOT NULL,
          template TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS workbooks_by_updated ON workbooks (updated_at DESC);
        CREATE TABLE IF NOT EXISTS updates (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
          data BLOB NOT NULL
        );
        CREATE INDEX IF NOT EXISTS updates_by_workbook ON updates (workbook_id, seq);
        PRAGMA user_version = 1;
      `)
    }
    if (version < 2) {
      // share links (issue 5). Workbooks made before links existed have none: scripts/owner-link.ts makes one.
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS links (
          id TEXT PRIMARY KEY,
          workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
          role TEXT NOT NULL CHECK (role IN (${sqlRoleList()})),
          name TEXT NOT NULL,
          token_hash TEXT NOT NULL UNIQUE,
          created_at INTEGER NOT NULL,
          revoked_at INTEGER
        );
        CREATE INDEX IF NOT EXISTS links_by_workbook ON links (workbook_id, created_at);
        PRAGMA user_version = 2;
      `)
    }
    if (version < 3) {
      // who first wrote with each Yjs client id: nobody may continue another person's edits
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS client_links (
          workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
          client_id INTEGER NOT NULL,
          link_id TEXT NOT NULL,
          PRIMARY KEY (workbook_id, client_id)
        );
        PRAGMA user_version = 3;
      `)
    }
    if (version < 4) {
      // templates people saved from a workbook or uploaded
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS user_templates (
          id TEXT PRIMARY KEY,
          json TEXT NOT NULL,
          created_at INTEGER NOT NULL
        );
        PRAGMA user_version = 4;
      `)
    }
    if (version < 5) {
      // versions and the audit trail (issue 19)
      this.db.exec(`${SQLITE_HISTORY_SCHEMA}
        PRAGMA user_version = 5;
      `)
    }
    if (version < 6) {
      // comments (issue 20): the commenter role (a CHECK is replaced by rebuilding its table), what each
      // link has read of its inbox
      this.db.transaction(() => {
        this.db.exec(`
          CREATE TABLE links_v6 (
            id TEXT PRIMARY KEY,
            workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN (${sqlRoleList()})),
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
          );
          INSERT INTO links_v6 (id, workbook_id, role, name, token_hash, created_at, revoked_at)
            SELECT id, workbook_id, role, name, token_hash, created_at, revoked_at FROM links;
          DROP TABLE links;
          ALTER TABLE links_v6 RENAME TO links;
          CREATE INDEX IF NOT EXISTS links_by_workbook ON links (workbook_id, created_at);
          CREATE TABLE IF NOT EXISTS inbox_reads (
            link_id TEXT NOT NULL,
            workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
            item TEXT NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (link_id, item)
          );
          CREATE INDEX IF NOT EXISTS inbox_reads_by_workbook ON inbox_reads (workbook_id);
          PRAGMA user_version = 6;
        `)
      })()
    }
    if (version < 7) {
      // webhook notifications (issue 20): targets per workbook, the delivery queue
      this.db.exec(`${SQLITE_WEBHOOKS_SCHEMA}
        PRAGMA user_version = 7;
      `)
    }
    if (version < 8) {
      // roll-up workbooks (issue 21)
      this.db.exec(`${SQLITE_ROLLUPS_SCHEMA}
        PRAGMA user_version = 8;
      `)
    }
    if (version < 9) {
      // fill-in rounds (issue 21)
      this.db.exec(`${SQLITE_ROUNDS_SCHEMA}
        PRAGMA user_version = 9;
      `)
    }
    if (version < 10) {
      // accounts, sessions and memberships (issue 23)
      this.db.exec(`${SQLITE_ACCOUNTS_SCHEMA}
        PRAGMA user_version = 10;
      `)
    }
  }

  private check(): void {
    if (this.closed) throw new Error('store is closed')
  }

  async createWorkbook(record: WorkbookRecord, initialUpdate?: Uint8Array, ownerLink?: { link: LinkRecord; tokenHash: string }): Promise<WorkbookRecord> {
    this.check()
    this.db.transaction(() => {
      this.stmts.insertWorkbook.run(record)
      if (initialUpdate) this.stmts.append.run(record.id, initialUpdate)
      if (ownerLink) this.stmts.insertLink.run({ ...ownerLink.link, tokenHash: ownerLink.tokenHash })
    })()
    return { ...record }
  }

  async createLink(link: LinkRecord, tokenHash: string): Promise<void> {
    this.check()
    this.stmts.insertLink.run({ ...link, tokenHash })
  }

  async findLink(tokenHash: string): Promise<LinkRecord | null> {
    this.check()
    const row = this.stmts.findLink.get(tokenHash)
    return row ? linkFromRow(row) : null
  }

  async listLinks(workbookId: string): Promise<LinkRecord[]> {
    this.check()
    return this.stmts.listLinks.all(workbookId).map(linkFromRow)
  }

  async saveTemplate(record: { id: string; json: string; createdAt: number }): Promise<void> {
    this.check()
    this.stmts.saveTemplate.run(record)
  }

  async listTemplates(): Promise<{ id: string; json: string; createdAt: number }[]> {
    this.check()
    return this.stmts.listTemplates.all().map(r => ({ id: r.id, json: r.json, createdAt: r.created_at }))
  }

  async deleteTemplate(id: string): Promise<boolean> {
    this.check()
    return this.stmts.deleteTemplate.run(id).changes > 0
  }

  async loadClientLinks(workbookId: string): Promise<Map<number, string>> {
    this.check()
    return new Map(this.stmts.loadClients.all(workbookId).map(r => [r.client_id, r.link_id]))
  }

  async saveClientLinks(workbookId: string, entries: [number, string][]): Promise<void> {
    this.check()
    this.db.transaction(() => { for (const [c, l] of entries) this.stmts.saveClient.run(workbookId, c, l) })()
  }

  async revokeLink(workbookId: string, linkId: string, at: number): Promise<LinkRecord | null> {
    this.check()
    return this.db.transaction(() => {
      this.stmts.revokeLink.run(at, workbookId, linkId)
      const row = this.stmts.getLink.get(workbookId, linkId)
      return row ? linkFromRow(row) : null
    })()
  }

  async getWorkbook(id: string): Promise<WorkbookRecord | null> {
    this.check()
    const row = this.stmts.getWorkbook.get(id)
    return row ? fromRow(row) : null
  }

  async listWorkbooks(): Promise<WorkbookRecord[]> {
    this.check()
    return this.stmts.listWorkbooks.all().map(fromRow)
  }

  async updateWorkbookMeta(id: string, patch: { title?: string; updatedAt?: number }): Promise<boolean> {
    this.check()
    return this.db.transaction(() => {
      if (!this.stmts.exists.get(id)) return false
      if (patch.title !== undefined) this.stmts.setTitle.run(patch.title, id)
      if (patch.updatedAt !== undefined) this.stmts.setUpdatedAt.run(patch.updatedAt, id)
      return true
    })()
  }

  async markRead(workbookId: string, linkId: string, items: readonly string[], at: number): Promise<void> {
    this.check()
    const put = this.db.prepare('INSERT OR IGNORE INTO inbox_reads (link_id, workbook_id, item, at) VALUES (?, ?, ?, ?)')
    this.db.transaction(() => { for (const item of items) put.run(linkId, workbookId, item, at) })()
  }

  async readItems(linkIds: readonly string[]): Promise<Set<string>> {
    this.check()
    const out = new Set<string>()
    const get = this.db.prepare<[string], { item: string }>('SELECT item FROM inbox_reads WHERE link_id = ?')
    for (const id of linkIds) for (const r of get.all(id)) out.add(`${id} ${r.item}`)
    return out
  }

  async deleteWorkbook(id: string): Promise<boolean> {
    this.check()
    return this.db.transaction(() => {
      this.stmts.deleteUpdates.run(id)
      this.stmts.deleteLinks.run(id)
      this.stmts.deleteClients.run(id)
      this.db.prepare('DELETE FROM inbox_reads WHERE workbook_id = ?').run(id)
      this.db.prepare('DELETE FROM versions WHERE workbook_id = ?').run(id)
      this.db.prepare('DELETE FROM audit WHERE workbook_id = ?').run(id)
      this.db.prepare('DELETE FROM webhook_deliveries WHERE workbook_id = ?').run(id)
      this.db.prepare('DELETE FROM webhook_targets WHERE workbook_id = ?').run(id)
      this.rollups.deleteWorkbook(id)
      this.rounds.deleteWorkbook(id)
      this.accounts.deleteWorkbook(id)
      return this.stmts.deleteWorkbook.run(id).changes > 0
    })()
  }

  /**
   * Appends made in one run of the event loop's callbacks (the rooms a burst of edits reached flush
   * together) are committed as one transaction: a commit each cost most of the write.
   */
  appendUpdate(id: string, data: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Error('store is closed'))
    return new Promise<number>((resolve, reject) => {
      if (this.appends.length === 0) queueMicrotask(() => this.writeAppends())
      this.appends.push({ id, data, resolve, reject })
    })
  }

  private appends: { id: string; data: Uint8Array; resolve: (seq: number) => void; reject: (e: unknown) => void }[] = []

  private writeAppends(): void {
    const batch = this.appends
    this.appends = []
    if (this.closed) { for (const a of batch) a.reject(new Error('store is closed')); return }
    this.checkpointer ??= this.startCheckpointer()
    let seqs: number[]
    try {
      seqs = this.appendAll(batch)
    } catch (e) {
      // one write that cannot be made (its workbook deleted meanwhile) fails alone; anything else
      // (the database busy or broken) fails them all, to be retried, rather than each waiting again
      if (!String((e as { code?: unknown }).code ?? '').startsWith('SQLITE_CONSTRAINT')) { for (const a of batch) a.reject(e); return }
      for (const a of batch) {
        try { a.resolve(Number(this.stmts.append.run(a.id, a.data).lastInsertRowid)) } catch (e) { a.reject(e) }
      }
      return
    }
    batch.forEach((a, i) => a.resolve(seqs[i]!))
  }

  private appendAllTx: ((batch: { id: string; data: Uint8Array }[]) => number[]) | null = null

  private appendAll(batch: { id: string; data: Uint8Array }[]): number[] {
    this.appendAllTx ??= this.db.transaction((b: { id: string; data: Uint8Array }[]) => b.map(a => Number(this.stmts.append.run(a.id, a.data).lastInsertRowid)))
    return this.appendAllTx(batch)
  }

  async loadUpdates(id: string): Promise<Uint8Array[]> {
    return (await this.loadUpdateRecords(id)).map(r => r.data)
  }

  async loadUpdateRecords(id: string): Promise<StoredUpdate[]> {
    this.check()
    return this.stmts.load.all(id).map(r => ({ seq: r.seq, data: bytes(r.data) }))
  }

  async countUpdates(id: string): Promise<number> {
    this.check()
    return this.stmts.count.get(id)!.n
  }

  async lastSeq(id: string): Promise<number> {
    this.check()
    return this.db.prepare<[string], { s: number | null }>('SELECT MAX(seq) AS s FROM updates WHERE workbook_id = ?').get(id)!.s ?? 0
  }

  async compact(id: string, merged: Uint8Array, replaced: readonly number[]): Promise<number> {
    this.check()
    if (!replaced.length) return 0
    return this.db.transaction(() => {
      const present = replaced.filter(seq => this.stmts.hasSeq.get(id, seq))
      if (present.length !== replaced.length) return 0
      for (const seq of replaced) this.stmts.deleteSeq.run(id, seq)
      // the merged row takes the place of the newest replaced one, so the order by seq stays meaningful
      this.stmts.insertAt.run(Math.max(...replaced), id, merged)
      return replaced.length
    })()
  }

  async ping(): Promise<void> {
    this.check()
    this.db.prepare('SELECT 1').get()
  }

  /**
   * The write-ahead log is checkpointed by a thread of its own (checkpoint-worker.mjs) every half
   * second; a commit on this thread checkpoints only if the log passes 40 MB (that thread stalled), and
   * at the default 4 MB again if the thread cannot run.
   */
  private startCheckpointer(): Worker {
    this.db.pragma(`wal_autocheckpoint = ${CHECKPOINT_BACKSTOP_PAGES}`)
    const worker = new Worker(new URL('./checkpoint-worker.mjs', import.meta.url), { workerData: { file: this.file, intervalMs: 500 } })
    worker.unref()
    const fallBack = () => { if (!this.closed) this.db.pragma('wal_autocheckpoint = 1000') }
    worker.on('error', fallBack)
    worker.on('exit', fallBack)
    return worker
  }

  async close(): Promise<void> {
    if (this.closed) return
    // the audit entries still gathering go in first
    try { this.history.flushPending() } catch { /* each append was told */ }
    this.closed = true
    const w = this.checkpointer
    this.checkpointer = null
    if (w) {
      const exited = new Promise<void>(resolve => w.once('exit', () => resolve()))
      w.postMessage('stop')
      const t = setTimeout(() => { void w.terminate() }, 2_000)
      await exited
      clearTimeout(t)
    }
    this.db.close()
  }
}
