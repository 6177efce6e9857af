/**
 * Making a roll-up workbook: the template's workbook (its other sheets stay, editable, so formulas and
 * charts there can use the roll-up's cells), with the chosen sheet emptied and turned into the roll-up
 * sheet: its rows are the server's to write, its calculated columns become plain ones (the sources'
 * values are what they show; an aggregate computes the template's formulas again on its combined rows),
 * its charts stay (they name the sheet's columns by id, so the roll-up opens with them), a stack gets a
 * source column in front, and the access map marks it read-only for everyone (`rollup:<sheetId>`).
 */
import * as Y from 'yjs'
import { buildWorkbook, localize, LOCALES, type Locale, type Template, type TemplateColumn } from '../../src/core/templates/template'
import { sheetIds, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { newColId } from '../../src/core/workbook/ids'
import { accessOf, rollupMarkKey } from '../../src/core/access/model'
import { writePlan, type PlanMeasure, type RollupMode, type RollupPlan } from '../../src/core/rollup/plan'
import type { Measure } from '../store/rollups'

export class RollupInputError extends Error {}

export const SOURCE_COLUMN_KEY = 'rollup-source'

/** The template's sheet `ref` (its key, or its name in either language), as index. */
export function templateSheetIndex(t: Template, ref: string): number {
  const r = ref.trim().toLowerCase()
  const i = t.sheets.findIndex(s => s.key === ref)
  if (i >= 0) return i
  return t.sheets.findIndex(s => LOCALES.some(l => localize(s.name, l).trim().toLowerCase() === r))
}

/** The template column `ref` (its key, or its title in either language), as index, or -1. */
export function templateColumnIndex(cols: readonly TemplateColumn[], ref: string): number {
  const r = ref.trim().toLowerCase()
  const i = cols.findIndex(c => c.key === ref)
  if (i >= 0) return i
  return cols.findIndex(c => LOCALES.some(l => localize(c.title, l).trim().toLowerCase() === r))
}

export interface BuildInput {
  template: Template
  sheetIndex: number
  title: string
  locale: Locale
  mode: RollupMode
  key?: string
  measures?: Measure[]
}

/** Fills `doc` with the roll-up workbook and returns its plan. Throws RollupInputError for a bad key or measure. */
export function buildRollup(doc: Y.Doc, input: BuildInput): RollupPlan {
  const tsheet = input.template.sheets[input.sheetIndex]!
  const tcols = tsheet.columns ?? []
  const colIndex = (ref: string, what: string) => {
    const i = templateColumnIndex(tcols, ref)
    if (i < 0) throw new RollupInputError(`${what}: the sheet has no column ${JSON.stringify(ref)}`)
    return i
  }
  const keyIndex = input.mode === 'aggregate' ? colIndex(input.key ?? '', 'key') : -1
  const given: Measure[] = input.measures?.length ? input.measures : input.mode === 'aggregate'
    // no measures named: every number column that is not calculated is summed
    ? tcols.flatMap((c, i) => (i !== keyIndex && !c.formula && ['number', 'currency'].includes(c.type ?? '') ? [{ column: c.key ?? localize(c.title, 'zh-CN'), fn: 'sum' as const }] : []))
    : []
  const measureIdx = given.map(m => ({ i: colIndex(m.column, 'measures'), fn: m.fn, w: m.weight ? colIndex(m.weight, 'measures weight') : -1 }))
  if (measureIdx.some(m => m.fn === 'wavg' && m.w < 0)) throw new RollupInputError('measures: a weighted average (wavg) names its weight column')

  buildWorkbook(doc, input.template, { title: input.title, locale: input.locale })
  let plan!: RollupPlan
  doc.transact(() => {
    const sid = sheetIds(doc)[input.sheetIndex]!
    const sheet = sheetsOf(doc).get(sid)!
    const p = sheetParts(sheet)
    // the template's own rows (sample data) go: the rows are the sources'
    p.rows.delete(0, p.rows.length)
    p.cells.clear()
    sheet.delete('totalsRow')
    const cols = p.cols.toArray()
    const formulas: Record<string, string> = {}
    const measureCols = new Set(measureIdx.map(m => cols[m.i]!))
    tcols.forEach((_c, i) => {
      const colId = cols[i]!
      const meta = p.colMeta.get(colId) as ColumnMeta | undefined
      if (!meta?.formula) return
      if (input.mode === 'aggregate' && i !== keyIndex && !measureCols.has(colId)) formulas[colId] = meta.formula
      const { formula: _f, ...rest } = meta
      p.colMeta.set(colId, rest)
    })
    let sourceCol: string | null = null
    if (input.mode === 'stack') {
      sourceCol = newColId()
      p.cols.insert(0, [sourceCol])
      p.colMeta.set(sourceCol, { key: SOURCE_COLUMN_KEY, title: input.locale === 'en' ? 'Source' : '来源', type: 'text', width: 140 })
    }
    accessOf(doc).set(rollupMarkKey(sid), true)
    plan = {
      sheet: sid, mode: input.mode, sourceCol,
      keyCol: keyIndex >= 0 ? cols[keyIndex]! : null,
      measures: measureIdx.map((m): PlanMeasure => ({ col: cols[m.i]!, fn: m.fn, ...(m.w >= 0 ? { weight: cols[m.w]! } : {}) })),
      formulas,
    }
    writePlan(doc, plan, null)
  })
  return plan
}
