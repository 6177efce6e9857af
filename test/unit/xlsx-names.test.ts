/** Defined names of an .xlsx put in place of their uses in formula text (server/import/names.ts). */
import { describe, expect, it } from 'vitest'
import { inlineNames, namesFor, readDefinedNames } from '../../server/import/names'

describe('defined names', () => {
  const xml = `<workbook><definedNames>
    <definedName name="_xlnm.Print_Area" localSheetId="0">Data!$A$1:$C$9</definedName>
    <definedName name="Sales">Data!$B$2:$B$9</definedName>
    <definedName name="Rate">0.13</definedName>
    <definedName name="Net">Sales*(1-Rate)</definedName>
    <definedName name="Rate" localSheetId="1">0.2</definedName>
    <definedName name="区域">'市场 分析'!$A$1:$A$3</definedName>
  </definedNames></workbook>`
  const names = readDefinedNames(xml)

  it("reads names, leaving out Excel's own, with their sheet", () => {
    expect(names.map(n => n.name)).toEqual(['Sales', 'Rate', 'Net', 'Rate', '区域'])
    expect(names[3]).toEqual({ name: 'Rate', text: '0.2', sheet: 1 })
  })

  it("replaces uses, not strings, functions, sheet names or cell references; a sheet's own name first", () => {
    const used = new Set<string>()
    const book = namesFor(names, 0)
    expect(inlineNames('SUM(Sales)*Rate&"Sales"', book, used)).toBe('SUM(Data!$B$2:$B$9)*(0.13)&"Sales"')
    expect(inlineNames('SUM(Net)', book, used)).toBe('SUM((Data!$B$2:$B$9*(1-(0.13))))')
    expect(inlineNames("COUNT(区域)+'Sales'!A1+Sales!B2+RATE(1,2,3)", book, used)).toBe("COUNT('市场 分析'!$A$1:$A$3)+'Sales'!A1+Sales!B2+RATE(1,2,3)")
    expect(inlineNames('Rate', namesFor(names, 1), used)).toBe('(0.2)')
    expect([...used].sort()).toEqual(['Net', 'Rate', 'Sales', '区域'])
  })

  it('a name that names itself stops', () => {
    const loop = namesFor(readDefinedNames('<definedName name="A">B+1</definedName><definedName name="B">A+1</definedName>'), 0)
    expect(inlineNames('A', loop, new Set()).length).toBeLessThan(200)
  })

  it('names that multiply are refused past 100,000 characters, not built', () => {
    const many = (n: string) => Array(50).fill(n).join('+')
    const bomb = namesFor(readDefinedNames(`<definedName name="A">${many('B')}</definedName><definedName name="B">${many('C')}</definedName><definedName name="C">${many('D')}</definedName><definedName name="D">1</definedName>`), 0)
    expect(() => inlineNames('A', bomb, new Set())).toThrow(/^limit: a formula longer than 100000/)
  })
})
