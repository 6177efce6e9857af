/**
 * TODAY() and NOW() in the workbook's time zone (../workbook/zone.ts): HyperFormula's own are replaced
 * in its function registry by this module's plugin, which reads the zone from the engine's
 * configuration (`context.timeZone`), so engines of workbooks in different zones live side by side in
 * one process.
 */
import { FunctionPlugin, HyperFormula, type ImplementedFunctions } from 'hyperformula'
import { dateToSerial } from '../workbook/input'
import { DEFAULT_TIME_ZONE, isTimeZone, zonedTime, zonedToday } from '../workbook/zone'
import type { BaselineSource } from './baseline'

/** What a HyperFormula instance is configured with for the zone (its `context`). */
export interface EngineContext { timeZone: string; baselines?: BaselineSource }
export const engineContext = (timeZone: string, baselines?: BaselineSource): EngineContext => (baselines ? { timeZone, baselines } : { timeZone })

/** TODAY() and NOW() in the engine's zone (its `context.timeZone`). */
export class ZonedTimePlugin extends FunctionPlugin {
  static override implementedFunctions: ImplementedFunctions = {
    TODAY: { method: 'today', parameters: [], isVolatile: true },
    NOW: { method: 'now', parameters: [], isVolatile: true },
  }

  private zone(): string {
    const ctx = this.config.context as Partial<EngineContext> | undefined
    return ctx && isTimeZone(ctx.timeZone) ? ctx.timeZone : DEFAULT_TIME_ZONE
  }

  // (HyperFormula calls these by name with its parse tree and state; their types are not exported)
  today(ast: { args: never[] }, state: never) {
    return this.runFunction(ast.args, state, this.metadata('TODAY'), () => dateToSerial(zonedToday(this.zone())))
  }

  now(ast: { args: never[] }, state: never) {
    return this.runFunction(ast.args, state, this.metadata('NOW'), () => {
      const t = zonedTime(this.zone())
      const day = dateToSerial(`${t.year}-${String(t.month).padStart(2, '0')}-${String(t.day).padStart(2, '0')}`)
      return day + (t.hours * 3600 + t.minutes * 60 + t.seconds) / 86400
    })
  }
}

// once per process: every engine's TODAY and NOW are the zoned ones
HyperFormula.registerFunction('TODAY', ZonedTimePlugin)
HyperFormula.registerFunction('NOW', ZonedTimePlugin)
