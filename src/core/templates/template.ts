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
  type CellInput, type ColorRule, type ColumnMeta,
} from '../workbook/schema'
import { addSheet, initWorkbook, renameSheet, setCells, setColumnMeta, setTotalsRow, type CellWrite } from '../workbook/mutations'
import { WorkbookLayout } from '../workbook/layout'
import { inputFromText } from '../workbook/input'
import { newColId, newRowId } from '../workbook/ids'
import { encodeFormula, parseA1 } from '../formulas/references'
import { fillColumnFormulas, toColumnFormula } from '../workbook/table'
import { sheetsOf } from '../workbook/schema'
import { addChart, CHART_KINDS } from '../charts/charts'
import { firstProblem, z } from '../zod'

export const TEMPLATE_SCHEMA_VERSION = 2

export type Locale = 'zh-CN' | 'en'
export const LOCALES: readonly Locale[] = ['zh-CN', 'en']
const LOCALIZED_MSG = 'must be a string or {"zh-CN","en"}'
const CELL_MSG = 'must be a number, boolean, text or null'
const KEY = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/

// ---- the schema: every rule once; the types below are what it gives ------------------------------

/** Text, or text in both languages (other languages' keys are kept). */
const localized = z.union([z.string(), z.looseObject({ 'zh-CN': z.string(), en: z.string() })], { error: LOCALIZED_MSG })
/** A cell of sample data: A1 formulas are text starting with '='. */
const cell = z.union([z.null(), z.number(), z.boolean(), localized], { error: CELL_MSG })
// named in the JSON Schema (its $defs), not written out at each use
const JSON_SCHEMA_NAMES = new Map<z.core.$ZodType, string>([[localized, 'localized'], [cell, 'cell']])
const key = z.string({ error: 'must be a short identifier' }).check(z.regex(KEY, { error: 'must be a short identifier' }))
const columnKey = z.string({ error: 'must be a column key' })
const whole = (min: number, max: number) => {
  const error = `must be a whole number from ${min} to ${max}`
  return z.int({ error }).check(z.minimum(min, { error }), z.maximum(max, { error }))
}
const enumOf = <T extends string>(values: readonly T[], error = `must be one of ${values.join(', ')}`) =>
  z.enum(values as readonly [T, ...T[]], { error })
const both = (v: Localized) => [localize(v, 'zh-CN'), localize(v, 'en')]
const COMPARES: readonly string[] = ['<', '<=', '>', '>=', 'between']

const rule = z.looseObject({
  op: enumOf(RULE_OPS, `must be one of ${RULE_OPS.join(' ')}`),
  style: enumOf(RULE_STYLES),
  rows: z.optional(z.enum(['data', 'totals', 'all'], { error: 'must be data, totals or all' })),
  value: z.optional(z.union([z.number(), localized], { error: 'must be a number or text' })),
  /** upper bound of `between` */
  value2: z.optional(z.number({ error: 'must be a number' })),
  /** key of the column whose value is tested (default: the rule's own column) */
  column: z.optional(columnKey),
}, { error: 'must be an object' }).check(z.superRefine((r, ctx) => {
  const fail = (path: string, message: string) => ctx.addIssue({ code: 'custom', message, path: [path] })
  if (r.op !== 'empty' && r.op !== 'notEmpty' && r.value === undefined) fail('value', 'must be a number or text')
  else if (COMPARES.includes(r.op) && typeof r.value !== 'number') fail('value', 'must be a number')
  else if (r.op === 'between' && r.value2 === undefined) fail('value2', 'must be a number')
}))

