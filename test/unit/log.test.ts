import { describe, expect, it } from 'vitest'
import { createLogger, jsonLogger, parseLogFormat, parseLogLevel, scrub, type LogLevel } from '../../server/log'
import { redactUrl } from '../../server/index'

const collect = (opts: { level?: LogLevel; format?: 'text' | 'json' } = {}) => {
  const lines: { line: string; level: LogLevel }[] = []
  const log = createLogger({ ...opts, write: (line, level) => lines.push({ line, level }) })
  return { log, lines, text: () => lines.map(l => l.line).join('\n') }
}

describe('structured logs', () => {
  it('one JSON object a line, with the area, the message and the error', () => {
    const lines: string[] = []
    const log = jsonLogger(l => lines.push(l))
    log.info('[bus] Redis is back: rooms resync from the store')
    log.error('[collab] abc: store write failed:', new TypeError('disk full'))
    log.warn('plain', { n: 1 })
    expect(lines.every(l => !l.includes('\n'))).toBe(true)
    const [a, b, c] = lines.map(l => JSON.parse(l))
    expect(a).toMatchObject({ level: 'info', area: 'bus', msg: 'Redis is back: rooms resync from the store' })
    expect(Date.parse(a.time)).toBeGreaterThan(0)
    expect(b).toMatchObject({ level: 'error', area: 'collab', msg: 'abc: store write failed:', error: { name: 'TypeError', message: 'disk full' } })
    expect(b.error.stack).toContain('TypeError')
    expect(c).toEqual({ time: c.time, level: 'warn', msg: 'plain {"n":1}' })
  })

  it('readable text by default: time, level, area and message, then the error with its code and stack', () => {
    const { log, lines } = collect()
    log.info('[bus] Redis is back')
    log.error('[collab] abc: store write failed:', Object.assign(new Error('insert or update violates foreign key'), { code: '23503' }))
    expect(lines[0]!.line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}\[bus\] Redis is back$/)
    expect(lines[0]!.level).toBe('info')
    const [first, second, third] = lines[1]!.line.split('\n')
    expect(first).toMatch(/Z ERROR \[collab\] abc: store write failed:$/)
    expect(second).toBe('Error: insert or update violates foreign key (23503)')
    expect(third).toMatch(/^\s+at /)
    expect(lines[1]!.level).toBe('error')
    // a message's own % signs are not format directives
    log.warn('100% of %s')
    expect(lines[2]!.line).toMatch(/WARN {2}100% of %s$/)
  })

  it('levels: below LOG_LEVEL nothing is written; the values are checked', () => {
    const { log, lines } = collect({ level: 'warn', format: 'json' })
    log.info('[x] not shown')
    log.warn('[x] shown')
    log.error('[x] also shown')
    expect(lines.map(l => JSON.parse(l.line).msg)).toEqual(['shown', 'also shown'])
    const silent = collect({ level: 'silent' })
    silent.log.error('nothing')
    expect(silent.lines).toEqual([])
    expect(parseLogLevel(undefined)).toBe('info')
    expect(parseLogLevel('')).toBe('info')
    expect(parseLogLevel('DEBUG')).toBe('debug')
    expect(() => parseLogLevel('loud')).toThrow(/LOG_LEVEL/)
    expect(parseLogFormat(undefined)).toBe('text')
    expect(parseLogFormat('json')).toBe('json')
    expect(() => parseLogFormat('xml')).toThrow(/LOG_FORMAT/)
  })

  it('request addresses are logged without their share-link tokens', () => {
    expect(redactUrl('/api/workbooks/abc/export.xlsx?token=SECRETSECRETSECRET&x=1')).toBe('/api/workbooks/abc/export.xlsx?token=…&x=1')
    expect(redactUrl('/w/abc?lang=en&TOKEN=abc')).toBe('/w/abc?lang=en&TOKEN=…')
    expect(redactUrl(undefined)).toBe('')
  })
})

describe('redaction: no token or credential reaches the output', () => {
  const secrets = Array.from({ length: 12 }, (_v, i) => `S3cr3t${i}xYz`)
  const [s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11] = secrets

  const logEverything = (log: ReturnType<typeof createLogger>) => {
    log.info(`[http] GET /w/abc?lang=en&token=${s0} 200`)
    log.warn(`[http] request with Authorization: Bearer ${s1}`)
    log.info('[api] headers', { headers: { authorization: `Bearer ${s2}`, Cookie: `pw_session=${s3}; theme=dark`, 'user-agent': 'x' } })
    log.info('[api] made link', { id: 'l1', token: s4, url: `/w/abc?token=${s5}`, nested: [{ deeper: { createSecret: s6, apiKey: s7 } }] })
    log.error('[collab] refused:', new Error(`bad share link /w/abc?token=${s8} (authorization: Bearer ${s9})`))
    log.error(`[bus] Redis at redis://default:${s10}@127.0.0.1:6379 does not answer`)
    log.info(`[x] echoed {"token":"${s11}","n":1}`)
  }

  it.each(['json', 'text'] as const)('%s output, in fields, messages, objects and errors', format => {
    const { log, text, lines } = collect({ format })
    logEverything(log)
    expect(lines).toHaveLength(7)
    for (const s of secrets) expect(text()).not.toContain(s)
    expect(text()).toContain('[Redacted]')
    // what is not secret stays readable
    expect(text()).toContain('/w/abc?lang=en&token=[Redacted] 200')
    expect(text()).toContain('user-agent')
    expect(text()).toContain('127.0.0.1:6379 does not answer')
    expect(text()).toContain('bad share link /w/abc?token=[Redacted]')
  })

  it('an error that carries its secret in its message and stack, JSON form', () => {
    const { log, lines } = collect({ format: 'json' })
    log.error('[export] failed:', new Error(`fetch /api/workbooks/w/export.xlsx?token=${s0}`))
    const e = JSON.parse(lines[0]!.line)
    expect(e.error.message).toBe('fetch /api/workbooks/w/export.xlsx?token=[Redacted]')
    expect(e.error.stack).not.toContain(s0)
  })

  it('scrub leaves ordinary text alone', () => {
    for (const t of ['[collab] abc: store write failed:', 'at tokenOf (/work/server/auth.ts:12:3)', 'at f (/s/tokens.ts:12:3)', '3 tokens refused', 'rooms: 4, memory: 12 MB'])
      expect(scrub(t)).toBe(t)
    expect(scrub(`x?token=${s0}&y=1`)).toBe('x?token=[Redacted]&y=1')
    expect(scrub(`access_token=${s0}`)).toBe('access_token=[Redacted]')
    expect(scrub(`{ token: '${s0}', id: 'a' }`)).toBe("{ token: [Redacted], id: 'a' }")
    expect(scrub(`postgres://app:${s0}@db:5432/pw`)).toBe('postgres://app:[Redacted]@db:5432/pw')
  })
})
