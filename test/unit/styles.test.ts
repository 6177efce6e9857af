/**
 * Cell formats in the doc: set, taken off, toggled as Excel does, merged per property when two people
 * format one cell at once, kept with their cell through inserts and deletes, undone per person.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { addSheet, deleteRows, insertRows } from '../../src/core/workbook/mutations'
import { visibleColIds, visibleRowIds, sheetsOf } from '../../src/core/workbook/schema'
import { cellStyle, clearCellStyle, parseStyleKey, setBorders, setCellStyle, sheetStyles, styleKey, toggled } from '../../src/core/workbook/styles'
import { personalUndo } from '../../src/sync/undo'

function sheetDoc() {
  const doc = new Y.Doc()
  const sheet = addSheet(doc, { name: 'S', rows: 5, cols: 3 })
  const s = sheetsOf(doc).get(sheet)!
  return { doc, sheet, rows: visibleRowIds(s), cols: visibleColIds(s) }
}

describe('cell formats', () => {
  it('are set, taken off and cleared; bad values are refused before they reach the doc', () => {
    const { doc, sheet, rows, cols } = sheetDoc()
    const a1 = { rowId: rows[0]!, colId: cols[0]! }, b1 = { rowId: rows[0]!, colId: cols[1]! }
    setCellStyle(doc, sheet, [a1, b1], { b: true, fc: '#c00000', ha: 'center' })
    expect(cellStyle(doc, sheet, a1.rowId, a1.colId)).toEqual({ b: true, fc: '#c00000', ha: 'center' })
    setCellStyle(doc, sheet, [a1], { b: null, bg: '#fff2cc' })
    expect(cellStyle(doc, sheet, a1.rowId, a1.colId)).toEqual({ fc: '#c00000', ha: 'center', bg: '#fff2cc' })
    expect([...sheetStyles(doc, sheet).keys()].sort()).toEqual([`${a1.rowId}:${a1.colId}`, `${b1.rowId}:${b1.colId}`].sort())
    clearCellStyle(doc, sheet, [a1])
    expect(cellStyle(doc, sheet, a1.rowId, a1.colId)).toEqual({})
    expect(() => setCellStyle(doc, sheet, [a1], { fc: 'red' })).toThrow(/not a format/)
    expect(() => setCellStyle(doc, sheet, [a1], { ha: 'justify' as never })).toThrow(/not a format/)
    expect(parseStyleKey(styleKey(sheet, a1.rowId, a1.colId, 'wrap'))).toEqual({ sheetId: sheet, rowId: a1.rowId, colId: a1.colId, prop: 'wrap' })
    expect(parseStyleKey('s/r:c#nope')).toBeNull()
    // number formats: Excel codes, checked before they reach the doc
    setCellStyle(doc, sheet, [a1], { nf: '0\\.0,"万"' })
    expect(cellStyle(doc, sheet, a1.rowId, a1.colId).nf).toBe('0\\.0,"万"')
    expect(() => setCellStyle(doc, sheet, [a1], { nf: '0.0.0"' })).toThrow(/not a format/)
    expect(() => setCellStyle(doc, sheet, [a1], { nf: '0'.repeat(101) })).toThrow(/not a format/)
  })

  it('borders: every edge, the outline of a block, or none', () => {
    const { doc, sheet, rows, cols } = sheetDoc()
    const block = { rowIds: rows.slice(0, 2), colIds: cols.slice(0, 3) }
    setBorders(doc, sheet, block, 'outer')
    expect(cellStyle(doc, sheet, rows[0]!, cols[0]!)).toEqual({ bt: true, bl: true })
    expect(cellStyle(doc, sheet, rows[0]!, cols[1]!)).toEqual({ bt: true })
    expect(cellStyle(doc, sheet, rows[1]!, cols[2]!)).toEqual({ bb: true, br: true })
    setBorders(doc, sheet, block, 'all')
    expect(cellStyle(doc, sheet, rows[0]!, cols[1]!)).toEqual({ bt: true, bb: true, bl: true, br: true })
    setBorders(doc, sheet, block, 'none')
    expect(sheetStyles(doc, sheet).size).toBe(0)
  })

  it('toggle as Excel does: on for all unless the first cell has it', () => {
    const { doc, sheet, rows, cols } = sheetDoc()
    const cells = [{ rowId: rows[0]!, colId: cols[0]! }, { rowId: rows[1]!, colId: cols[0]! }]
    setCellStyle(doc, sheet, [cells[1]!], { i: true })
    expect(toggled(doc, sheet, cells, 'i')).toEqual({ i: true })
    setCellStyle(doc, sheet, cells, { i: true })
    expect(toggled(doc, sheet, cells, 'i')).toEqual({ i: null })
  })

  it('two people formatting one cell at once keep both formats; a format stays with its cell through inserts and an undone delete', () => {
    const { doc: a, sheet, rows, cols } = sheetDoc()
    const b = new Y.Doc()
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const cell = { rowId: rows[2]!, colId: cols[1]! }
    setCellStyle(a, sheet, [cell], { b: true })
    setCellStyle(b, sheet, [cell], { bg: '#ddebf7' })
    insertRows(b, sheet, 0, 2)
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b))
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    for (const d of [a, b]) {
      expect(cellStyle(d, sheet, cell.rowId, cell.colId)).toEqual({ b: true, bg: '#ddebf7' })
      // the row is now the fifth, and its format with it
      expect(visibleRowIds(sheetsOf(d).get(sheet)!)[4]).toBe(cell.rowId)
    }
    const origin = { who: 'me' }
    const undo = personalUndo(a, origin)
    deleteRows(a, sheet, 4, 1, origin)
    expect(visibleRowIds(sheetsOf(a).get(sheet)!)).not.toContain(cell.rowId)
    undo.undo()
    expect(visibleRowIds(sheetsOf(a).get(sheet)!)[4]).toBe(cell.rowId)
    expect(cellStyle(a, sheet, cell.rowId, cell.colId)).toEqual({ b: true, bg: '#ddebf7' })
    undo.destroy()
  })

  it("are undone per person, each change one step, a colleague's left alone", () => {
    const { doc: a, sheet, rows, cols } = sheetDoc()
    const b = new Y.Doc()
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
    const mine = { who: 'me' }
    const undo = personalUndo(a, mine)
    const cell = { rowId: rows[0]!, colId: cols[0]! }
    setCellStyle(a, sheet, [cell], { b: true }, mine)
    undo.newStep()
    setCellStyle(a, sheet, [cell], { fc: '#0070c0' }, mine)
    setCellStyle(b, sheet, [cell], { u: true })
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b))
    undo.undo()
    expect(cellStyle(a, sheet, cell.rowId, cell.colId)).toEqual({ b: true, u: true })
    undo.undo()
    expect(cellStyle(a, sheet, cell.rowId, cell.colId)).toEqual({ u: true })
    undo.destroy()
  })
})