const column = z.looseObject({
  /** what the column is, in any language ("start", "owner"…): views and charts find it by this */
  key: z.optional(key),
  title: z.optional(localized),
  type: z.optional(enumOf(COLUMN_TYPES)),
  width: z.optional(z.number({ error: 'must be a number from 20 to 1000' }).check(z.minimum(20, { error: 'must be a number from 20 to 1000' }), z.maximum(1000, { error: 'must be a number from 20 to 1000' }))),
  decimals: z.optional(whole(0, 10)),
  currency: z.optional(z.string({ error: 'must be a short symbol' }).check(z.maxLength(4, { error: 'must be a short symbol' }))),
  options: z.optional(z.array(localized, { error: 'must be an array of strings' })),
  help: z.optional(localized),
  /** A1 formula written for row 1; every data row and new row gets it (localized when it compares with localized text) */
  formula: z.optional(localized.check(z.refine(f => both(f).every(x => x.startsWith('=') && x.length > 1), { error: 'must start with "="' }))),
  rules: z.optional(z.array(rule, { error: 'must be an array' })),
  validation: z.optional(z.looseObject({
    min: z.optional(z.number({ error: 'must be a number' })),
    max: z.optional(z.number({ error: 'must be a number' })),
    integer: z.optional(z.boolean({ error: 'must be true or false' })),
  }, { error: 'must be an object' })),
}, { error: 'must be an object' }).check(z.superRefine((c, ctx) => {
  if (c.options !== undefined && c.type !== 'select') ctx.addIssue({ code: 'custom', message: 'only select columns have options', path: ['options'] })
  if (c.type === 'select' && !c.options?.length) ctx.addIssue({ code: 'custom', message: 'a select column needs options', path: ['options'] })
}))

const chart = z.looseObject({
  kind: enumOf(CHART_KINDS),
  title: localized,
  /** the column keys of the categories and of the series */
  labels: columnKey,
  series: z.array(columnKey, { error: 'must be a non-empty array of column keys' }).check(z.minLength(1, { error: 'must be a non-empty array of column keys' })),
  secondAxis: z.optional(z.array(columnKey, { error: 'must be an array of column keys' })),
  deviation: z.optional(z.looseObject({ target: columnKey, actual: columnKey, direction: z.optional(columnKey) }, { error: 'must be an object' })),
}, { error: 'must be an object' })

const sheet = z.looseObject({
  key: z.optional(key),
  name: localized,
  rows: z.optional(whole(0, 100000)),
  cols: z.optional(whole(0, 100000)),
  frozenRows: z.optional(whole(0, 100000)),
  frozenCols: z.optional(whole(0, 100000)),
  columns: z.optional(z.array(column, { error: 'must be an array' })),
  /** rows of cells: A1 formulas start with '=', text may be {"zh-CN","en"} */
  data: z.optional(z.array(z.array(cell, { error: 'must be an array' }), { error: 'must be an array of rows' })),
  /** one row of cells placed right after the data and marked as the totals row */
  totals: z.optional(z.array(cell, { error: 'must be an array' })),
  charts: z.optional(z.array(chart, { error: 'must be an array' })),
}, { error: 'must be an object' }).check(z.superRefine((s, ctx) => {
  const fail = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', message, path })
  const keys = new Set<string>()
  s.columns?.forEach((c, j) => {
    if (c.key === undefined) return
    if (keys.has(c.key)) fail(['columns', j, 'key'], `"${c.key}" is used twice`)
    keys.add(c.key)
  })
  const known = (k: string | undefined, path: PropertyKey[]) => { if (k !== undefined && !keys.has(k)) fail(path, `no column has the key "${k}"`) }
  // rules may name columns declared after them
  s.columns?.forEach((c, j) => c.rules?.forEach((r, k) => known(r.column, ['columns', j, 'rules', k, 'column'])))
  s.charts?.forEach((c, j) => {
    known(c.labels, ['charts', j, 'labels'])
    c.series.forEach((k, i) => known(k, ['charts', j, 'series', i]))
    c.secondAxis?.forEach((k, i) => known(k, ['charts', j, 'secondAxis', i]))
    if (c.deviation) for (const f of ['target', 'actual', 'direction'] as const) known(c.deviation[f], ['charts', j, 'deviation', f])
  })
}))

