/**
 * Cut and paste moves cells as Excel does: inputs and formats go, moved formulas keep what they point
 * at, references to the moved cells (and to ranges wholly moved) follow them, references to a range
 * only partly moved stay, references to cells written over become #REF!, across sheets too; one undo
 * step brings everything back.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { moveCells, movedCells, planMove, type Block } from '../../src/core/workbook/move'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { cellStyle, setCellStyle } from '../../src/core/workbook/styles'
import { layoutOf, makeDoc, textAt, type } from '../helpers/workbook'

/** The block of visible A1 range `range` on `sheetId`. */
function block(doc: Y.Doc, sheetId: string, range: string): Block {
  const sl = layoutOf(doc).sheet(sheetId)!
  const [a, b = a] = range.split(':') as [string, string?]
  const pos = (x: string) => ({ row: Number(x.slice(1)) - 1, col: x.charCodeAt(0) - 65 })
  const p = pos(a), q = pos(b!)
  return { sheetId, rowIds: sl.rows.ids.slice(p.row, q.row + 1), colIds: sl.cols.ids.slice(p.col, q.col + 1) }
}

function plan(): Y.Doc {
  const doc = makeDoc([{ name: 'Plan', id: 's0', rows: 10, cols: 8 }, { name: '汇总', id: 's1', rows: 5, cols: 5 }])
  type(doc, 's0', 'A1', '10'); type(doc, 's0', 'A2', '20'); type(doc, 's0', 'A3', '30')
  type(doc, 's0', 'B1', '=A1+A2')
  type(doc, 's0', 'C1', '=SUM(A1:A2)')
  type(doc, 's0', 'C2', '=SUM(A1:A3)')
  type(doc, 's0', 'D1', '=$A$1*2')
  type(doc, 's1', 'A1', '=Plan!A2')
  return doc
}

