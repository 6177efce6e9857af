/**
 * Logging over pino. The rest of the server sees only `Logger`: `info/warn/error(...args)`, a message
 * that starts with its area in brackets ("[collab] abc: store write failed:"), errors passed as extra
 * arguments. Tests pass `silentLogger` or a collecting one of their own.
 *
 * Two outputs:
 *  - text (the default): `time LEVEL [area] message`, an error's stack on the lines after it;
 *  - json (LOG_FORMAT=json), for log collectors: one object a line with time, level, area, msg and the
 *    first error's name, message and stack.
 *
 * Share-link tokens and other secrets never reach the output, whatever carries them: fields named like
 * token/authorization/secret/cookie/password are censored at any depth in objects logged (and by pino's
 * `redact` in what goes out), and the text itself is scrubbed of `?token=…`, `Authorization: …`,
 * `Bearer …`, `"token":"…"` and passwords in URLs, error messages and stacks included.
 */
import pino from 'pino'

/** Minimal logger shape; tests pass a silent or collecting one. */
export interface Logger {
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export type LogFormat = 'text' | 'json'

export const REDACTED = '[Redacted]'

/** Names of fields whose values are never logged (matched anywhere in the name, any case). */
const SECRET_NAME = /token|authori[sz]ation|secret|cookie|passw(?:or)?d|api[-_]?key|credential/i
const NAME = String.raw`[\w.-]*(?:token|authori[sz]ation|secret|cookie|passw(?:or)?d|api[-_]?key|credential)[\w.-]*`

const TEXT_RULES: [RegExp, string][] = [
  // header lines: everything after the name, to the end of the line (a cookie has many parts)
  [/\b((?:proxy-)?authorization|set-cookie|cookie)(\s*:\s*)(?!\[Redacted\])[^\r\n]*/gi, `$1$2${REDACTED}`],
  // JSON in text: "token":"…", "authorization": "…"
  [new RegExp(String.raw`("${NAME}"\s*:\s*)(?:"(?:[^"\\]|\\.)*"|[^,}\]\s]+)`, 'gi'), `$1"${REDACTED}"`],
  // query strings, forms, printed objects: ?token=…, &access_token=…, secret: '…' (not file.ts:12:3)
  [new RegExp(String.raw`\b(${NAME})(\s*=\s*|\s*:\s+)(?!\[Redacted\])(?:'[^'\r\n]*'|"[^"\r\n]*"|[^\s&#,;"'<>]+)`, 'gi'), `$1$2${REDACTED}`],
  // bearer credentials wherever they stand
  [/\b(bearer)(\s+)(?!\[Redacted\])[\w.~+/-]+=*/gi, `$1$2${REDACTED}`],
  // passwords in connection URLs: postgres://user:secret@host
  [/\b([a-z][a-z\d+.-]*:\/\/[^\s:/@]*:)(?!\[Redacted\])[^\s@/]+@/gi, `$1${REDACTED}@`],
]

/** The text with every token, credential and password it shows replaced by `[Redacted]`. */
export function scrub(text: string): string {
  let out = text
  for (const [re, to] of TEXT_RULES) out = out.replace(re, to)
  return out
}

/** JSON for a logged value, with secret fields censored at any depth (cycles and bigints tolerated). */
function stringify(value: unknown): string {
  const seen = new WeakSet<object>()
  try {
    const text = JSON.stringify(value, (key, v: unknown) => {
      if (key !== '' && SECRET_NAME.test(key)) return REDACTED
      if (typeof v === 'bigint') return v.toString()
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]'
        seen.add(v)
      }
      return v
    })
    return text ?? String(value)
  } catch {
    return String(value)
  }
}

interface ErrorFields { name: string; message: string; stack?: string; code?: string | number; cause?: { name: string; message: string } }

function errorFields(e: Error): ErrorFields {
  const out: ErrorFields = { name: e.name, message: scrub(e.message) }
  if (e.stack) out.stack = scrub(e.stack)
  const code = (e as { code?: unknown }).code
  if (typeof code === 'string' || typeof code === 'number') out.code = code
  const cause = (e as { cause?: unknown }).cause
  if (cause instanceof Error) out.cause = { name: cause.name, message: scrub(cause.message) }
  return out
}

