/**
 * Webhook targets per workbook, and the queue of their deliveries (server/notify/). A delivery is one
 * event for one target, kept as the event (rendered for the vendor when sent: signatures carry the time
 * of sending). The delivery loop claims due deliveries: claiming moves `next_at` a lease ahead and counts
 * the attempt, so a claimed delivery is nobody else's until the lease ends (an instance that died while
 * sending: another takes it up then); PostgreSQL claims with FOR UPDATE SKIP LOCKED, so instances never
 * claim one twice. A failure puts it back with a later `next_at`, or makes it dead after the last attempt.
 *
 * A target's status is its last delivery's: ok, or failed with the error, and how many failed in a row.
 * Its secret is kept as given (DingTalk and Feishu need it to sign) and never handed out by the API.
 */
import { randomBytes } from 'node:crypto'
import type { EventName, Lang, TargetKind } from '../notify/messages'

export interface WebhookTargetInput {
  kind: TargetKind
  url: string
  secret: string | null
  events: EventName[]
  /** the messages' language; null: zh-CN */
  lang: Lang | null
}

export interface WebhookTarget extends WebhookTargetInput {
  id: string
  workbookId: string
  createdAt: number
  lastStatus: 'ok' | 'failed' | null
  lastError: string | null
  /** deliveries that failed since the last one that went through */
  failures: number
  lastAttemptAt: number | null
}

export interface DeliveryInput { targetId: string; event: string; payload: string; nextAt: number }

export interface ClaimedDelivery {
  id: number
  workbookId: string
  event: string
  payload: string
  /** attempts so far, this one included */
  attempts: number
  target: WebhookTarget
}

export type DeliveryOutcome =
  | { ok: true }
  | { ok: false; error: string; retryAt: number | null }
  /** nothing to send any more (a due date changed, the task done) */
  | { dropped: true }

export interface WebhookStore {
  /** In the order the owner gave them. */
  listTargets(workbookId: string): Promise<WebhookTarget[]>
  /**
   * Makes `targets` the workbook's list. A target of the same kind and URL as one kept stays that target
   * (its status and pending deliveries with it); the others go, their deliveries with them.
   */
  replaceTargets(workbookId: string, targets: readonly WebhookTargetInput[], now: number): Promise<WebhookTarget[]>
  /** One row per delivery, in one statement. */
  enqueue(workbookId: string, deliveries: readonly DeliveryInput[], now: number): Promise<void>
  /** Up to `limit` deliveries due at `now`, each leased until `now + leaseMs`. */
  claim(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]>
  settle(delivery: ClaimedDelivery, outcome: DeliveryOutcome, now: number): Promise<void>
  /** Pending deliveries by target id. */
  pendingCounts(workbookId: string): Promise<Map<string, number>>
  /** The earliest `next_at` of a pending delivery, or null. */
  nextDue(): Promise<number | null>
  /** Deletes finished (done, dead, dropped) deliveries older than `before`; returns how many. */
  prune(before: number): Promise<number>
}

export const MAX_TARGETS = 10

export const newTargetId = (): string => randomBytes(9).toString('base64url')

export interface TargetRow {
  id: string; workbook_id: string; position: number | string; kind: string; url: string; secret: string | null
  events: string; lang: string | null; created_at: number | string; last_status: string | null; last_error: string | null
  failures: number | string; last_attempt_at: number | string | null
}

export const targetFromRow = (r: TargetRow): WebhookTarget => ({
  id: r.id, workbookId: r.workbook_id, kind: r.kind as TargetKind, url: r.url, secret: r.secret,
  events: JSON.parse(r.events) as EventName[], lang: (r.lang as Lang | null) ?? null, createdAt: Number(r.created_at),
  lastStatus: (r.last_status as 'ok' | 'failed' | null) ?? null, lastError: r.last_error, failures: Number(r.failures),
  lastAttemptAt: r.last_attempt_at === null ? null : Number(r.last_attempt_at),
})

/** What replacing `existing` by `given` does: targets kept (updated), made, and removed. */
export function planReplace(existing: readonly WebhookTarget[], given: readonly WebhookTargetInput[]) {
  const left = [...existing]
  const keep: { id: string; position: number; input: WebhookTargetInput }[] = []
  const add: { id: string; position: number; input: WebhookTargetInput }[] = []
  given.forEach((input, position) => {
    const i = left.findIndex(t => t.kind === input.kind && t.url === input.url)
    if (i >= 0) keep.push({ id: left.splice(i, 1)[0]!.id, position, input })
    else add.push({ id: newTargetId(), position, input })
  })
  return { keep, add, remove: left.map(t => t.id) }
}

/** Error text as kept: one line, at most 500 characters. */
export const errorText = (e: string): string => e.replace(/\s+/g, ' ').trim().slice(0, 500)

export const TARGET_COLUMNS = 'id, workbook_id, position, kind, url, secret, events, lang, created_at, last_status, last_error, failures, last_attempt_at'
