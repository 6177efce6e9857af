/**
 * The exporter's filter in the .xlsx: Excel's autoFilter with each condition, the rows it filters out
 * hidden (and a hidden row still hidden), read back by ExcelJS; imported again, the filter becomes a
 * shared filter view and its rows are shown.
 */
import { describe, expect, it } from 'vitest'
import ExcelJS from 'exceljs'
import * as Y from 'yjs'
import { exportXlsx } from '../../server/export/xlsx'
import { filterColumnXml } from '../../server/export/autofilter'
import { buildFromImport, readXlsx } from '../../server/import/xlsx'
import { setColumnMeta } from '../../src/core/workbook/mutations'
import { setHidden, hiddenIds } from '../../src/core/workbook/hidden'
import { mergeCells } from '../../src/core/workbook/merges'
import { setCellStyle } from '../../src/core/workbook/styles'
import { sheetFilterViews, type SheetFilter } from '../../src/core/workbook/filter'
import { sheetIds, sheetsOf, visibleColIds, visibleRowIds } from '../../src/core/workbook/schema'
import { layoutOf, makeDoc, type } from '../helpers/workbook'
import { unzipped } from '../helpers/zip'

function plan(): Y.Doc {
  const doc = makeDoc([{ name: '商品', id: 's0', rows: 8, cols: 3 }])
  setColumnMeta(doc, 's0', 's0c0', { title: '品类' })
  setColumnMeta(doc, 's0', 's0c1', { title: '销售额', type: 'number' })
  setColumnMeta(doc, 's0', 's0c2', { title: '备注' })
  const rows: [string, number][] = [['服装', 120], ['食品', 80], ['服装', 60], ['', 300], ['家居', 150], ['服装', 500]]
  rows.forEach(([k, v], i) => { if (k) type(doc, 's0', `A${i + 1}`, k); type(doc, 's0', `B${i + 1}`, String(v)) })
  return doc
}

describe('the filter in the .xlsx', () => {
  it('writes Excel\'s autoFilter with the conditions and hides the rows it filters out', async () => {
    const doc = plan()
    // row 5 (家居) hidden by someone: hidden in the file whatever the filter says
    setHidden(doc, 's0', 'rows', ['s0r4'], true)
    mergeCells(doc, layoutOf(doc), 's0', { rowId: 's0r0', colId: 's0c2' }, { rowId: 's0r1', colId: 's0c2' })
    const filter: SheetFilter = { s0c0: { kind: 'values', values: ['服装', ''] }, s0c1: { kind: 'op', op: '>', value: '100' } }
    const { buffer, report } = await exportXlsx(doc, { filters: { s0: filter } })
    const xml = unzipped(buffer)['xl/worksheets/sheet1.xml']!
    expect(xml).toContain('<autoFilter ref="A1:C7"><filterColumn colId="0"><filters blank="1"><filter val="服装"/></filters></filterColumn>'
      + '<filterColumn colId="1"><customFilters><customFilter operator="greaterThan" val="100"/></customFilters></filterColumn></autoFilter>')
    // the schema's order: the filter before the merged ranges
    expect(xml.indexOf('<autoFilter')).toBeLessThan(xml.indexOf('<mergeCells'))
    expect(xml.indexOf('</sheetData>')).toBeLessThan(xml.indexOf('<autoFilter'))
    expect(report.notes).toEqual([])
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(buffer as unknown as ArrayBuffer)
    const ws = wb.getWorksheet('商品')!
    expect(ws.autoFilter).toBe('A1:C7')
    // kept: 服装 120, (empty) 300, 服装 500; out: 食品 80, 服装 60; 家居 hidden by hand
    expect([2, 3, 4, 5, 6, 7].map(r => !!ws.getRow(r).hidden)).toEqual([false, true, true, false, true, false])
    expect(ws.getCell('B7').value).toBe(500)
  })

  it('comes back as a shared filter view, its rows shown and a hidden row still hidden', async () => {
    const doc = plan()
    setHidden(doc, 's0', 'rows', ['s0r4'], true)
    const { buffer } = await exportXlsx(doc, { filters: { s0: { s0c1: { kind: 'op', op: '>=', value: '120' } } } })
    const back = new Y.Doc()
    const report = buildFromImport(back, await readXlsx(buffer), { fallbackTitle: 't', filterName: '文件中的筛选' })
    const id = sheetIds(back)[0]!
    const sheet = sheetsOf(back).get(id)!
    const rows = visibleRowIds(sheet), cols = visibleColIds(sheet)
    const views = sheetFilterViews(back, id)
    expect(views.map(v => v.view.name)).toEqual(['文件中的筛选'])
    expect(views[0]!.view.conditions).toEqual({ [cols[1]!]: { kind: 'op', op: '>=', value: '120' } })
    // only the row hidden by hand is hidden; 食品 80 and 服装 60 are shown again
    expect([...hiddenIds(back, id, 'rows')]).toEqual([rows[4]])
    expect(report.notes.some(n => n.includes('文件中的筛选'))).toBe(true)
  })

  it('a filter by colour hides its rows and says its condition has no Excel form; text is escaped and wildcards literal', async () => {
    const doc = plan()
    setCellStyle(doc, 's0', [{ rowId: 's0r0', colId: 's0c0' }], { bg: '#ffeb84' })
    const { buffer, report } = await exportXlsx(doc, { filters: { s0: { s0c0: { kind: 'color', bg: '#ffeb84' } } } })
    const xml = unzipped(buffer)['xl/worksheets/sheet1.xml']!
    expect(xml).toContain('<autoFilter ref="A1:C7"></autoFilter>')
    expect((xml.match(/<row [^>]*hidden="1"/g) ?? []).length).toBe(5)
    expect(report.notes.some(n => n.includes('column A') && n.includes('no Excel form'))).toBe(true)
    expect(filterColumnXml({ kind: 'op', op: 'contains', value: '<a&"b*?' })).toBe('<customFilters><customFilter operator="equal" val="*&lt;a&amp;&quot;b~*~?*"/></customFilters>')
    expect(filterColumnXml({ kind: 'op', op: 'notEmpty' })).toBe('<customFilters><customFilter operator="notEqual" val=" "/></customFilters>')
    expect(filterColumnXml({ kind: 'op', op: '>', value: 'abc' })).toBeUndefined()
  })
})
