/**
 * Prints a template as computed, one table per sheet, in zh-CN or en, after the same checks the server
 * runs at start:  npx tsx scripts/show-template.ts <template-id> [en] [rows]
 */
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { loadTemplates } from '../server/templates'
import { buildWorkbook, type Locale } from '../src/core/templates/template'
import { FormulaEngine } from '../src/core/formulas/engine'
import { formatValue } from '../src/core/format'
import { sheetParts, sheetsOf } from '../src/core/workbook/schema'
import { textForInput } from '../src/core/workbook/input'
import { cellKey } from '../src/core/workbook/schema'
import { totalsRowOf } from '../src/core/workbook/table'

const [id, lang = 'zh-CN', maxRows = '12'] = process.argv.slice(2)
if (!id) { console.error('usage: tsx scripts/show-template.ts <template-id> [zh-CN|en] [rows]'); process.exit(2) }
const registry = loadTemplates(fileURLToPath(new URL('../templates', import.meta.url)))
const t = registry.get(id)
if (!t) { console.error(`unknown template ${id}; known: ${registry.all().map(x => x.id).join(', ')}`); process.exit(2) }
const doc = new Y.Doc()
buildWorkbook(doc, t, { locale: lang as Locale })
const engine = new FormulaEngine(doc)
for (const sheetId of engine.layout.order) {
  const sl = engine.layout.sheet(sheetId)!
  const sheet = sheetsOf(doc).get(sheetId)!
  const { colMeta, cells } = sheetParts(sheet)
  const totals = totalsRowOf(sheet)
  let lastCol = 0, lastRow = 0
  cells.forEach((_v, key) => {
    const [r, c] = key.split(':') as [string, string]
    lastRow = Math.max(lastRow, sl.rows.indexOf(r)); lastCol = Math.max(lastCol, sl.cols.indexOf(c))
  })
  console.log(`\n== ${sl.name}  (${sl.rows.length} rows × ${sl.cols.length} cols)`)
  const ids = sl.cols.ids.slice(0, lastCol + 1)
  console.log(ids.map(c => colMeta.get(c)?.title ?? '').join(' | '))
  for (let r = 0; r <= Math.min(lastRow, Number(maxRows)); r++) {
    const rowId = sl.rows.ids[r]!
    const vals = ids.map((c, i) => formatValue(engine.getValue(sheetId, r, i), colMeta.get(c)))
    console.log(`${r + 1}${rowId === totals ? 'Σ' : ''}: ${vals.join(' | ')}`)
  }
  for (const c of ids) {
    const f = colMeta.get(c)?.formula
    if (f) console.log(`   ${colMeta.get(c)?.title}: ${textForInput(cells.get(cellKey(sl.rows.ids[0]!, c)), { layout: engine.layout, sheetId })}`)
  }
}
engine.destroy()
