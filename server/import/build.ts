/**
 * The model a worker read from an .xlsx → a new workbook doc: sheets, values, formulas (encoded to the
 * position-independent form, the file's defined names put in place of their uses), column types from
 * number formats, widths, frozen panes, dropdown lists, and a header row of titles (bold or frozen text
 * in row 1) becoming the columns' titles. What a workbook cannot carry is listed in the report.
 * Runs in the import worker (server/import/worker.ts): the server's thread only stores the state.
 */
import type * as Y from 'yjs'
import { BadFile } from './zip'
import type { ImportedSheet, ImportedWorkbook } from './model'
import { DEFAULT_IMPORT_LIMITS } from './options'
import { inlineNames, namesFor } from './names'
import { addSheet, deleteRows, initWorkbook, normaliseSheetName, setCells, setColumnMeta, setFrozen, setTotalsRow, type CellWrite, type WorkbookLang } from '../../src/core/workbook/mutations'
import { toColumnFormula } from '../../src/core/workbook/table'
import { validScale } from '../../src/core/workbook/scale'
import { COLUMN_TYPES, RULE_OPS, RULE_STYLES, type ColorRule } from '../../src/core/workbook/schema'
import { META_SHEET, type SheetMetaExport } from '../export/xlsx'
import { WorkbookLayout, type SheetLayout } from '../../src/core/workbook/layout'
import { encodeFormula, parseA1 } from '../../src/core/formulas/references'
import { setCellStyle } from '../../src/core/workbook/styles'
import { setHidden } from '../../src/core/workbook/hidden'
import { importFilter } from './filter'
import { mergeKey, mergesOf } from '../../src/core/workbook/merges'
import { keepCachedValues, type Cached } from './unknown'
import { type CellInput, type ColumnMeta, type ColumnType } from '../../src/core/workbook/schema'

export interface BuildOptions { title?: string; fallbackTitle: string; maxGridCells?: number; filterName?: string; timeZone?: string; lang?: WorkbookLang }

