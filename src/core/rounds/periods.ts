/**
 * When a fill-in round (收集表) is due, and which period is current. A round has periods: one for a
 * one-off round, one a week or a month for a repeating one. Times are epoch ms; a due date written
 * without an offset is wall-clock time in the round's time zone (the workbook's, kept with the round
 * when it is made, so a later zone change does not move its periods).
 *
 *  - Period k is due at `dueOf(k)`: the first due, k weeks (weekly) or k months (monthly) later, at the
 *    same wall-clock time in the zone (monthly on the same day of the month, the month's last day when it
 *    has fewer days: 31 Jan → 28 Feb → 31 Mar).
 *  - A period closes at `closeOf(k)`: a one-off round at its due time, a repeating one a day after its due
 *    time (GRACE_MS: late submissions still count for the period that was due), when the next period starts.
 *  - The current period at `now` is the first that has not closed (a one-off round's only period stays
 *    current after it closed: late submissions are still taken, and marked late).
 *  - A person's state in a period: submitted, late (not submitted and the due time passed) or not yet.
 * Pure; shared by the server (status, the closing timer) and the page.
 */
import { DEFAULT_TIME_ZONE, isTimeZone, zonedTime } from '../workbook/zone'

export const REPEATS = ['weekly', 'monthly', 'once'] as const
export type Repeat = typeof REPEATS[number]
export const isRepeat = (v: unknown): v is Repeat => typeof v === 'string' && (REPEATS as readonly string[]).includes(v)

/** How long after its due time a repeating round's period stays current. */
export const GRACE_MS = 86_400_000

export interface RoundTiming {
  /** epoch ms of the first period's due time */
  firstDue: number
  repeat: Repeat
  /** IANA time zone the due wall-clock time is read in */
  zone: string
}

export type PersonState = 'submitted' | 'late' | 'not-yet'

const zoneOf = (z: string) => (isTimeZone(z) ? z : DEFAULT_TIME_ZONE)

/** Epoch ms of a wall-clock time in `zone` (the earlier instant when the clock is set back, the later one in a gap). */
export function zonedToEpoch(zone: string, y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  const wall = Date.UTC(y, mo - 1, d, h, mi, s)
  let at = wall
  for (let i = 0; i < 3; i++) {
    const z = zonedTime(zoneOf(zone), new Date(at))
    const seen = Date.UTC(z.year, z.month - 1, z.day, z.hours, z.minutes, z.seconds)
    const next = at + (wall - seen)
    if (next === at) break
    at = next
  }
  return at
}

const DUE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/

/**
 * A due time as the API takes it → epoch ms, or null when it is not one: an ISO date-time
 * (2026-03-06T18:00, with seconds, with an offset or Z), or a date alone (the end of that day, 23:59).
 * Without an offset it is wall-clock time in `zone`.
 */
export function parseDue(text: string, zone: string): number | null {
  const m = DUE.exec(text.trim())
  if (!m) return null
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const timeGiven = m[4] !== undefined
  const [h, mi, s] = timeGiven ? [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)] : [23, 59, 0]
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return null
  if (m[7]) {
    if (!timeGiven) return null
    const off = m[7] === 'Z' ? 0 : (m[7][0] === '-' ? -1 : 1) * (Number(m[7].slice(1, 3)) * 60 + Number(m[7].slice(-2)))
    if (Math.abs(off) > 14 * 60) return null
    return Date.UTC(y, mo - 1, d, h, mi, s) - off * 60_000
  }
  return zonedToEpoch(zone, y, mo, d, h, mi, s)
}

const daysIn = (y: number, mo: number) => new Date(Date.UTC(y, mo, 0)).getUTCDate()

/** Epoch ms period `k` is due at. */
export function dueOf(t: RoundTiming, k: number): number {
  if (t.repeat === 'once' || k <= 0) return t.firstDue
  const z = zonedTime(zoneOf(t.zone), new Date(t.firstDue))
  if (t.repeat === 'weekly') {
    const day = new Date(Date.UTC(z.year, z.month - 1, z.day + 7 * k))
    return zonedToEpoch(t.zone, day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), z.hours, z.minutes, z.seconds)
  }
  const months = z.month - 1 + k
  const y = z.year + Math.floor(months / 12), mo = (months % 12) + 1
  return zonedToEpoch(t.zone, y, mo, Math.min(z.day, daysIn(y, mo)), z.hours, z.minutes, z.seconds)
}

/** Epoch ms period `k` closes at (its version is saved then). */
export function closeOf(t: RoundTiming, k: number): number {
  return t.repeat === 'once' ? t.firstDue : dueOf(t, k) + GRACE_MS
}

/** The current period at `now` (see the file's comment). */
export function periodAt(t: RoundTiming, now: number): number {
  if (t.repeat === 'once') return 0
  const span = t.repeat === 'weekly' ? 7 * 86_400_000 : 28 * 86_400_000
  let k = Math.max(0, Math.floor((now - closeOf(t, 0)) / span))
  while (k > 0 && closeOf(t, k - 1) > now) k--
  while (closeOf(t, k) <= now) k++
  return k
}

/** The periods that closed by `now` and are after `after` (the last one recorded as closed; -1: none). */
export function closedSince(t: RoundTiming, after: number, now: number): number[] {
  const out: number[] = []
  const last = t.repeat === 'once' ? (closeOf(t, 0) <= now ? 0 : -1) : periodAt(t, now) - 1
  for (let k = Math.max(0, after + 1); k <= last; k++) out.push(k)
  return out
}

const two = (n: number) => String(n).padStart(2, '0')

/** A period's name: its due day in the zone, YYYY-MM-DD. */
export function periodLabel(t: RoundTiming, k: number): string {
  const z = zonedTime(zoneOf(t.zone), new Date(dueOf(t, k)))
  return `${z.year}-${two(z.month)}-${two(z.day)}`
}

/** A time as wall-clock text in the zone, YYYY-MM-DD HH:mm. */
export function zonedText(zone: string, at: number): string {
  const z = zonedTime(zoneOf(zone), new Date(at))
  return `${z.year}-${two(z.month)}-${two(z.day)} ${two(z.hours)}:${two(z.minutes)}`
}

/** Where a person stands in a period due at `due`. */
export function personState(due: number, now: number, submittedAt: number | null | undefined): PersonState {
  if (submittedAt !== null && submittedAt !== undefined) return 'submitted'
  return now > due ? 'late' : 'not-yet'
}
