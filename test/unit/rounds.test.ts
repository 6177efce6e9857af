/**
 * Fill-in rounds' periods and fields: due times read in the workbook's zone, weekly and monthly dues at
 * the same wall-clock time (month ends clamped, across a DST change), which period is current, what
 * closed, each person's state; a form field's text held to its column's type and rules.
 */
import { describe, expect, it } from 'vitest'
import { closedSince, closeOf, dueOf, GRACE_MS, parseDue, periodAt, periodLabel, personState, zonedText, type RoundTiming } from '../../src/core/rounds/periods'
import { problemText, readField } from '../../src/core/rounds/fields'

const SH = 'Asia/Shanghai'
const H = 3_600_000, D = 24 * H

describe('round periods', () => {
  it('reads due times in the zone unless they carry an offset', () => {
    expect(parseDue('2026-03-06T18:00', SH)).toBe(Date.UTC(2026, 2, 6, 10, 0))
    expect(parseDue('2026-03-06 18:00:30', SH)).toBe(Date.UTC(2026, 2, 6, 10, 0, 30))
    expect(parseDue('2026-03-06T18:00Z', SH)).toBe(Date.UTC(2026, 2, 6, 18, 0))
    expect(parseDue('2026-03-06T18:00+02:00', SH)).toBe(Date.UTC(2026, 2, 6, 16, 0))
    // a day alone: its end (23:59)
    expect(parseDue('2026-03-06', SH)).toBe(Date.UTC(2026, 2, 6, 15, 59))
    expect(parseDue('2026-03-08T09:00', 'America/New_York')).toBe(Date.UTC(2026, 2, 8, 13, 0)) // EDT from 2am that day
    for (const bad of ['', 'next friday', '2026-02-30T10:00', '2026-13-01', '2026-03-06T25:00', '2026-03-06Z', '2026-03-06T10:00+15:00']) expect(parseDue(bad, SH)).toBeNull()
  })

  it('repeats weekly and monthly at the same wall-clock time, month ends clamped', () => {
    const w: RoundTiming = { firstDue: parseDue('2026-03-06T18:00', SH)!, repeat: 'weekly', zone: SH }
    expect(periodLabel(w, 0)).toBe('2026-03-06')
    expect(periodLabel(w, 1)).toBe('2026-03-13')
    expect(periodLabel(w, 4)).toBe('2026-04-03')
    expect(dueOf(w, 1) - dueOf(w, 0)).toBe(7 * D)
    const m: RoundTiming = { firstDue: parseDue('2026-01-31T12:00', SH)!, repeat: 'monthly', zone: SH }
    expect([0, 1, 2, 3, 12].map(k => periodLabel(m, k))).toEqual(['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30', '2027-01-31'])
    expect(zonedText(SH, dueOf(m, 1))).toBe('2026-02-28 12:00')
    // across New York's change to summer time the wall clock stays 09:00
    const ny: RoundTiming = { firstDue: parseDue('2026-03-02T09:00', 'America/New_York')!, repeat: 'weekly', zone: 'America/New_York' }
    expect(zonedText('America/New_York', dueOf(ny, 1))).toBe('2026-03-09 09:00')
    expect(dueOf(ny, 1) - dueOf(ny, 0)).toBe(7 * D - H)
  })

  it('knows the current period, what closed, and where each person stands', () => {
    const w: RoundTiming = { firstDue: parseDue('2026-03-06T18:00', SH)!, repeat: 'weekly', zone: SH }
    const due0 = dueOf(w, 0)
    expect(periodAt(w, due0 - 5 * D)).toBe(0)
    expect(periodAt(w, due0 + H)).toBe(0) // late, still this week's
    expect(closeOf(w, 0)).toBe(due0 + GRACE_MS)
    expect(periodAt(w, due0 + GRACE_MS)).toBe(1)
    expect(periodAt(w, due0 + 30 * D)).toBe(5) // four weeks and a day of grace closed period 4
    expect(closedSince(w, -1, due0 + H)).toEqual([])
    expect(closedSince(w, -1, due0 + GRACE_MS)).toEqual([0])
    expect(closedSince(w, 0, due0 + 30 * D)).toEqual([1, 2, 3, 4])
    const once: RoundTiming = { firstDue: due0, repeat: 'once', zone: SH }
    expect(periodAt(once, due0 + 100 * D)).toBe(0)
    expect(closedSince(once, -1, due0 - 1)).toEqual([])
    expect(closedSince(once, -1, due0)).toEqual([0])
    expect(closedSince(once, 0, due0 + D)).toEqual([])
    expect(personState(due0, due0 - 1, null)).toBe('not-yet')
    expect(personState(due0, due0 + 1, undefined)).toBe('late')
    expect(personState(due0, due0 + 1, due0 - 10)).toBe('submitted')
  })
})

describe('form fields', () => {
  it('take values like the grid, held to the column type and its rules', () => {
    expect(readField('1,200', { type: 'number' })).toEqual({ value: 1200 })
    expect(readField('15', { type: 'percent' })).toEqual({ value: 0.15 })
    expect(readField('2026年3月6日', { type: 'date' })).toEqual({ value: { t: 'd', v: '2026-03-06' } })
    expect(readField('  ', { type: 'number' })).toEqual({ value: null })
    expect(readField('很好', { type: 'text' })).toEqual({ value: '很好' })
    expect(readField('A', { type: 'select', options: ['A', 'B'] })).toEqual({ value: 'A' })
    const bad = (text: string, col: Parameters<typeof readField>[1]) => { const r = readField(text, col); return 'problem' in r ? r.problem : null }
    expect(bad('abc', { type: 'number' })).toEqual({ code: 'not-number' })
    expect(bad('soon', { type: 'date' })).toEqual({ code: 'not-date' })
    expect(bad('C', { type: 'select', options: ['A', 'B'] })).toEqual({ code: 'not-in-options', options: ['A', 'B'] })
    expect(bad('120', { type: 'number', validation: { min: 0, max: 100 } })).toEqual({ code: 'above-max', max: 100 })
    expect(bad('2.5', { type: 'number', validation: { integer: true } })).toEqual({ code: 'not-integer' })
    expect(bad('=SUM(A1:A3)', { type: 'number' })).toEqual({ code: 'formula' })
    expect(problemText({ code: 'above-max', max: 100 })).toBe('must be at most 100')
  })
})
