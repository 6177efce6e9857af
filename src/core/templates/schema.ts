/**
 * The template schema (zod), every rule once: validating a parsed template file gives a typed
 * `Template` with every default filled and unknown keys kept, or a TemplateError naming the file and
 * field. Older files are migrated by `schemaVersion` first. `templateJsonSchema()` is the same schema as
 * JSON Schema (templates/template.schema.json; scripts/template-schema.ts writes it).
 */
import { COLUMN_TYPES, RULE_OPS, RULE_STYLES } from '../workbook/schema'
import { parseA1 } from '../formulas/references'
import { CHART_KINDS } from '../charts/charts'
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
