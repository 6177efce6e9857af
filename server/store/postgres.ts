/**
 * Store on PostgreSQL (`pg`), for teams that run several server instances on one database. The same
 * interface and semantics as the SQLite store. Migrations run at start under an advisory lock, so
 * instances starting together do not race; `schema` puts the tables in their own schema (tests).
 */
import pg from 'pg'
import { sqlRoleList, type LinkRecord, type Role, type Store, type StoredUpdate, type WorkbookRecord } from './types'
import type { HistoryStore } from './history'
import { POSTGRES_HISTORY_SCHEMA, PostgresHistory } from './postgres-history'
import type { WebhookStore } from './webhooks'
import { POSTGRES_WEBHOOKS_SCHEMA, PostgresWebhooks } from './postgres-webhooks'
import { POSTGRES_ROLLUPS_SCHEMA, PostgresRollups } from './postgres-rollups'
import { POSTGRES_ROUNDS_SCHEMA, PostgresRounds } from './postgres-rounds'
import { POSTGRES_ACCOUNTS_SCHEMA, PostgresAccounts } from './postgres-accounts'

const SCHEMA_VERSION = 7
const MIGRATION_LOCK = 72_410_001

interface WorkbookRow { id: string; title: string; template: string; created_at: string; updated_at: string }
interface LinkRow { id: string; workbook_id: string; role: string; name: string; created_at: string; revoked_at: string | null }

const fromRow = (r: WorkbookRow): WorkbookRecord => ({
  id: r.id, title: r.title, template: r.template, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
})
const linkFromRow = (r: LinkRow): LinkRecord => ({
  id: r.id, workbookId: r.workbook_id, role: r.role as Role, name: r.name, createdAt: Number(r.created_at),
  revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
})
interface PendingAppend { id: string; data: Buffer; resolve: (seq: number) => void; reject: (e: unknown) => void }

/** 23xxx: integrity constraint violation (a foreign key to a workbook gone) */
const isConstraintError = (e: unknown): boolean =>
  typeof (e as { code?: unknown } | null)?.code === 'string' && (e as { code: string }).code.startsWith('23')

const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)

export interface PostgresOptions {
  /** tables go into this schema (created if missing); default: the connection's search_path */
  schema?: string
  /** pool size (default 10) */
  max?: number
}

export class PostgresStore implements Store {
  readonly pool: pg.Pool
  private closed = false
  private readonly ready: Promise<void>
  /** versions and the audit trail */
  readonly history: HistoryStore
  /** webhook targets and deliveries */
  readonly webhooks: WebhookStore
  /** roll-up workbooks and their sources */
  readonly rollups: PostgresRollups
  /** fill-in rounds */
  readonly rounds: PostgresRounds
  /** accounts, sessions, memberships */
  readonly accounts: PostgresAccounts

