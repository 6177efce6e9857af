/**
 * Templates are data (templates/*.json). This module validates them (clear errors naming the file and
 * field), fills defaults, keeps unknown keys, migrates by schemaVersion, and builds a workbook doc.
 *
 * Formulas in templates are A1 text. Cross-sheet references use the zh-CN sheet names; the builder
 * creates sheets under those names, encodes every formula into the id-based stored form, then renames
 * the sheets for the chosen language (a rename never touches stored formulas).
 *
 * Shape (schemaVersion 2; version 1 files are read as is):
 *   { schemaVersion, id, title, description, include?: [templateId], patches?: [{sheet, cell, value}],
 *     sheets: [{ key?, name, rows?, cols?, frozenRows?, frozenCols?,
 *                columns?: [{ key?, title, type, width, decimals, currency, options, help,
 *                             formula?  (A1, written for row 1; every data row and new row gets it),
 *                             rules?    [{ op, value?, value2?, column? (a column key), rows?, style }],
 *                             validation? { min?, max?, integer? } }],
 *                data?: rows of cells (A1 formulas start with '='; text may be {"zh-CN","en"}),
 *                totals?: one row of cells placed right after the data and marked as the totals row,
 *                charts?: [{ kind, title, labels (a column key), series [keys], secondAxis? [keys],
 *                            deviation? { target, actual, direction? } }] }] }
 */
import * as Y from 'yjs'
import {
  COLUMN_TYPES, RULE_OPS, RULE_STYLES,
  type CellInput, type ColorRule, type ColumnMeta, type RuleOp, type RuleStyle, type Validation,
} from '../workbook/schema'
import { addSheet, initWorkbook, renameSheet, setCells, setColumnMeta, setTotalsRow, type CellWrite } from '../workbook/mutations'
import { WorkbookLayout } from '../workbook/layout'
import { inputFromText } from '../workbook/input'
import { newColId, newRowId } from '../workbook/ids'
import { encodeFormula, parseA1 } from '../formulas/references'
import { fillColumnFormulas, toColumnFormula } from '../workbook/table'
import { sheetsOf } from '../workbook/schema'
import { addChart, CHART_KINDS, type ChartKind } from '../charts/charts'

export const TEMPLATE_SCHEMA_VERSION = 2

export type Locale = 'zh-CN' | 'en'
export const LOCALES: readonly Locale[] = ['zh-CN', 'en']
export type Localized = string | { 'zh-CN': string; en: string }
export type TemplateCell = string | number | boolean | null | { 'zh-CN': string; en: string }

export interface TemplateRule {
  op: RuleOp
  value?: number | Localized
  value2?: number
  /** key of the column whose value is tested (default: the rule's own column) */
  column?: string
  rows?: 'data' | 'totals' | 'all'
  style: RuleStyle
}

export interface TemplateColumn {
  key?: string
  title?: Localized
  type?: ColumnMeta['type']
  width?: number
  decimals?: number
  currency?: string
  options?: Localized[]
  help?: Localized
  /** A1 formula written for row 1; may be localized when it compares with localized text */
  formula?: Localized
  rules?: TemplateRule[]
  validation?: Validation
  [extra: string]: unknown
}

/** A chart over the sheet's table; columns are named by their keys. */
export interface TemplateChart {
  kind: ChartKind
  title: Localized
  labels: string
  series: string[]
  secondAxis?: string[]
  deviation?: { target: string; actual: string; direction?: string }
}

export interface TemplateSheet {
  key?: string
  charts?: TemplateChart[]
  name: Localized
  rows?: number
  cols?: number
  columns?: TemplateColumn[]
  data?: TemplateCell[][]
  totals?: TemplateCell[]
  frozenRows?: number
  frozenCols?: number
  [extra: string]: unknown
}

export interface TemplatePatch { sheet: string; cell: string; value: TemplateCell }