describe('moving cells (cut and paste)', () => {
  it('references to the moved cells and to ranges wholly moved follow them; a range partly moved stays', () => {
    const doc = plan()
    const engine = new FormulaEngine(doc)
    try {
      const before = ['B1', 'C1', 'C2', 'D1'].map(a => engine.getValue('s0', Number(a.slice(1)) - 1, a.charCodeAt(0) - 65))
      moveCells(doc, block(doc, 's0', 'A1:A2'), block(doc, 's0', 'E5:E6'))
      expect([textAt(doc, 's0', 'A1'), textAt(doc, 's0', 'A2'), textAt(doc, 's0', 'E5'), textAt(doc, 's0', 'E6')]).toEqual(['', '', '10', '20'])
      expect(textAt(doc, 's0', 'B1')).toBe('=E5+E6')
      expect(textAt(doc, 's0', 'C1')).toBe('=SUM(E5:E6)')
      // A1:A3 was only partly moved: it stays (and now sums A3 alone, as in Excel)
      expect(textAt(doc, 's0', 'C2')).toBe('=SUM(A1:A3)')
      expect(textAt(doc, 's0', 'D1')).toBe('=$E$5*2')
      expect(textAt(doc, 's1', 'A1')).toBe('=Plan!E6')
      const after = ['B1', 'C1', 'D1'].map(a => engine.getValue('s0', Number(a.slice(1)) - 1, a.charCodeAt(0) - 65))
      expect(after).toEqual([before[0], before[1], before[3]])
      expect(engine.getValue('s0', 1, 2)).toBe(30)
    } finally {
      engine.destroy()
    }
  })

  it('a moved formula keeps pointing at what it pointed at (no relative shift); its format goes with it', () => {
    const doc = plan()
    setCellStyle(doc, 's0', [{ rowId: 's0r0', colId: 's0c1' }], { b: true, bg: '#ffeb84' })
    moveCells(doc, block(doc, 's0', 'B1'), block(doc, 's0', 'G8'))
    expect(textAt(doc, 's0', 'G8')).toBe('=A1+A2')
    expect(textAt(doc, 's0', 'B1')).toBe('')
    expect(cellStyle(doc, 's0', 's0r7', 's0c6')).toEqual({ b: true, bg: '#ffeb84' })
    expect(cellStyle(doc, 's0', 's0r0', 's0c1')).toEqual({})
  })

  it('a block moved onto itself shifted by one keeps its formulas\' references inside it', () => {
    const doc = plan()
    // B1 =A1+A2 and A1, A2 moved one column right together: B1's text goes to C1 and reads the moved cells
    moveCells(doc, block(doc, 's0', 'A1:B2'), block(doc, 's0', 'B1:C2'))
    expect(textAt(doc, 's0', 'B1')).toBe('10')
    expect(textAt(doc, 's0', 'C1')).toBe('=B1+B2')
    expect(textAt(doc, 's0', 'A1')).toBe('')
  })

  it('a reference to a cell written over becomes #REF!, as in Excel', () => {
    const doc = plan()
    type(doc, 's0', 'F1', '=E5*10')
    type(doc, 's0', 'E5', '99')
    moveCells(doc, block(doc, 's0', 'A3'), block(doc, 's0', 'E5'))
    expect(textAt(doc, 's0', 'E5')).toBe('30')
    expect(textAt(doc, 's0', 'F1')).toBe('=#REF!*10')
    // C2's A1:A3 lost its last cell to the move: partly moved, it stays
    expect(textAt(doc, 's0', 'C2')).toBe('=SUM(A1:A3)')
  })

  it('across sheets: the moved formula names its old sheet, references to it name the new one', () => {
    const doc = plan()
    const engine = new FormulaEngine(doc)
    try {
      moveCells(doc, block(doc, 's0', 'B1'), block(doc, 's1', 'C3'))
      expect(textAt(doc, 's1', 'C3')).toBe('=Plan!A1+Plan!A2')
      expect(engine.getValue('s1', 2, 2)).toBe(30)
      type(doc, 's0', 'H1', '=B1')
      moveCells(doc, block(doc, 's0', 'A2'), block(doc, 's1', 'D1'))
      expect(textAt(doc, 's1', 'C3')).toBe('=Plan!A1+D1')
      expect(textAt(doc, 's1', 'A1')).toBe('=D1')
      expect(textAt(doc, 's0', 'C1')).toBe('=SUM(A1:A2)')
      expect(engine.getValue('s1', 2, 2)).toBe(30)
    } finally {
      engine.destroy()
    }
  })

  it('names every cell it writes, for the access rules to be asked about each (other sheets\' formulas too)', () => {
    const doc = plan()
    const cells = movedCells(planMove(doc, block(doc, 's0', 'A1:A2'), block(doc, 's0', 'E5:E6')))
    const names = cells.map(c => `${c.sheetId}/${c.rowId}:${c.colId}`).sort()
    expect(names).toEqual(['s0/s0r0:s0c0', 's0/s0r0:s0c1', 's0/s0r0:s0c2', 's0/s0r0:s0c3', 's0/s0r1:s0c0', 's0/s0r4:s0c4', 's0/s0r5:s0c4', 's1/s1r0:s1c0'])
  })

  it('is one undo step', () => {
    const doc = plan()
    const origin = { me: 1 }
    const undo = new Y.UndoManager([doc.getMap('sheets'), doc.getMap('styles')], { trackedOrigins: new Set([origin]) })
    moveCells(doc, block(doc, 's0', 'A1:A2'), block(doc, 's0', 'E5:E6'), origin)
    expect(textAt(doc, 's0', 'B1')).toBe('=E5+E6')
    undo.undo()
    expect([textAt(doc, 's0', 'A1'), textAt(doc, 's0', 'B1'), textAt(doc, 's0', 'E5'), textAt(doc, 's1', 'A1')]).toEqual(['10', '=A1+A2', '', '=Plan!A2'])
    expect(() => moveCells(doc, block(doc, 's0', 'A1:A2'), block(doc, 's0', 'E5'))).toThrow(/size/)
  })
})