/** A column type from a number format (the one most of a column's values carry). */
export function typeFromFormat(fmt: string): { type: ColumnType; decimals?: number; currency?: string } | undefined {
  // quoted text and [...] sections (colours, locales) say nothing about the kind of number
  const bare = fmt.replace(/"[^"]*"/g, '').replace(/\[[^\]]*\]/g, '').replace(/\\./g, '')
  const digits = /[0#]/.test(bare)
  const m = /[0#]\.(0+)/.exec(bare)
  const decimals = m ? m[1]!.length : digits ? 0 : undefined
  if (bare.includes('%')) return { type: 'percent', decimals }
  const cur = /[¥$€£]/.exec(fmt)
  if (cur && digits) return { type: 'currency', decimals, currency: cur[0] }
  if (!digits && /[yd]/i.test(bare)) return { type: 'date' }
  if (digits) return { type: 'number', decimals }
  return undefined
}

export interface ImportReport {
  sheets: number
  cells: number
  formulas: number
  /** what the file had that the workbook does not carry, or carries differently */
  notes: string[]
}

const FORBIDDEN = /[\\/?*[\]:]/g

/** The settings our own export left in its hidden sheet, by sheet name (untrusted: every field checked). */
function readMeta(model: ImportedWorkbook): Map<string, SheetMetaExport> {
  const out = new Map<string, SheetMetaExport>()
  const sheet = model.sheets.find(s => s.name === META_SHEET)
  if (!sheet) return out
  const rows = new Map<number, string[]>()
  for (const c of sheet.cells) {
    if (typeof c.v !== 'string') continue
    const row = rows.get(c.r) ?? []
    row[c.c] = c.v
    rows.set(c.r, row)
  }
  for (const row of rows.values()) {
    const [name, ...chunks] = row
    if (!name) continue
    try {
      const m = JSON.parse(chunks.join('')) as SheetMetaExport
      if (m && typeof m === 'object' && m.v === 1 && Array.isArray(m.cols)) out.set(name, m)
    } catch { /* not ours, or damaged: the sheet imports without it */ }
  }
  return out
}

const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : undefined)
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

/** Column settings from the hidden sheet, checked field by field. */
function columnFromMeta(m: unknown, colIds: readonly string[]): Partial<ColumnMeta> {
  if (!m || typeof m !== 'object' || Array.isArray(m)) return {}
  const o = m as Record<string, unknown>
  const out: Partial<ColumnMeta> = {}
  if (typeof o.type === 'string' && (COLUMN_TYPES as readonly string[]).includes(o.type)) out.type = o.type as ColumnType
  if (str(o.title, 100)) out.title = str(o.title, 100)
  if (typeof o.key === 'string' && /^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(o.key)) out.key = o.key
  if (str(o.help, 1000)) out.help = str(o.help, 1000)
  if (str(o.currency, 8)) out.currency = str(o.currency, 8)
  const d = num(o.decimals); if (d !== undefined && Number.isInteger(d) && d >= 0 && d <= 10) out.decimals = d
  const w = num(o.width); if (w !== undefined && w > 0) out.width = Math.min(800, Math.round(w))
  if (Array.isArray(o.options)) out.options = o.options.filter((x): x is string => typeof x === 'string').slice(0, 200).map(x => x.slice(0, 100))
  if (o.validation && typeof o.validation === 'object') {
    const v = o.validation as Record<string, unknown>
    const val = { ...(num(v.min) !== undefined ? { min: num(v.min) } : {}), ...(num(v.max) !== undefined ? { max: num(v.max) } : {}), ...(v.integer === true ? { integer: true } : {}) }
    if (Object.keys(val).length) out.validation = val
  }
  if (Array.isArray(o.rules)) {
    const rules: ColorRule[] = []
    for (const r of o.rules.slice(0, 20)) {
      if (!r || typeof r !== 'object') continue
      const x = r as Record<string, unknown>
      if (!(RULE_OPS as readonly unknown[]).includes(x.op) || !(RULE_STYLES as readonly unknown[]).includes(x.style)) continue
      const rule: ColorRule = { op: x.op as ColorRule['op'], style: x.style as ColorRule['style'] }
      if (typeof x.value === 'number' || typeof x.value === 'string') rule.value = typeof x.value === 'string' ? x.value.slice(0, 200) : x.value
      if (num(x.value2) !== undefined) rule.value2 = num(x.value2)
      if (x.rows === 'data' || x.rows === 'totals' || x.rows === 'all') rule.rows = x.rows
      const col = num(x.col)
      if (col !== undefined) { const id = colIds[col]; if (!id) continue; rule.colId = id }
      rules.push(rule)
    }
    if (rules.length) out.rules = rules
  }
  const scale = validScale(o.scale)
  if (scale) out.scale = scale
  return out
}

function isHeader(sheet: ImportedSheet): boolean {
  const first = sheet.cells.filter(c => c.r === 0)
  if (!first.length || sheet.rows < 2) return false
  const texts = first.every(c => typeof c.v === 'string' && c.v.trim() !== '' && c.f === undefined)
  return texts && (first.every(c => c.bold) || sheet.frozenRows >= 1)
}

/** Builds the workbook for an imported file into `doc` (empty). */
/**
 * What the file shows beside the values: cell formats, merged ranges, hidden rows and columns (by the
 * ids the cells were written to; the header row, which becomes the column titles, is left out).
 */
function carryLooks(doc: Y.Doc, id: string, sl: SheetLayout, sheet: ImportedSheet, header: boolean): number {
  let skipped = 0
  const first = header ? 1 : 0
  for (const cell of sheet.cells) {
    const rowId = sl.rows.ids[cell.r], colId = sl.cols.ids[cell.c]
    // (a format this workbook cannot take is left out, never the cell)
    if (cell.look && rowId && colId && cell.r >= first) { try { setCellStyle(doc, id, [{ rowId, colId }], cell.look) } catch { /* left out */ } }
  }
  const rowsOf = (list: number[] | undefined) => (list ?? []).filter(r => r >= first).map(r => sl.rows.ids[r]).filter((x): x is string => !!x)
  const colsOf = (list: number[] | undefined) => (list ?? []).map(c => sl.cols.ids[c]).filter((x): x is string => !!x)
  if (sheet.hiddenRows?.length) setHidden(doc, id, 'rows', rowsOf(sheet.hiddenRows), true)
  if (sheet.hiddenCols?.length) setHidden(doc, id, 'cols', colsOf(sheet.hiddenCols), true)
  // a new sheet has no merges yet: each range is written once (mergeCells would scan all before it,
  // quadratic over 10,000 ranges), one that overlaps a range before it is left out and counted
  const covered = new Set<number>(), map = mergesOf(doc), width = sl.cols.ids.length
  doc.transact(() => {
    for (const ref of sheet.merges ?? []) {
      const [a, b] = ref.split(':').map(parseA1)
      if (!a || !b || a.row < first) { skipped++; continue }
      const r1 = Math.min(a.row, b.row), r2 = Math.max(a.row, b.row), c1 = Math.min(a.col, b.col), c2 = Math.max(a.col, b.col)
      const from = { rowId: sl.rows.ids[r1], colId: sl.cols.ids[c1] }, to = { rowId: sl.rows.ids[r2], colId: sl.cols.ids[c2] }
      if (!from.rowId || !from.colId || !to.rowId || !to.colId || (r1 === r2 && c1 === c2)) continue
      let free = true
      for (let r = r1; r <= r2 && free; r++) for (let c = c1; c <= c2; c++) if (covered.has(r * width + c)) { free = false; break }
      if (!free) continue
      for (let r = r1; r <= r2; r++) for (let c = c1; c <= c2; c++) covered.add(r * width + c)
      map.set(mergeKey(id, from.rowId, from.colId), { r: to.rowId, c: to.colId })
    }
  })
  return skipped
}

/** `filterName`: the name of the filter view a file's recorded filter becomes (the importer's language) */
export function buildFromImport(doc: Y.Doc, model: ImportedWorkbook, opts: BuildOptions): ImportReport {
  const report: ImportReport = { sheets: 0, cells: 0, formulas: 0, notes: [] }
  if (!model.sheets.length) throw new BadFile(422, 'the file has no sheets')
  const grid = model.sheets.reduce((n, sh) => n + (sh.rows + 20) * (sh.cols + 2), 0)
  if (grid > (opts.maxGridCells ?? DEFAULT_IMPORT_LIMITS.maxGridCells)) {
    throw new BadFile(413, `the sheets span ${grid} cells (rows × columns); at most ${opts.maxGridCells ?? DEFAULT_IMPORT_LIMITS.maxGridCells} are taken`)
  }
  initWorkbook(doc, { title: (opts.title || model.title || opts.fallbackTitle).slice(0, 200), templateId: 'import', timeZone: opts.timeZone, lang: opts.lang })
  const taken = new Set<string>()
  const plan: { sheet: ImportedSheet; id: string; header: boolean }[] = []
  const metas = readMeta(model)
  for (const sheet of model.sheets) {
    if (sheet.name === META_SHEET && metas.size) continue
    let name = normaliseSheetName(sheet.name).replace(FORBIDDEN, '_').replace(/^'+|'+$/g, '') || `Sheet${plan.length + 1}`
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${name.slice(0, 90)} (${n})`
    taken.add(name.toLowerCase())
    if (name !== sheet.name) report.notes.push(`sheet "${sheet.name}" is named "${name}"; formulas naming the old name show #REF!`)
    const header = metas.has(sheet.name) ? metas.get(sheet.name)!.header === 1 : isHeader(sheet)
    const sheetKey = metas.get(sheet.name)?.key
    const id = addSheet(doc, {
      name, rows: Math.max(sheet.rows, 1) + 20, cols: Math.max(sheet.cols, 1) + 2,
      ...(typeof sheetKey === 'string' && /^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(sheetKey) ? { key: sheetKey } : {}),
    })
    plan.push({ sheet, id, header })
  }
  const layout = new WorkbookLayout(doc)
  // defined names (named ranges and formulas): each use becomes what it names (the sheet's own first)
  const usedNames = new Set<string>()
  // the file's cached results of formulas, by sheet and cell ids (for the functions the engine lacks)
  const cached = new Map<string, Cached>()
  const names = (sheet: ImportedSheet) => namesFor(model.names ?? [], model.sheets.indexOf(sheet))
  for (const { sheet, id, header } of plan) {
    const sl = layout.sheet(id)!
    const ctx = { layout, sheetId: id }
    const writes: CellWrite[] = []
    // column types from the formats most of a column's values carry
    const fmtsByCol = new Map<number, Map<string, number>>()
    for (const cell of sheet.cells) {
      if (header && cell.r === 0) continue
      if (cell.fmt && (typeof cell.v === 'number' || cell.f !== undefined || cell.d !== undefined)) {
        const m = fmtsByCol.get(cell.c) ?? new Map<string, number>()
        m.set(cell.fmt, (m.get(cell.fmt) ?? 0) + 1)
        fmtsByCol.set(cell.c, m)
      }
      let value: CellInput | null = null
      if (cell.f !== undefined) {
        const text = '=' + inlineNames(cell.f.replace(/_xlfn\.|_xlws\./g, ''), names(sheet), usedNames)
        value = { t: 'f', v: encodeFormula(text, ctx) }
        report.formulas++
      } else if (cell.d !== undefined) {
        value = { t: 'd', v: cell.d }
      } else if (cell.v !== undefined) {
        value = cell.v
      } else if (cell.err !== undefined) {
        value = cell.err
      }
      if (value === null) continue
      const rowId = sl.rows.ids[cell.r], colId = sl.cols.ids[cell.c]
      if (!rowId || !colId) continue
      writes.push({ rowId, colId, value })
      report.cells++
      if (cell.f !== undefined && cell.err === undefined && (cell.v !== undefined || cell.d !== undefined)) cached.set(`${id}\u0000${rowId}:${colId}`, cell.d !== undefined ? { d: cell.d } : { v: cell.v! })
    }
    if (writes.length) setCells(doc, id, writes)
    sl.cols.ids.forEach((colId, c) => {
      const patch: Partial<ColumnMeta> = {}
      const w = sheet.widths[c]
      if (typeof w === 'number' && w > 0) patch.width = Math.min(800, Math.max(30, Math.round(w * 7)))
      const fmts = metas.has(sheet.name) ? undefined : fmtsByCol.get(c)
      if (fmts) {
        const [fmt] = [...fmts.entries()].sort((a, b) => b[1] - a[1])[0]!
        const t = typeFromFormat(fmt)
        if (t) Object.assign(patch, t.decimals === undefined ? { type: t.type } : { type: t.type, decimals: t.decimals }, t.currency ? { currency: t.currency } : {})
      }
      const list = metas.has(sheet.name) ? undefined : sheet.lists.find(l => l.c === c)
      if (list && list.options.length && !patch.type) { patch.type = 'select'; patch.options = list.options }
      if (header) {
        const title = sheet.cells.find(x => x.r === 0 && x.c === c)?.v
        if (typeof title === 'string' && title.trim()) patch.title = title.trim().slice(0, 1000)
      }
      // our own export's settings, where it left them, stand instead of what the formats suggest
      Object.assign(patch, columnFromMeta(metas.get(sheet.name)?.cols[c], sl.cols.ids))
      if (Object.keys(patch).length) setColumnMeta(doc, id, colId, patch)
    })
    const meta = metas.get(sheet.name)
    const dataRows = sl.rows.ids.slice(header ? 1 : 0)
    if (meta) {
      const totals = num(meta.totalsRow)
      if (totals !== undefined && dataRows[totals]) setTotalsRow(doc, id, dataRows[totals]!)
      meta.cols.forEach((m, c) => {
        const a1 = m && typeof (m as { formulaA1?: unknown }).formulaA1 === 'string' ? (m as { formulaA1: string }).formulaA1.slice(0, 8000) : ''
        const colId = sl.cols.ids[c]
        if (!a1.startsWith('=') || !colId || !dataRows[0]) return
        // the A1 text is the first data row's, as the cells are written: encode it as they were (header row still here)
        const stored = encodeFormula(a1, ctx)
        setColumnMeta(doc, id, colId, { formula: toColumnFormula(stored, dataRows[0]!, dataRows) })
      })
    }
    const headerMerges = carryLooks(doc, id, sl, sheet, header)
    if (meta?.filter && importFilter(doc, id, meta.filter, dataRows, sl.cols.ids, opts.filterName ?? 'Filter')) {
      report.notes.push(`"${sheet.name}": the file's filter is the filter view "${opts.filterName ?? 'Filter'}" (its rows are shown)`)
    }
    if (headerMerges) report.notes.push(`"${sheet.name}": ${headerMerges} merged cells in the title row (the titles are the columns' now) not carried`)
    const frozenRows = Math.max(0, sheet.frozenRows - (header ? 1 : 0)), frozenCols = sheet.frozenCols
    if (frozenRows || frozenCols) setFrozen(doc, id, { rows: frozenRows, cols: frozenCols })
    // the header row's texts are the columns' titles now; its row goes (formulas were encoded with it)
    if (header) deleteRows(doc, id, 0, 1)
    for (const n of sheet.notes) report.notes.push(`"${sheet.name}": ${n} not carried`)
    report.sheets++
  }
  if (usedNames.size) report.notes.push(`defined names put in place where formulas use them: ${[...usedNames].slice(0, 20).join(', ')}`)
  for (const n of model.notes ?? []) report.notes.push(n)
  // formulas the engine cannot compute (functions it does not have, external links)
  keepCachedValues(doc, cached, report)
  return report
}
