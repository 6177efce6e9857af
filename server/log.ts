/** Minimal logger shape; console fits, tests pass a silent or collecting one. */
export interface Logger {
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
}

export const consoleLogger: Logger = {
  info: (...a) => console.log(new Date().toISOString(), ...a),
  warn: (...a) => console.warn(new Date().toISOString(), ...a),
  error: (...a) => console.error(new Date().toISOString(), ...a),
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} }

/**
 * One JSON object a line (LOG_FORMAT=json), for log collectors: time, level, the area in brackets the
 * message starts with ("[collab]", "[bus]" …), the message, and an error's name, message and stack.
 */
export function jsonLogger(write: (line: string) => void = line => process.stdout.write(line + '\n')): Logger {
  const at = (level: 'info' | 'warn' | 'error') => (...args: unknown[]) => {
    const errors = args.filter((a): a is Error => a instanceof Error)
    const text = args.filter(a => !(a instanceof Error)).map(a => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')
    const m = /^\[([\w-]+)\]\s*/.exec(text)
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level, ...(m ? { area: m[1] } : {}), msg: m ? text.slice(m[0].length) : text }
    if (errors[0]) entry.error = { name: errors[0].name, message: errors[0].message, stack: errors[0].stack }
    write(JSON.stringify(entry))
  }
  return { info: at('info'), warn: at('warn'), error: at('error') }
}
