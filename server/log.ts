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
