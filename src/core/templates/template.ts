/**
 * Templates are data (templates/*.json). This module validates them (clear errors naming the file and
 * field), fills defaults, keeps unknown keys, migrates by schemaVersion, and builds a workbook doc.
 */
import * as Y from 'yjs'
import { COLUMN_TYPES, type CellInput, type ColumnMeta } from '../workbook/schema'
import { addSheet, initWorkbook, setCells, type CellWrite } from '../workbook/mutations'
import { WorkbookLayout } from '../workbook/layout'
import { inputFromText } from '../workbook/input'

export const TEMPLATE_SCHEMA_VERSION = 1

export type Localized = string | { 'zh-CN': string; en: string }
export type Locale = 'zh-CN' | 'en'

export interface TemplateColumn extends Omit<ColumnMeta, 'title' | 'help' | 'options'> {
  title?: Localized
  help?: Localized
  options?: Localized[]
}

export interface TemplateSheet {
  name: Localized
  rows?: number
  cols?: number
  columns?: TemplateColumn[]
  /** rows of cells: numbers, booleans, text, or A1 formulas starting with '='; text may be localized */
  data?: (string | number | boolean | null | { 'zh-CN': string; en: string })[][]
  frozenRows?: number
  frozenCols?: number
  [extra: string]: unknown
}

export interface Template {
  schemaVersion: number
  id: string
  title: Localized
  description: Localized
  sheets: TemplateSheet[]
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
  return typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)['zh-CN'] === 'string' && typeof (v as Record<string, unknown>).en === 'string'
}

/** Upgrades older template documents; each step moves one version up. */
function migrate(raw: Record<string, unknown>): Record<string, unknown> {
  const v = raw.schemaVersion
  if (v === undefined) return { ...raw, schemaVersion: 1 }
  return raw
}

/** Validates a parsed template; throws TemplateError naming the file and the field. */
export function validateTemplate(input: unknown, file: string): Template {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new TemplateError(file, '(root)', 'must be an object')
  const raw = migrate(input as Record<string, unknown>)
  const fail = (field: string, msg: string): never => { throw new TemplateError(file, field, msg) }
  if (typeof raw.schemaVersion !== 'number' || raw.schemaVersion > TEMPLATE_SCHEMA_VERSION) fail('schemaVersion', `unsupported version ${String(raw.schemaVersion)}`)
  if (typeof raw.id !== 'string' || !/^[a-z0-9-]{1,64}$/.test(raw.id)) fail('id', 'must be lower-case letters, digits and dashes')
  if (!isLocalized(raw.title)) fail('title', 'must be a string or {"zh-CN","en"}')
  const description = raw.description ?? ''
  if (!isLocalized(description)) fail('description', 'must be a string or {"zh-CN","en"}')
  if (!Array.isArray(raw.sheets) || raw.sheets.length === 0) fail('sheets', 'must be a non-empty array')
  const sheets = (raw.sheets as unknown[]).map((s, i): TemplateSheet => {
    const f = `sheets[${i}]`
    if (typeof s !== 'object' || s === null) fail(f, 'must be an object')
    const sheet = s as Record<string, unknown>
    if (!isLocalized(sheet.name)) fail(`${f}.name`, 'must be a string or {"zh-CN","en"}')
    for (const k of ['rows', 'cols', 'frozenRows', 'frozenCols'] as const) {
      if (sheet[k] !== undefined && (typeof sheet[k] !== 'number' || !Number.isInteger(sheet[k]) || (sheet[k] as number) < 0 || (sheet[k] as number) > 100000)) fail(`${f}.${k}`, 'must be a whole number from 0 to 100000')
    }
    if (sheet.columns !== undefined) {
      if (!Array.isArray(sheet.columns)) fail(`${f}.columns`, 'must be an array')
      ;(sheet.columns as unknown[]).forEach((c, j) => {
        const cf = `${f}.columns[${j}]`
        if (typeof c !== 'object' || c === null) fail(cf, 'must be an object')
        const col = c as Record<string, unknown>
        if (col.type !== undefined && !COLUMN_TYPES.includes(col.type as never)) fail(`${cf}.type`, `must be one of ${COLUMN_TYPES.join(', ')}`)
        if (col.title !== undefined && !isLocalized(col.title)) fail(`${cf}.title`, 'must be a string or {"zh-CN","en"}')
        if (col.width !== undefined && (typeof col.width !== 'number' || col.width < 20 || col.width > 1000)) fail(`${cf}.width`, 'must be a number from 20 to 1000')
        if (col.options !== undefined && (!Array.isArray(col.options) || !col.options.every(isLocalized))) fail(`${cf}.options`, 'must be an array of strings')
      })
    }
    if (sheet.data !== undefined) {
      if (!Array.isArray(sheet.data) || !sheet.data.every(Array.isArray)) fail(`${f}.data`, 'must be an array of rows')
      ;(sheet.data as unknown[][]).forEach((row, r) => row.forEach((v, c) => {
        if (v !== null && typeof v !== 'number' && typeof v !== 'boolean' && !isLocalized(v)) fail(`${f}.data[${r}][${c}]`, 'must be a number, boolean, text or null')
      }))
    }
    return { ...sheet, name: sheet.name as Localized } as TemplateSheet
  })
  return { ...raw, schemaVersion: raw.schemaVersion as number, id: raw.id as string, title: raw.title as Localized, description: description as Localized, sheets }
}

