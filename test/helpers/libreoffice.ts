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
      await wb.xlsx.load(readFileSync(join(out, `${name}.xlsx`)) as unknown as ArrayBuffer)
      books.set(name, wb)
    }
    return books
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
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