export interface Template {
  schemaVersion: number
  id: string
  title: Localized
  description: Localized
  sheets: TemplateSheet[]
  include?: string[]
  patches?: TemplatePatch[]
  [extra: string]: unknown
}

export class TemplateError extends Error {
  constructor(public file: string, public field: string, message: string) {
    super(`${file}: ${field}: ${message}`)
    this.name = 'TemplateError'
  }
}

export function localize(v: Localized | undefined, locale: Locale): string {
  if (v === undefined) return ''
  if (typeof v === 'string') return v
  return v[locale] ?? v['zh-CN'] ?? v.en ?? ''
}

function isLocalized(v: unknown): v is Localized {
  if (typeof v === 'string') return true
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Record<string, unknown>)['zh-CN'] === 'string' && typeof (v as Record<string, unknown>).en === 'string'
}

/** Upgrades older template documents; each step moves one version up. */
function migrate(raw: Record<string, unknown>): Record<string, unknown> {
  let t = raw
  if (t.schemaVersion === undefined) t = { ...t, schemaVersion: 1 }
  // 1 → 2 added optional fields only (column formulas, rules, validation, totals, include, patches)
  if (t.schemaVersion === 1) t = { ...t, schemaVersion: 2 }
  return t
}

const KEY = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/
const LOCALIZED_MSG = 'must be a string or {"zh-CN","en"}'

function isCell(v: unknown): v is TemplateCell {
  return v === null || typeof v === 'number' || typeof v === 'boolean' || isLocalized(v)
}

/** Validates a parsed template; throws TemplateError naming the file and the field. */
export function validateTemplate(input: unknown, file: string): Template {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TemplateError(file, '(root)', 'must be an object')
  const raw = migrate(input as Record<string, unknown>)
  const fail = (field: string, msg: string): never => { throw new TemplateError(file, field, msg) }
  if (typeof raw.schemaVersion !== 'number' || raw.schemaVersion > TEMPLATE_SCHEMA_VERSION) fail('schemaVersion', `unsupported version ${String(raw.schemaVersion)}`)
  if (typeof raw.id !== 'string' || !/^[a-z0-9-]{1,64}$/.test(raw.id)) fail('id', 'must be lower-case letters, digits and dashes')
  if (!isLocalized(raw.title)) fail('title', LOCALIZED_MSG)
  const description = raw.description ?? ''
  if (!isLocalized(description)) fail('description', LOCALIZED_MSG)
  const include = raw.include ?? []
  if (!Array.isArray(include) || !include.every(x => typeof x === 'string')) fail('include', 'must be an array of template ids')
  const rawSheets = raw.sheets ?? []
  if (!Array.isArray(rawSheets)) fail('sheets', 'must be an array')
  if ((rawSheets as unknown[]).length === 0 && (include as string[]).length === 0) fail('sheets', 'must be a non-empty array')
  const sheets = (rawSheets as unknown[]).map((s, i) => validateSheet(s, `sheets[${i}]`, fail))
  const patches = raw.patches ?? []
  if (!Array.isArray(patches)) fail('patches', 'must be an array')
  ;(patches as unknown[]).forEach((p, i) => {
    const f = `patches[${i}]`
    if (typeof p !== 'object' || p === null) fail(f, 'must be an object')
    const patch = p as Record<string, unknown>
    if (typeof patch.sheet !== 'string') fail(`${f}.sheet`, 'must be a sheet name (zh-CN) or key')
    if (typeof patch.cell !== 'string' || !parseA1(patch.cell)) fail(`${f}.cell`, 'must be an A1 address')
    if (!isCell(patch.value)) fail(`${f}.value`, 'must be a number, boolean, text or null')
  })
  return {
    ...raw, schemaVersion: raw.schemaVersion as number, id: raw.id as string, title: raw.title as Localized,
    description: description as Localized, sheets, include: include as string[], patches: patches as TemplatePatch[],
  }
}

