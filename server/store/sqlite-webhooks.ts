/** The SQLite store's webhook targets and delivery queue (server/store/webhooks.ts): one process claims. */
import type Database from 'better-sqlite3'
import {
  TARGET_COLUMNS, errorText, planReplace, targetFromRow,
  type ClaimedDelivery, type DeliveryInput, type DeliveryOutcome, type TargetRow, type WebhookStore, type WebhookTarget, type WebhookTargetInput,
} from './webhooks'

/** Tables of schema version 7 (run inside the store's migration). */
export const SQLITE_WEBHOOKS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS webhook_targets (
    id TEXT PRIMARY KEY,
    workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT,
    events TEXT NOT NULL,
    lang TEXT,
    created_at INTEGER NOT NULL,
    last_status TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS webhook_targets_by_workbook ON webhook_targets (workbook_id, position);
  CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workbook_id TEXT NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    target_id TEXT NOT NULL REFERENCES webhook_targets (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    created_at INTEGER NOT NULL,
    done_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_at);
  CREATE INDEX IF NOT EXISTS webhook_deliveries_by_target ON webhook_deliveries (target_id, state);
`

interface DeliveryRow { id: number; workbook_id: string; target_id: string; event: string; payload: string; attempts: number }

export class SqliteWebhooks implements WebhookStore {
  private readonly stmts

  constructor(private readonly db: Database.Database, private readonly check: () => void) {
    this.stmts = {
      list: db.prepare<[string], TargetRow>(`SELECT ${TARGET_COLUMNS} FROM webhook_targets WHERE workbook_id = ? ORDER BY position, created_at`),
      insert: db.prepare(`INSERT INTO webhook_targets (id, workbook_id, position, kind, url, secret, events, lang, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      update: db.prepare('UPDATE webhook_targets SET position = ?, secret = ?, events = ?, lang = ? WHERE id = ? AND workbook_id = ?'),
      remove: db.prepare('DELETE FROM webhook_targets WHERE id = ? AND workbook_id = ?'),
      removeDeliveries: db.prepare('DELETE FROM webhook_deliveries WHERE target_id = ?'),
      enqueue: db.prepare('INSERT INTO webhook_deliveries (workbook_id, target_id, event, payload, next_at, created_at) SELECT ?, id, ?, ?, ?, ? FROM webhook_targets WHERE id = ?'),
      due: db.prepare<[number, number], DeliveryRow>("SELECT id, workbook_id, target_id, event, payload, attempts FROM webhook_deliveries WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id LIMIT ?"),
      lease: db.prepare('UPDATE webhook_deliveries SET next_at = ?, attempts = attempts + 1 WHERE id = ?'),
      target: db.prepare<[string], TargetRow>(`SELECT ${TARGET_COLUMNS} FROM webhook_targets WHERE id = ?`),
      done: db.prepare("UPDATE webhook_deliveries SET state = 'done', last_error = NULL, done_at = ? WHERE id = ?"),
      dropped: db.prepare("UPDATE webhook_deliveries SET state = 'dropped', done_at = ? WHERE id = ?"),
      retry: db.prepare("UPDATE webhook_deliveries SET next_at = ?, last_error = ? WHERE id = ?"),
      dead: db.prepare("UPDATE webhook_deliveries SET state = 'dead', last_error = ?, done_at = ? WHERE id = ?"),
      targetOk: db.prepare("UPDATE webhook_targets SET last_status = 'ok', last_error = NULL, failures = 0, last_attempt_at = ? WHERE id = ?"),
      targetFailed: db.prepare("UPDATE webhook_targets SET last_status = 'failed', last_error = ?, failures = failures + 1, last_attempt_at = ? WHERE id = ?"),
      pending: db.prepare<[string], { target_id: string; n: number }>("SELECT target_id, COUNT(*) AS n FROM webhook_deliveries WHERE workbook_id = ? AND state = 'pending' GROUP BY target_id"),
      nextDue: db.prepare<[], { at: number | null }>("SELECT MIN(next_at) AS at FROM webhook_deliveries WHERE state = 'pending'"),
      prune: db.prepare("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND done_at < ?"),
    }
  }

  async listTargets(workbookId: string): Promise<WebhookTarget[]> {
    this.check()
    return this.stmts.list.all(workbookId).map(targetFromRow)
  }

  async replaceTargets(workbookId: string, targets: readonly WebhookTargetInput[], now: number): Promise<WebhookTarget[]> {
    this.check()
    return this.db.transaction(() => {
      const plan = planReplace(this.stmts.list.all(workbookId).map(targetFromRow), targets)
      for (const id of plan.remove) { this.stmts.removeDeliveries.run(id); this.stmts.remove.run(id, workbookId) }
      for (const k of plan.keep) this.stmts.update.run(k.position, k.input.secret, JSON.stringify(k.input.events), k.input.lang, k.id, workbookId)
      for (const a of plan.add) this.stmts.insert.run(a.id, workbookId, a.position, a.input.kind, a.input.url, a.input.secret, JSON.stringify(a.input.events), a.input.lang, now)
      return this.stmts.list.all(workbookId).map(targetFromRow)
    })()
  }

  async enqueue(workbookId: string, deliveries: readonly DeliveryInput[], now: number): Promise<void> {
    this.check()
    // a target removed meanwhile gets nothing (the SELECT finds no row)
    this.db.transaction(() => {
      for (const d of deliveries) this.stmts.enqueue.run(workbookId, d.event, d.payload, d.nextAt, now, d.targetId)
    })()
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    this.check()
    return this.db.transaction(() => {
      const out: ClaimedDelivery[] = []
      for (const r of this.stmts.due.all(now, limit)) {
        const t = this.stmts.target.get(r.target_id)
        if (!t) continue
        this.stmts.lease.run(now + leaseMs, r.id)
        out.push({ id: r.id, workbookId: r.workbook_id, event: r.event, payload: r.payload, attempts: r.attempts + 1, target: targetFromRow(t) })
      }
      return out
    })()
  }

  async settle(d: ClaimedDelivery, outcome: DeliveryOutcome, now: number): Promise<void> {
    this.check()
    this.db.transaction(() => {
      if ('dropped' in outcome) { this.stmts.dropped.run(now, d.id); return }
      if (outcome.ok) {
        this.stmts.done.run(now, d.id)
        this.stmts.targetOk.run(now, d.target.id)
        return
      }
      const error = errorText(outcome.error)
      if (outcome.retryAt === null) this.stmts.dead.run(error, now, d.id)
      else this.stmts.retry.run(outcome.retryAt, error, d.id)
      this.stmts.targetFailed.run(error, now, d.target.id)
    })()
  }

  async pendingCounts(workbookId: string): Promise<Map<string, number>> {
    this.check()
    return new Map(this.stmts.pending.all(workbookId).map(r => [r.target_id, r.n]))
  }

  async nextDue(): Promise<number | null> {
    this.check()
    return this.stmts.nextDue.get()?.at ?? null
  }

  async prune(before: number): Promise<number> {
    this.check()
    return this.stmts.prune.run(before).changes
  }
}
