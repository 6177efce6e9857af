/**
 * The PostgreSQL store's webhook targets and delivery queue (server/store/webhooks.ts). Several instances
 * run the delivery loop on one database: a claim locks its rows with FOR UPDATE SKIP LOCKED and leases
 * them in the same statement, so two instances never send one delivery twice.
 */
import type pg from 'pg'
import {
  TARGET_COLUMNS, errorText, planReplace, targetFromRow,
  type ClaimedDelivery, type DeliveryInput, type DeliveryOutcome, type TargetRow, type WebhookStore, type WebhookTarget, type WebhookTargetInput,
} from './webhooks'

/** Tables of schema version 4 (run inside the store's migration). */
export const POSTGRES_WEBHOOKS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS webhook_targets (
    id text PRIMARY KEY,
    workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    position integer NOT NULL,
    kind text NOT NULL,
    url text NOT NULL,
    secret text,
    events text NOT NULL,
    lang text,
    created_at bigint NOT NULL,
    last_status text,
    last_error text,
    failures integer NOT NULL DEFAULT 0,
    last_attempt_at bigint
  );
  CREATE INDEX IF NOT EXISTS webhook_targets_by_workbook ON webhook_targets (workbook_id, position);
  CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id bigserial PRIMARY KEY,
    workbook_id text NOT NULL REFERENCES workbooks (id) ON DELETE CASCADE,
    target_id text NOT NULL REFERENCES webhook_targets (id) ON DELETE CASCADE,
    event text NOT NULL,
    payload text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_at bigint NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    last_error text,
    created_at bigint NOT NULL,
    done_at bigint
  );
  CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_at);
  CREATE INDEX IF NOT EXISTS webhook_deliveries_by_target ON webhook_deliveries (target_id, state);
