/**
 * An .xlsx → the plain model of what a workbook can take (ExcelJS reads it). Runs in the import worker.
 * Dates are carried as the day (yyyy-mm-dd) when they are whole days, else as their serial number in
 * the 1900 system (a time of day, a number in a date-formatted cell, a 1904-system file all keep their
 * value); a cached value that is no date (text or an error in a date-formatted cell) is no cached value.
 * Where ExcelJS fails on a valid file (icon sets and other conditional formats it cannot parse, XML with
 * namespace prefixes), the part is taken out or rewritten and the file read again, and the report says so.
 */
import ExcelJS from 'exceljs'
import JSZip from 'jszip'
import type { ImportedCell, ImportedSheet, ImportedWorkbook, ReadLimits } from './model'
import type { CellStyle } from '../../src/core/workbook/styles'
import { readDefinedNames } from './names'
import { coveredCells, takeMerges } from './merges'

/** A column's letters → its number from 1 */
const col = (letters: string) => [...letters].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0)

/** merged ranges taken a sheet */
const MAX_MERGES = 100_000

const DAY = 86_400_000, EPOCH_1900 = Date.UTC(1899, 11, 30)

/** A date ExcelJS made of a serial (it already applied the 1904 system): the day, or the serial. */
function dateInto(out: ImportedCell, d: Date, shiftDays = 0): void {
  const ms = d.getTime() + shiftDays * DAY
  if (!Number.isFinite(ms)) return // text or an error in a date-formatted cell: no cached date
  const serial = (ms - EPOCH_1900) / DAY
  const whole = Math.abs(serial - Math.round(serial)) < 1e-9
  // days before 1900-03-01 differ between Excel (its 29 Feb 1900) and the engine: keep the number
  if (whole && serial >= 61) out.d = new Date(EPOCH_1900 + Math.round(serial) * DAY).toISOString().slice(0, 10)
  else out.v = Number(serial.toPrecision(15))
}

/** xl/workbook.xml of the file, as text ('' when there is none). */
async function workbookXml(buf: ArrayBuffer): Promise<string> {
  try {
    const zip = await JSZip.loadAsync(buf)
    return (await zip.file('xl/workbook.xml')?.async('string')) ?? ''
  } catch { return '' }
}

/** What a failing part is rewritten to, in order, each with what the report says of it. */
const FALLBACKS: { note: string; fix: (name: string, xml: string) => string }[] = [
  {
    note: 'conditional formatting (it could not be read, and was left out)',
    fix: (name, xml) => /^xl\/worksheets\/[^/]+\.xml$/.test(name)
      ? xml.replace(/<(\w+:)?conditionalFormatting\b[\s\S]*?<\/\1?conditionalFormatting>/g, '').replace(/<(\w+:)?extLst\b[\s\S]*?<\/\1?extLst>/g, '')
      : xml,
  },
  {
    // <x:worksheet xmlns:x="…main"> (the Open XML SDK, some exporters): the same XML without the prefix
    note: 'XML written with namespace prefixes (read again without them)',
    fix: (_name, xml) => {
      const p = /xmlns:(\w+)="http:\/\/schemas\.openxmlformats\.org\/spreadsheetml\/2006\/main"/.exec(xml)?.[1]
      return p ? xml.replace(new RegExp(`<(/?)${p}:`, 'g'), '<$1').replace(`xmlns:${p}=`, 'xmlns=') : xml
    },
  },
]

async function loadWorkbook(buf: ArrayBuffer): Promise<{ wb: ExcelJS.Workbook; notes: string[] }> {
  const first = new ExcelJS.Workbook()
  let failure: unknown
  try { await first.xlsx.load(buf); return { wb: first, notes: [] } } catch (e) { failure = e }
  // read again with every fix applied, then say which ones changed the file
  const zip = await JSZip.loadAsync(buf)
  const notes = new Set<string>()
  for (const name of Object.keys(zip.files)) {
    if (!/\.xml$|\.rels$/.test(name) || zip.files[name]!.dir) continue
    const xml = await zip.file(name)!.async('string')
    let fixed = xml
    for (const f of FALLBACKS) { const next = f.fix(name, fixed); if (next !== fixed) notes.add(f.note); fixed = next }
    if (fixed !== xml) zip.file(name, fixed)
  }
  if (!notes.size) throw failure
  const wb = new ExcelJS.Workbook()
  try { await wb.xlsx.load(await zip.generateAsync({ type: 'arraybuffer' })) } catch { throw failure }
  const why = (failure instanceof Error ? failure.message : String(failure)).slice(0, 120)
  return { wb, notes: [...notes].map(n => `${n} — the reader's error was: ${why}`) }
}

