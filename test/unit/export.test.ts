/**
 * XLSX export, read back with ExcelJS: every template in both languages keeps its sheets, its formulas
 * (A1, counting the header row) and the values the app computed, with formats, widths and panes.
 */
import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import ExcelJS from 'exceljs'
import * as Y from 'yjs'
import { loadTemplates } from '../../server/templates'
import { META_SHEET, exportXlsx, excelSheetNames, numberFormat } from '../../server/export/xlsx'
import { buildWorkbook, LOCALES } from '../../src/core/templates/template'
import { FormulaEngine, type CellValue } from '../../src/core/formulas/engine'
import { decodeFormula } from '../../src/core/formulas/references'
import { cellKey, getTitle, isFormula, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { addSheet, setCell, setColumnMeta, setTotalsRow } from '../../src/core/workbook/mutations'
import { checkZip } from '../../server/import/zip'
import { makeDoc, type } from '../helpers/workbook'
import { unzipped } from '../helpers/zip'
import { setCellStyle } from '../../src/core/workbook/styles'
import { setHidden } from '../../src/core/workbook/hidden'

const registry = loadTemplates(fileURLToPath(new URL('../../templates', import.meta.url)))


async function readBack(buffer: Buffer): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook()
  await wb.xlsx.load(buffer as unknown as ArrayBuffer)
  return wb
}

/** What a cell of ExcelJS holds, reduced to compare with the app: [formula or null, value]. */
function cellOf(c: ExcelJS.Cell): [string | null, unknown] {
  const v = c.value
  if (v && typeof v === 'object' && 'formula' in v) {
    const r = (v as ExcelJS.CellFormulaValue).result
    return [(v as ExcelJS.CellFormulaValue).formula, r && typeof r === 'object' && 'error' in r ? { error: r.error } : r ?? null]
  }
  if (v && typeof v === 'object' && 'sharedFormula' in v) throw new Error('shared formulas are not written')
  return [null, v ?? null]
}

/** Dates read back as Date (a date-formatted serial): compared as the serial the app computes with. */
const norm = (v: CellValue | unknown) => v instanceof Date ? (v.getTime() - Date.UTC(1899, 11, 30)) / 86400000 : typeof v === 'number' ? Number(v.toPrecision(12)) : v && typeof v === 'object' && 'error' in (v as object) ? { error: (v as { error: string }).error } : v === '' ? null : v

describe('every template → XLSX → ExcelJS', () => {
  for (const template of registry.all()) {
    for (const locale of LOCALES) {
      it(`${template.id} (${locale})`, async () => {
        const doc = new Y.Doc()
        buildWorkbook(doc, template, { locale, title: `${template.id} 导出` })
        const { buffer, report } = await exportXlsx(doc, { now: new Date('2026-12-01T08:00:00Z'), author: '王经理' })
        const wb = await readBack(buffer)
        const engine = new FormulaEngine(doc)
        try {
          const layout = engine.layout
          expect(wb.worksheets.filter(w => w.name !== META_SHEET).map(w => w.name)).toEqual(layout.order.map(id => layout.sheet(id)!.name))
          // the settings Excel has no place for ride in a sheet nobody sees
          expect(wb.getWorksheet(META_SHEET)!.state).toBe('veryHidden')
          expect(wb.title).toBe(`${template.id} 导出`)
          expect(wb.creator).toBe('王经理')
          expect(wb.created?.toISOString()).toBe('2026-12-01T08:00:00.000Z')
          let formulas = 0
          for (const sheetId of layout.order) {
            const sl = layout.sheet(sheetId)!
            const ws = wb.getWorksheet(sl.name)!
            const parts = sheetParts(sheetsOf(doc).get(sheetId)!)
            const metas = sl.cols.ids.map(c => parts.colMeta.get(c) as ColumnMeta | undefined)
            const header = metas.some(m => m?.title) ? 1 : 0
            if (header) {
              expect(ws.getRow(1).font?.bold).toBe(true)
              metas.forEach((m, c) => expect(ws.getRow(1).getCell(c + 1).value ?? '').toBe(m?.title ?? ''))
              expect(ws.views[0]).toMatchObject({ state: 'frozen' })
              expect((ws.views[0] as { ySplit?: number }).ySplit).toBeGreaterThanOrEqual(1)
            }
            metas.forEach((m, c) => {
              const fmt = numberFormat(m)
              if (fmt) expect(ws.getColumn(c + 1).numFmt, `${sl.name} column ${c} format`).toBe(fmt)
              if (m?.width) expect(ws.getColumn(c + 1).width).toBeCloseTo(m.width / 7, 0)
            })
            sl.rows.ids.forEach((rowId, r) => sl.cols.ids.forEach((colId, c) => {
              const input = parts.cells.get(cellKey(rowId, colId))
              const [f, v] = cellOf(ws.getRow(r + 1 + header).getCell(c + 1))
              const where = `${template.id} ${sl.name}!R${r + 1}C${c + 1}`
              if (input === undefined) { expect(f, where).toBeNull(); return }
              if (isFormula(input)) {
                formulas++
                const a1 = decodeFormula(input.v, { layout, sheetId }, { rowOffset: id => (sheetParts(sheetsOf(doc).get(id)!).colMeta.size && layout.sheet(id)!.cols.ids.some(x => (sheetParts(sheetsOf(doc).get(id)!).colMeta.get(x) as ColumnMeta | undefined)?.title) ? 1 : 0) })
                expect(f, where).toBe(a1.slice(1))
                expect(norm(v), where).toEqual(norm(engine.getValue(sheetId, r, c)))
              } else {
                expect(f, where).toBeNull()
                expect(norm(v), where).toEqual(norm(engine.getValue(sheetId, r, c)))
              }
            }))
          }
          expect(report.formulas).toBe(formulas)
          if (template.id !== 'blank' && template.id !== 'team-roles') expect(formulas).toBeGreaterThan(0)
        } finally {
          engine.destroy()
        }
      })
    }
  }
})