function validateSheet(s: unknown, f: string, fail: (field: string, msg: string) => never): TemplateSheet {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) fail(f, 'must be an object')
  const sheet = s as Record<string, unknown>
  if (!isLocalized(sheet.name)) fail(`${f}.name`, LOCALIZED_MSG)
  if (sheet.key !== undefined && (typeof sheet.key !== 'string' || !KEY.test(sheet.key))) fail(`${f}.key`, 'must be a short identifier')
  for (const k of ['rows', 'cols', 'frozenRows', 'frozenCols'] as const) {
    if (sheet[k] !== undefined && (typeof sheet[k] !== 'number' || !Number.isInteger(sheet[k]) || (sheet[k] as number) < 0 || (sheet[k] as number) > 100000)) fail(`${f}.${k}`, 'must be a whole number from 0 to 100000')
  }
  const keys = new Set<string>()
  if (sheet.columns !== undefined) {
    if (!Array.isArray(sheet.columns)) fail(`${f}.columns`, 'must be an array')
    ;(sheet.columns as unknown[]).forEach((c, j) => {
      const cf = `${f}.columns[${j}]`
      if (typeof c !== 'object' || c === null || Array.isArray(c)) fail(cf, 'must be an object')
      const col = c as Record<string, unknown>
      if (col.key !== undefined) {
        if (typeof col.key !== 'string' || !KEY.test(col.key)) fail(`${cf}.key`, 'must be a short identifier')
        if (keys.has(col.key as string)) fail(`${cf}.key`, `"${String(col.key)}" is used twice`)
        keys.add(col.key as string)
      }
      if (col.type !== undefined && !COLUMN_TYPES.includes(col.type as never)) fail(`${cf}.type`, `must be one of ${COLUMN_TYPES.join(', ')}`)
      for (const k of ['title', 'help', 'formula'] as const) if (col[k] !== undefined && !isLocalized(col[k])) fail(`${cf}.${k}`, LOCALIZED_MSG)
      if (col.formula !== undefined && ![localize(col.formula as Localized, 'zh-CN'), localize(col.formula as Localized, 'en')].every(x => x.startsWith('=') && x.length > 1)) fail(`${cf}.formula`, 'must start with "="')
      if (col.width !== undefined && (typeof col.width !== 'number' || col.width < 20 || col.width > 1000)) fail(`${cf}.width`, 'must be a number from 20 to 1000')
      if (col.decimals !== undefined && (typeof col.decimals !== 'number' || !Number.isInteger(col.decimals) || col.decimals < 0 || col.decimals > 10)) fail(`${cf}.decimals`, 'must be a whole number from 0 to 10')
      if (col.currency !== undefined && (typeof col.currency !== 'string' || col.currency.length > 4)) fail(`${cf}.currency`, 'must be a short symbol')
      if (col.options !== undefined && (!Array.isArray(col.options) || !col.options.every(isLocalized))) fail(`${cf}.options`, 'must be an array of strings')
      if (col.options !== undefined && col.type !== 'select') fail(`${cf}.options`, 'only select columns have options')
      if (col.type === 'select' && !(Array.isArray(col.options) && col.options.length)) fail(`${cf}.options`, 'a select column needs options')
      if (col.validation !== undefined) {
        const v = col.validation as Record<string, unknown>
        if (typeof v !== 'object' || v === null) fail(`${cf}.validation`, 'must be an object')
        for (const k of ['min', 'max'] as const) if (v[k] !== undefined && typeof v[k] !== 'number') fail(`${cf}.validation.${k}`, 'must be a number')
        if (v.integer !== undefined && typeof v.integer !== 'boolean') fail(`${cf}.validation.integer`, 'must be true or false')
      }
      if (col.rules !== undefined) {
        if (!Array.isArray(col.rules)) fail(`${cf}.rules`, 'must be an array')
        ;(col.rules as unknown[]).forEach((r, k) => {
          const rf = `${cf}.rules[${k}]`
          if (typeof r !== 'object' || r === null) fail(rf, 'must be an object')
          const rule = r as Record<string, unknown>
          if (!RULE_OPS.includes(rule.op as never)) fail(`${rf}.op`, `must be one of ${RULE_OPS.join(' ')}`)
          if (!RULE_STYLES.includes(rule.style as never)) fail(`${rf}.style`, `must be one of ${RULE_STYLES.join(', ')}`)
          if (rule.rows !== undefined && !['data', 'totals', 'all'].includes(rule.rows as string)) fail(`${rf}.rows`, 'must be data, totals or all')
          const needsValue = !['empty', 'notEmpty'].includes(rule.op as string)
          if (needsValue && !(typeof rule.value === 'number' || isLocalized(rule.value))) fail(`${rf}.value`, 'must be a number or text')
          if (['<', '<=', '>', '>=', 'between'].includes(rule.op as string) && typeof rule.value !== 'number') fail(`${rf}.value`, 'must be a number')
          if (rule.op === 'between' && typeof rule.value2 !== 'number') fail(`${rf}.value2`, 'must be a number')
          if (rule.column !== undefined && typeof rule.column !== 'string') fail(`${rf}.column`, 'must be a column key')
        })
      }
    })
    // rules may name columns declared after them
    ;(sheet.columns as Record<string, unknown>[]).forEach((col, j) => {
      ;((col.rules as Record<string, unknown>[] | undefined) ?? []).forEach((rule, k) => {
        if (rule.column !== undefined && !keys.has(rule.column as string)) fail(`${f}.columns[${j}].rules[${k}].column`, `no column has the key "${String(rule.column)}"`)
      })
    })
  }
  const rowsOk = (rows: unknown, field: string) => {
    if (!Array.isArray(rows)) fail(field, 'must be an array')
    ;(rows as unknown[]).forEach((v, c) => { if (!isCell(v)) fail(`${field}[${c}]`, 'must be a number, boolean, text or null') })
  }
  if (sheet.data !== undefined) {
    if (!Array.isArray(sheet.data)) fail(`${f}.data`, 'must be an array of rows')
    ;(sheet.data as unknown[]).forEach((row, r) => rowsOk(row, `${f}.data[${r}]`))
  }
  if (sheet.totals !== undefined) rowsOk(sheet.totals, `${f}.totals`)
  if (sheet.charts !== undefined) {
    if (!Array.isArray(sheet.charts)) fail(`${f}.charts`, 'must be an array')
    ;(sheet.charts as unknown[]).forEach((c, j) => {
      const cf = `${f}.charts[${j}]`
      if (typeof c !== 'object' || c === null || Array.isArray(c)) fail(cf, 'must be an object')
      const ch = c as Record<string, unknown>
      if (!CHART_KINDS.includes(ch.kind as ChartKind)) fail(`${cf}.kind`, `must be one of ${CHART_KINDS.join(', ')}`)
      if (!isLocalized(ch.title)) fail(`${cf}.title`, LOCALIZED_MSG)
      const known = (k: unknown, field: string) => { if (typeof k !== 'string' || !keys.has(k)) fail(field, `no column has the key "${String(k)}"`) }
      known(ch.labels, `${cf}.labels`)
      if (!Array.isArray(ch.series) || ch.series.length === 0) fail(`${cf}.series`, 'must be a non-empty array of column keys')
      ;(ch.series as unknown[]).forEach((k, i) => known(k, `${cf}.series[${i}]`))
      if (ch.secondAxis !== undefined) {
        if (!Array.isArray(ch.secondAxis)) fail(`${cf}.secondAxis`, 'must be an array of column keys')
        ;(ch.secondAxis as unknown[]).forEach((k, i) => known(k, `${cf}.secondAxis[${i}]`))
      }
      if (ch.deviation !== undefined) {
        const d = ch.deviation as Record<string, unknown>
        if (typeof d !== 'object' || d === null) fail(`${cf}.deviation`, 'must be an object')
        known(d.target, `${cf}.deviation.target`); known(d.actual, `${cf}.deviation.actual`)
        if (d.direction !== undefined) known(d.direction, `${cf}.deviation.direction`)
      }
    })
  }
  return { ...sheet, name: sheet.name as Localized } as TemplateSheet
}

