/**
 * The exporter's filter of a sheet (their own, or the shared filter view they applied) as Excel writes a
 * filtered sheet: an autoFilter over the header row and the data rows, with each column's condition
 * where Excel has a form for it, and the rows it filters out hidden. A filter by fill colour has no
 * form without the file's differential styles: its rows are hidden, its condition is left out (noted).
 */
import type * as Y from 'yjs'
import type { FormulaEngine } from '../../src/core/formulas/engine'
import { colToLetters } from '../../src/core/formulas/references'
import { formatValue } from '../../src/core/format'
import { filteredOut, type FilterCondition, type SheetFilter } from '../../src/core/workbook/filter'
import { sheetParts, sheetsOf, visibleColIds, visibleRowIds, type ColumnMeta } from '../../src/core/workbook/schema'
import { readStyle, stylesOf } from '../../src/core/workbook/styles'
import { dataRows } from '../../src/core/workbook/sort'

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
/** Excel's wildcards taken literally */
const literal = (s: string) => s.replace(/[~*?]/g, m => `~${m}`)

const OPERATORS: Record<string, string> = { '>': 'greaterThan', '>=': 'greaterThanOrEqual', '<': 'lessThan', '<=': 'lessThanOrEqual', '=': 'equal', '<>': 'notEqual' }

/** One column's condition as the children of its <filterColumn>, or undefined when Excel has no form. */
export function filterColumnXml(cond: FilterCondition): string | undefined {
  switch (cond.kind) {
    case 'values': {
      const shown = cond.values.filter(v => v.trim() !== '')
      const blank = shown.length < cond.values.length ? ' blank="1"' : ''
      return `<filters${blank}>${shown.map(v => `<filter val="${esc(v)}"/>`).join('')}</filters>`
    }
    case 'op': {
      const v = cond.value ?? ''
      const custom = (op: string, val: string) => `<customFilters><customFilter operator="${op}" val="${esc(val)}"/></customFilters>`
      switch (cond.op) {
        case 'empty': return '<filters blank="1"/>'
        case 'notEmpty': return custom('notEqual', ' ')
        case 'contains': return custom('equal', `*${literal(v)}*`)
        case 'notContains': return custom('notEqual', `*${literal(v)}*`)
        case '=': case '<>': return custom(OPERATORS[cond.op]!, literal(v))
        default: return Number.isFinite(Number(v)) && v.trim() !== '' ? custom(OPERATORS[cond.op]!, String(Number(v))) : undefined
      }
    }
    default: return undefined
  }
}

export interface SheetAutoFilter {
  /** the rows the filter hides */
  hidden: Set<string>
  /** the <autoFilter> element, when the sheet has a header row to put it on */
  xml?: string
  /** its range, for ExcelJS to write the placeholder (and the defined name Excel keeps for it) */
  ref?: string
}

/**
 * The filter of one sheet in the file; `header` is 1 when the export writes a title row above the
 * sheet's rows. Conditions on columns the sheet no longer has are ignored.
 */
export function sheetAutoFilter(doc: Y.Doc, engine: FormulaEngine, sheetId: string, filter: SheetFilter, header: number, notes: string[]): SheetAutoFilter | null {
  const sheet = sheetsOf(doc).get(sheetId)
  if (!sheet) return null
  const cols = visibleColIds(sheet)
  const conditions = Object.entries(filter).filter(([colId]) => cols.includes(colId))
  if (!conditions.length) return null
  const { colMeta } = sheetParts(sheet)
  const styles = stylesOf(doc)
  const hidden = filteredOut(doc, sheetId, Object.fromEntries(conditions), (rowId, colId) => {
    const value = engine.getValueById(sheetId, rowId, colId)
    return { shown: formatValue(value, colMeta.get(colId) as ColumnMeta | undefined), value, bg: readStyle(styles, sheetId, rowId, colId).bg }
  })
  const rows = visibleRowIds(sheet)
  const data = dataRows(sheet)
  const name = String(sheet.get('name') ?? '')
  // the row of titles over the data: the last frozen row, else the export's header row
  const frozen = Math.max(0, Number(sheet.get('frozenRows')) || 0)
  const top = frozen > 0 ? frozen + header : header
  if (!top || !data.length) {
    if (data.length) notes.push(`the filter of "${name}" is written as hidden rows only (the sheet has no header row for Excel's filter)`)
    return { hidden }
  }
  const bottom = rows.indexOf(data[data.length - 1]!) + 1 + header
  const ref = `A${top}:${colToLetters(cols.length - 1)}${bottom}`
  let children = ''
  for (const [colId, cond] of conditions.sort(([a], [b]) => cols.indexOf(a) - cols.indexOf(b))) {
    const xml = filterColumnXml(cond)
    if (xml === undefined) {
      notes.push(`a filter of column ${colToLetters(cols.indexOf(colId))} on "${name}" has no Excel form: its rows are hidden, the condition is left out`)
      continue
    }
    children += `<filterColumn colId="${cols.indexOf(colId)}">${xml}</filterColumn>`
  }
  return { hidden, ref, xml: `<autoFilter ref="${ref}">${children}</autoFilter>` }
}

/**
 * The workbook's hidden `_xlnm._FilterDatabase` name of each filtered sheet, as Excel writes it beside
 * an autoFilter: LibreOffice takes a sheet's filter from that name and drops a filter without it.
 */
export function withFilterNames(workbookXml: string, filters: readonly { sheetIndex: number; sheetName: string; ref: string }[]): string {
  if (!filters.length) return workbookXml
  const abs = (ref: string) => ref.split(':').map(a => a.replace(/^([A-Z]+)(\d+)$/, '$$$1$$$2')).join(':')
  const names = filters.map(f => `<definedName name="_xlnm._FilterDatabase" localSheetId="${f.sheetIndex}" hidden="1">'${esc(f.sheetName.replace(/'/g, "''"))}'!${abs(f.ref)}</definedName>`).join('')
  if (workbookXml.includes('<definedNames>')) return workbookXml.replace('<definedNames>', () => `<definedNames>${names}`)
  return workbookXml.replace('</sheets>', () => `</sheets><definedNames>${names}</definedNames>`)
}
