import { describe, expect, it } from 'vitest'
import { formatValue, generalNumber } from '../../src/core/format'
import { inputFromText, parseNumber, parseDate, textForInput, dateToSerial, serialToDate } from '../../src/core/workbook/input'
import { layoutOf, makeDoc } from '../helpers/workbook'

describe('display formats by column type', () => {
  it('formats percent, currency, dates and numbers as Excel shows them', () => {
    expect(formatValue(0.6, { type: 'percent' })).toBe('60.00%')
    expect(formatValue(0.1875, { type: 'percent' })).toBe('18.75%')
    expect(formatValue(1234, { type: 'currency' })).toBe('¥1,234.00')
    expect(formatValue(-5.5, { type: 'currency', currency: '$' })).toBe('-$5.50')
    expect(formatValue(dateToSerial('2026-06-18'), { type: 'date' })).toBe('2026-06-18')
    expect(formatValue(1234567.891, { type: 'number', decimals: 1 })).toBe('1,234,567.9')
    expect(formatValue(0.1 + 0.2)).toBe('0.3')
    expect(formatValue({ error: '#DIV/0!' })).toBe('#DIV/0!')
    expect(formatValue(true)).toBe('TRUE')
    expect(formatValue(null)).toBe('')
    expect(generalNumber(1 / 3)).toBe('0.333333333333')
  })
})

describe('typed text → inputs', () => {
  const doc = makeDoc()
  const ctx = { layout: layoutOf(doc), sheetId: 's0' }
  it('reads numbers, percents, currency, booleans and dates', () => {
    expect(parseNumber('1,234.5')).toBe(1234.5)
    expect(parseNumber('12%')).toBe(0.12)
    expect(parseNumber('¥1,200')).toBe(1200)
    expect(parseNumber('-3')).toBe(-3)
    expect(parseNumber('1,23')).toBeUndefined()
    expect(parseNumber('abc')).toBeUndefined()
    expect(parseDate('2026/6/18')).toBe('2026-06-18')
    expect(parseDate('2026-02-30')).toBeUndefined()
    expect(inputFromText('TRUE', ctx)).toBe(true)
    expect(inputFromText('2026-6-1', ctx)).toEqual({ t: 'd', v: '2026-06-01' })
    expect(inputFromText('15', ctx, { type: 'percent' })).toBe(0.15)
    expect(inputFromText('15%', ctx, { type: 'percent' })).toBe(0.15)
    expect(inputFromText('007', ctx, { type: 'text' })).toBe('007')
    expect(inputFromText("'123", ctx)).toBe('123')
    expect(inputFromText('', ctx)).toBeNull()
  })
  it('reads dates as people in China type them, and in a date column what Excel takes there', () => {
    expect(parseDate('2025年6月18日')).toBe('2025-06-18')
    expect(parseDate('2025年6月18')).toBe('2025-06-18')
    expect(parseDate('6月18日', 2026)).toBe('2026-06-18')
    expect(parseDate('2月30日', 2026)).toBeUndefined()
    expect(parseDate('2025.6.18')).toBe('2025-06-18')
    const year = new Date().getFullYear()
    expect(inputFromText('2025年6月18日', ctx)).toEqual({ t: 'd', v: '2025-06-18' })
    expect(inputFromText('6月18日', ctx)).toEqual({ t: 'd', v: `${year}-06-18` })
    const date = { type: 'date' as const }
    expect(inputFromText('45826', ctx, date)).toEqual({ t: 'd', v: '2025-06-18' })
    expect(inputFromText('6/18', ctx, date)).toEqual({ t: 'd', v: `${year}-06-18` })
    expect(inputFromText('2025/6/18', ctx, date)).toEqual({ t: 'd', v: '2025-06-18' })
    // outside a date column a number stays a number, and 6/18 text
    expect(inputFromText('45826', ctx)).toBe(45826)
    expect(inputFromText('6/18', ctx)).toBe('6/18')
    expect(inputFromText('待定', ctx, date)).toBe('待定')
  })
  it('gives back editable text that reads as the same input', () => {
    for (const [text, col] of [['0.15', undefined], ['15%', { type: 'percent' as const }], ["'123", undefined], ['天猫', undefined], ['2026-06-18', undefined], ['=SUM(A1:A3)', undefined]] as const) {
      const input = inputFromText(text, ctx, col)
      expect(inputFromText(textForInput(input, ctx, col), ctx, col)).toEqual(input)
    }
    expect(serialToDate(dateToSerial('1999-12-31'))).toBe('1999-12-31')
  })
})
