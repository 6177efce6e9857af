/**
 * Builds a template in both languages and computes it, so a template that the builder rejects, that
 * shows a formula error, or whose sample values break its own dropdowns and bounds fails at load time
 * with the file, sheet and cell named. Also renders the small preview the gallery shows.
 */
import * as Y from 'yjs'
import { FormulaEngine, isErrorValue } from '../formulas/engine'
import { a1 } from '../formulas/references'
import { formatValue } from '../format'
import { sheetParts, sheetsOf, type ColumnMeta } from '../workbook/schema'
import { validationProblem } from '../workbook/table'
import { LOCALES, TemplateError, buildWorkbook, localize, type Locale, type Template } from './template'

export interface TemplatePreview { sheet: string; columns: string[]; rows: string[][] }

export interface CheckedTemplate { previews: Record<Locale, TemplatePreview> }

/**
 * Builds, computes and checks every cell; throws TemplateError naming the file, sheet and cell.
 * `strict: false` (templates people saved or uploaded) only requires that it builds in both languages:
 * their figures may well show #DIV/0! until someone fills them in.
 */
export function checkTemplate(t: Template, file: string, { strict = true }: { strict?: boolean } = {}): CheckedTemplate {
  const previews = {} as Record<Locale, TemplatePreview>
  for (const locale of LOCALES) {
    const doc = new Y.Doc()
    try {
      buildWorkbook(doc, t, { locale })
    } catch (e) {
      throw new TemplateError(file, '(build)', `${locale}: ${(e as Error).message}`)
    }
    const engine = new FormulaEngine(doc)
    try {
      const layout = engine.layout
      layout.order.forEach((sheetId, i) => {
        const sl = layout.sheet(sheetId)!
        const meta = sheetParts(sheetsOf(doc).get(sheetId)!).colMeta
        const { cells } = sheetParts(sheetsOf(doc).get(sheetId)!)
        cells.forEach((_input, key) => {
          const [rowId, colId] = key.split(':') as [string, string]
          const r = sl.rows.indexOf(rowId), c = sl.cols.indexOf(colId)
          if (r < 0 || c < 0) return
          const v = engine.getValue(sheetId, r, c)
          const where = `sheets[${i}] "${localize(t.sheets[i]!.name, locale)}" ${a1(r, c)}`
          if (!strict) return
          if (isErrorValue(v)) throw new TemplateError(file, where, `${locale}: formula gives ${v.error}${v.message ? ` (${v.message})` : ''}`)
          const problem = validationProblem(meta.get(colId), v)
          if (problem) throw new TemplateError(file, where, `${locale}: value ${JSON.stringify(v)} breaks the column's validation (${problem.code})`)
        })
      })
      previews[locale] = preview(doc, engine, t, locale)
    } finally {
      engine.destroy()
    }
  }
  return { previews }
}

function preview(doc: Y.Doc, engine: FormulaEngine, t: Template, locale: Locale): TemplatePreview {
  const sheetId = engine.layout.order[0]!
  const sl = engine.layout.sheet(sheetId)!
  const meta = sheetParts(sheetsOf(doc).get(sheetId)!).colMeta
  const nrows = Math.min(4, t.sheets[0]?.data?.length ?? 0)
  const ncols = Math.min(5, sl.cols.length, Math.max(1, t.sheets[0]?.columns?.length ?? 0))
  const metas: (ColumnMeta | undefined)[] = sl.cols.ids.slice(0, ncols).map(id => meta.get(id))
  return {
    sheet: sl.name,
    columns: metas.map((m, c) => m?.title ?? a1(0, c).replace(/\d+$/, '')),
    rows: Array.from({ length: nrows }, (_, r) => metas.map((m, c) => formatValue(engine.getValue(sheetId, r, c), m))),
  }
}
