/**
 * The workbook's time zone: TODAY() and NOW() give the date and time there, in every browser and on the
 * server alike (HyperFormula's own read the machine's local time, so a server in UTC and a colleague
 * abroad would disagree with Shanghai about "today" for hours each day). The zone is the doc's
 * `meta.timeZone` (an IANA name, set from the creator's browser); a workbook without one is on
 * Asia/Shanghai, the zone of the teams this is made for. Pure: the formula engine's TODAY and NOW
 * (src/core/formulas/timezone.ts), the timeline's "today" and the server use it.
 */
import type * as Y from 'yjs'

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai'

const formatters = new Map<string, Intl.DateTimeFormat>()
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23' })
    formatters.set(zone, f)
  }
  return f
}

/** Whether `v` is a time zone this runtime knows (an IANA name such as Asia/Shanghai, or UTC). */
export function isTimeZone(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(v)) return false
  try { formatter(v); return true } catch { return false }
}

/** The workbook's zone: its own, or Asia/Shanghai. */
export function workbookTimeZone(doc: Y.Doc): string {
  const z = doc.getMap('meta').get('timeZone')
  return isTimeZone(z) ? z : DEFAULT_TIME_ZONE
}

/** The zone of this browser or process, when it is one we know. */
export function localTimeZone(): string | undefined {
  try {
    const z = Intl.DateTimeFormat().resolvedOptions().timeZone
    return isTimeZone(z) ? z : undefined
  } catch { return undefined }
}

export interface ZonedTime { year: number; month: number; day: number; hours: number; minutes: number; seconds: number }

/** The calendar date and wall-clock time at `now` in `zone`. */
export function zonedTime(zone: string, now = new Date()): ZonedTime {
  const parts: Record<string, number> = {}
  for (const p of formatter(isTimeZone(zone) ? zone : DEFAULT_TIME_ZONE).formatToParts(now)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value)
  }
  return { year: parts.year!, month: parts.month!, day: parts.day!, hours: parts.hour! % 24, minutes: parts.minute!, seconds: parts.second! }
}

/** Today in `zone`, ISO yyyy-mm-dd. */
export function zonedToday(zone: string, now = new Date()): string {
  const t = zonedTime(zone, now)
  return `${t.year}-${String(t.month).padStart(2, '0')}-${String(t.day).padStart(2, '0')}`
}

