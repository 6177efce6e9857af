/** The fill handle's texts: formulas shifted, series continued (numbers, dates, 第1周), backwards when dragged up or left. */
import { describe, expect, it } from 'vitest'
import { fillTexts } from '../../src/core/workbook/fill'

describe('fill handle', () => {
  it('shifts relative references of formulas, never absolute ones, down and right', () => {
    expect(fillTexts([['=A1*2']], 'down', 3)).toEqual([['=A2*2'], ['=A3*2'], ['=A4*2']])
    expect(fillTexts([['=SUM($B$1:B1)']], 'down', 2)).toEqual([['=SUM($B$1:B2)'], ['=SUM($B$1:B3)']])
    expect(fillTexts([['=A1+$A1+A$1']], 'right', 2)).toEqual([['=B1+$A1+B$1', '=C1+$A1+C$1']])
    // two source rows cycle, each shifted by how far its copy moved
    expect(fillTexts([['=A1'], ['=B1']], 'down', 3)).toEqual([['=A3'], ['=B3'], ['=A5']])
    // dragged up: a row above gets a reference one row up; past row 1 it is #REF!
    expect(fillTexts([['=A3']], 'up', 2)).toEqual([['=A1'], ['=A2']])
    expect(fillTexts([['=A1']], 'up', 1)).toEqual([['=#REF!']])
  })

  it('continues series: numbers by their step, dates by day, counted text keeping zeros; single numbers and plain text repeat', () => {
    expect(fillTexts([['1'], ['2']], 'down', 3)).toEqual([['3'], ['4'], ['5']])
    expect(fillTexts([['10'], ['7.5']], 'down', 2)).toEqual([['5'], ['2.5']])
    expect(fillTexts([['5']], 'down', 2)).toEqual([['5'], ['5']])
    expect(fillTexts([['2025-06-30']], 'down', 2)).toEqual([['2025-07-01'], ['2025-07-02']])
    expect(fillTexts([['2025-01-01'], ['2025-01-08']], 'down', 1)).toEqual([['2025-01-15']])
    expect(fillTexts([['第1周']], 'down', 3)).toEqual([['第2周'], ['第3周'], ['第4周']])
    expect(fillTexts([['SKU-009']], 'right', 2)).toEqual([['SKU-010', 'SKU-011']])
    expect(fillTexts([['Q1'], ['Q3']], 'down', 1)).toEqual([['Q5']])
    expect(fillTexts([['华东'], ['华南']], 'down', 3)).toEqual([['华东'], ['华南'], ['华东']])
    // backwards when dragged up
    expect(fillTexts([['3'], ['4']], 'up', 2)).toEqual([['1'], ['2']])
    expect(fillTexts([['第3周']], 'up', 2)).toEqual([['第1周'], ['第2周']])
  })
})
