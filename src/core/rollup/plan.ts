/**
 * What a roll-up workbook's doc says about itself, in its root map `rollup` (written by the server only:
 * the access check refuses every client change to an unknown root, and the roll-up sheet is read-only):
 *
 *   sheet       string    the roll-up sheet's id (also marked `rollup:<sheetId>` in the access map)
 *   mode        'stack' | 'aggregate'
 *   sourceCol   string    stack: the column naming each row's source
 *   keyCol      string    aggregate: the key column
 *   measures    [{ col, fn, weight? }]   aggregate: the combined columns (column ids of the roll-up sheet)
 *   formulas    { colId: formula }       aggregate: calculated columns of the template, computed again on
 *                                        the combined rows (the deviation of the summed actuals)
 *   sources     [{ workbookId, title, status, rows }]  for the banner: status 'ok' | 'unavailable' | 'no-sheet'
 */
import * as Y from 'yjs'

export type RollupMode = 'stack' | 'aggregate'
export const MEASURE_FNS = ['sum', 'avg', 'min', 'max', 'count', 'wavg'] as const
export type MeasureFn = typeof MEASURE_FNS[number]

export interface PlanMeasure { col: string; fn: MeasureFn; weight?: string }

export interface RollupPlan {
  sheet: string
  mode: RollupMode
  sourceCol: string | null
  keyCol: string | null
  measures: PlanMeasure[]
  formulas: Record<string, string>
}

export type SourceStatus = 'ok' | 'unavailable' | 'no-sheet'
export interface SourceEntry { workbookId: string; title: string; status: SourceStatus; rows: number }

export const rollupMapOf = (doc: Y.Doc): Y.Map<unknown> => doc.getMap('rollup')

export function writePlan(doc: Y.Doc, plan: RollupPlan, origin: unknown): void {
  doc.transact(() => {
    const m = rollupMapOf(doc)
    m.set('sheet', plan.sheet)
    m.set('mode', plan.mode)
    if (plan.sourceCol) m.set('sourceCol', plan.sourceCol)
    if (plan.keyCol) m.set('keyCol', plan.keyCol)
    m.set('measures', plan.measures)
    m.set('formulas', plan.formulas)
    m.set('sources', [])
  }, origin)
}

/** The plan the doc holds, or null when it is no roll-up. */
export function readPlan(doc: Y.Doc): RollupPlan | null {
  const m = rollupMapOf(doc)
  const sheet = m.get('sheet')
  if (typeof sheet !== 'string') return null
  const str = (k: string) => { const v = m.get(k); return typeof v === 'string' ? v : null }
  return {
    sheet,
    mode: m.get('mode') === 'aggregate' ? 'aggregate' : 'stack',
    sourceCol: str('sourceCol'),
    keyCol: str('keyCol'),
    measures: Array.isArray(m.get('measures')) ? m.get('measures') as PlanMeasure[] : [],
    formulas: (m.get('formulas') ?? {}) as Record<string, string>,
  }
}

export function readSources(doc: Y.Doc): SourceEntry[] {
  const v = rollupMapOf(doc).get('sources')
  return Array.isArray(v) ? v as SourceEntry[] : []
}

/** Writes the banner's list when it changed. */
export function writeSources(doc: Y.Doc, list: SourceEntry[], origin: unknown): void {
  if (JSON.stringify(readSources(doc)) === JSON.stringify(list)) return
  doc.transact(() => rollupMapOf(doc).set('sources', list), origin)
}
