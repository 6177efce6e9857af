/**
 * Templates are data (templates/*.json). ./schema.ts validates them (clear errors naming the file and
 * field), fills defaults, keeps unknown keys, migrates by schemaVersion; this module resolves includes
 * and patches and builds a workbook doc.
 *
 * Formulas in templates are A1 text. Cross-sheet references use the zh-CN sheet names; the builder
 * creates sheets under those names, encodes every formula into the id-based stored form, then renames
 * the sheets for the chosen language (a rename never touches stored formulas).
 *
 * The shape is `templateSchema` in ./schema.ts (schemaVersion 2; version 1 files are read as is),
 * published as JSON Schema in templates/template.schema.json (scripts/template-schema.ts writes it):
 *   { schemaVersion, id, title, description, include?: [templateId], patches?: [{sheet, cell, value}],
 *     sheets: [{ key?, name, rows?, cols?, frozenRows?, frozenCols?, columns?: [...], data?: [[cell]],
 *                totals?: [cell], charts?: [...] }] }
 */
import * as Y from 'yjs'
import type { CellInput, ColorRule, ColumnMeta } from '../workbook/schema'
import { addSheet, initWorkbook, renameSheet, setCells, setColumnMeta, setTotalsRow, type CellWrite } from '../workbook/mutations'
import { WorkbookLayout } from '../workbook/layout'
import { inputFromText } from '../workbook/input'
import { newColId, newRowId } from '../workbook/ids'
import { encodeFormula, parseA1 } from '../formulas/references'
import { fillColumnFormulas, toColumnFormula } from '../workbook/table'
import { sheetsOf } from '../workbook/schema'
import { addChart } from '../charts/charts'
import { TemplateError, localize, type Locale, type Template, type TemplateCell, type TemplateSheet } from './schema'

export {
  LOCALES, TEMPLATE_SCHEMA_VERSION, TemplateError, localize, templateJsonSchema, templateSchema, validateTemplate,
  type Locale, type Localized, type Template, type TemplateCell, type TemplateChart, type TemplateColumn,
  type TemplatePatch, type TemplateRule, type TemplateSheet,
} from './schema'

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
export function buildWorkbook(doc: Y.Doc, template: Template, opts: { title?: string; locale?: Locale; timeZone?: string } = {}, origin: unknown = null): void {
  const locale = opts.locale ?? 'zh-CN'
  doc.transact(() => {
    initWorkbook(doc, { title: opts.title?.trim() || localize(template.title, locale), templateId: template.id, timeZone: opts.timeZone, lang: locale }, origin)
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
