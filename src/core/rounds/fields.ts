/**
 * A form field's text → the cell input to store, as the grid reads typed text (inputFromText), held to the
 * column's type and rules (validationProblem): a number column takes numbers, a date column dates, a
 * dropdown its options, and a column's bounds hold. A form takes values, not formulas. Pure; the form
 * page checks a field as it is typed and the server checks every field of a submission the same way.
 */
import { inputFromText } from '../workbook/input'
import { validationProblem, type ValidationProblem } from '../workbook/table'
import type { CellInput, ColumnMeta } from '../workbook/schema'
import type { FormulaContext } from '../formulas/references'

export const MAX_FIELD_LENGTH = 5_000

export type FieldProblem = ValidationProblem | { code: 'not-date' } | { code: 'formula' } | { code: 'too-long'; max: number }

// no formula is ever encoded here (text starting with = is refused first)
const NO_FORMULAS = null as unknown as FormulaContext

/** The input a field's text stands for (null: cleared), or what is wrong with it. */
export function readField(text: string, column: ColumnMeta | undefined): { value: CellInput | null } | { problem: FieldProblem } {
  const t = text.trim()
  if (t.length > MAX_FIELD_LENGTH) return { problem: { code: 'too-long', max: MAX_FIELD_LENGTH } }
  if (t === '') return { value: null }
  if (t.startsWith('=')) return { problem: { code: 'formula' } }
  const type = column?.type
  if (type === 'select') {
    const options = Array.isArray(column?.options) ? column.options : []
    if (options.length && !options.includes(t)) return { problem: { code: 'not-in-options', options } }
    return { value: t }
  }
  const value = inputFromText(t, NO_FORMULAS, column)
  if (type === 'number' || type === 'percent' || type === 'currency') {
    if (typeof value !== 'number') return { problem: { code: 'not-number' } }
  }
  if (type === 'date' && (typeof value !== 'object' || value === null || !('t' in value) || value.t !== 'd')) return { problem: { code: 'not-date' } }
  const v = typeof value === 'object' && value !== null ? null : value
  const problem = v === null ? undefined : validationProblem(column, v)
  return problem ? { problem } : { value }
}

/** A problem in English words (the API's message; the page says it in the reader's language). */
export function problemText(p: FieldProblem): string {
  switch (p.code) {
    case 'not-number': return 'must be a number'
    case 'not-integer': return 'must be a whole number'
    case 'below-min': return `must be at least ${p.min}`
    case 'above-max': return `must be at most ${p.max}`
    case 'not-in-options': return `must be one of ${p.options.join(', ')}`
    case 'not-date': return 'must be a date such as 2026-03-06'
    case 'formula': return 'a form takes values, not formulas'
    case 'too-long': return `must be at most ${p.max} characters`
  }
}