  constructor(url: string, private readonly opts: PostgresOptions = {}) {
    if (opts.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(opts.schema)) throw new Error(`bad schema name ${opts.schema}`)
    // the schema rides in the connection's startup options, so every pooled connection starts in it
    this.pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}) })
    // a database that goes away must not take the process with it: queries fail, and are retried by the rooms
    this.pool.on('error', () => {})
    this.history = new PostgresHistory((text, values) => this.q(text, values), fn => this.tx(fn))
    this.webhooks = new PostgresWebhooks((text, values) => this.q(text, values), fn => this.tx(fn))
    this.rollups = new PostgresRollups((text, values) => this.q(text, values), fn => this.tx(fn))
    this.rounds = new PostgresRounds((text, values) => this.q(text, values), fn => this.tx(fn))
    this.accounts = new PostgresAccounts((text, values) => this.q(text, values), fn => this.tx(fn))
    this.ready = this.migrate()
    this.ready.catch(() => {})
  }

  /** Resolves when the tables are there (rejects if the database cannot be reached or migrated). */
  async open(): Promise<this> { await this.ready; return this }

  private async migrate(): Promise<void> {
    const c = await this.pool.connect()
    try {
      if (this.opts.schema) {
        await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.opts.schema}"`)
        await c.query(`SET search_path TO "${this.opts.schema}"`)
      }
      await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
      try {
        await c.query('CREATE TABLE IF NOT EXISTS pw_schema (version integer NOT NULL)')
        const { rows } = await c.query<{ version: number }>('SELECT version FROM pw_schema')
        const version = rows[0]?.version ?? 0
        if (version > SCHEMA_VERSION) throw new Error(`database schema version ${version} is newer than this server (${SCHEMA_VERSION})`)
        if (version < 1) {
          await c.query('BEGIN')
          await c.query(`
            CREATE TABLE IF NOT EXISTS workbooks (
              id text PRIMARY KEY, title text NOT NULL, template text NOT NULL,
              created_at bigint NOT NULL, updated_at bigint NOT NULL
            );
            CREATE INDEX IF NOT EXISTS workbooks_by_updated ON workbooks (updated_at DESC);
            CREATE TABLE IF NOT EXISTS updates (
              seq bigserial PRIMARY KEY,
              workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
              data bytea NOT NULL
            );
            CREATE INDEX IF NOT EXISTS updates_by_workbook ON updates (workbook_id, seq);
            CREATE TABLE IF NOT EXISTS links (
              id text PRIMARY KEY,
              workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
              role text NOT NULL CHECK (role IN (${sqlRoleList()})),
              name text NOT NULL,
              token_hash text NOT NULL UNIQUE,
              created_at bigint NOT NULL,
              revoked_at bigint
            );
            CREATE INDEX IF NOT EXISTS links_by_workbook ON links (workbook_id, created_at);
            CREATE TABLE IF NOT EXISTS client_links (
              workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
              client_id bigint NOT NULL,
              link_id text NOT NULL,
              PRIMARY KEY (workbook_id, client_id)
            );
            CREATE TABLE IF NOT EXISTS user_templates (id text PRIMARY KEY, json text NOT NULL, created_at bigint NOT NULL);
          `)
          await c.query('DELETE FROM pw_schema')
          await c.query('INSERT INTO pw_schema (version) VALUES ($1)', [1])
          await c.query('COMMIT')
        }
        if (version < 2) {
          // versions and the audit trail (issue 19)
          await c.query('BEGIN')
          await c.query(POSTGRES_HISTORY_SCHEMA)
          await c.query('DELETE FROM pw_schema')
          await c.query('INSERT INTO pw_schema (version) VALUES ($1)', [2])
          await c.query('COMMIT')
        }
        if (version < 3) {
          // comments (issue 20): the commenter role, what each link has read of its inbox
          await c.query('BEGIN')
          await c.query(`
            ALTER TABLE links DROP CONSTRAINT IF EXISTS links_role_check;
            ALTER TABLE links ADD CONSTRAINT links_role_check CHECK (role IN (${sqlRoleList()}));
            CREATE TABLE IF NOT EXISTS inbox_reads (
              link_id text NOT NULL,
              workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
              item text NOT NULL,
              at bigint NOT NULL,
              PRIMARY KEY (link_id, item)
            );
            CREATE INDEX IF NOT EXISTS inbox_reads_by_workbook ON inbox_reads (workbook_id);
          `)
          await c.query('DELETE FROM pw_schema')
          await c.query('INSERT INTO pw_schema (version) VALUES ($1)', [3])
          await c.query('COMMIT')
        }
        if (version < 4) {
          // webhook notifications (issue 20): targets per workbook, the delivery queue
          await c.query('BEGIN')
          await c.query(POSTGRES_WEBHOOKS_SCHEMA)
          await c.query('DELETE FROM pw_schema')
          await c.query('INSERT INTO pw_schema (version) VALUES ($1)', [4])
          await c.query('COMMIT')
        }
        for (const [v, schema] of [[5, POSTGRES_ROLLUPS_SCHEMA], [6, POSTGRES_ROUNDS_SCHEMA], [7, POSTGRES_ACCOUNTS_SCHEMA]] as const) {
          // roll-up workbooks (5) and fill-in rounds (6), issue 21
          if (version >= v) continue
          await c.query('BEGIN')
          await c.query(schema)
          await c.query('DELETE FROM pw_schema')
          await c.query('INSERT INTO pw_schema (version) VALUES ($1)', [v])
          await c.query('COMMIT')
        }
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {})
        throw e
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {})
      }
    } finally {
      c.release()
    }
  }

  private async q<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new Error('store is closed')
    await this.ready
    return this.pool.query<R>(text, values)
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('store is closed')
    await this.ready
    const c = await this.pool.connect()
    try {
      await c.query('BEGIN')
      const out = await fn(c)
      await c.query('COMMIT')
      return out
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {})
      throw e
    } finally {
      c.release()
    }
  }

  async ping(): Promise<void> { await this.q('SELECT 1') }

  async markRead(workbookId: string, linkId: string, items: readonly string[], at: number): Promise<void> {
    if (items.length === 0) return
    await this.q('INSERT INTO inbox_reads (link_id, workbook_id, item, at) SELECT $1, $2, unnest($3::text[]), $4 ON CONFLICT DO NOTHING', [linkId, workbookId, [...items], at])
  }

  async readItems(linkIds: readonly string[]): Promise<Set<string>> {
    if (linkIds.length === 0) return new Set()
    const { rows } = await this.q<{ link_id: string; item: string }>('SELECT link_id, item FROM inbox_reads WHERE link_id = ANY($1::text[])', [[...linkIds]])
    return new Set(rows.map(r => `${r.link_id} ${r.item}`))
  }

  async createWorkbook(record: WorkbookRecord, initialUpdate?: Uint8Array, ownerLink?: { link: LinkRecord; tokenHash: string }): Promise<WorkbookRecord> {
    await this.tx(async c => {
      await c.query('INSERT INTO workbooks (id, title, template, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)',
        [record.id, record.title, record.template, record.createdAt, record.updatedAt])
      if (initialUpdate) await c.query('INSERT INTO updates (workbook_id, data) VALUES ($1, $2)', [record.id, Buffer.from(initialUpdate)])
      if (ownerLink) await this.insertLink(c, ownerLink.link, ownerLink.tokenHash)
    })
    return { ...record }
  }

  private insertLink(c: pg.PoolClient | pg.Pool, l: LinkRecord, tokenHash: string) {
    return c.query('INSERT INTO links (id, workbook_id, role, name, token_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [l.id, l.workbookId, l.role, l.name, tokenHash, l.createdAt, l.revokedAt])
  }

  async createLink(link: LinkRecord, tokenHash: string): Promise<void> {
    await this.ready
    await this.insertLink(this.pool, link, tokenHash)
  }

  async findLink(tokenHash: string): Promise<LinkRecord | null> {
    const { rows } = await this.q<LinkRow>('SELECT id, workbook_id, role, name, created_at, revoked_at FROM links WHERE token_hash = $1', [tokenHash])
    return rows[0] ? linkFromRow(rows[0]) : null
  }

  async listLinks(workbookId: string): Promise<LinkRecord[]> {
    const { rows } = await this.q<LinkRow>('SELECT id, workbook_id, role, name, created_at, revoked_at FROM links WHERE workbook_id = $1 ORDER BY created_at, id', [workbookId])
    return rows.map(linkFromRow)
  }

  async revokeLink(workbookId: string, linkId: string, at: number): Promise<LinkRecord | null> {
    const { rows } = await this.q<LinkRow>(
      'UPDATE links SET revoked_at = COALESCE(revoked_at, $1) WHERE workbook_id = $2 AND id = $3 RETURNING id, workbook_id, role, name, created_at, revoked_at',
      [at, workbookId, linkId])
    return rows[0] ? linkFromRow(rows[0]) : null
  }

  async getWorkbook(id: string): Promise<WorkbookRecord | null> {
    const { rows } = await this.q<WorkbookRow>('SELECT * FROM workbooks WHERE id = $1', [id])
    return rows[0] ? fromRow(rows[0]) : null
  }

  async listWorkbooks(): Promise<WorkbookRecord[]> {
    const { rows } = await this.q<WorkbookRow>('SELECT * FROM workbooks ORDER BY updated_at DESC, created_at DESC, id')
    return rows.map(fromRow)
  }

  async updateWorkbookMeta(id: string, patch: { title?: string; updatedAt?: number }): Promise<boolean> {
    const { rowCount } = await this.q(
      'UPDATE workbooks SET title = COALESCE($2, title), updated_at = GREATEST(updated_at, COALESCE($3, updated_at)) WHERE id = $1',
      [id, patch.title ?? null, patch.updatedAt ?? null])
    return (rowCount ?? 0) > 0
  }

  async deleteWorkbook(id: string): Promise<boolean> {
    // updates, links and client ids go with it (ON DELETE CASCADE)
    const { rowCount } = await this.q('DELETE FROM workbooks WHERE id = $1', [id])
    return (rowCount ?? 0) > 0
  }

  /**
   * Appends made in one run of microtasks (the rooms due in one turn of the event loop) go as one
   * INSERT, as the SQLite store commits them in one transaction. One write is in flight at a time:
   * appends made meanwhile wait and go together as the next INSERT (group commit). Two INSERTs on two
   * pooled connections would take their seqs in whichever order the database reached them, so an
   * append could be stored before one made earlier to the same workbook.
   *
   * If the INSERT fails on a constraint (a workbook deleted meanwhile), each is tried alone, one after
   * the other in the order made, so that only its own fails and the others keep their order.
   */
  appendUpdate(id: string, data: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Error('store is closed'))
    return new Promise<number>((resolve, reject) => {
      this.appends.push({ id, data: Buffer.from(data), resolve, reject })
      if (!this.appending && this.appends.length === 1) queueMicrotask(() => void this.writeAppends())
    })
  }

  private appends: PendingAppend[] = []
  /** a write of appends is in flight: new ones wait for it, and its loop takes them next */
  private appending = false

  private async appendOne(id: string, data: Buffer): Promise<number> {
    const { rows } = await this.q<{ seq: string }>('INSERT INTO updates (workbook_id, data) VALUES ($1, $2) RETURNING seq', [id, data])
    return Number(rows[0]!.seq)
  }

  private async writeAppends(): Promise<void> {
    if (this.appending) return
    this.appending = true
    try {
      // whatever arrived while a batch was written goes next, in the order made
      while (this.appends.length > 0) await this.writeBatch(this.appends.splice(0))
    } finally {
      this.appending = false
    }
  }

  /** Writes one batch and settles every append in it; never throws. */
  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    if (batch.length === 1) {
      const [a] = batch
      await this.appendOne(a!.id, a!.data).then(a!.resolve, a!.reject)
      return
    }
    let rows: { seq: string; workbook_id: string }[]
    try {
      // rows go in in the order given (ORDER BY n), so each workbook's seqs ascend in the order of its appends
      rows = (await this.q<{ seq: string; workbook_id: string }>(
        'INSERT INTO updates (workbook_id, data) SELECT w, d FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS t(w, d, n) ORDER BY n RETURNING seq, workbook_id',
        [batch.map(a => a.id), batch.map(a => a.data)],
      )).rows
    } catch (e) {
      if (!isConstraintError(e)) { for (const a of batch) a.reject(e); return }
      // each alone, strictly one after the other: issued together they would race for their seqs
      for (let i = 0; i < batch.length; i++) {
        const a = batch[i]!
        try {
          a.resolve(await this.appendOne(a.id, a.data))
        } catch (err) {
          a.reject(err)
          // the database itself failing (not this workbook gone): the rest fail too, rather than
          // being stored after an earlier append that was not
          if (!isConstraintError(err)) { for (const b of batch.slice(i + 1)) b.reject(err); return }
        }
      }
      return
    }
    const seqs = new Map<string, number[]>()
    for (const r of rows) {
      const list = seqs.get(r.workbook_id) ?? []
      list.push(Number(r.seq))
      seqs.set(r.workbook_id, list)
    }
    for (const list of seqs.values()) list.sort((x, y) => x - y)
    for (const a of batch) {
      const seq = seqs.get(a.id)?.shift()
      if (seq === undefined) a.reject(new Error('append: no row came back'))
      else a.resolve(seq)
    }
  }

  async loadUpdates(id: string): Promise<Uint8Array[]> {
    return (await this.loadUpdateRecords(id)).map(r => r.data)
  }

  async loadUpdateRecords(id: string): Promise<StoredUpdate[]> {
    const { rows } = await this.q<{ seq: string; data: Buffer }>('SELECT seq, data FROM updates WHERE workbook_id = $1 ORDER BY seq', [id])
    return rows.map(r => ({ seq: Number(r.seq), data: bytes(r.data) }))
  }

  async countUpdates(id: string): Promise<number> {
    const { rows } = await this.q<{ n: string }>('SELECT COUNT(*) AS n FROM updates WHERE workbook_id = $1', [id])
    return Number(rows[0]!.n)
  }

  async lastSeq(id: string): Promise<number> {
    const { rows } = await this.q<{ s: string | null }>('SELECT MAX(seq) AS s FROM updates WHERE workbook_id = $1', [id])
    return Number(rows[0]!.s ?? 0)
  }

  async compact(id: string, merged: Uint8Array, replaced: readonly number[]): Promise<number> {
    if (!replaced.length) return 0
    return this.tx(async c => {
      // one compaction of a workbook at a time, whichever instance runs it
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`pw:compact:${id}`])
      const { rowCount } = await c.query('DELETE FROM updates WHERE workbook_id = $1 AND seq = ANY($2::bigint[])', [id, replaced])
      if ((rowCount ?? 0) !== replaced.length) {
        // another compaction took some of them: leave everything as it was
        await c.query('ROLLBACK')
        await c.query('BEGIN')
        return 0
      }
      // the merged row takes the place of the newest replaced one: rows appended meanwhile stay after it
      await c.query('INSERT INTO updates (seq, workbook_id, data) VALUES ($1, $2, $3)', [Math.max(...replaced), id, Buffer.from(merged)])
      return replaced.length
    })
  }

  async saveTemplate(record: { id: string; json: string; createdAt: number }): Promise<void> {
    await this.q('INSERT INTO user_templates (id, json, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET json = EXCLUDED.json', [record.id, record.json, record.createdAt])
  }

  async listTemplates(): Promise<{ id: string; json: string; createdAt: number }[]> {
    const { rows } = await this.q<{ id: string; json: string; created_at: string }>('SELECT id, json, created_at FROM user_templates ORDER BY created_at, id')
    return rows.map(r => ({ id: r.id, json: r.json, createdAt: Number(r.created_at) }))
  }

  async deleteTemplate(id: string): Promise<boolean> {
    const { rowCount } = await this.q('DELETE FROM user_templates WHERE id = $1', [id])
    return (rowCount ?? 0) > 0
  }

  async loadClientLinks(workbookId: string): Promise<Map<number, string>> {
    const { rows } = await this.q<{ client_id: string; link_id: string }>('SELECT client_id, link_id FROM client_links WHERE workbook_id = $1', [workbookId])
    return new Map(rows.map(r => [Number(r.client_id), r.link_id]))
  }

  async saveClientLinks(workbookId: string, entries: [number, string][]): Promise<void> {
    if (!entries.length) return
    await this.q(
      `INSERT INTO client_links (workbook_id, client_id, link_id) SELECT $1, * FROM UNNEST($2::bigint[], $3::text[]) ON CONFLICT DO NOTHING`,
      [workbookId, entries.map(e => e[0]), entries.map(e => e[1])])
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.ready.catch(() => {})
    await this.pool.end()
  }
}
