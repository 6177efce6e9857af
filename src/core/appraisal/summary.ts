/**
 * The appraisal summary: per person, the total score, the score rate, the grade and the rank, from the
 * workbook's appraisal sheet(s). No Vue imports.
 *
 * An appraisal sheet is one a template made as such (key "appraisal") or any sheet with a weight and a
 * score column (keys "weight" and "score"). Its rows belong to the person named in its person column
 * (key "appraisee", else the first person-typed column); rows naming nobody, or a sheet without such a
 * column, belong to the sheet itself (one sheet per person, named after them). The totals row is left
 * out: the summary adds up the rows itself, so people across several sheets add up too.
 *
 * Grades come from the workbook's scoring rules sheet (key "rules": rows of a lower bound of the score
 * rate and a grade, as VLOOKUP reads them), or the template's bands when there is none.
 */
import type * as Y from 'yjs'
import { sheetIds, sheetKey, sheetName, sheetParts, sheetsOf, visibleIds, type ColumnMeta, type SheetMap } from '../workbook/schema'
import { totalsRowOf } from '../workbook/table'

export type Value = number | string | boolean | null | { error: string }

export interface PersonScore {
  name: string
  /** the sheets their rows are on */
  sheets: string[]
  /** how many rated indicators (rows with a score) */
  items: number
  score: number
  /** sum of the weights of their indicators (1 = 100 %) */
  weight: number
  /** score ÷ (weight × 100), or null without weights */
  rate: number | null
  grade: string
  /** 1 for the highest score; equal scores share a rank (1, 2, 2, 4) */
  rank: number
}

export interface AppraisalSummary { people: PersonScore[]; bands: { from: number; grade: string }[]; sheets: string[] }

export const DEFAULT_BANDS = {
  'zh-CN': [{ from: 0, grade: '待改进' }, { from: 0.7, grade: '合格' }, { from: 0.9, grade: '良好' }, { from: 1, grade: '优秀' }],
  en: [{ from: 0, grade: 'Needs improvement' }, { from: 0.7, grade: 'Satisfactory' }, { from: 0.9, grade: 'Good' }, { from: 1, grade: 'Excellent' }],
} as const

function columnsByKey(sheet: SheetMap): { ids: string[]; key: (k: string) => string | undefined; metas: (ColumnMeta | undefined)[] } {
  const p = sheetParts(sheet)
  const ids = visibleIds(p.cols, p.colsGone)
  const metas = ids.map(id => p.colMeta.get(id) as ColumnMeta | undefined)
  return { ids, metas, key: (k: string) => ids[metas.findIndex(m => m?.key === k)] }
}

export function appraisalSheets(doc: Y.Doc): string[] {
  return sheetIds(doc).filter(id => {
    if (sheetKey(doc, id) === 'appraisal') return true
    const c = columnsByKey(sheetsOf(doc).get(id)!)
    return !!c.key('weight') && !!c.key('score')
  })
}

const num = (v: Value): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** Grade bands from the rules sheet: rows whose first cell is a rate and second a grade, lowest first. */
function bandsFrom(doc: Y.Doc, valueOf: (sheetId: string, rowId: string, colId: string) => Value): { from: number; grade: string }[] {
  const rules = sheetIds(doc).find(id => sheetKey(doc, id) === 'rules')
  if (!rules) return []
  const p = sheetParts(sheetsOf(doc).get(rules)!)
  const cols = visibleIds(p.cols, p.colsGone)
  if (cols.length < 2) return []
  const out: { from: number; grade: string }[] = []
  for (const r of visibleIds(p.rows, p.rowsGone)) {
    const from = num(valueOf(rules, r, cols[0]!)), grade = valueOf(rules, r, cols[1]!)
    if (from === null || typeof grade !== 'string' || !grade.trim()) {
      // the bands are one block: it ends at the first row that is not a band
      if (out.length) break
      continue
    }
    out.push({ from, grade: grade.trim() })
  }
  return out.sort((a, b) => a.from - b.from)
}

export function gradeFor(rate: number | null, bands: readonly { from: number; grade: string }[]): string {
  if (rate === null || !bands.length) return ''
  let g = ''
  // as VLOOKUP(…, TRUE) does: the last band whose lower bound the rate reaches
  for (const b of bands) if (Math.round(rate * 1e6) / 1e6 >= b.from) g = b.grade
  return g || bands[0]!.grade
}

export function appraisalSummary(doc: Y.Doc, valueOf: (sheetId: string, rowId: string, colId: string) => Value, locale: 'zh-CN' | 'en' = 'zh-CN'): AppraisalSummary {
  const sheets = appraisalSheets(doc)
  const found = bandsFrom(doc, valueOf)
  const bands = found.length ? found : [...DEFAULT_BANDS[locale]]
  const people = new Map<string, PersonScore>()
  for (const sid of sheets) {
    const sheet = sheetsOf(doc).get(sid)!
    const c = columnsByKey(sheet)
    const scoreCol = c.key('score'), weightCol = c.key('weight')
    if (!scoreCol) continue
    const personCol = c.key('appraisee') ?? c.ids[c.metas.findIndex(m => m?.type === 'person')]
    const p = sheetParts(sheet)
    const totals = totalsRowOf(sheet)
    const own = sheetName(doc, sid)
    for (const r of visibleIds(p.rows, p.rowsGone)) {
      if (r === totals) continue
      const score = num(valueOf(sid, r, scoreCol))
      if (score === null) continue
      const who = personCol ? valueOf(sid, r, personCol) : null
      const name = typeof who === 'string' && who.trim() ? who.trim() : own
      let ps = people.get(name)
      if (!ps) { ps = { name, sheets: [], items: 0, score: 0, weight: 0, rate: null, grade: '', rank: 0 }; people.set(name, ps) }
      if (!ps.sheets.includes(own)) ps.sheets.push(own)
      ps.items++
      ps.score += score
      ps.weight += (weightCol ? num(valueOf(sid, r, weightCol)) : null) ?? 0
    }
  }
  const list = [...people.values()]
  for (const ps of list) {
    ps.score = Math.round(ps.score * 100) / 100
    ps.rate = ps.weight > 0 ? Math.round((ps.score / (ps.weight * 100)) * 1e6) / 1e6 : null
    ps.grade = gradeFor(ps.rate, bands)
  }
  list.sort((a, b) => b.score - a.score || a.name.localeCompare(b.name, 'zh-CN'))
  list.forEach((ps, i) => { ps.rank = i > 0 && list[i - 1]!.score === ps.score ? list[i - 1]!.rank : i + 1 })
  return { people: list, bands, sheets }
}