/** Fills a fresh doc from a template. Formulas are A1 text, encoded once every sheet exists. */
export function buildWorkbook(doc: Y.Doc, template: Template, opts: { title?: string; locale?: Locale } = {}, origin: unknown = null): void {
  const locale = opts.locale ?? 'zh-CN'
  doc.transact(() => {
    initWorkbook(doc, { title: opts.title?.trim() || localize(template.title, locale), templateId: template.id }, origin)
    const ids: string[] = []
    for (const sheet of template.sheets) {
      const dataRows = sheet.data?.length ?? 0
      const dataCols = Math.max(0, ...(sheet.data ?? []).map(r => r.length))
      const columns = sheet.columns?.map((c): ColumnMeta => {
        const m: ColumnMeta = { ...(c as ColumnMeta) }
        if (c.title !== undefined) m.title = localize(c.title, locale)
        if (c.help !== undefined) m.help = localize(c.help, locale)
        if (c.options !== undefined) m.options = c.options.map(o => localize(o, locale))
        return m
      })
      ids.push(addSheet(doc, {
        name: localize(sheet.name, locale),
        rows: Math.max(sheet.rows ?? 100, dataRows),
        cols: Math.max(sheet.cols ?? (columns?.length || 26), dataCols, columns?.length ?? 0),
        columns,
        frozenRows: sheet.frozenRows,
        frozenCols: sheet.frozenCols,
      }, origin))
    }
    const layout = new WorkbookLayout(doc)
    template.sheets.forEach((sheet, i) => {
      const sheetId = ids[i]!
      const sl = layout.sheet(sheetId)!
      const writes: CellWrite[] = []
      sheet.data?.forEach((row, r) => row.forEach((v, c) => {
        if (v === null || v === '') return
        let value: CellInput | null
        if (typeof v === 'number' || typeof v === 'boolean') value = v
        else {
          const text = localize(v, locale)
          const colMeta = sheet.columns?.[c] as ColumnMeta | undefined
          value = inputFromText(text, { layout, sheetId }, colMeta?.type === 'select' || colMeta?.type === 'person' ? { type: 'text' } : colMeta)
        }
        writes.push({ rowId: sl.rows.ids[r]!, colId: sl.cols.ids[c]!, value })
      }))
      if (writes.length) setCells(doc, sheetId, writes, origin)
    })
  }, origin)
}