describe('what Excel needs', () => {
  it('shortens and numbers sheet names past 31 characters and writes formulas with those names', async () => {
    const long = '二〇二六年度华东区域全渠道营销预算分配与执行跟踪明细表（第一版）'
    expect(long.length).toBeGreaterThan(31)
    const doc = makeDoc([{ name: long, id: 's0', rows: 4, cols: 3 }, { name: long.slice(0, 31) + 'X', id: 's1', rows: 4, cols: 3 }])
    type(doc, 's0', 'A1', '5')
    type(doc, 's1', 'A1', `='${long}'!A1*2`)
    const names = excelSheetNames(['s0', 's1'], id => id === 's0' ? long : long.slice(0, 31) + 'X')
    expect([...names.values()].every(n => n.length <= 31)).toBe(true)
    expect(new Set([...names.values()].map(n => n.toLowerCase())).size).toBe(2)
    const { buffer, report } = await exportXlsx(doc)
    const wb = await readBack(buffer)
    expect(wb.worksheets.filter(w => w.name !== META_SHEET).map(w => w.name)).toEqual([names.get('s0'), names.get('s1')])
    const v = wb.worksheets[1]!.getCell('A1').value as ExcelJS.CellFormulaValue
    expect(v.formula).toBe(`'${names.get('s0')}'!A1*2`)
    expect(v.result).toBe(10)
    expect(report.notes.some(n => n.includes('31'))).toBe(true)
  })

  it('writes dates as Excel dates, dropdowns as list validations and colour rules as conditional formats', async () => {
    const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 5, cols: 3 }])
    setColumnMeta(doc, 's0', 's0c0', { title: 'Start', type: 'date' })
    setColumnMeta(doc, 's0', 's0c1', { title: 'Status', type: 'select', options: ['进行中', '已完成'] })
    setColumnMeta(doc, 's0', 's0c2', { title: 'Dev', type: 'percent', decimals: 1, rules: [{ op: '<', value: 0, style: 'bad' }] })
    type(doc, 's0', 'A1', '2026-06-18')
    type(doc, 's0', 'B1', '进行中')
    type(doc, 's0', 'C1', '-0.15')
    const wb = await readBack((await exportXlsx(doc)).buffer)
    const ws = wb.worksheets[0]!
    const a2 = ws.getCell('A2')
    expect(a2.numFmt).toBe('yyyy-mm-dd')
    const date = a2.value instanceof Date ? a2.value.toISOString().slice(0, 10) : a2.value
    expect(date).toBe('2026-06-18')
    expect(ws.getCell('B2').dataValidation).toMatchObject({ type: 'list', formulae: ['"进行中,已完成"'] })
    expect(ws.getCell('C2').numFmt).toBe('0.0%')
    const cf = (ws as unknown as { conditionalFormattings: { ref: string; rules: { formulae: string[] }[] }[] }).conditionalFormattings
    expect(cf.some(x => x.ref.startsWith('C2') && x.rules[0]!.formulae[0]!.includes('$C2<0'))).toBe(true)
    expect(getTitle(doc)).toBe('t')
  })

  it('bolds the totals row only, and keeps each column its number format (cells share style objects)', async () => {
    const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 4, cols: 3 }])
    setColumnMeta(doc, 's0', 's0c0', { title: 'Item' })
    setColumnMeta(doc, 's0', 's0c1', { title: 'Budget', type: 'currency', decimals: 0 })
    setColumnMeta(doc, 's0', 's0c2', { title: 'Share', type: 'percent', decimals: 1 })
    for (const [r, item, budget] of [[1, 'A', 300], [2, 'B', 100]] as const) {
      type(doc, 's0', `A${r}`, item); type(doc, 's0', `B${r}`, String(budget)); type(doc, 's0', `C${r}`, `=B${r}/B4`)
    }
    type(doc, 's0', 'A4', '合计'); type(doc, 's0', 'B4', '=SUM(B1:B3)'); type(doc, 's0', 'C4', '=SUM(C1:C3)')
    setTotalsRow(doc, 's0', 's0r3')
    const ws = (await readBack((await exportXlsx(doc)).buffer)).worksheets[0]!
    for (const addr of ['A5', 'B5', 'C5']) expect(ws.getCell(addr).font?.bold, addr).toBe(true)
    expect(ws.getCell('B5').border?.top?.style).toBe('thin')
    for (const addr of ['A2', 'B2', 'C2', 'A3', 'B3', 'C3']) expect(ws.getCell(addr).font?.bold, addr).not.toBe(true)
    expect(ws.getCell('B2').numFmt).toBe(numberFormat({ type: 'currency', decimals: 0 }))
    expect(ws.getCell('B5').numFmt).toBe(numberFormat({ type: 'currency', decimals: 0 }))
    expect(ws.getCell('C3').numFmt).toBe('0.0%')
    expect(ws.getCell('A2').numFmt ?? 'General').toBe('General')
    expect(ws.getCell('C2').value).toMatchObject({ formula: 'B2/B5', result: 0.75 })
  })

  it('writes cell formats: fonts, fills, alignment and wrap, on values, formulas, the totals row and empty cells, beside number formats', async () => {
    const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 6, cols: 3 }])
    setColumnMeta(doc, 's0', 's0c0', { title: 'Item' })
    setColumnMeta(doc, 's0', 's0c1', { title: 'Budget', type: 'currency', decimals: 0 })
    type(doc, 's0', 'A1', 'SKU-1'); type(doc, 's0', 'B1', '300'); type(doc, 's0', 'C1', '=B1*2')
    type(doc, 's0', 'A2', 'SKU-2'); type(doc, 's0', 'B2', '100')
    type(doc, 's0', 'A6', '合计'); type(doc, 's0', 'B6', '=SUM(B1:B5)')
    setTotalsRow(doc, 's0', 's0r5')
    setCellStyle(doc, 's0', [{ rowId: 's0r0', colId: 's0c0' }], { b: true, i: true, fc: '#c00000', bg: '#fff2cc', ha: 'center', wrap: true })
    setCellStyle(doc, 's0', [{ rowId: 's0r0', colId: 's0c1' }, { rowId: 's0r0', colId: 's0c2' }], { u: true, s: true, va: 'top' })
    setCellStyle(doc, 's0', [{ rowId: 's0r3', colId: 's0c2' }], { bg: '#ddebf7' })
    setCellStyle(doc, 's0', [{ rowId: 's0r5', colId: 's0c1' }], { fc: '#0070c0' })
    setCellStyle(doc, 's0', [{ rowId: 's0r1', colId: 's0c1' }], { nf: '0\\.0,"万"', bt: true, br: true })
    const { buffer } = await exportXlsx(doc)
    const ws = (await readBack(buffer)).worksheets[0]!
    const a2 = ws.getCell('A2')
    expect(a2.value).toBe('SKU-1')
    expect(a2.font).toMatchObject({ bold: true, italic: true, color: { argb: 'FFC00000' } })
    expect(a2.fill).toMatchObject({ type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFFFF2CC' } })
    expect(a2.alignment).toMatchObject({ horizontal: 'center', wrapText: true })
    // a number keeps its column's number format beside its own format
    expect(ws.getCell('B2').font).toMatchObject({ underline: true, strike: true })
    expect(ws.getCell('B2').alignment?.vertical).toBe('top')
    expect(ws.getCell('B2').numFmt).toBe(numberFormat({ type: 'currency', decimals: 0 }))
    expect(ws.getCell('C2').value).toMatchObject({ formula: 'B2*2', result: 600 })
    expect(ws.getCell('C2').font?.underline).toBe(true)
    // a cell's own number format over its column's
    // (ExcelJS drops the backslash when it reads the code back; the file has it)
    expect(ws.getCell('B3').numFmt).toMatch(/0\\?\.0,"万"/)
    expect(unzipped(buffer)['xl/styles.xml']).toContain('formatCode="0\\.0,&quot;万&quot;"')
    expect(ws.getCell('B3').value).toBe(100)
    expect(ws.getCell('B3').border).toMatchObject({ top: { style: 'thin' }, right: { style: 'thin' } })
    expect(ws.getCell('B3').border?.left).toBeUndefined()
    // an empty cell with a fill is written, without a value
    expect(ws.getCell('C5').value).toBeNull()
    expect(ws.getCell('C5').fill).toMatchObject({ fgColor: { argb: 'FFDDEBF7' } })
    // the totals row stays bold, with the cell's colour
    expect(ws.getCell('B7').font).toMatchObject({ bold: true, color: { argb: 'FF0070C0' } })
    // cells without a format have none
    expect(ws.getCell('A3').font?.bold).not.toBe(true)
    expect(ws.getCell('A3').fill).toBeUndefined()
  })

  it('writes hidden columns and rows, empty hidden rows too; the others stay shown', async () => {
    const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 6, cols: 3 }])
    setColumnMeta(doc, 's0', 's0c0', { title: 'Item' })
    type(doc, 's0', 'A1', 'keep'); type(doc, 's0', 'A2', 'hide me'); type(doc, 's0', 'C2', '=A2')
    setHidden(doc, 's0', 'cols', ['s0c1'], true)
    setHidden(doc, 's0', 'rows', ['s0r1', 's0r4'], true)
    const ws = (await readBack((await exportXlsx(doc)).buffer)).worksheets[0]!
    expect(ws.getColumn(2).hidden).toBe(true)
    expect(ws.getColumn(1).hidden).toBe(false)
    // header row 1, data from row 2: s0r1 is row 3, s0r4 (empty) row 6
    expect(ws.getRow(3).hidden).toBe(true)
    expect(ws.getRow(6).hidden).toBe(true)
    expect(ws.getRow(2).hidden).toBe(false)
    expect(ws.getCell('A3').value).toBe('hide me')
    expect(ws.getCell('C3').value).toMatchObject({ formula: 'A3' })
  })

  it('writes a deflated archive that the importer and ExcelJS both read', async () => {
    const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 300, cols: 4 }])
    for (let r = 1; r <= 300; r++) { type(doc, 's0', `A${r}`, `SKU-${r}`); type(doc, 's0', `B${r}`, String(r)); type(doc, 's0', `C${r}`, `=B${r}*2`) }
    const { buffer } = await exportXlsx(doc)
    const { entries, unpackedBytes } = checkZip(buffer, { maxEntries: 100, maxUnpackedBytes: 50 << 20 })
    expect(entries).toContain('xl/worksheets/sheet1.xml')
    expect(buffer.length).toBeLessThan(unpackedBytes / 3)
    const ws = (await readBack(buffer)).worksheets[0]!
    // no column titles: no header row
    expect(ws.getCell('A300').value).toBe('SKU-300')
    expect(ws.getCell('C300').value).toMatchObject({ formula: 'B300*2', result: 600 })
  })

  it('writes the data rows itself: text XML must escape, numbers, booleans, errors and repeated strings read back exactly', async () => {
    const doc = makeDoc([{ name: 'Edge', id: 's0', rows: 12, cols: 3 }])
    setColumnMeta(doc, 's0', 's0c0', { title: 'Item' })
    setColumnMeta(doc, 's0', 's0c1', { title: 'Value', type: 'number', decimals: 2 })
    const texts = ['a & b <c> "d" \'e\'', '  leading and trailing  ', 'line 1\nline 2', 'bell\u0007, \uFFFE and \uD800 gone', 'Item', '天猫 旗舰店 😀', 'Item']
    texts.forEach((t, r) => setCell(doc, 's0', `s0r${r}`, 's0c0', t, null))
    const numbers = [1e21, 1.5e-7, -42.125, 0, 123456789.123]
    numbers.forEach((n, r) => setCell(doc, 's0', `s0r${r}`, 's0c1', n, null))
    setCell(doc, 's0', 's0r5', 's0c1', true, null)
    setCell(doc, 's0', 's0r6', 's0c1', false, null)
    type(doc, 's0', 'C1', '=1/0')
    type(doc, 's0', 'C2', '="<"&A2&">"')
    type(doc, 's0', 'C3', '=B1>0')
    type(doc, 's0', 'C4', '=B3*2')
    type(doc, 's0', 'C5', '=C5+1')
    const { buffer, report } = await exportXlsx(doc)
    expect(report).toMatchObject({ cells: texts.length + 7 + 5, formulas: 5 })
    const ws = (await readBack(buffer)).getWorksheet('Edge')!
    // header row as ExcelJS wrote it, data rows below it
    expect(ws.getCell('A1').value).toBe('Item')
    expect(ws.getCell('A1').font?.bold).toBe(true)
    expect(texts.map((_t, r) => ws.getCell(`A${r + 2}`).value)).toEqual(texts.map(t => t.replace(/[\u0007\uFFFE\uD800]/g, '')))
    expect(numbers.map((_n, r) => ws.getCell(`B${r + 2}`).value)).toEqual(numbers)
    expect([ws.getCell('B7').value, ws.getCell('B8').value]).toEqual([true, false])
    expect(ws.getCell('B2').numFmt).toBe('#,##0.00')
    expect(ws.getCell('C2').value).toMatchObject({ formula: '1/0', result: { error: '#DIV/0!' } })
    expect(ws.getCell('C3').value).toMatchObject({ formula: '"<"&A3&">"', result: '<  leading and trailing  >' })
    expect(ws.getCell('C4').value).toMatchObject({ formula: 'B2>0', result: true })
    expect(ws.getCell('C5').value).toMatchObject({ formula: 'B4*2', result: -84.25 })
    // HyperFormula's own errors (#CYCLE!) are not Excel's: written as #VALUE!
    expect(ws.getCell('C6').value).toMatchObject({ formula: 'C6+1', result: { error: '#VALUE!' } })
    // nothing past the data: the style samples are not in the file, and the dimension says so
    expect(ws.rowCount).toBe(texts.length + 1)
    const xml = unzipped(buffer)
    expect(xml['xl/worksheets/sheet1.xml']).toContain('<dimension ref="A1:C8"/>')
    // one shared string per distinct text: "Item" (the title, twice in the data) is there once
    const sst = xml['xl/sharedStrings.xml']!
    expect(sst.startsWith('<?xml')).toBe(true)
    expect(sst.match(/<si>/g)!.length).toBe(Number(/uniqueCount="(\d+)"/.exec(sst)![1]))
    expect(sst.match(/<t>Item<\/t>/g)).toHaveLength(1)
    const refs = [...xml['xl/worksheets/sheet1.xml']!.matchAll(/t="s"/g)].length + [...xml['xl/worksheets/sheet2.xml']!.matchAll(/t="s"/g)].length
    expect(Number(/ count="(\d+)"/.exec(sst)![1])).toBe(refs)
  })

  it('a sheet without column titles has no header row: formulas keep their row numbers', async () => {
    const doc = makeDoc([{ name: 'Raw', id: 's0', rows: 4, cols: 2 }])
    addSheet(doc, { id: 's1', name: 'Titled', rowIds: ['s1r0', 's1r1'], colIds: ['s1c0'] })
    setColumnMeta(doc, 's1', 's1c0', { title: 'Total' })
    type(doc, 's0', 'A1', '2'); type(doc, 's0', 'A2', '3'); type(doc, 's0', 'B1', '=SUM(A1:A2)')
    type(doc, 's1', 'A1', '=Raw!B1+1')
    type(doc, 's0', 'B2', '=Titled!A1')
    const wb = await readBack((await exportXlsx(doc)).buffer)
    expect((wb.getWorksheet('Raw')!.getCell('B1').value as ExcelJS.CellFormulaValue).formula).toBe('SUM(A1:A2)')
    expect((wb.getWorksheet('Titled')!.getCell('A2').value as ExcelJS.CellFormulaValue)).toMatchObject({ formula: 'Raw!B1+1', result: 6 })
    expect((wb.getWorksheet('Raw')!.getCell('B2').value as ExcelJS.CellFormulaValue)).toMatchObject({ formula: 'Titled!A2', result: 6 })
  })
})
