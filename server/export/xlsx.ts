/**
 * A workbook doc → an .xlsx file (ExcelJS), for reviews in Excel, WPS or LibreOffice:
 *  - every sheet under its name (Excel allows 31 characters; longer or clashing names are shortened and
 *    numbered, and formulas use the names as written);
 *  - a bold header row with the column titles when a sheet has any (formulas are written for it: their
 *    row numbers count it), frozen with the sheet's own frozen panes;
 *  - formulas in A1 form with the value the app computed cached, so a viewer that does not recompute
 *    shows the same figures; inputs as numbers, text, booleans and dates;
 *  - number formats from the column types (percent, ¥ currency, dates, decimals), column widths,
 *    dropdown lists, colour rules as conditional formats, the totals row in bold;
 *  - comments as cell notes (./notes.ts);
 *  - the title and export time in the document properties.
 * ExcelJS writes the file; the data rows of each sheet are written by ./sheetxml.ts into it, which
 * took the export of a 10,000-row sheet from 1.3–2.0 s to about 0.75 s (most of it now the formula
 * engine's build).
 */
import { listCharts } from '../../src/core/charts/charts'
import ExcelJS from 'exceljs'
import type * as Y from 'yjs'
import { FormulaEngine, type CellValue } from '../../src/core/formulas/engine'
import type { BaselineSource } from '../../src/core/formulas/baseline'
import { colToLetters, decodeFormula } from '../../src/core/formulas/references'
import {
  getTitle, isDate, isFormula, sheetParts, sheetsOf, type CellInput, type ColorRule, type ColumnMeta,
} from '../../src/core/workbook/schema'
import { columnFormulaFor, totalsRowOf } from '../../src/core/workbook/table'
import { dateToSerial } from '../../src/core/workbook/input'
import { deflateParts, findPart, readStored, replacePart } from './zip'
import { STYLE_PROPS, sheetStyles, type CellStyle } from '../../src/core/workbook/styles'
import { hiddenIds } from '../../src/core/workbook/hidden'
import { sheetMerges } from '../../src/core/workbook/merges'
import { conditionalFormats } from './rules'
import { sheetAutoFilter, withFilterNames } from './autofilter'
import type { FilterCondition, SheetFilter } from '../../src/core/workbook/filter'
import { SharedStrings, StyleSamples, cellXml, joinSheet, splitSheet, type FileCell } from './sheetxml'
import { commentNotes } from './notes'

export const EXCEL_SHEET_NAME_MAX = 31

/**
 * A very hidden sheet that carries what Excel has no place for, so that importing the file again gives
 * back the same workbook: per sheet, its column settings (types, options, help, validation, colour
 * rules, calculated formulas as A1 for the first data row, as the file's cells write it) and its totals row. Other programs ignore it.
 */
export const META_SHEET = '_pw_meta'
export const META_VERSION = 1

export interface SheetMetaExport {
  v: number
  /** the header row written above the data (0 or 1) */
  header: number
  /** visible index of the totals row */
  totalsRow?: number
  frozenRows?: number
  /** the sheet's template key ("appraisal", "activities", …) */
  key?: string
  cols: (Omit<ColumnMeta, 'formula' | 'rules'> & { formulaA1?: string; rules?: (Omit<ColorRule, 'colId'> & { col?: number })[] } | null)[]
  /** the exporter's filter: its conditions by column index, and the rows it hid (visible indexes) */
  filter?: { conditions: Record<string, FilterCondition>; rows: number[] }
}

/** Excel-safe, unique (ignoring case) sheet names by sheet id. */
export function excelSheetNames(ids: readonly string[], nameOf: (id: string) => string): Map<string, string> {
  const out = new Map<string, string>()
  const taken = new Set<string>()
  for (const id of ids) {
    const base = (nameOf(id).replace(/[\\/?*[\]:]/g, '_').replace(/^'+|'+$/g, '').trim() || 'Sheet').slice(0, EXCEL_SHEET_NAME_MAX)
    let name = base
    for (let n = 2; taken.has(name.toLowerCase()); n++) {
      const suffix = ` (${n})`
      name = base.slice(0, EXCEL_SHEET_NAME_MAX - suffix.length) + suffix
    }
    taken.add(name.toLowerCase())
    out.set(id, name)
  }
  return out
}