/**
 * Resolves `include` (sheets of other templates, appended before the template's own) and applies
 * `patches`. Throws TemplateError for unknown or circular includes and patches to unknown sheets.
 */
export function resolveTemplate(t: Template, byId: (id: string) => Template | undefined, file: string, seen: string[] = []): Template {
  if (!t.include?.length && !t.patches?.length) return t
  if (seen.includes(t.id)) throw new TemplateError(file, 'include', `circular include: ${[...seen, t.id].join(' → ')}`)
  const sheets: TemplateSheet[] = []
  t.include?.forEach((id, i) => {
    const other = byId(id)
    if (!other) throw new TemplateError(file, `include[${i}]`, `unknown template "${id}"`)
    sheets.push(...structuredClone(resolveTemplate(other, byId, file, [...seen, t.id]).sheets))
  })
  sheets.push(...structuredClone(t.sheets))
  t.patches?.forEach((p, i) => {
    const sheet = sheets.find(s => s.key === p.sheet || localize(s.name, 'zh-CN') === p.sheet || localize(s.name, 'en') === p.sheet)
    if (!sheet) throw new TemplateError(file, `patches[${i}].sheet`, `no sheet "${p.sheet}"`)
    const { row, col } = parseA1(p.cell)!
    const data = (sheet.data ??= [])
    while (data.length <= row) data.push([])
    const r = data[row]!
    while (r.length <= col) r.push(null)
    r[col] = p.value
  })
  return { ...t, sheets, include: [], patches: [] }
}

