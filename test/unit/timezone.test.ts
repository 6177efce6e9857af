/**
 * The workbook's time zone: TODAY() and NOW() give the date and time there whatever the machine's own
 * zone (the server's is UTC, a colleague may be abroad); changing it recomputes them; the server refuses
 * a zone that is not one.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { FormulaEngine, type EngineChange } from '../../src/core/formulas/engine'
import { DEFAULT_TIME_ZONE, isTimeZone, workbookTimeZone, zonedTime, zonedToday } from '../../src/core/workbook/zone'
import { dateToSerial } from '../../src/core/workbook/input'
import { initWorkbook, setTimeZone } from '../../src/core/workbook/mutations'
import { checkChange, defineRoots } from '../../src/core/access/access'
import { viewOf, computeView } from '../../src/core/workbook/view'
import { makeDoc, type } from '../helpers/workbook'

/** a doc with =TODAY() in A1 and =NOW() in B1, in `zone` */
function clockDoc(zone?: string): Y.Doc {
  const doc = makeDoc([{ name: 'S', id: 's0', rows: 2, cols: 2 }])
  if (zone) setTimeZone(doc, zone)
  type(doc, 's0', 'A1', '=TODAY()')
  type(doc, 's0', 'B1', '=NOW()')
  return doc
}

describe('the workbook time zone', () => {
  it('gives the calendar date and wall-clock time of the zone at an instant', () => {
    const at = new Date('2026-12-04T18:30:05Z')
    expect(zonedToday('Asia/Shanghai', at)).toBe('2026-12-05')
    expect(zonedToday('UTC', at)).toBe('2026-12-04')
    expect(zonedToday('America/Los_Angeles', at)).toBe('2026-12-04')
    expect(zonedTime('Asia/Shanghai', at)).toEqual({ year: 2026, month: 12, day: 5, hours: 2, minutes: 30, seconds: 5 })
    expect(zonedTime('Asia/Shanghai', new Date('2026-12-04T16:00:00Z')).hours).toBe(0)
    expect(isTimeZone('Asia/Shanghai')).toBe(true)
    for (const bad of ['Mars/Olympus', '', 'Asia/Shanghai<script>', 42, null, 'x'.repeat(80)]) expect(isTimeZone(bad), String(bad)).toBe(false)
  })

  it('TODAY() and NOW() are the zone\'s, whatever the machine\'s zone; a workbook without one is on Asia/Shanghai', () => {
    // UTC+14 and UTC-11 are 25 hours apart: their dates always differ
    const east = new FormulaEngine(clockDoc('Pacific/Kiritimati'))
    const west = new FormulaEngine(clockDoc('Pacific/Pago_Pago'))
    const plain = new FormulaEngine(clockDoc())
    try {
      const today = (e: FormulaEngine) => e.getValue('s0', 0, 0) as number
      expect(today(east)).toBe(dateToSerial(zonedToday('Pacific/Kiritimati')))
      expect(today(west)).toBe(dateToSerial(zonedToday('Pacific/Pago_Pago')))
      expect(today(east) - today(west)).toBeGreaterThanOrEqual(1)
      expect(workbookTimeZone(plain.doc)).toBe(DEFAULT_TIME_ZONE)
      expect(today(plain)).toBe(dateToSerial(zonedToday('Asia/Shanghai')))
      // NOW() is on the zone's day, at its hour
      const now = east.getValue('s0', 0, 1) as number
      expect(Math.floor(now)).toBe(today(east))
      const hours = Math.floor((now - Math.floor(now)) * 24 + 1e-9)
      expect([hours, (hours + 1) % 24]).toContain(zonedTime('Pacific/Kiritimati').hours)
    } finally {
      east.destroy(); west.destroy(); plain.destroy()
    }
  })

  it('a change of zone recomputes TODAY() and redraws every sheet; the first screen\'s view uses the zone too', () => {
    const doc = clockDoc('Pacific/Pago_Pago')
    const engine = new FormulaEngine(doc)
    try {
      const changes: EngineChange[] = []
      engine.onChange(c => changes.push(c))
      const before = engine.getValue('s0', 0, 0) as number
      setTimeZone(doc, 'Pacific/Kiritimati')
      expect(engine.getValue('s0', 0, 0) as number).toBeGreaterThan(before)
      expect(changes.some(c => c.structural.has('s0'))).toBe(true)
      // the server's view of the doc computes it the same
      const hf = computeView(viewOf(doc))
      try {
        expect(hf.getCellValue({ sheet: hf.getSheetId('s0')!, row: 0, col: 0 })).toBe(engine.getValue('s0', 0, 0))
      } finally { hf.destroy() }
    } finally {
      engine.destroy()
    }
    expect(() => setTimeZone(doc, 'Mars/Olympus')).toThrow(/not a time zone/)
  })

  it('the server refuses a time zone that is not one, and takes one that is', () => {
    const doc = new Y.Doc()
    initWorkbook(doc, { title: 't', timeZone: 'Asia/Shanghai' })
    expect(workbookTimeZone(doc)).toBe('Asia/Shanghai')
    const check = (zone: unknown) => {
      const client = new Y.Doc()
      Y.applyUpdate(client, Y.encodeStateAsUpdate(doc))
      const sv = Y.encodeStateVector(client)
      client.getMap('meta').set('timeZone', zone)
      const update = Y.encodeStateAsUpdate(client, sv)
      const mirror = new Y.Doc()
      defineRoots(mirror)
      Y.applyUpdate(mirror, Y.encodeStateAsUpdate(doc))
      let code: string | null = null
      mirror.transact(tr => { Y.applyUpdate(mirror, update); code = checkChange(doc, mirror, tr, { role: 'editor', name: '小王' })?.code ?? null })
      return code
    }
    expect(check('Europe/Berlin')).toBeNull()
    expect(check('Mars/Olympus')).toBe('not-a-time-zone')
    expect(check(8)).toBe('not-a-time-zone')
  })
})