/** Excel's AARRGGBB (a theme or indexed colour gives nothing) → #rrggbb */
const hex = (c: Partial<ExcelJS.Color> | undefined): string | undefined =>
  typeof c?.argb === 'string' && /^[0-9a-f]{8}$/i.test(c.argb) ? `#${c.argb.slice(2).toLowerCase()}` : undefined

/** A cell's font, fill and alignment, as the workbook keeps them (only what is set). */
function lookOf(cell: ExcelJS.Cell): CellStyle | undefined {
  const out: CellStyle = {}
  const f = cell.font, a = cell.alignment, fill = cell.fill as ExcelJS.FillPattern | undefined
  if (f?.bold) out.b = true
  if (f?.italic) out.i = true
  if (f?.underline) out.u = true
  if (f?.strike) out.s = true
  const fc = hex(f?.color)
  if (fc && fc !== '#000000') out.fc = fc
  const bg = fill?.type === 'pattern' && fill.pattern === 'solid' ? hex(fill.fgColor) : undefined
  if (bg && bg !== '#ffffff') out.bg = bg
  if (a?.horizontal === 'left' || a?.horizontal === 'center' || a?.horizontal === 'right') out.ha = a.horizontal
  if (a?.vertical === 'top' || a?.vertical === 'middle' || a?.vertical === 'bottom') out.va = a.vertical
  if (a?.wrapText) out.wrap = true
  const line = (b: Partial<ExcelJS.Border> | undefined) => !!b?.style
  if (line(cell.border?.top)) out.bt = true
  if (line(cell.border?.bottom)) out.bb = true
  if (line(cell.border?.left)) out.bl = true
  if (line(cell.border?.right)) out.br = true
  return Object.keys(out).length ? out : undefined
}

