import { describe, expect, it } from 'vitest'
import { jsonLogger } from '../../server/log'
import { redactUrl } from '../../server/index'

describe('structured logs', () => {
  it('one JSON object a line, with the area, the message and the error', () => {
    const lines: string[] = []
    const log = jsonLogger(l => lines.push(l))
    log.info('[bus] Redis is back: rooms resync from the store')
    log.error('[collab] abc: store write failed:', new TypeError('disk full'))
    log.warn('plain', { n: 1 })
    const [a, b, c] = lines.map(l => JSON.parse(l))
    expect(a).toMatchObject({ level: 'info', area: 'bus', msg: 'Redis is back: rooms resync from the store' })
    expect(Date.parse(a.time)).toBeGreaterThan(0)
    expect(b).toMatchObject({ level: 'error', area: 'collab', msg: 'abc: store write failed:', error: { name: 'TypeError', message: 'disk full' } })
    expect(b.error.stack).toContain('TypeError')
    expect(c).toEqual({ time: c.time, level: 'warn', msg: 'plain {"n":1}' })
  })

  it('request addresses are logged without their share-link tokens', () => {
    expect(redactUrl('/api/workbooks/abc/export.xlsx?token=SECRETSECRETSECRET&x=1')).toBe('/api/workbooks/abc/export.xlsx?token=…&x=1')
    expect(redactUrl('/w/abc?lang=en&TOKEN=abc')).toBe('/w/abc?lang=en&TOKEN=…')
    expect(redactUrl(undefined)).toBe('')
  })
})