const asText = (v: TemplateCell, locale: Locale): string | number | boolean | null =>
  v === null || typeof v === 'number' || typeof v === 'boolean' ? v : localize(v, locale)

/** Fills a fresh doc from a (resolved) template. */
export function buildWorkbook(doc: Y.Doc, template: Template, opts: { title?: string; locale?: Locale } = {}, origin: unknown = null): void {
  const locale = opts.locale ?? 'zh-CN'
  doc.transact(() => {
    initWorkbook(doc, { title: opts.title?.trim() || localize(template.title, locale), templateId: template.id }, origin)
    // sheets first, under their zh-CN names, so formulas can name any of them
    const plan = template.sheets.map(sheet => {
      const dataRows = (sheet.data?.length ?? 0) + (sheet.totals ? 1 : 0)
      const dataCols = Math.max(0, sheet.totals?.length ?? 0, ...(sheet.data ?? []).map(r => r.length))
      const ncols = Math.max(sheet.cols ?? (sheet.columns?.length || 26), dataCols, sheet.columns?.length ?? 0)
      const nrows = Math.max(sheet.rows ?? 100, dataRows)
      const colIds = Array.from({ length: ncols }, newColId)
      const rowIds = Array.from({ length: nrows }, newRowId)
      const keyToCol = new Map<string, string>()
      sheet.columns?.forEach((c, i) => { if (c.key) keyToCol.set(c.key, colIds[i]!) })
      const columns = sheet.columns?.map((c): ColumnMeta => {
        const m: ColumnMeta = {}
        // c1, c2… are the places a saved template gives columns that had no key: they mean nothing
        if (c.key !== undefined && !/^c\d+$/.test(c.key)) m.key = c.key
        if (c.title !== undefined) m.title = localize(c.title, locale)
        if (c.type !== undefined) m.type = c.type
        if (c.width !== undefined) m.width = c.width
        if (c.decimals !== undefined) m.decimals = c.decimals
        if (c.currency !== undefined) m.currency = c.currency
        if (c.help !== undefined) m.help = localize(c.help, locale)
        if (c.options !== undefined) m.options = c.options.map(o => localize(o, locale))
        if (c.validation !== undefined) m.validation = { ...c.validation }
        if (c.rules?.length) {
          m.rules = c.rules.map((r): ColorRule => {
            const rule: ColorRule = { op: r.op, style: r.style }
            if (r.value !== undefined) rule.value = typeof r.value === 'number' ? r.value : localize(r.value, locale)
            if (r.value2 !== undefined) rule.value2 = r.value2
            if (r.column !== undefined) rule.colId = keyToCol.get(r.column)
            if (r.rows !== undefined) rule.rows = r.rows
            return rule
          })
        }
        return m
      })
      const sheetId = addSheet(doc, {
        name: localize(sheet.name, 'zh-CN'), key: sheet.key, rowIds, colIds, columns,
        frozenRows: sheet.frozenRows, frozenCols: sheet.frozenCols,
      }, origin)
      return { sheet, sheetId, rowIds, colIds }
    })
    const layout = new WorkbookLayout(doc)
    let chartCount = 0
    for (const { sheet, sheetId, rowIds, colIds } of plan) {
      const ctx = { layout, sheetId }
      const writes: CellWrite[] = []
      const put = (r: number, c: number, v: TemplateCell) => {
        const x = asText(v, locale)
        if (x === null || x === '') return
        let value: CellInput | null
        if (typeof x !== 'string') value = x
        else {
          const colMeta = sheet.columns?.[c]
          const type = colMeta?.type === 'select' || colMeta?.type === 'person' ? 'text' : colMeta?.type
          value = inputFromText(x, ctx, { type })
        }
        writes.push({ rowId: rowIds[r]!, colId: colIds[c]!, value })
      }
      const nData = sheet.data?.length ?? 0
      sheet.data?.forEach((row, r) => row.forEach((v, c) => put(r, c, v)))
      if (sheet.totals) sheet.totals.forEach((v, c) => put(nData, c, v))
      if (writes.length) setCells(doc, sheetId, writes, origin)
      sheet.columns?.forEach((c, i) => {
        if (c.formula === undefined) return
        const stored = encodeFormula(localize(c.formula, locale), ctx)
        setColumnMeta(doc, sheetId, colIds[i]!, { formula: toColumnFormula(stored, rowIds[0]!, rowIds) }, origin)
      })
      const sheetMap = sheetsOf(doc).get(sheetId)!
      if (nData) fillColumnFormulas(sheetMap, rowIds.slice(0, nData))
      if (sheet.totals) setTotalsRow(doc, sheetId, rowIds[nData]!, origin)
      const keyToCol = new Map<string, string>()
      sheet.columns?.forEach((c, i) => { if (c.key) keyToCol.set(c.key, colIds[i]!) })
      const col = (k: string) => keyToCol.get(k)!
      sheet.charts?.forEach(c => addChart(doc, {
        kind: c.kind, title: localize(c.title, locale), sheet: sheetId, labels: col(c.labels), series: c.series.map(col),
        ...(c.secondAxis ? { secondAxis: c.secondAxis.map(col) } : {}),
        ...(c.deviation ? { deviation: { target: col(c.deviation.target), actual: col(c.deviation.actual), ...(c.deviation.direction ? { direction: col(c.deviation.direction) } : {}) } } : {}),
        // in the template's order
        createdAt: chartCount++,
      }, origin))
    }
    if (locale !== 'zh-CN') {
      // two steps, so a sheet may take a name another sheet has in zh-CN
      const moving = plan.filter(p => localize(p.sheet.name, locale) !== localize(p.sheet.name, 'zh-CN'))
      moving.forEach((p, i) => renameSheet(doc, p.sheetId, `~${i}~${p.sheetId}`, origin))
      for (const p of moving) renameSheet(doc, p.sheetId, localize(p.sheet.name, locale), origin)
    }
  }, origin)
}