`

type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>
type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>

const T_COLS = TARGET_COLUMNS.split(', ').map(c => `t.${c}`).join(', ')

export class PostgresWebhooks implements WebhookStore {
  constructor(private readonly q: Query, private readonly tx: Tx) {}

  async listTargets(workbookId: string): Promise<WebhookTarget[]> {
    const { rows } = await this.q<TargetRow>(`SELECT ${TARGET_COLUMNS} FROM webhook_targets WHERE workbook_id = $1 ORDER BY position, created_at`, [workbookId])
    return rows.map(targetFromRow)
  }

  async replaceTargets(workbookId: string, targets: readonly WebhookTargetInput[], now: number): Promise<WebhookTarget[]> {
    return this.tx(async c => {
      // the workbook's row is the lock: two owners saving at once replace one after the other
      const { rowCount } = await c.query('SELECT 1 FROM workbooks WHERE id = $1 FOR UPDATE', [workbookId])
      if (!rowCount) throw new Error('workbook not found')
      const existing = (await c.query<TargetRow>(`SELECT ${TARGET_COLUMNS} FROM webhook_targets WHERE workbook_id = $1`, [workbookId])).rows.map(targetFromRow)
      const plan = planReplace(existing, targets)
      if (plan.remove.length) await c.query('DELETE FROM webhook_targets WHERE workbook_id = $1 AND id = ANY($2::text[])', [workbookId, plan.remove])
      for (const k of plan.keep) {
        await c.query('UPDATE webhook_targets SET position = $1, secret = $2, events = $3, lang = $4 WHERE id = $5 AND workbook_id = $6',
          [k.position, k.input.secret, JSON.stringify(k.input.events), k.input.lang, k.id, workbookId])
      }
      for (const a of plan.add) {
        await c.query('INSERT INTO webhook_targets (id, workbook_id, position, kind, url, secret, events, lang, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
          [a.id, workbookId, a.position, a.input.kind, a.input.url, a.input.secret, JSON.stringify(a.input.events), a.input.lang, now])
      }
      const { rows } = await c.query<TargetRow>(`SELECT ${TARGET_COLUMNS} FROM webhook_targets WHERE workbook_id = $1 ORDER BY position, created_at`, [workbookId])
      return rows.map(targetFromRow)
    })
  }

  async enqueue(workbookId: string, deliveries: readonly DeliveryInput[], now: number): Promise<void> {
    if (!deliveries.length) return
    // one INSERT; a target removed meanwhile gets nothing (the join finds no row)
    await this.q(
      `INSERT INTO webhook_deliveries (workbook_id, target_id, event, payload, next_at, created_at)
       SELECT $1, t.id, d.event, d.payload, d.next_at, $2
       FROM UNNEST($3::text[], $4::text[], $5::text[], $6::bigint[]) AS d (target_id, event, payload, next_at)
       JOIN webhook_targets t ON t.id = d.target_id AND t.workbook_id = $1`,
      [workbookId, now, deliveries.map(d => d.targetId), deliveries.map(d => d.event), deliveries.map(d => d.payload), deliveries.map(d => d.nextAt)])
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const { rows } = await this.q<TargetRow & { d_id: string; d_workbook: string; d_event: string; d_payload: string; d_attempts: number }>(
      `WITH due AS (
         SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_at <= $1 ORDER BY next_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
       )
       UPDATE webhook_deliveries d SET next_at = $3, attempts = d.attempts + 1
       FROM due, webhook_targets t
       WHERE d.id = due.id AND t.id = d.target_id
       RETURNING d.id AS d_id, d.workbook_id AS d_workbook, d.event AS d_event, d.payload AS d_payload, d.attempts AS d_attempts, ${T_COLS}`,
      [now, limit, now + leaseMs])
    return rows.map(r => ({ id: Number(r.d_id), workbookId: r.d_workbook, event: r.d_event, payload: r.d_payload, attempts: Number(r.d_attempts), target: targetFromRow(r) }))
  }

  async settle(d: ClaimedDelivery, outcome: DeliveryOutcome, now: number): Promise<void> {
    if ('dropped' in outcome) {
      await this.q("UPDATE webhook_deliveries SET state = 'dropped', done_at = $1 WHERE id = $2", [now, d.id])
      return
    }
    await this.tx(async c => {
      if (outcome.ok) {
        await c.query("UPDATE webhook_deliveries SET state = 'done', last_error = NULL, done_at = $1 WHERE id = $2", [now, d.id])
        await c.query("UPDATE webhook_targets SET last_status = 'ok', last_error = NULL, failures = 0, last_attempt_at = $1 WHERE id = $2", [now, d.target.id])
        return
      }
      const error = errorText(outcome.error)
      if (outcome.retryAt === null) await c.query("UPDATE webhook_deliveries SET state = 'dead', last_error = $1, done_at = $2 WHERE id = $3", [error, now, d.id])
      else await c.query('UPDATE webhook_deliveries SET next_at = $1, last_error = $2 WHERE id = $3', [outcome.retryAt, error, d.id])
      await c.query("UPDATE webhook_targets SET last_status = 'failed', last_error = $1, failures = failures + 1, last_attempt_at = $2 WHERE id = $3", [error, now, d.target.id])
    })
  }

  async pendingCounts(workbookId: string): Promise<Map<string, number>> {
    const { rows } = await this.q<{ target_id: string; n: string }>(
      "SELECT target_id, COUNT(*) AS n FROM webhook_deliveries WHERE workbook_id = $1 AND state = 'pending' GROUP BY target_id", [workbookId])
    return new Map(rows.map(r => [r.target_id, Number(r.n)]))
  }

  async nextDue(): Promise<number | null> {
    const { rows } = await this.q<{ at: string | null }>("SELECT MIN(next_at) AS at FROM webhook_deliveries WHERE state = 'pending'")
    return rows[0]?.at == null ? null : Number(rows[0].at)
  }

  async prune(before: number): Promise<number> {
    const { rowCount } = await this.q("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND done_at < $1", [before])
    return rowCount ?? 0
  }
}
