/**
 * A column's conditional colours, colour scale and data bar as Excel conditional formats: each colour
 * rule an expression rule that stops the ones after it (first match wins, as in the grid), then the
 * scale or bar over the data rows (the totals row is not data), lowest to highest value as the grid
 * draws it.
 */
import type ExcelJS from 'exceljs'
import { colToLetters } from '../../src/core/formulas/references'
import { RULE_LOOKS, RULE_STYLES, type ColorRule, type ColumnMeta, type RuleStyle } from '../../src/core/workbook/schema'
import { validScale } from '../../src/core/workbook/scale'

const argbOf = (hex: string | undefined) => (hex ? `FF${hex.slice(1).toUpperCase()}` : undefined)
/** Fill and font colours of the app's rule styles (as the grid shows them). */
const STYLE_COLORS = Object.fromEntries(RULE_STYLES.map(s => [s, { fill: argbOf(RULE_LOOKS[s].bg), font: argbOf(RULE_LOOKS[s].fc), bold: RULE_LOOKS[s].b }])) as
  Record<RuleStyle, { fill?: string; font?: string; bold?: boolean }>

/** A1 text of a rule's test on `ref` (a cell reference such as $C2), for an expression rule. */
function ruleExpression(rule: ColorRule, ref: string): string | undefined {
  const lit = (v: unknown) => typeof v === 'number' ? String(v) : `"${String(v ?? '').replace(/"/g, '""')}"`
  switch (rule.op) {
    case 'empty': return `LEN(${ref}&"")=0`
    case 'notEmpty': return `LEN(${ref}&"")>0`
    case 'between': return typeof rule.value === 'number' && typeof rule.value2 === 'number'
      ? `AND(ISNUMBER(${ref}),${ref}>=${rule.value},${ref}<=${rule.value2})` : undefined
    case '<': case '<=': case '>': case '>=':
      return typeof rule.value === 'number' ? `AND(ISNUMBER(${ref}),${ref}${rule.op}${rule.value})` : undefined
    case '=': case '<>':
      return rule.value === undefined ? undefined : `${ref}${rule.op}${lit(rule.value)}`
    default: return undefined
  }
}

/** Where a column sits in the file: its letter and index, its data rows (file row numbers) and the totals row. */
export interface ColumnPlace {
  col: string
  c: number
  /** the index of another column of the sheet, or -1 */
  testCol(colId: string): number
  firstData: number
  lastData: number
  /** visible index of the totals row, or -1 */
  totalsAt: number
  header: number
  sheet: string
}

const argb = (hex: string) => ({ argb: `FF${hex.slice(1).toUpperCase()}` })

/** The conditional formats of one column (none when it has no rules and no scale). */
export function conditionalFormats(m: ColumnMeta | null | undefined, at: ColumnPlace, notes: string[]): ExcelJS.ConditionalFormattingOptions[] {
  const out: ExcelJS.ConditionalFormattingOptions[] = []
  const { col, c, firstData, lastData, totalsAt, header } = at
  const dataBottom = totalsAt >= 0 ? totalsAt + header : lastData
  let priority = 1
  const rules = Array.isArray(m?.rules) ? m.rules : []
  if (rules.length) {
    const onlyTotals = rules.every(x => x.rows === 'totals') && totalsAt >= 0
    const top = onlyTotals ? totalsAt + 1 + header : firstData
    const bottom = onlyTotals ? top : rules.every(x => (x.rows ?? 'data') === 'data') ? dataBottom : lastData
    const cf: ExcelJS.ConditionalFormattingRule[] = []
    for (const rule of rules) {
      const testCol = rule.colId ? at.testCol(rule.colId) : c
      if (testCol < 0) continue
      // relative to the range's top-left cell, as Excel reads expression rules
      const expr = ruleExpression(rule, `$${colToLetters(testCol)}${top}`)
      const look = STYLE_COLORS[rule.style]
      if (!expr || !look) { notes.push(`a colour rule of column ${col} on "${at.sheet}" has no Excel form`); continue }
      const style: Partial<ExcelJS.Style> = {}
      if (look.fill) style.fill = { type: 'pattern', pattern: 'solid', bgColor: { argb: look.fill } }
      if (look.font || look.bold) style.font = { ...(look.font ? { color: { argb: look.font } } : {}), ...(look.bold ? { bold: true } : {}) }
      cf.push({ type: 'expression', priority: priority++, formulae: [expr], style, stopIfTrue: true } as ExcelJS.ConditionalFormattingRule)
    }
    if (cf.length && bottom >= top) out.push({ ref: `${col}${top}:${col}${bottom}`, rules: cf })
  }
  const scale = validScale(m?.scale)
  if (scale && dataBottom >= firstData) {
    const ref = `${col}${firstData}:${col}${dataBottom}`
    if (scale.kind === 'bar') {
      out.push({ ref, rules: [{
        type: 'dataBar', priority: priority++, minLength: 0, maxLength: 100, gradient: false, showValue: true,
        cfvo: [{ type: 'min' }, { type: 'max' }], color: argb(scale.color),
      } as unknown as ExcelJS.ConditionalFormattingRule] })
    } else {
      const stops = scale.mid
        ? { cfvo: [{ type: 'min' }, { type: 'percent', value: 50 }, { type: 'max' }], color: [argb(scale.min), argb(scale.mid), argb(scale.max)] }
        : { cfvo: [{ type: 'min' }, { type: 'max' }], color: [argb(scale.min), argb(scale.max)] }
      out.push({ ref, rules: [{ type: 'colorScale', priority: priority++, ...stops } as unknown as ExcelJS.ConditionalFormattingRule] })
    }
  }
  return out
}
