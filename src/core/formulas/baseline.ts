/**
 * BASELINE("Q3 计划", F2): the value cell F2 had in the named version "Q3 计划" — target at approval
 * beside the actual, without copying sheets. The reference is taken by identity, not by position: the
 * cell's sheet, row and column ids (so it still finds its row after rows were inserted or sorted since).
 *
 * The engine's configuration (`context.baselines`) carries a BaselineSource: the values of the named
 * versions loaded so far, and how to turn an engine address into ids. A name not loaded yet asks the
 * source for it (`want`) and gives #N/A until it is there; once it is, the engine computes again. A name
 * no version has gives #REF!, a cell the version did not have gives an empty value (0), as a blank does.
 */
import { CellError, ErrorType, FunctionArgumentType, FunctionPlugin, HyperFormula, type ImplementedFunctions } from 'hyperformula'
import type { CellValue } from './value'

export interface BaselineIds { sheetId: string; rowId: string; colId: string }

/** The values of one version, by ids. */
export type BaselineValues = (ids: BaselineIds) => CellValue

export interface BaselineSource {
  /** loaded versions by name; null: no version has this name */
  readonly versions: Map<string, BaselineValues | null>
  /** an engine address's ids (set by the engine the source is given to) */
  ids: (sheet: number, row: number, col: number) => BaselineIds | undefined
  /** a name the formulas want and the source has not loaded (it loads it, then hands the engine the source again) */
  want(name: string): void
  /** every version there is, is loaded: a name not among them is no version's (#REF!, not #N/A) */
  complete?: boolean
}

/** A source with nothing loaded; `want` is called with each name asked for and not yet known. */
export function baselineSource(want: (name: string) => void = () => {}): BaselineSource {
  return { versions: new Map(), ids: () => undefined, want }
}

/** The names of the versions a workbook's formulas ask for (the first argument of each BASELINE, as text). */
export function baselineNames(formulas: Iterable<string>): Set<string> {
  const out = new Set<string>()
  for (const f of formulas) {
    if (!/BASELINE\s*\(/i.test(f)) continue
    for (const m of f.matchAll(/BASELINE\s*\(\s*"((?:[^"]|"")*)"/gi)) out.add(m[1]!.replace(/""/g, '"'))
  }
  return out
}

const value = (v: CellValue): number | string | boolean | CellError => {
  if (v === null) return 0
  if (typeof v === 'object') return new CellError(ErrorType.REF, v.message ?? v.error)
  return v
}

export class BaselinePlugin extends FunctionPlugin {
  static override implementedFunctions: ImplementedFunctions = {
    // volatile: a version loaded later is picked up by the next computation
    BASELINE: { method: 'baseline', parameters: [{ argumentType: FunctionArgumentType.STRING }, { argumentType: FunctionArgumentType.NOERROR }], isVolatile: true },
  }

  private source(): BaselineSource | undefined {
    return (this.config.context as { baselines?: BaselineSource } | undefined)?.baselines
  }

  // (HyperFormula calls this with its parse tree and state; their types are not exported)
  baseline(ast: { args: { type: string; reference?: { toSimpleCellAddress(at: unknown): { sheet: number; row: number; col: number } } }[] }, state: { formulaAddress: unknown }) {
    if (ast.args.length !== 2) return new CellError(ErrorType.NA, 'BASELINE takes a version name and a cell')
    const ref = ast.args[1]!
    if (ref.type !== 'CELL_REFERENCE' || !ref.reference) return new CellError(ErrorType.VALUE, 'BASELINE takes one cell, such as F2')
    const name = this.evaluateAst(ast.args[0] as never, state as never)
    if (typeof name !== 'string') return name instanceof CellError ? name : new CellError(ErrorType.VALUE, 'the version name is text')
    const src = this.source()
    if (!src) return new CellError(ErrorType.NA, 'no versions here')
    const at = ref.reference.toSimpleCellAddress(state.formulaAddress)
    const ids = src.ids(at.sheet, at.row, at.col)
    if (!ids) return new CellError(ErrorType.REF, 'no such cell')
    const version = src.versions.get(name)
    if (version === undefined) {
      if (src.complete) return new CellError(ErrorType.REF, `no version named ${name}`)
      src.want(name)
      return new CellError(ErrorType.NA, 'loading the version')
    }
    if (version === null) return new CellError(ErrorType.REF, `no version named ${name}`)
    return value(version(ids))
  }
}

HyperFormula.registerFunctionPlugin(BaselinePlugin, { enGB: { BASELINE: 'BASELINE' } } as never)
