// @vitest-environment node
/**
 * The .xlsx export against LibreOffice, a second spreadsheet program: every template in both languages
 * is exported WITHOUT cached values, so LibreOffice has to compute every formula itself, and its results
 * must equal the app's; and a styled, merged, filtered, hidden-column workbook keeps its formats, merges,
 * hidden rows and columns, filter, number formats, colour scale and values through LibreOffice.
 */
import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import type ExcelJS from 'exceljs'
import * as Y from 'yjs'
import { loadTemplates } from '../../server/templates'
import { META_SHEET, exportXlsx } from '../../server/export/xlsx'
import { buildWorkbook, LOCALES } from '../../src/core/templates/template'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { cellKey, isFormula, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { setColumnMeta, setTotalsRow } from '../../src/core/workbook/mutations'
import { cellStyle, setBorders, setCellStyle } from '../../src/core/workbook/styles'
import { formatValue } from '../../src/core/format'
import { format as formatCode } from 'numfmt'
import { mergeCells } from '../../src/core/workbook/merges'
import { setHidden } from '../../src/core/workbook/hidden'
import { comparable, computed, shownByLibreOffice, throughLibreOffice } from '../helpers/libreoffice'
import { layoutOf, makeDoc, type } from '../helpers/workbook'
import { localTimeZone } from '../../src/core/workbook/zone'

const registry = loadTemplates(fileURLToPath(new URL('../../templates', import.meta.url)))

/** Every formula cell of the doc: the app's value beside LibreOffice's, where they differ. */
function differences(doc: Y.Doc, wb: ExcelJS.Workbook): { compared: number; differ: string[] } {
  const engine = new FormulaEngine(doc)
  const differ: string[] = []
  let compared = 0
  try {
    for (const id of engine.layout.order) {
      const sl = engine.layout.sheet(id)!
      const parts = sheetParts(sheetsOf(doc).get(id)!)
      const header = sl.cols.ids.some(c => (parts.colMeta.get(c) as ColumnMeta | undefined)?.title) ? 1 : 0
      const ws = wb.worksheets.find(w => w.name === sl.name && w.name !== META_SHEET)
      if (!ws) { differ.push(`sheet ${sl.name} lost`); continue }
      sl.rows.ids.forEach((rowId, r) => sl.cols.ids.forEach((colId, c) => {
        if (!isFormula(parts.cells.get(cellKey(rowId, colId)))) return
        const cell = ws.getRow(r + 1 + header).getCell(c + 1)
        const a = comparable(engine.getValue(id, r, c)), b = computed(cell)
        compared++
        if (JSON.stringify(a) !== JSON.stringify(b)) differ.push(`${sl.name}!${cell.address}: app ${JSON.stringify(a)}, LibreOffice ${JSON.stringify(b)}`)
      }))
    }
  } finally {
    engine.destroy()
  }
  return { compared, differ }
}

describe('the .xlsx in LibreOffice', () => {
  it('every template in both languages: LibreOffice computes every formula as the app does', async () => {
    const docs = new Map<string, Y.Doc>(), files = new Map<string, Buffer>()
    for (const locale of LOCALES) {
      for (const t of registry.all()) {
        const doc = new Y.Doc()
        // LibreOffice computes TODAY() on this machine's clock and zone: the app does it in the
        // workbook's zone, so the workbooks compared are on this machine's
        buildWorkbook(doc, t, { locale, timeZone: localTimeZone() ?? 'UTC' })
        docs.set(`${t.id}-${locale}`, doc)
        files.set(`${t.id}-${locale}`, (await exportXlsx(doc, { cachedValues: false })).buffer)
      }
    }
    const books = await throughLibreOffice(files)
    let compared = 0
    const differ: string[] = []
    for (const [name, doc] of docs) {
      const d = differences(doc, books.get(name)!)
      compared += d.compared
      differ.push(...d.differ.map(x => `${name} ${x}`))
    }
    expect(differ).toEqual([])
    // the templates are formula-backed: hundreds per language
    expect(compared).toBeGreaterThan(400 * LOCALES.length)
  }, 300_000)

  it('a styled, merged, filtered, hidden-column workbook keeps its formats, merges, hidden rows and columns, filter and values', async () => {
    const doc = makeDoc([{ name: '销售', id: 's0', rows: 10, cols: 6 }])
    const titles = ['品类', '销售额', '占比', '日期', '备注', '内部']
    titles.forEach((title, c) => setColumnMeta(doc, 's0', `s0c${c}`, { title, ...(c === 2 ? { type: 'percent', decimals: 1 } : {}) }))
    setColumnMeta(doc, 's0', 's0c1', { scale: { kind: 'scale', min: '#f8696b', mid: '#ffeb84', max: '#63be7b' } })
    const data: [string, number, string][] = [['服装', 123456, '2025/6/18'], ['食品', 80000, '2025年7月1日'], ['家居', 45000, '2025-08-09'], ['数码', 250000, '6月18日'], ['美妆', 9000, '2025/1/2']]
    data.forEach(([k, v, d], i) => {
      const r = i + 1
      type(doc, 's0', `A${r}`, k); type(doc, 's0', `B${r}`, String(v)); type(doc, 's0', `C${r}`, `=B${r}/B7`)
      setColumnMeta(doc, 's0', 's0c3', { type: 'date' })
      type(doc, 's0', `D${r}`, d); type(doc, 's0', `F${r}`, `=B${r}*2`)
    })
    type(doc, 's0', 'A7', '合计'); type(doc, 's0', 'B7', '=SUM(B1:B6)'); type(doc, 's0', 'C7', '=SUM(C1:C6)')
    setTotalsRow(doc, 's0', 's0r6')
    const cells = (...addrs: [number, number][]) => addrs.map(([r, c]) => ({ rowId: `s0r${r}`, colId: `s0c${c}` }))
    setCellStyle(doc, 's0', cells([0, 0]), { b: true, i: true, u: true })
    setCellStyle(doc, 's0', cells([1, 0]), { bg: '#ffeb84', fc: '#c00000', s: true })
    setCellStyle(doc, 's0', cells([2, 0]), { ha: 'center', va: 'top', wrap: true })
    setCellStyle(doc, 's0', cells([0, 1], [1, 1], [2, 1], [3, 1], [4, 1]), { nf: '0\\.0,"万"' })
    setCellStyle(doc, 's0', cells([0, 3], [1, 3], [2, 3], [3, 3], [4, 3]), { nf: 'yyyy"年"m"月"d"日"' })
    setBorders(doc, 's0', { rowIds: ['s0r3', 's0r4'], colIds: ['s0c0', 's0c1'] }, 'all')
    type(doc, 's0', 'E1', '重点品类，需要跟进')
    mergeCells(doc, layoutOf(doc), 's0', { rowId: 's0r0', colId: 's0c4' }, { rowId: 's0r1', colId: 's0c4' })
    setHidden(doc, 's0', 'cols', ['s0c5'], true)
    setHidden(doc, 's0', 'rows', ['s0r2'], true)
    // the exporter's filter: 销售额 ≥ 50000 (美妆 9000 is filtered out)
    const { buffer } = await exportXlsx(doc, { cachedValues: false, filters: { s0: { s0c1: { kind: 'op', op: '>=', value: '50000' } } } })
    const wb = (await throughLibreOffice(new Map([['styled', buffer]]))).get('styled')!
    const ws = wb.getWorksheet('销售')!
    const at = (addr: string) => ws.getCell(addr)
    // values LibreOffice computed itself
    const d = differences(doc, wb)
    expect(d.differ).toEqual([])
    expect(d.compared).toBe(12)
    expect(at('B2').value).toBe(123456)
    // formats (file rows count the title row)
    expect(at('A2').font).toMatchObject({ bold: true, italic: true })
    // (LibreOffice writes the single underline out: u val="single")
    expect([true, 'single']).toContain(at('A2').font?.underline)
    expect(at('A3').fill).toMatchObject({ type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFFFEB84' } })
    expect(at('A3').font).toMatchObject({ strike: true, color: { argb: 'FFC00000' } })
    expect(at('A4').alignment).toMatchObject({ horizontal: 'center', vertical: 'top', wrapText: true })
    for (const addr of ['A5', 'B5', 'A6', 'B6']) {
      expect(at(addr).border, addr).toMatchObject({ top: { style: 'thin' }, bottom: { style: 'thin' }, left: { style: 'thin' }, right: { style: 'thin' } })
    }
    expect(at('A7').border?.top).toBeUndefined()
    // number formats kept (LibreOffice saves them in its own spelling: 万 as 0.0,万, the date without
    // quotes), so what it shows is compared below
    expect(at('D2').numFmt).toMatch(/^yyyy"?年"?m"?月"?d"?日"?$/)
    expect(at('B2').numFmt).toContain('万')
    expect(at('C2').numFmt).toBe('0.0%')
    const day = at('D3').value
    expect(day instanceof Date ? day.toISOString().slice(0, 10) : day).toBe('2025-07-01')
    // merges, hidden rows and columns, the filter and the colour scale
    expect((ws as unknown as { model: { merges: string[] } }).model.merges).toContain('E2:E3')
    expect(ws.getColumn(6).hidden).toBe(true)
    expect(ws.getColumn(5).hidden).toBe(false)
    expect([2, 3, 4, 5, 6].map(r => !!ws.getRow(r).hidden)).toEqual([false, false, true, false, true])
    expect(ws.autoFilter).toBe('A1:F6')
    const cf = (ws as unknown as { conditionalFormattings: { ref: string; rules: { type: string }[] }[] }).conditionalFormattings
    expect(cf.some(x => x.ref === 'B2:B7' && x.rules.some(r => r.type === 'colorScale')), JSON.stringify(cf)).toBe(true)
    // what LibreOffice shows is what the grid shows: 万, 年月日, percent, computed values
    const shown = (await shownByLibreOffice(new Map([['styled', buffer]]))).get('styled')!
    expect(shown[0]).toEqual(titles)
    // the grid's texts of the same cells: number formats by numfmt, the rest by the column's type
    const engine = new FormulaEngine(doc)
    try {
      const app = (r: number, c: number) => {
        const v = engine.getValue('s0', r, c)
        const nf = cellStyle(doc, 's0', `s0r${r}`, `s0c${c}`).nf
        return nf && typeof v === 'number' ? formatCode(nf, v, { locale: 'zh-CN' }) : formatValue(v, sheetParts(sheetsOf(doc).get('s0')!).colMeta.get(`s0c${c}`) as ColumnMeta | undefined)
      }
      for (const r of [0, 1, 2, 3, 4]) expect(shown[r + 1]!.slice(0, 4), `row ${r + 1}`).toEqual([0, 1, 2, 3].map(c => app(r, c)))
      expect(shown[1]!.slice(0, 4)).toEqual(['服装', '12.3万', '24.3%', '2025年6月18日'])
      expect(shown[7]!.slice(0, 3)).toEqual(['合计', app(6, 1).replace(/,/g, ''), app(6, 2)])
    } finally {
      engine.destroy()
    }
    expect(shown[1]![4]).toBe('重点品类，需要跟进')
  }, 120_000)
})
