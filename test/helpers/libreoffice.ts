/**
 * LibreOffice (headless `soffice`, Debian's libreoffice-calc-nogui; scripts/ensure-libreoffice.sh puts
 * it there) as the second spreadsheet program the exports are checked against: it opens our .xlsx,
 * recomputes every formula itself and saves the file again, which ExcelJS then reads.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import ExcelJS from 'exceljs'
import JSZip from 'jszip'

const run = promisify(execFile)

/** Each file (name → .xlsx bytes) as LibreOffice saves it again, read by ExcelJS; one soffice run for all. */
export async function throughLibreOffice(files: Map<string, Buffer>): Promise<Map<string, ExcelJS.Workbook>> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-lo-'))
  try {
    const paths = [...files].map(([name, buf]) => { const p = join(dir, `${name}.xlsx`); writeFileSync(p, buf); return p })
    const out = join(dir, 'out')
    // a profile of its own: no first-start dialogs, no clash with another soffice of this machine
    await run('soffice', ['--headless', '--norestore', `-env:UserInstallation=file://${dir}/profile`, '--convert-to', 'xlsx', '--outdir', out, ...paths],
      { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 })
    const books = new Map<string, ExcelJS.Workbook>()
    for (const name of files.keys()) {
      const wb = new ExcelJS.Workbook()
      await wb.xlsx.load(await as1904ExcelJSReads(readFileSync(join(out, `${name}.xlsx`))))
      books.set(name, wb)
    }
    return books
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** LibreOffice writes date1904="true", which ExcelJS (it takes only "1") would read as the 1900 system. */
async function as1904ExcelJSReads(file: Buffer): Promise<ArrayBuffer> {
  const zip = await JSZip.loadAsync(file)
  const xml = await zip.file('xl/workbook.xml')?.async('string')
  if (xml && /date1904="true"/.test(xml)) zip.file('xl/workbook.xml', xml.replace('date1904="true"', 'date1904="1"'))
  return zip.generateAsync({ type: 'arraybuffer' })
}

/**
 * The first sheet of each file as LibreOffice shows it (its CSV export "as shown": number formats
 * applied), as rows of cell texts.
 */
export async function shownByLibreOffice(files: Map<string, Buffer>): Promise<Map<string, string[][]>> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-lo-'))
  try {
    const paths = [...files].map(([name, buf]) => { const p = join(dir, `${name}.xlsx`); writeFileSync(p, buf); return p })
    const out = join(dir, 'out')
    // filter options: comma, double quote, UTF-8, from line 1, …, the 9th token: save cell contents as shown
    await run('soffice', ['--headless', '--norestore', `-env:UserInstallation=file://${dir}/profile`,
      '--convert-to', 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true', '--outdir', out, ...paths],
    { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 })
    return new Map([...files.keys()].map(name => [name, parseCsv(readFileSync(join(out, `${name}.csv`), 'utf8'))]))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = [], field = '', quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++ }
      else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') { row.push(field); field = '' }
    else if (ch === '\n') { row.push(field); rows.push(row); row = []; field = '' }
    else if (ch !== '\r') field += ch
  }
  if (field || row.length) { row.push(field); rows.push(row) }
  return rows
}

/** A cell's value as LibreOffice computed it, comparable with the app's (numbers to 9 digits, errors by code). */
export function computed(cell: ExcelJS.Cell): unknown {
  const v = cell.value as ExcelJS.CellValue
  // a formula whose result is "" comes back without a result (ExcelJS leaves empty strings out)
  let lo: unknown = v && typeof v === 'object' && 'formula' in v ? ((v as ExcelJS.CellFormulaValue).result ?? '') : v
  if (lo instanceof Date) lo = (lo.getTime() - Date.UTC(1899, 11, 30)) / 86400000
  if (lo && typeof lo === 'object' && 'error' in lo) lo = { error: (lo as { error: string }).error }
  return typeof lo === 'number' ? Number(lo.toPrecision(9)) : lo ?? ''
}

/** The app's value in the same form. */
export function comparable(app: unknown): unknown {
  if (typeof app === 'number') return Number(app.toPrecision(9))
  if (app && typeof app === 'object' && 'error' in app) return { error: (app as { error: string }).error }
  return app ?? ''
}

/** Files (name → [extension, bytes]) converted by LibreOffice to `to` (xlsx, ods), in one soffice run. */
export async function convertedByLibreOffice(files: Map<string, [string, Buffer]>, to: 'xlsx' | 'ods', csvOptions?: string): Promise<Map<string, Buffer>> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-lo-'))
  try {
    const paths = [...files].map(([name, [ext, buf]]) => { const p = join(dir, `${name}.${ext}`); writeFileSync(p, buf); return p })
    const out = join(dir, 'out')
    const infilter = csvOptions ? [`--infilter=CSV:${csvOptions}`] : []
    await run('soffice', ['--headless', '--norestore', `-env:UserInstallation=file://${dir}/profile`, ...infilter, '--convert-to', to, '--outdir', out, ...paths],
      { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 })
    return new Map([...files.keys()].map(name => [name, readFileSync(join(out, `${name}.${to}`))]))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
