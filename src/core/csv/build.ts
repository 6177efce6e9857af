/**
 * A CSV table → the doc, through the named mutations: a new workbook (as the XLSX import makes one), a
 * new sheet, or rows appended to / replacing the rows of an existing sheet with columns matched by title.
 */
import * as Y from 'yjs'
import { addSheet, deleteRows, initWorkbook, insertRows, normaliseSheetName, setCells, setColumnMeta, type CellWrite, type Origin, type WorkbookLang } from '../workbook/mutations'
import { WorkbookLayout } from '../workbook/layout'
import { encodeFormula } from '../formulas/references'
import { totalsRowOf } from '../workbook/table'
import { cellKey, sheetIds, sheetName, sheetParts, sheetsOf, type CellInput, type ColumnMeta, type ColumnType } from '../workbook/schema'
import { coerceField, columnMetaOf, noCoercions, type Coerced, type ColumnGuess } from './guess'
import type { CsvTable } from './table'

export interface WriteResult {
  sheetId: string
  rows: number
  cells: number
  coerced: Coerced
}

const FORBIDDEN = /[\\/?*[\]:]/g

/** A sheet name not taken yet (from the file's name). */
export function freeSheetName(doc: Y.Doc, wanted: string, fallback: string): string {
  const base = normaliseSheetName(wanted).replace(FORBIDDEN, '_').replace(/^'+|'+$/g, '').slice(0, 90) || fallback
  const taken = new Set(sheetIds(doc).map(id => sheetName(doc, id).toLowerCase()))
  let name = base
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base} (${n})`
  return name
}

type Written = CellInput | { formulaText: string } | null

function toInput(v: Written, formulaCtx: () => { layout: WorkbookLayout; sheetId: string }): CellInput | null {
  if (v !== null && typeof v === 'object' && 'formulaText' in v) return { t: 'f', v: encodeFormula(v.formulaText, formulaCtx()) }
  return v
}

/** Writes the table as a new sheet (titles and types on its columns); formulas, when kept, as in the file's grid. */
export function writeNewSheet(doc: Y.Doc, t: CsvTable, guesses: readonly ColumnGuess[], opts: { name: string; formulas: boolean }, origin: Origin = null): WriteResult {
  const coerced = noCoercions()
  let result: WriteResult | undefined
  doc.transact(() => {
    // the header's row (and the title lines) stay above the data until the formulas are encoded, as in the file
    const offset = opts.formulas ? t.skipped + (t.header ? 1 : 0) : 0
    const id = addSheet(doc, { name: opts.name, rows: offset + t.rows.length + 20, cols: Math.max(t.width, 1) + 2 }, origin)
    const parts = sheetParts(sheetsOf(doc).get(id)!)
    const rowIds = parts.rows.toArray(), colIds = parts.cols.toArray()
    let ctx: { layout: WorkbookLayout; sheetId: string } | undefined
    const formulaCtx = () => (ctx ??= { layout: new WorkbookLayout(doc), sheetId: id })
    const writes: CellWrite[] = []
    t.rows.forEach((row, r) => {
      const rowId = rowIds[offset + r]!
      for (let c = 0; c < row.length; c++) {
        const value = toInput(coerceField(row[c]!, guesses[c]?.type, opts.formulas, coerced), formulaCtx)
        if (value !== null) writes.push({ rowId, colId: colIds[c]!, value })
      }
    })
    setCells(doc, id, writes, origin)
    colIds.forEach((colId, c) => {
      const patch: Partial<ColumnMeta> = { ...(guesses[c] ? columnMetaOf(guesses[c]) : {}) }
      if (t.titles[c]) patch.title = t.titles[c]
      if (Object.keys(patch).length) setColumnMeta(doc, id, colId, patch, origin)
    })
    if (offset) deleteRows(doc, id, 0, offset, origin)
    result = { sheetId: id, rows: t.rows.length, cells: writes.length, coerced }
  }, origin)
  return result!
}

/** A new workbook of one sheet holding the table (into an empty doc). */
export function buildCsvWorkbook(doc: Y.Doc, t: CsvTable, guesses: readonly ColumnGuess[], opts: { title: string; sheetName: string; formulas: boolean; timeZone?: string; lang?: WorkbookLang }): WriteResult {
  initWorkbook(doc, { title: opts.title.slice(0, 200), templateId: 'import', timeZone: opts.timeZone, lang: opts.lang })
  return writeNewSheet(doc, t, guesses, { name: freeSheetName(doc, opts.sheetName, 'Sheet1'), formulas: opts.formulas })
}

export interface ColumnMatch {
  /** the file's column, by index, and its title */
  from: number
  title: string
  /** the sheet's column it goes to, or null when the sheet has none of that title (left out) */
  colId: string | null
  type?: ColumnType
}

const norm = (s: string) => s.trim().toLowerCase()

/** The file's columns matched to the sheet's by title (ignoring case and spaces at the ends). */
export function matchColumns(doc: Y.Doc, sheetId: string, t: CsvTable): ColumnMatch[] {
  const sheet = sheetsOf(doc).get(sheetId)
  if (!sheet) return []
  const layout = new WorkbookLayout(doc).sheet(sheetId)!
  const p = sheetParts(sheet)
  const byTitle = new Map<string, { colId: string; meta: ColumnMeta }>()
  for (const colId of layout.cols.ids) {
    const meta = (p.colMeta.get(colId) ?? {}) as ColumnMeta
    const key = norm(meta.title ?? '')
    if (key && !byTitle.has(key)) byTitle.set(key, { colId, meta })
  }
  const used = new Set<string>()
  return t.titles.map((title, from) => {
    const hit = byTitle.get(norm(title))
    if (!hit || used.has(hit.colId) || hit.meta.formula) return { from, title, colId: null }
    used.add(hit.colId)
    return { from, title, colId: hit.colId, ...(hit.meta.type ? { type: hit.meta.type } : {}) }
  })
}

/**
 * Appends the table's rows below the sheet's last filled data row (above its totals row), or replaces
 * its data rows (the rows are rewritten in place, so formulas pointing at them keep their cells; rows
 * the file has more are inserted, rows it has fewer are deleted). Calculated columns keep their formula.
 */
export function writeIntoSheet(doc: Y.Doc, sheetId: string, t: CsvTable, mode: 'append' | 'replace', matches: readonly ColumnMatch[], opts: { formulas: boolean; guesses?: readonly ColumnGuess[] }, origin: Origin = null): WriteResult {
  const coerced = noCoercions()
  let cells = 0
  doc.transact(() => {
    const sheet = sheetsOf(doc).get(sheetId)!
    const p = sheetParts(sheet)
    const sl = new WorkbookLayout(doc).sheet(sheetId)!
    const order = sl.rows.ids
    const totals = totalsRowOf(sheet)
    const end = totals && order.includes(totals) ? order.indexOf(totals) : order.length
    const colIds = sl.cols.ids
    const metas = new Map(colIds.map(c => [c, (p.colMeta.get(c) ?? {}) as ColumnMeta]))
    const filledRow = (r: string) => colIds.some(c => p.cells.has(cellKey(r, c)))
    let last = -1
    for (let r = end - 1; r >= 0; r--) if (filledRow(order[r]!)) { last = r; break }
    let targets: string[]
    const writes: CellWrite[] = []
    if (mode === 'append') {
      const empty = order.slice(last + 1, end)
      const more = Math.max(0, t.rows.length - empty.length)
      const added = more ? insertRows(doc, sheetId, end, more, origin) : []
      targets = [...empty, ...added].slice(0, t.rows.length)
    } else {
      const data = order.slice(0, end)
      const more = Math.max(0, t.rows.length - data.length)
      const added = more ? insertRows(doc, sheetId, end, more, origin) : []
      targets = [...data, ...added].slice(0, t.rows.length)
      // what was there goes (calculated columns keep their formulas); rows beyond the file's are deleted after
      for (const rowId of targets) for (const c of colIds) if (!metas.get(c)!.formula && p.cells.has(cellKey(rowId, c))) writes.push({ rowId, colId: c, value: null })
    }
    let ctx: { layout: WorkbookLayout; sheetId: string } | undefined
    const formulaCtx = () => (ctx ??= { layout: new WorkbookLayout(doc), sheetId })
    t.rows.forEach((row, r) => {
      const rowId = targets[r]!
      for (const m of matches) {
        if (!m.colId) continue
        const value = toInput(coerceField(row[m.from] ?? '', m.type ?? opts.guesses?.[m.from]?.type ?? 'text', opts.formulas, coerced), formulaCtx)
        if (value !== null) { writes.push({ rowId, colId: m.colId, value }); cells++ }
      }
    })
    setCells(doc, sheetId, writes, origin)
    if (mode === 'replace' && end > t.rows.length) deleteRows(doc, sheetId, t.rows.length, end - t.rows.length, origin)
  }, origin)
  return { sheetId, rows: t.rows.length, cells, coerced }
}

/** The titles of a sheet's columns in order (what an append or replace matches the file's by). */
export function sheetColumnTitles(doc: Y.Doc, sheetId: string): string[] {
  const sheet = sheetsOf(doc).get(sheetId)
  const sl = sheet && new WorkbookLayout(doc).sheet(sheetId)
  if (!sheet || !sl) return []
  const p = sheetParts(sheet)
  return sl.cols.ids.map(c => ((p.colMeta.get(c) ?? {}) as ColumnMeta).title ?? '').filter(Boolean)
}
