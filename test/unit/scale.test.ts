/**
 * Colour scales and data bars: the colours the grid gives, the junk it ignores, and the XLSX export as
 * Excel conditional formats that an import reads back.
 */
import { describe, expect, it } from 'vitest'
import ExcelJS from 'exceljs'
import * as Y from 'yjs'
import { blend, extentOf, scaleLook, validScale } from '../../src/core/workbook/scale'
import { exportXlsx } from '../../server/export/xlsx'
import { buildFromImport, readXlsx } from '../../server/import/xlsx'
import { setColumnMeta, setTotalsRow } from '../../src/core/workbook/mutations'
import { sheetIds, sheetParts, sheetsOf, visibleColIds, type ColumnMeta } from '../../src/core/workbook/schema'
import { makeDoc, type } from '../helpers/workbook'

describe('colour scales and data bars', () => {
  it('blends from the lowest to the highest number of the data, through the middle colour', () => {
    const e = extentOf([10, 'x', null, 30, 20, { error: '#DIV/0!' }])
    expect(e).toEqual({ min: 10, max: 30 })
    const two = { kind: 'scale', min: '#000000', max: '#ffffff' } as const
    expect(scaleLook(two, 10, e)).toEqual({ bg: '#000000' })
    expect(scaleLook(two, 30, e)).toEqual({ bg: '#ffffff' })
    expect(scaleLook(two, 20, e)).toEqual({ bg: '#808080' })
    const three = { kind: 'scale', min: '#f8696b', mid: '#ffeb84', max: '#63be7b' } as const
    expect(scaleLook(three, 20, e)).toEqual({ bg: '#ffeb84' })
    expect(scaleLook(three, 15, e)).toEqual({ bg: blend('#f8696b', '#ffeb84', 0.5) })
    expect(scaleLook({ kind: 'bar', color: '#638ec6' }, 25, e)).toEqual({ bar: '#638ec6', pct: 75 })
    // text, empty and errors get nothing; all-equal numbers are full
    expect(scaleLook(two, 'x', e)).toBeUndefined()
    expect(scaleLook(two, 5, null)).toBeUndefined()
    expect(scaleLook({ kind: 'bar', color: '#638ec6' }, 7, { min: 7, max: 7 })).toEqual({ bar: '#638ec6', pct: 100 })
  })

  it('ignores a scale a co-editor wrote wrong (nothing but #rrggbb reaches a style)', () => {
    expect(validScale({ kind: 'bar', color: 'red' })).toBeUndefined()
    expect(validScale({ kind: 'bar', color: 'url(https://x.example/a.png)' })).toBeUndefined()
    expect(validScale({ kind: 'scale', min: '#000000' })).toBeUndefined()
    expect(validScale({ kind: 'scale', min: '#000000', mid: 'x', max: '#FFFFFF' })).toEqual({ kind: 'scale', min: '#000000', max: '#FFFFFF' })
    expect(validScale('bar')).toBeUndefined()
  })

  it('exports as Excel colour scales and data bars over the data rows, and an import reads them back', async () => {
    const doc = makeDoc([{ name: 'KPI', id: 's0', rows: 5, cols: 3 }])
    setColumnMeta(doc, 's0', 's0c0', { title: '达成率', type: 'number', scale: { kind: 'scale', min: '#f8696b', mid: '#ffeb84', max: '#63be7b' } })
    setColumnMeta(doc, 's0', 's0c1', { title: '销售额', type: 'number', scale: { kind: 'bar', color: '#638ec6' }, rules: [{ op: '<', value: 0, style: 'bad' }] })
    setColumnMeta(doc, 's0', 's0c2', { title: '备注' })
    for (const [r, a, b] of [[1, 0.5, 100], [2, 0.9, -20], [3, 1.2, 300]] as const) { type(doc, 's0', `A${r}`, String(a)); type(doc, 's0', `B${r}`, String(b)) }
    type(doc, 's0', 'A5', '=SUM(A1:A3)'); type(doc, 's0', 'B5', '=SUM(B1:B3)')
    setTotalsRow(doc, 's0', 's0r4')
    const { buffer } = await exportXlsx(doc)
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(buffer as unknown as ArrayBuffer)
    const cf = (wb.worksheets[0] as unknown as { conditionalFormattings: { ref: string; rules: { type: string; priority: number; cfvo?: { type: string }[]; color?: unknown }[] }[] }).conditionalFormattings
    const scale = cf.find(x => x.rules[0]!.type === 'colorScale')
    // header in row 1, data in rows 2–5 (the empty fourth row is data too), the totals row (6) left out
    expect(scale?.ref).toBe('A2:A5')
    expect(scale?.rules[0]!.cfvo?.map(c => c.type)).toEqual(['min', 'percent', 'max'])
    const bar = cf.find(x => x.rules[0]!.type === 'dataBar')
    expect(bar?.ref).toBe('B2:B5')
    // the colour rule comes first and stops the bar, as the grid draws it
    const rule = cf.find(x => x.ref.startsWith('B2') && x.rules[0]!.type === 'expression')
    expect(rule!.rules[0]!.priority).toBeLessThan(bar!.rules[0]!.priority)

    const back = new Y.Doc()
    buildFromImport(back, await readXlsx(buffer), { fallbackTitle: 't' })
    const sheet = sheetsOf(back).get(sheetIds(back)[0]!)!
    const metas = visibleColIds(sheet).map(c => sheetParts(sheet).colMeta.get(c) as ColumnMeta | undefined)
    expect(metas[0]?.scale).toEqual({ kind: 'scale', min: '#f8696b', mid: '#ffeb84', max: '#63be7b' })
    expect(metas[1]?.scale).toEqual({ kind: 'bar', color: '#638ec6' })
    expect(metas[2]?.scale).toBeUndefined()
  })
})
