import { describe, expect, it } from 'vitest'
import { decodeFormula, encodeFormula, colToLetters, lettersToCol, shiftA1Formula, OPEN } from '../../src/core/formulas/references'
import { makeDoc, layoutOf } from '../helpers/workbook'
import { deleteRows, insertRows, renameSheet, deleteCols, deleteSheet } from '../../src/core/workbook/mutations'

const doc = () => makeDoc([{ name: 'Sheet1', id: 's0', rows: 20, cols: 10 }, { name: '市场分析', id: 's1', rows: 20, cols: 10 }, { name: "Bob's plan", id: 's2' }])

function roundTrip(text: string, sheetId = 's0') {
  const d = doc()
  const layout = layoutOf(d)
  const stored = encodeFormula(text, { layout, sheetId })
  return { stored, back: decodeFormula(stored, { layout, sheetId }) }
}

describe('column letters', () => {
  it('converts both ways', () => {
    expect(colToLetters(0)).toBe('A')
    expect(colToLetters(25)).toBe('Z')
    expect(colToLetters(26)).toBe('AA')
    expect(colToLetters(16383)).toBe('XFD')
    for (const n of [0, 1, 25, 26, 27, 51, 52, 701, 702, 16383]) expect(lettersToCol(colToLetters(n))).toBe(n)
  })
})

describe('reference codec', () => {
  it.each([
    '=A1',
    '=SUM(B2:B5)',
    '=$A$1+A$2+$A3',
    '=SUM(A:A)',
    '=SUM($B:$C)',
    '=SUM(2:3)',
    "='市场分析'!B2",
    "=SUM('市场分析'!B2:C4)*2",
    "='Bob''s plan'!A1",
    '=IFERROR(G2/F2,0)',
    '=IF(A1>0,"A1 is text: B2",LOG10(A2))',
    '=Sheet1!A1+A1',
  ])('round-trips %s', (f) => {
    const { stored, back } = roundTrip(f)
    expect(stored).toContain(OPEN)
    expect(stored).not.toMatch(/\bB2\b(?![^"]*")/) // positions are gone from the stored form (outside strings)
    expect(back).toBe(f)
  })

  it('keeps string literals verbatim and does not read function names as references', () => {
    const { stored } = roundTrip('=CONCAT("A1:B2",LOG10(A1))')
    expect(stored.startsWith('=CONCAT("A1:B2",LOG10(')).toBe(true)
  })

  it('writes unquoted Chinese sheet names back quoted', () => {
    expect(roundTrip('=市场分析!B2').back).toBe("='市场分析'!B2")
  })

  it('normalises a reversed range', () => {
    expect(roundTrip('=SUM(B5:A1)').back).toBe('=SUM(A1:B5)')
  })

  it('leaves references outside the sheet and to unknown sheets as text', () => {
    expect(roundTrip('=A500+Nope!A1').stored).toBe('=A500+Nope!A1')
  })

  it('follows rows inserted above and inside a range', () => {
    const d = doc()
    const stored = encodeFormula('=SUM(B2:B5)+B7', { layout: layoutOf(d), sheetId: 's0' })
    insertRows(d, 's0', 0, 1)
    insertRows(d, 's0', 3, 2)
    expect(decodeFormula(stored, { layout: layoutOf(d), sheetId: 's0' })).toBe('=SUM(B3:B8)+B10')
  })

  it('gives #REF! for a deleted cell and shrinks ranges whose ends are deleted', () => {
    const d = doc()
    const stored = encodeFormula('=B3+SUM(B2:B5)', { layout: layoutOf(d), sheetId: 's0' })
    deleteRows(d, 's0', 2, 1) // row 3
    expect(decodeFormula(stored, { layout: layoutOf(d), sheetId: 's0' })).toBe('=#REF!+SUM(B2:B4)')
    deleteRows(d, 's0', 3, 1) // old row 5, the range end
    expect(decodeFormula(stored, { layout: layoutOf(d), sheetId: 's0' })).toBe('=#REF!+SUM(B2:B3)')
    deleteRows(d, 's0', 1, 2) // the rest of the range
    expect(decodeFormula(stored, { layout: layoutOf(d), sheetId: 's0' })).toBe('=#REF!+SUM(#REF!)')
  })

  it('does not grow a range whose deleted start row gets a new row above', () => {
    const d = doc()
    const stored = encodeFormula('=SUM(B2:B5)', { layout: layoutOf(d), sheetId: 's0' })
    deleteRows(d, 's0', 1, 1)
    expect(decodeFormula(stored, { layout: layoutOf(d), sheetId: 's0' })).toBe('=SUM(B2:B4)')
    insertRows(d, 's0', 1, 1)
    expect(decodeFormula(stored, { layout: layoutOf(d), sheetId: 's0' })).toBe('=SUM(B3:B5)')
  })

  it('whole columns deleted become #REF!', () => {
    const d = doc()
    const stored = encodeFormula('=SUM(B:B)+SUM(A:C)', { layout: layoutOf(d), sheetId: 's0' })
    deleteCols(d, 's0', 1, 1)
    expect(decodeFormula(stored, { layout: layoutOf(d), sheetId: 's0' })).toBe('=SUM(#REF!)+SUM(A:B)')
  })

  it('follows sheet renames and gives #REF! for deleted sheets', () => {
    const d = doc()
    const stored = encodeFormula("='市场分析'!B2*2", { layout: layoutOf(d), sheetId: 's0' })
    renameSheet(d, 's1', '竞品分析')
    expect(decodeFormula(stored, { layout: layoutOf(d), sheetId: 's0' })).toBe("='竞品分析'!B2*2")
    expect(decodeFormula(stored, { layout: layoutOf(d), sheetId: 's0' }, { sheetLabel: 'id' })).toBe("='s1'!B2*2")
    deleteSheet(d, 's1')
    expect(decodeFormula(stored, { layout: layoutOf(d), sheetId: 's0' })).toBe('=#REF!*2')
  })

  it('shifts relative references when a formula is copied', () => {
    expect(shiftA1Formula('=SUM(B2:B5)*$C$1+D$3', 1, 2)).toBe('=SUM(D3:D6)*$C$1+F$3')
    expect(shiftA1Formula("='市场分析'!A1", 2, 0)).toBe("='市场分析'!A3")
    expect(shiftA1Formula('=A1', -1, 0)).toBe('=#REF!')
  })
})