const patch = z.looseObject({
  sheet: z.string({ error: 'must be a sheet name (zh-CN) or key' }),
  cell: z.string({ error: 'must be an A1 address' }).check(z.refine(a => !!parseA1(a), { error: 'must be an A1 address' })),
  value: cell,
}, { error: 'must be an object' })

const unsupported = (iss: { input?: unknown }) => `unsupported version ${String(iss.input)}`

/**
 * A template file (after `migrate`). Unknown keys are kept; `$schema` (an editor's pointer to
 * templates/template.schema.json) is taken and left out of the result.
 */
export const templateSchema = z.looseObject({
  $schema: z.optional(z.string()),
  schemaVersion: z._default(z.number({ error: unsupported }).check(z.maximum(TEMPLATE_SCHEMA_VERSION, { error: unsupported })), TEMPLATE_SCHEMA_VERSION),
  id: z.string({ error: 'must be lower-case letters, digits and dashes' }).check(z.regex(/^[a-z0-9-]{1,64}$/, { error: 'must be lower-case letters, digits and dashes' })),
  title: localized,
  description: z._default(localized, ''),
  /** templates whose sheets come first (their ids) */
  include: z._default(z.array(z.string(), { error: 'must be an array of template ids' }), () => []),
  /** cells of included sheets changed: the sheet by its zh-CN name or key, the cell by its A1 address */
  patches: z._default(z.array(patch, { error: 'must be an array' }), () => []),
  sheets: z._default(z.array(sheet, { error: 'must be an array' }), () => []),
}, { error: 'must be an object' }).check(
  z.superRefine((t, ctx) => {
    if (t.sheets.length === 0 && t.include.length === 0) ctx.addIssue({ code: 'custom', message: 'must be a non-empty array', path: ['sheets'] })
  }),
)

export type Localized = string | { 'zh-CN': string; en: string }
export type TemplateCell = z.output<typeof cell>
export type TemplateRule = z.output<typeof rule>
export type TemplateColumn = z.output<typeof column>
/** A chart over the sheet's table; columns are named by their keys. */
export type TemplateChart = z.output<typeof chart>
export type TemplateSheet = z.output<typeof sheet>
export type TemplatePatch = z.output<typeof patch>
/** A validated template (a loaded one never has `$schema`). */
export type Template = z.output<typeof templateSchema>

/** The JSON Schema of template files (templates/template.schema.json is this, written out). */
export function templateJsonSchema(): Record<string, unknown> {
  const registry = z.registry<{ id?: string; title?: string; description?: string }>()
  for (const [schema, id] of JSON_SCHEMA_NAMES) registry.add(schema, { id })
  registry.add(templateSchema, {
    title: 'Plan template',
    description: 'A plan template of planning-workbooks (templates/*.json): sheets with typed columns, sample rows, a totals row and charts; '
      + 'text may be {"zh-CN","en"}. The server also checks that every formula computes and every sample value fits its column.',
  })
  return z.toJSONSchema(templateSchema, { io: 'input', unrepresentable: 'any', metadata: registry }) as Record<string, unknown>
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

/** Upgrades older template documents; each step moves one version up. */
function migrate(raw: Record<string, unknown>): Record<string, unknown> {
  let t = raw
  if (t.schemaVersion === undefined) t = { ...t, schemaVersion: 1 }
  // 1 → 2 added optional fields only (column formulas, rules, validation, totals, include, patches)
  if (t.schemaVersion === 1) t = { ...t, schemaVersion: 2 }
  return t
}

/** Validates a parsed template, defaults filled in; throws TemplateError naming the file and the field. */
export function validateTemplate(input: unknown, file: string): Template {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TemplateError(file, '(root)', 'must be an object')
  const parsed = templateSchema.safeParse(migrate(input as Record<string, unknown>))
  if (!parsed.success) {
    const { field, message } = firstProblem(parsed.error)
    throw new TemplateError(file, field || '(root)', message)
  }
  const template = parsed.data
  delete template.$schema
  return template
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
