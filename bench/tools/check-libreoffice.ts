/**
 * Checks the XLSX export against LibreOffice: every template is exported WITHOUT cached values, so
 * LibreOffice (headless) has to compute every formula itself; its results, read back from the file it
 * saves, are compared with the app's. Needs `soffice` (Debian: libreoffice-calc-nogui); not part of
 * `npm test`, since CI machines do not have it.
 *
 *   npx tsx bench/tools/check-libreoffice.ts [zh-CN|en]
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ExcelJS from 'exceljs'
import * as Y from 'yjs'
import { loadTemplates } from '../../server/templates'
import { META_SHEET, exportXlsx } from '../../server/export/xlsx'
import { buildWorkbook, type Locale } from '../../src/core/templates/template'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { cellKey, isFormula, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'

const locale = (process.argv[2] ?? 'zh-CN') as Locale
const registry = loadTemplates(fileURLToPath(new URL('../../templates', import.meta.url)))
const dir = mkdtempSync(join(tmpdir(), 'pw-lo-'))
let compared = 0, differ = 0
for (const t of registry.all()) {
  const doc = new Y.Doc()
  buildWorkbook(doc, t, { locale })
  const { buffer } = await exportXlsx(doc, { cachedValues: false })
  const file = join(dir, `${t.id}.xlsx`)
  writeFileSync(file, buffer)
  const out = join(dir, 'out')
  execFileSync('soffice', ['--headless', '--norestore', `-env:UserInstallation=file://${dir}/profile`, '--convert-to', 'xlsx', '--outdir', out, file], { stdio: 'pipe' })
  const wb = new ExcelJS.Workbook()
  await wb.xlsx.load(readFileSync(join(out, `${t.id}.xlsx`)) as unknown as ArrayBuffer)
  const engine = new FormulaEngine(doc)
  for (const id of engine.layout.order) {
    const sl = engine.layout.sheet(id)!
    const parts = sheetParts(sheetsOf(doc).get(id)!)
    const header = sl.cols.ids.some(c => (parts.colMeta.get(c) as ColumnMeta | undefined)?.title) ? 1 : 0
    const ws = wb.worksheets.find(w => w.name === sl.name && w.name !== META_SHEET)
    if (!ws) { console.log(`${t.id}: LibreOffice lost sheet ${sl.name}`); differ++; continue }
    sl.rows.ids.forEach((rowId, r) => sl.cols.ids.forEach((colId, c) => {
      const input = parts.cells.get(cellKey(rowId, colId))
      if (!isFormula(input)) return
      const app = engine.getValue(id, r, c)
      const cell = ws.getRow(r + 1 + header).getCell(c + 1)
      const v = cell.value as ExcelJS.CellFormulaValue | null
      // a formula whose result is "" comes back without a result (ExcelJS leaves empty strings out)
      let lo: unknown = v && typeof v === 'object' && 'formula' in v ? (v.result ?? '') : v
      if (lo instanceof Date) lo = (lo.getTime() - Date.UTC(1899, 11, 30)) / 86400000
      if (lo && typeof lo === 'object' && 'error' in lo) lo = { error: (lo as { error: string }).error }
      const a = typeof app === 'number' ? Number(app.toPrecision(9)) : app && typeof app === 'object' ? { error: app.error } : app ?? ''
      const b = typeof lo === 'number' ? Number(lo.toPrecision(9)) : lo ?? ''
      compared++
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        differ++
        console.log(`${t.id} ${sl.name}!${cell.address}: app ${JSON.stringify(a)}, LibreOffice ${JSON.stringify(b)} (=${(v as ExcelJS.CellFormulaValue)?.formula})`)
      }
    }))
  }
  engine.destroy()
}
console.log(`${compared} formula cells compared across ${registry.all().length} templates (${locale}): ${differ} differ`)
process.exitCode = differ ? 1 : 0