/** The Excel number format of a column type, or undefined for General. */
export function numberFormat(meta: ColumnMeta | undefined): string | undefined {
  const d = meta?.decimals
  const frac = (n: number) => (n > 0 ? '.' + '0'.repeat(n) : '')
  switch (meta?.type) {
    case 'percent': return `0${frac(d ?? 2)}%`
    case 'currency': {
      const sym = (meta.currency ?? '¥').replace(/"/g, '')
      return `"${sym}"#,##0${frac(d ?? 2)};-"${sym}"#,##0${frac(d ?? 2)}`
    }
    case 'date': return 'yyyy-mm-dd'
    case 'number': return d === undefined ? undefined : `#,##0${frac(d)}`
    default: return undefined
  }
}


const TOTALS_BORDER: Partial<ExcelJS.Borders> = { top: { style: 'thin', color: { argb: 'FF9AA5B1' } } }

/**
 * One style object per look, shared by every cell that has it. ExcelJS recognises a style object it has
 * seen (by identity) and otherwise renders it to XML to find its number, cell by cell: with 100,000
 * cells that lookup was the largest part of writing the file. A shared object must never be changed
 * through a cell (`cell.font = …` changes the cell's style object), so cells only ever get one whole.
 */
class SharedStyles {
  private readonly byKey = new Map<string, Partial<ExcelJS.Style>>()
  /**
   * `numeric`: ExcelJS gives numbers without a format the General format, other values none;
   * `look`: the cell's own format (bold, colours, alignment…), with its key (lookKey)
   */
  get(numFmt: string | undefined, numeric: boolean, totals: boolean, look?: CellStyle, lk = ''): Partial<ExcelJS.Style> {
    const key = `${numFmt ?? ''}\u0000${numeric ? 1 : 0}${totals ? 1 : 0}\u0000${lk}`
    let style = this.byKey.get(key)
    if (!style) {
      // a cell's own number format goes over its column's
      if (look?.nf) numFmt = look.nf
      const font: Partial<ExcelJS.Font> = {
        ...(totals || look?.b ? { bold: true } : {}), ...(look?.i ? { italic: true } : {}), ...(look?.u ? { underline: true } : {}),
        ...(look?.s ? { strike: true } : {}), ...(look?.fc ? { color: { argb: argb(look.fc) } } : {}),
      }
      const alignment: Partial<ExcelJS.Alignment> = {
        ...(look?.ha ? { horizontal: look.ha } : {}), ...(look?.va ? { vertical: look.va } : {}), ...(look?.wrap ? { wrapText: true } : {}),
      }
      style = Object.freeze({
        ...(numFmt ? { numFmt } : {}),
        ...(Object.keys(font).length ? { font } : {}),
        ...(totals || look?.bt || look?.bb || look?.bl || look?.br ? { border: bordersOf(totals, look) } : {}),
        ...(look?.bg ? { fill: { type: 'pattern', pattern: 'solid', fgColor: { argb: argb(look.bg) } } as ExcelJS.Fill } : {}),
        ...(Object.keys(alignment).length ? { alignment } : {}),
      }) as Partial<ExcelJS.Style>
      this.byKey.set(key, style)
    }
    return style
  }
}

const THIN: Partial<ExcelJS.Border> = { style: 'thin', color: { argb: 'FF202124' } }
/** the totals row's top line and the cell's own thin borders */
function bordersOf(totals: boolean, look: CellStyle | undefined): Partial<ExcelJS.Borders> {
  return {
    ...(totals ? TOTALS_BORDER : {}),
    ...(look?.bt ? { top: THIN } : {}), ...(look?.bb ? { bottom: THIN } : {}), ...(look?.bl ? { left: THIN } : {}), ...(look?.br ? { right: THIN } : {}),
  }
}

/** #rrggbb → Excel's AARRGGBB */
const argb = (hex: string): string => `FF${hex.slice(1).toUpperCase()}`
/** one text per distinct format (the same format, the same key) */
const lookKey = (look: CellStyle | undefined): string => (look ? STYLE_PROPS.map(p => look[p] ?? '').join('|') : '')

/** Excel's error values; HyperFormula's others (#CYCLE!, #ERROR!, #LIC!) are written as #VALUE! */
const EXCEL_ERRORS = new Set(['#NULL!', '#DIV/0!', '#VALUE!', '#REF!', '#NAME?', '#NUM!', '#N/A', '#SPILL!', '#CALC!'])

function cachedResult(v: CellValue): Extract<FileCell, { kind: 'f' }>['result'] {
  if (v === null || v === undefined || v === '') return undefined
  if (typeof v === 'object') return { error: EXCEL_ERRORS.has(v.error) ? v.error : '#VALUE!' }
  return v
}

export interface ExportReport {
  sheets: number
  cells: number
  formulas: number
  /** chart pictures placed */
  charts?: number
  /** what the file could not carry, for the person exporting */
  notes: string[]
}

/**
 * `cachedValues: false` leaves formulas without their computed value, so that the program opening the
 * file must compute them (how the export is checked against LibreOffice: test/integration/libreoffice.test.ts).
 */
/** Pictures of charts, by chart id, that the browser drew (PNG); placed beside their sheet's table. */
export type ChartImages = ReadonlyMap<string, Buffer>
export const CHART_IMAGE = { width: 640, height: 360 }

export async function exportXlsx(doc: Y.Doc, opts: { now?: Date; author?: string; cachedValues?: boolean; images?: ChartImages; filters?: Record<string, SheetFilter>; baselines?: BaselineSource } = {}): Promise<{ buffer: Buffer; report: ExportReport }> {
  const engine = new FormulaEngine(doc)
  if (opts.baselines) engine.setBaselines(opts.baselines)
  let baselineCells = 0
  try {
    const layout = engine.layout
    const docSheets = sheetsOf(doc)
    const names = excelSheetNames(layout.order, id => layout.sheet(id)!.name)
    const headerRows = new Map<string, number>()
    for (const id of layout.order) {
      const meta = sheetParts(docSheets.get(id)!).colMeta
      const sl = layout.sheet(id)!
      headerRows.set(id, sl.cols.ids.some(c => !!(meta.get(c) as ColumnMeta | undefined)?.title) ? 1 : 0)
    }
    const decodeOpts = { rowOffset: (id: string) => headerRows.get(id) ?? 0, sheetName: (id: string) => names.get(id) ?? id }

    const wb = new ExcelJS.Workbook()
    const now = opts.now ?? new Date()
    wb.title = getTitle(doc)
    wb.creator = opts.author || 'Planning Workbooks'
    wb.lastModifiedBy = opts.author || 'Planning Workbooks'
    wb.created = now
    wb.modified = now
    wb.subject = getTitle(doc)
    wb.description = `Exported from Planning Workbooks at ${now.toISOString()}`
    const report: ExportReport = { sheets: 0, cells: 0, formulas: 0, notes: [] }
    const styles = new SharedStyles()
    /** per sheet: what is left to write once ExcelJS has written the file */
    const pending: { ws: ExcelJS.Worksheet; samples: StyleSamples<Partial<ExcelJS.Style>>; sampleRow: number; dimension: string; rows: (strings: SharedStrings) => [number, string, string?][]; merges: string[]; autoFilter?: string; noted: Set<number> }[] = []
    const notes = commentNotes(doc, layout)

    /** per sheet: the exporter's filter, for the meta sheet */
    const filterMeta = new Map<string, NonNullable<SheetMetaExport['filter']>>()
    for (const sheetId of layout.order) {
      const sheet = docSheets.get(sheetId)!
      const parts = sheetParts(sheet)
      const sl = layout.sheet(sheetId)!
      const header = headerRows.get(sheetId)!
      const frozenRows = Math.max(0, Number(sheet.get('frozenRows')) || 0)
      const frozenCols = Math.max(0, Number(sheet.get('frozenCols')) || 0)
      const ySplit = frozenRows + header
      const ws = wb.addWorksheet(names.get(sheetId)!, {
        views: ySplit || frozenCols ? [{ state: 'frozen', xSplit: frozenCols, ySplit }] : [],
      })
      if (names.get(sheetId) !== sl.name) report.notes.push(`sheet "${sl.name}" is named "${names.get(sheetId)}" (Excel allows 31 characters and unique names)`)
      report.sheets++
      const metas = sl.cols.ids.map(c => parts.colMeta.get(c) as ColumnMeta | undefined)
      const totalsId = totalsRowOf(sheet)

      const hiddenCols = hiddenIds(doc, sheetId, 'cols'), hiddenRows = hiddenIds(doc, sheetId, 'rows')
      // the exporter's filter: Excel's autoFilter, with the rows it filters out hidden
      const filter = opts.filters?.[sheetId]
      const af = filter ? sheetAutoFilter(doc, engine, sheetId, filter, header, report.notes) : null
      if (af) {
        const byFilter = [...af.hidden].filter(id => !hiddenRows.has(id))
        filterMeta.set(sheetId, {
          conditions: Object.fromEntries(Object.entries(filter!).filter(([c]) => sl.cols.indexOf(c) >= 0).map(([c, cond]) => [String(sl.cols.indexOf(c)), cond])),
          rows: byFilter.map(id => sl.rows.indexOf(id)).filter(r => r >= 0),
        })
        for (const id of af.hidden) hiddenRows.add(id)
      }
      if (af?.ref) ws.autoFilter = af.ref
      ws.columns = sl.cols.ids.map((c, i) => {
        const m = metas[i]
        const fmt = numberFormat(m)
        return { width: Math.max(4, Math.round(((m?.width ?? (m?.title ? 120 : 90)) / 7) * 10) / 10), style: fmt ? { numFmt: fmt } : {}, hidden: hiddenCols.has(c) }
      })
      if (header) {
        const row = ws.getRow(1)
        metas.forEach((m, i) => { row.getCell(i + 1).value = m?.title ?? '' })
        row.font = { bold: true }
        row.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFF4F6F8' } }
        row.border = { bottom: { style: 'thin', color: { argb: 'FF9AA5B1' } } }
        row.alignment = { vertical: 'middle', wrapText: true }
      }

      // the sheet's inputs by position, read in one pass over its cells, and the extent worth writing:
      // up to the last row and column holding anything
      const grid: (CellInput | undefined)[][] = []
      let lastRow = -1, lastCol = -1
      const rowPos = sl.rows.pos, colPos = sl.cols.pos
      parts.cells.forEach((input, key) => {
        const i = key.indexOf(':')
        const r = rowPos.get(key.slice(0, i)), c = colPos.get(key.slice(i + 1))
        if (r === undefined || c === undefined || input === undefined) return
        ;(grid[r] ??= [])[c] = input as CellInput
        if (r > lastRow) lastRow = r
        if (c > lastCol) lastCol = c
      })
      // the cells' own formats by position (a formatted empty cell is written too)
      const looks: { look: CellStyle; key: string }[][] = []
      for (const [key, look] of sheetStyles(doc, sheetId)) {
        const i = key.indexOf(':')
        const r = rowPos.get(key.slice(0, i)), c = colPos.get(key.slice(i + 1))
        if (r === undefined || c === undefined) continue
        ;(looks[r] ??= [])[c] = { look, key: lookKey(look) }
        if (r > lastRow) lastRow = r
        if (c > lastCol) lastCol = c
      }
      const formats = metas.map(numberFormat)
      const ctx = { layout, sheetId }
      /** an input as the file holds it, with its number format and whether ExcelJS would see a number */
      const inFile = (input: CellInput, r: number, c: number): { cell: FileCell; fmt: string | undefined; numeric: boolean } | undefined => {
        if (isFormula(input) && /BASELINE\s*\(/i.test(input.v)) {
          // no other program knows BASELINE(): the file holds the value it gave (the version's value)
          baselineCells++
          const v = engine.getValue(sheetId, r, c)
          if (typeof v === 'number') return { cell: { kind: 'n', v }, fmt: formats[c], numeric: true }
          return { cell: { kind: 's', v: v === null ? '' : typeof v === 'object' ? v.error : String(v) }, fmt: formats[c], numeric: false }
        }
        if (isFormula(input)) {
          const a1 = decodeFormula(input.v, ctx, decodeOpts)
          const result = opts.cachedValues === false ? undefined : cachedResult(engine.getValue(sheetId, r, c))
          return { cell: { kind: 'f', f: a1.replace(/^=/, ''), result }, fmt: formats[c], numeric: typeof result === 'number' }
        }
        // dates as Excel serials with a date format: the same number the app's formulas see
        if (isDate(input)) return { cell: { kind: 'n', v: dateToSerial(input.v) }, fmt: 'yyyy-mm-dd', numeric: true }
        if (typeof input === 'number') return { cell: { kind: 'n', v: input }, fmt: formats[c], numeric: true }
        if (typeof input === 'string') return { cell: { kind: 's', v: input }, fmt: formats[c], numeric: false }
        if (typeof input === 'boolean') return { cell: { kind: 'b', v: input }, fmt: formats[c], numeric: false }
        return undefined
      }

      // the totals row through ExcelJS, with its row style; the data rows are written after ExcelJS
      // (./sheetxml.ts), in the styles of the samples it is given here
      const totalsAt = totalsId ? sl.rows.indexOf(totalsId) : -1
      if (totalsAt >= 0 && (grid[totalsAt] || looks[totalsAt])) {
        const xrow = ws.getRow(totalsAt + 1 + header)
        grid[totalsAt]?.forEach((input, c) => {
          const v = input === undefined ? undefined : inFile(input, totalsAt, c)
          if (!v) return
          const cell = xrow.getCell(c + 1)
          cell.value = v.cell.kind === 'f' ? { formula: v.cell.f, result: v.cell.result } as ExcelJS.CellFormulaValue : (v.cell as { v: number | string | boolean }).v
          const l = looks[totalsAt]?.[c]
          cell.style = styles.get(v.fmt, v.numeric, true, l?.look, l?.key)
          report.cells++
          if (v.cell.kind === 'f') report.formulas++
        })
        looks[totalsAt]?.forEach((l, c) => {
          if (l && grid[totalsAt]?.[c] === undefined) xrow.getCell(c + 1).style = styles.get(formats[c], false, true, l.look, l.key)
        })
        // the row's own style too, for what is typed into its empty cells later
        // (through the model: `xrow.font = …` would set it on every cell's shared style object too)
        ;(xrow as unknown as { style: Partial<ExcelJS.Style> }).style = { font: { bold: true }, border: TOTALS_BORDER }
        if (hiddenRows.has(totalsId!)) xrow.hidden = true
      }
      const samples = new StyleSamples<Partial<ExcelJS.Style>>()
      for (const fmt of new Set([...formats, 'yyyy-mm-dd'])) for (const numeric of [true, false]) samples.add(styles.get(fmt, numeric, false), numeric)
      // and one of each format the formatted cells use, with their value's kind
      looks.forEach((row, r) => {
        if (r === totalsAt) return
        row.forEach((l, c) => {
          if (!l) return
          const input = grid[r]?.[c]
          const v = input === undefined ? undefined : inFile(input, r, c)
          if (v) samples.add(styles.get(v.fmt, v.numeric, false, l.look, l.key), v.numeric)
          else samples.add(styles.get(formats[c], false, false, l.look, l.key), false)
        })
      })
      const sampleRow = header + Math.max(lastRow + 1, sl.rows.length) + 2
      const srow = ws.getRow(sampleRow)
      for (const [c, value, style] of samples.cells()) {
        const cell = srow.getCell(c)
        cell.value = value
        cell.style = style
      }
      const width = Math.max(lastCol + 1, header ? metas.length : 0)
      const height = lastRow >= 0 ? lastRow + 1 + header : header
      // merged cells as ranges of the file (written into the sheet with the data rows: ExcelJS would
      // write rows of its own for the merged cells)
      const merges = sheetMerges(doc, layout, sheetId).map(b =>
        `${colToLetters(b.col)}${b.row + 1 + header}:${colToLetters(b.col + b.colspan - 1)}${b.row + b.rowspan + header}`)
      // comments as notes (ExcelJS writes them, with rows of its own that ours replace)
      const noted = new Set<number>()
      for (const n of notes.get(sheetId) ?? []) {
        ws.getCell(n.row + 1 + header, n.col + 1).note = n.text
        noted.add(n.row + 1 + header)
      }
      pending.push({
        ws, samples, sampleRow, merges, autoFilter: af?.xml, noted,
        dimension: width && height ? (width === 1 && height === 1 ? 'A1' : `A1:${colToLetters(width - 1)}${height}`) : 'A1',
        rows: strings => {
          const style = samples.numbers()
          const letters = Array.from({ length: lastCol + 1 }, (_v, c) => colToLetters(c))
          const out: [number, string, string?][] = []
          // hidden rows are written even when empty (the row element carries it)
          const lastHidden = hiddenRows.size ? Math.max(-1, ...[...hiddenRows].map(id => sl.rows.indexOf(id))) : -1
          for (let r = 0; r <= Math.max(lastRow, lastHidden); r++) {
            const inputs = grid[r], formatted = looks[r]
            const hid = hiddenRows.has(sl.rows.ids[r] ?? '')
            if ((!inputs && !formatted && !hid) || r === totalsAt) continue
            const n = r + 1 + header
            let xml = ''
            for (let c = 0; c <= lastCol; c++) {
              const input = inputs?.[c], l = formatted?.[c]
              if (input === undefined) {
                if (l) xml += cellXml(letters[c]! + n, { kind: 'empty' }, style.get(styles.get(formats[c], false, false, l.look, l.key))!, strings)
                continue
              }
              const v = inFile(input, r, c)
              if (!v) continue
              xml += cellXml(letters[c]! + n, v.cell, style.get(styles.get(v.fmt, v.numeric, false, l?.look, l?.key))!, strings)
              report.cells++
              if (v.cell.kind === 'f') report.formulas++
            }
            if (xml || hid) out.push([n, xml, hid ? ' hidden="1"' : ''])
          }
          return out
        },
      })

      // dropdowns and colour rules over the data rows (the totals row is not data)
      const firstData = 1 + header
      const dataRows = Math.max(lastRow + 1, 1)
      const lastData = header + Math.max(dataRows, Math.min(sl.rows.length, dataRows + 200))
      metas.forEach((m, c) => {
        const col = colToLetters(c)
        if (m?.type === 'select' && m.options?.length) {
          const list = m.options.join(',')
          if (m.options.some(o => o.includes(',') || o.includes('"')) || list.length > 253) {
            report.notes.push(`the dropdown of column ${col} on "${sl.name}" was left out (Excel's inline lists take at most 255 characters, without commas)`)
          } else {
            // flagged, never refused: the app does not reject values outside a dropdown either
            ;(ws as unknown as { dataValidations: { add(range: string, v: ExcelJS.DataValidation): void } }).dataValidations
              .add(`${col}${firstData}:${col}${lastData}`, { type: 'list', allowBlank: true, formulae: [`"${list}"`], showErrorMessage: true, errorStyle: 'information' })
          }
        }
        const totalsAt = totalsId ? sl.rows.indexOf(totalsId) : -1
        const at = { col, testCol: (id: string) => sl.cols.indexOf(id), c, firstData, lastData, totalsAt, header, sheet: sl.name }
        for (const f of conditionalFormats(m, at, report.notes)) ws.addConditionalFormatting(f)
      })

      // the sheet's charts, as the pictures the browser drew, to the right of the table
      const charts = listCharts(doc, sheetId)
      let placed = 0
      for (const { id } of charts) {
        const png = opts.images?.get(id)
        if (!png) continue
        const image = wb.addImage({ buffer: png as unknown as ExcelJS.Buffer, extension: 'png' })
        ws.addImage(image, { tl: { col: Math.max(lastCol, metas.length - 1) + 1.5, row: header + placed * 20 }, ext: CHART_IMAGE })
        placed++
        report.charts = (report.charts ?? 0) + 1
      }
      if (charts.length > placed) report.notes.push(`${charts.length - placed} chart(s) of "${sl.name}" are not in the file (export from the workbook page to include them as pictures)`)
    }
    // what Excel cannot hold, for the way back in
    const meta = wb.addWorksheet(META_SHEET, { state: 'veryHidden' })
    for (const sheetId of layout.order) {
      const sheet = docSheets.get(sheetId)!
      const parts = sheetParts(sheet)
      const sl = layout.sheet(sheetId)!
      const totalsId = totalsRowOf(sheet)
      const firstRow = sl.rows.ids[0]
      const out: SheetMetaExport = {
        v: META_VERSION,
        header: headerRows.get(sheetId)!,
        ...(typeof sheet.get('key') === 'string' ? { key: sheet.get('key') as string } : {}),
        ...(totalsId && sl.rows.indexOf(totalsId) >= 0 ? { totalsRow: sl.rows.indexOf(totalsId) } : {}),
        cols: sl.cols.ids.map(colId => {
          const m = parts.colMeta.get(colId) as ColumnMeta | undefined
          if (!m) return null
          const { formula, rules, ...rest } = m
          const col: SheetMetaExport['cols'][number] = { ...rest }
          // as written in the file's first data row (row numbers count header rows, as the cells' do)
          if (formula && firstRow) col!.formulaA1 = decodeFormula(columnFormulaFor(formula, firstRow, sl.rows.ids).v, { layout, sheetId }, decodeOpts)
          if (rules?.length) col!.rules = rules.map(({ colId: other, ...r }) => ({ ...r, ...(other ? { col: sl.cols.indexOf(other) } : {}) }))
          return col
        }),
        ...(filterMeta.has(sheetId) ? { filter: filterMeta.get(sheetId)! } : {}),
      }
      const json = JSON.stringify(out)
      // a cell holds at most 32,767 characters: long settings continue in the next cells
      const chunks = json.match(/[\s\S]{1,30000}/g) ?? ['']
      meta.addRow([names.get(sheetId)!, ...chunks])
    }
    // stored by ExcelJS; the data rows and their strings put in; deflated natively (see ./zip.ts)
    const zipParts = readStored(Buffer.from(await wb.xlsx.writeBuffer({ zip: { compression: 'STORE' } })))
    const sst = findPart(zipParts, 'xl/sharedStrings.xml')
    const strings = new SharedStrings(sst?.data.toString('utf8'))
    for (const p of pending) {
      const part = findPart(zipParts, `xl/worksheets/sheet${p.ws.id}.xml`)
      if (!part) throw new Error(`export: ExcelJS wrote no part for sheet ${p.ws.name}`)
      const xml = splitSheet(part.data.toString('utf8'))
      p.samples.read(xml.rows.find(([r]) => r === p.sampleRow)?.[1] ?? '')
      replacePart(part, Buffer.from(joinSheet(xml, p.rows(strings), p.sampleRow, p.dimension, p.merges, p.autoFilter, p.noted), 'utf8'))
    }
    const filtered = pending.filter(p => p.autoFilter)
    const book = findPart(zipParts, 'xl/workbook.xml')
    if (filtered.length && book) {
      const entries = filtered.map(p => ({ sheetIndex: wb.worksheets.indexOf(p.ws), sheetName: p.ws.name, ref: String(p.ws.autoFilter) }))
      replacePart(book, Buffer.from(withFilterNames(book.data.toString('utf8'), entries), 'utf8'))
    }
    // (ExcelJS writes a table whenever there is a sheet: the meta sheet names it)
    if (strings.used) replacePart(sst!, Buffer.from(strings.xml(), 'utf8'))
    if (baselineCells) report.notes.push(`${baselineCells} BASELINE() cell(s) are written as the values they showed (no other program knows the function)`)
    return { buffer: await deflateParts(zipParts), report }
  } finally {
    engine.destroy()
  }
}