/** Reads the file into the plain model (ExcelJS, with fallbacks where it fails on a valid file). */
export async function readWorkbook(buf: ArrayBuffer, limits: ReadLimits): Promise<ImportedWorkbook> {
  // many merged ranges are read here, not by ExcelJS (quadratic over them)
  const taken = await takeMerges(buf)
  const { wb, notes } = await loadWorkbook(taken?.buf ?? buf)
  const xml = await workbookXml(buf)
  // date1904="true" (LibreOffice, others) is the 1904 system too: ExcelJS takes only "1"
  const says1904 = /<(?:\w+:)?workbookPr\b[^>]*\bdate1904="(?:1|true)"/.test(xml)
  const shift = says1904 && !(wb.properties as { date1904?: boolean }).date1904 ? 1462 : 0
  const sheets: ImportedSheet[] = []
  let total = 0
  for (const ws of wb.worksheets) {
    const ownMerges = taken?.bySheet.get(ws.name)
    const covered = ownMerges ? coveredCells(ownMerges, limits.maxRows * 20) : undefined
    if (sheets.length >= limits.maxSheets) throw new Error(`limit: more than ${limits.maxSheets} sheets`)
    const cells: ImportedCell[] = []
    const notes: string[] = []
    let rows = 0, cols = 0
    let merged = 0
    const lists = new Map<number, string[]>()
    const spilled = new Set<string>()
    ws.eachRow({ includeEmpty: false }, (row, r) => {
      row.eachCell({ includeEmpty: false }, (cell, c) => {
        if (cell.isMerged && cell.master !== cell) { merged++; return }
        if (covered?.get(r)?.some(([a, b]) => c >= a && c <= b)) { merged++; return }
        // the cached values of an array formula's other cells: the formula fills them again
        if (spilled.has(`${r}:${c}`)) return
        if (++total > limits.maxCells) throw new Error(`limit: more than ${limits.maxCells} cells`)
        if (r > limits.maxRows) throw new Error(`limit: more than ${limits.maxRows} rows`)
        if (c > limits.maxCols) throw new Error(`limit: more than ${limits.maxCols} columns`)
        rows = Math.max(rows, r); cols = Math.max(cols, c)
        const out: ImportedCell = { r: r - 1, c: c - 1 }
        const fmt = cell.numFmt
        if (typeof fmt === 'string' && fmt && fmt !== 'General') out.fmt = fmt.slice(0, 100)
        if (cell.font?.bold) out.bold = true
        const look = lookOf(cell)
        if (look) out.look = look
        const v = cell.value
        if (cell.type === ExcelJS.ValueType.Formula) {
          const f = cell.formula
          if (typeof f === 'string' && f) out.f = f.slice(0, 8000)
          const res = (v as ExcelJS.CellFormulaValue).result
          if (res instanceof Date) dateInto(out, res, shift)
          else if (res && typeof res === 'object' && 'error' in res) out.err = String(res.error)
          else if (typeof res === 'number' || typeof res === 'string' || typeof res === 'boolean') out.v = res
          const arr = v as { shareType?: string; ref?: string }
          if (arr.shareType === 'array' && out.f) {
            // a CSE array formula: the engine computes it over arrays and spills it over its range
            out.f = `ARRAYFORMULA(${out.f})`
            const m = /^\$?([A-Z]{1,3})\$?(\d+):\$?([A-Z]{1,3})\$?(\d+)$/.exec(arr.ref ?? '')
            if (m) {
              const [c0, r0, c1, r1] = [col(m[1]!), Number(m[2]), col(m[3]!), Number(m[4])]
              if ((r1 - r0 + 1) * (c1 - c0 + 1) > limits.maxCells) throw new Error(`limit: an array formula over more than ${limits.maxCells} cells`)
              for (let rr = r0; rr <= r1; rr++) for (let cc = c0; cc <= c1; cc++) if (rr !== r || cc !== c) spilled.add(`${rr}:${cc}`)
            }
          }
        } else if (v instanceof Date) {
          dateInto(out, v, shift)
        } else if (typeof v === 'number' || typeof v === 'boolean') {
          out.v = v
        } else if (typeof v === 'string') {
          out.v = v.slice(0, 32_000)
        } else if (v && typeof v === 'object' && 'richText' in v) {
          out.v = (v as ExcelJS.CellRichTextValue).richText.map(t => t.text).join('').slice(0, 32_000)
          notes.push('rich text formatting')
        } else if (v && typeof v === 'object' && 'hyperlink' in v) {
          out.v = String((v as ExcelJS.CellHyperlinkValue).text ?? '').slice(0, 32_000)
          notes.push('hyperlinks (kept as their text)')
        } else if (v && typeof v === 'object' && 'error' in v) {
          out.err = String((v as ExcelJS.CellErrorValue).error)
        } else {
          return
        }
        const dv = cell.dataValidation
        if (dv?.type === 'list' && Array.isArray(dv.formulae) && typeof dv.formulae[0] === 'string' && /^".*"$/.test(dv.formulae[0])) {
          lists.set(c - 1, dv.formulae[0].slice(1, -1).split(',').map(x => x.trim()).filter(Boolean).slice(0, 200))
        }
        if (cell.note) notes.push('comments')
        cells.push(out)
      })
    })
    const widths: (number | null)[] = []
    for (let c = 1; c <= Math.min(cols, limits.maxCols); c++) widths.push(ws.getColumn(c).width ?? null)
    const view = ws.views?.[0] as { state?: string; xSplit?: number; ySplit?: number } | undefined
    const allMerges = (ownMerges ?? (ws as unknown as { model?: { merges?: unknown[] } }).model?.merges ?? [])
      .filter((m): m is string => typeof m === 'string' && /^[A-Z]{1,3}\d{1,7}:[A-Z]{1,3}\d{1,7}$/.test(m))
    const merges = allMerges.slice(0, MAX_MERGES)
    if (allMerges.length > merges.length) notes.push(`${allMerges.length - merges.length} merged ranges past the first ${MAX_MERGES}`)
    if (merged && !merges.length) notes.push(`${merged} merged cells (kept as their top-left value)`)
    const hiddenRows: number[] = [], hiddenCols: number[] = []
    for (let r = 1; r <= Math.min(ws.rowCount, limits.maxRows); r++) if (ws.getRow(r).hidden) hiddenRows.push(r - 1)
    for (let c = 1; c <= Math.min(Math.max(ws.columnCount, ws.columns?.length ?? 0), limits.maxCols); c++) if (ws.getColumn(c).hidden) hiddenCols.push(c - 1)
    if ((ws as unknown as { conditionalFormattings?: unknown[] }).conditionalFormattings?.length) notes.push('conditional formatting')
    const images = (ws as unknown as { getImages?: () => unknown[] }).getImages?.() ?? []
    if (images.length) notes.push(`${images.length} images`)
    sheets.push({
      name: ws.name, rows, cols, cells, widths, merges, hiddenRows, hiddenCols,
      frozenRows: view?.state === 'frozen' ? Math.max(0, view.ySplit ?? 0) : 0,
      frozenCols: view?.state === 'frozen' ? Math.max(0, view.xSplit ?? 0) : 0,
      lists: Array.from(lists, ([c, options]) => ({ c, options })),
      notes: Array.from(new Set(notes)),
    })
  }
  const names = readDefinedNames(xml)
  return { title: typeof wb.title === 'string' ? wb.title.slice(0, 200) : '', sheets, names, notes }
}