/** Paths for pino's `redact`: the secret names at the top and up to three levels down, in the usual spellings. */
const REDACT_PATHS = (() => {
  const names = ['token', 'accessToken', 'access_token', 'refreshToken', 'authorization', 'Authorization', 'secret', 'createSecret',
    'cookie', 'Cookie', 'set-cookie', 'password', 'apiKey']
  const paths: string[] = []
  for (const prefix of ['', '*.', '*.*.', '*.*.*.']) for (const n of names) paths.push(/^\w+$/.test(n) ? `${prefix}${n}` : `${prefix}["${n}"]`)
  return paths
})()

export interface LoggerOptions {
  /** least severe level written (default info) */
  level?: LogLevel
  /** text (default) or one JSON object a line */
  format?: LogFormat
  /**
   * where each line goes, without its newline (tests); default: json to stdout, text to stdout
   * (info and below) or stderr (warn and above)
   */
  write?: (line: string, level: LogLevel) => void
}

/** A LOG_LEVEL value, checked (default info). */
export function parseLogLevel(value: string | undefined): LogLevel {
  if (value === undefined || value === '') return 'info'
  const v = value.toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`)
  return v as LogLevel
}

/** A LOG_FORMAT value, checked (default text). */
export function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined || value === '' || value === 'text') return 'text'
  if (value === 'json') return 'json'
  throw new Error(`LOG_FORMAT must be text or json, got ${JSON.stringify(value)}`)
}

interface Entry { time: string; level: LogLevel; area?: string; msg: string; error?: ErrorFields; errors?: ErrorFields[] }

/** `2026-05-01T10:00:00.000Z WARN  [bus] Redis is gone`, then the error's stack (or name and message). */
function textLine(e: Entry): string {
  let line = `${e.time} ${e.level.toUpperCase().padEnd(5)} ${e.area ? `[${e.area}] ` : ''}${e.msg}`
  for (const err of [...(e.error ? [e.error] : []), ...(e.errors ?? [])]) {
    const code = err.code === undefined ? '' : ` (${err.code})`
    // the stack's first line is the name and message: the code goes right after them
    line += err.stack ? `\n${err.stack.replace(/^.*/, first => first + code)}` : ` ${err.name}: ${err.message}${code}`
    if (err.cause) line += `\n  cause: ${err.cause.name}: ${err.cause.message}`
  }
  return line
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? 'text'
  let out: (line: string, level: LogLevel) => void
  if (opts.write) out = opts.write
  else {
    // synchronous writes: what was logged just before process.exit is not lost
    const stdout = pino.destination({ dest: 1, sync: true })
    const stderr = format === 'text' ? pino.destination({ dest: 2, sync: true }) : stdout
    out = (line, level) => (level === 'warn' || level === 'error' || level === 'fatal' ? stderr : stdout).write(line + '\n')
  }
  // pino writes synchronously from inside the call below, which sets the level it is writing at
  let writing: LogLevel = 'info'
  const stream = {
    write(json: string) {
      out(format === 'json' ? json.replace(/\n$/, '') : textLine(JSON.parse(json) as Entry), writing)
    },
  }
  const p = pino({
    level: opts.level ?? 'info',
    base: undefined,
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: label => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
  }, stream)

  const at = (level: 'info' | 'warn' | 'error') => (...args: unknown[]) => {
    if (!p.isLevelEnabled(level)) return
    const errors = args.filter((a): a is Error => a instanceof Error)
    // each part scrubbed alone: a header's rule runs to the end of its line, not into the next part
    const text = args.filter(a => !(a instanceof Error)).map(a => scrub(typeof a === 'string' ? a : stringify(a))).join(' ')
    const m = /^\[([\w-]+)\]\s*/.exec(text)
    const fields: Omit<Entry, 'time' | 'level' | 'msg'> = m ? { area: m[1]! } : {}
    if (errors[0]) fields.error = errorFields(errors[0])
    if (errors.length > 1) fields.errors = errors.slice(1).map(errorFields)
    writing = level
    p[level](fields, m ? text.slice(m[0].length) : text)
  }
  return { info: at('info'), warn: at('warn'), error: at('error') }
}

/** One JSON object a line (LOG_FORMAT=json); `write` gets each line (default: stdout). */
export function jsonLogger(write?: (line: string) => void, level?: LogLevel): Logger {
  return createLogger({ format: 'json', level, write })
}

let defaultLogger: Logger | null = null
/** Text to stdout/stderr at level info, made on first use. */
export const consoleLogger: Logger = {
  info: (...a) => (defaultLogger ??= createLogger()).info(...a),
  warn: (...a) => (defaultLogger ??= createLogger()).warn(...a),
  error: (...a) => (defaultLogger ??= createLogger()).error(...a),
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} }
