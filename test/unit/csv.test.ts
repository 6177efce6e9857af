/**
 * The CSV core on bytes made here with iconv-lite: encoding detection (BOM, UTF-16 with and without a
 * mark, UTF-8, GBK, GB18030 with characters GBK lacks), delimiter and header sniffing (title lines
 * skipped), RFC 4180 parsing over chunks cut anywhere, type guessing and coercion, and writing a table
 * into a doc (new workbook; append and replace matching columns by title).
 */
import { describe, expect, it } from 'vitest'
import iconv from 'iconv-lite'
import * as Y from 'yjs'
import { detectEncoding, textDecoderFor, type CsvEncoding } from '../../src/core/csv/decode'
import { CsvParser, parseCsv, type Delimiter } from '../../src/core/csv/parse'
import { detectHeader, sniff, sniffDelimiter } from '../../src/core/csv/sniff'
import { coerceField, guessColumn, noCoercions, readField } from '../../src/core/csv/guess'
import { guessColumns, tableOf } from '../../src/core/csv/table'
import { buildCsvWorkbook, matchColumns, writeIntoSheet } from '../../src/core/csv/build'
import { previewCsv } from '../../src/core/csv/preview'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { cellKey, sheetIds, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'

const CN = '店铺,商品,销售额,转化率,日期\n天猫旗舰店,羽绒服,"1,234.50",12.5%,2025年6月18日\n京东自营,保温杯,￥3600,8%,2025-06-19\n'
const bytes = (text: string, enc: string, bom = false) => new Uint8Array(iconv.encode(text, enc, { addBOM: bom }))
const decodeAll = (b: Uint8Array, e: CsvEncoding) => { const d = textDecoderFor(e); return d.write(b) + d.end() }

describe('decode', () => {
  it.each<[string, string, boolean, CsvEncoding]>([
    ['UTF-8 with a BOM', 'utf8', true, 'utf-8'],
    ['UTF-8', 'utf8', false, 'utf-8'],
    ['UTF-16 LE with a BOM', 'utf16le', true, 'utf-16le'],
    ['UTF-16 LE without', 'utf16le', false, 'utf-16le'],
    ['UTF-16 BE with a BOM', 'utf16be', true, 'utf-16be'],
    ['GBK', 'gbk', false, 'gbk'],
  ])('%s is detected and decodes to the Chinese headers', (_, enc, bom, expected) => {
    const b = bytes(CN, enc, bom)
    expect(detectEncoding(b).encoding).toBe(expected)
    expect(decodeAll(b, expected)).toBe(CN)
  })

  it('GB18030 with characters outside GBK (CJK extension B, 䶮) is told from GBK', () => {
    const text = '名称,备注\n𠀀𠮷字,䶮字\n'
    const b = bytes(text, 'gb18030')
    expect(detectEncoding(b).encoding).toBe('gb18030')
    expect(decodeAll(b, 'gb18030')).toBe(text)
    // GBK has no such character: iconv writes a "?" in its place
    expect(iconv.decode(iconv.encode(text, 'gbk'), 'gbk')).not.toBe(text)
  })

  it('a UTF-8 character cut at the end of the sample still reads as UTF-8', () => {
    const b = bytes('销售额'.repeat(10), 'utf8')
    expect(detectEncoding(b.subarray(0, b.length - 1)).encoding).toBe('utf-8')
  })
})

describe('parse', () => {
  it('quoted delimiters, doubled quotes and line breaks, CRLF cut between chunks, a last line without a break', () => {
    const text = 'a,b,c\r\n"x, y","say ""hi""","line1\r\nline2"\r\n\r\n1,2,3'
    const whole = parseCsv(text, ',')
    expect(whole).toEqual([['a', 'b', 'c'], ['x, y', 'say "hi"', 'line1\r\nline2'], ['1', '2', '3']])
    for (let cut = 1; cut < text.length; cut++) {
      const p = new CsvParser(',')
      const out: string[][] = []
      p.push(text.slice(0, cut), out); p.push(text.slice(cut), out); p.end(out)
      expect(out, `cut at ${cut}`).toEqual(whole)
    }
  })

  it('sniffs comma, tab, semicolon and pipe', () => {
    for (const d of [',', '\t', ';', '|'] as Delimiter[]) {
      const text = ['店铺', '销售额', '备注'].join(d) + '\n' + ['天猫', '1,200', 'a;b|c'].join(d) + '\n' + ['京东', '300', 'x'].join(d) + '\n'
      expect(sniffDelimiter(d === ',' ? text.replace('1,200', '"1,200"') : text)).toBe(d)
    }
  })

  it('skips title lines above the header; a first row of numbers is no header', () => {
    const rows = parseCsv('2025年6月 店铺销售报表,,,\n导出时间：2025-06-30,,,\n店铺,商品,销售额,日期\n天猫,羽绒服,100,2025-06-18\n', ',')
    expect(detectHeader(rows)).toMatchObject({ header: 2, skip: 2 })
    expect(detectHeader(parseCsv('1,2,3\n4,5,6\n', ','))).toMatchObject({ header: -1 })
    expect(sniff('a\tb\n1\t2\n').delimiter).toBe('\t')
  })
})

describe('guess and coerce', () => {
  it('reads the forms e-commerce sheets use', () => {
    expect(readField('1,234.50')).toMatchObject({ kind: 'number', value: 1234.5, decimals: 2, grouped: true })
    expect(readField('12.5%')).toMatchObject({ kind: 'percent', value: 0.125, decimals: 1 })
    expect(readField('¥3,600')).toMatchObject({ kind: 'currency', value: 3600, symbol: '¥' })
    expect(readField('￥3,600.5')).toMatchObject({ kind: 'currency', value: 3600.5, symbol: '¥' })
    expect(readField('3,600元')).toMatchObject({ kind: 'currency', value: 3600 })
    expect(readField('2025年6月18日')).toMatchObject({ kind: 'date', value: '2025-06-18' })
    expect(readField('3.2万')).toMatchObject({ kind: 'wan', value: 32000 })
    expect(readField('1.5亿')).toMatchObject({ kind: 'wan', value: 150000000 })
    expect(readField('00123')).toMatchObject({ kind: 'code' })
    expect(readField('202506181234567890')).toMatchObject({ kind: 'code' })
    expect(readField("=cmd|' /C calc'!A0")).toMatchObject({ kind: 'formula' })
    expect(readField('-12')).toMatchObject({ kind: 'number', value: -12 })
  })

  it('a column is the type most of its cells are; the rest stay text and are counted', () => {
    expect(guessColumn(['12.5%', '8%', ''])).toMatchObject({ type: 'percent', decimals: 1 })
    expect(guessColumn(['¥3,600', '¥120'])).toMatchObject({ type: 'currency', currency: '¥', decimals: 0 })
    expect(guessColumn(['3.2万', '1,200', '5'])).toMatchObject({ type: 'number', decimals: 0 })
    expect(guessColumn(['2025年6月18日', '2025-06-19'])).toMatchObject({ type: 'date' })
    expect(guessColumn(['天猫', '12'])).toMatchObject({ type: 'text' })
    const c = noCoercions()
    expect(coerceField('N/A', 'number', false, c)).toBe('N/A')
    expect(coerceField('3.2万', 'number', false, c)).toBe(32000)
    expect(coerceField("=cmd|' /C calc'!A0", 'text', false, c)).toBe("=cmd|' /C calc'!A0")
    expect(coerceField('=1+2', 'number', true, c)).toEqual({ formulaText: '=1+2' })
    expect(c).toMatchObject({ keptText: 1, wan: 1, formulasAsText: 1, formulas: 1 })
  })
})

describe('build', () => {
  const rows = parseCsv('销售报表\n店铺,销售额,转化率,日期,单号\n天猫,"1,234.50",12.5%,2025年6月18日,00123\n京东,3.2万,8%,2025-06-19,00124\n', ',')

  it('a new workbook: titles, types, values; title lines and the header row are not rows', () => {
    const t = tableOf(rows)
    expect(t).toMatchObject({ titles: ['店铺', '销售额', '转化率', '日期', '单号'], skipped: 1, header: true })
    const doc = new Y.Doc()
    const r = buildCsvWorkbook(doc, t, guessColumns(t), { title: '导入', sheetName: '数据', formulas: false })
    const sl = new WorkbookLayout(doc).sheet(r.sheetId)!
    const p = sheetParts(sheetsOf(doc).get(r.sheetId)!)
    const at = (row: number, col: number) => p.cells.get(cellKey(sl.rows.ids[row]!, sl.cols.ids[col]!))
    expect([at(0, 0), at(0, 1), at(0, 2), at(0, 3), at(0, 4)]).toEqual(['天猫', 1234.5, 0.125, { t: 'd', v: '2025-06-18' }, '00123'])
    expect(at(1, 1)).toBe(32000)
    const metas = sl.cols.ids.slice(0, 5).map(c => p.colMeta.get(c) as ColumnMeta)
    expect(metas.map(m => m.type)).toEqual([undefined, 'number', 'percent', 'date', undefined])
    expect(metas[1]).toMatchObject({ title: '销售额', decimals: 2 })
    expect(r.coerced).toMatchObject({ numbers: 1, wan: 1, percents: 2, dates: 2 })
  })

  it('append and replace match columns by title, in the target columns\' types', () => {
    const doc = new Y.Doc()
    const first = tableOf(rows)
    const { sheetId } = buildCsvWorkbook(doc, first, guessColumns(first), { title: 'x', sheetName: '数据', formulas: false })
    const more = tableOf(parseCsv('单号,销售额,新列\n00125,"2,000",x\n', ','))
    const m = matchColumns(doc, sheetId, more)
    expect(m.map(x => x.colId !== null)).toEqual([true, true, false])
    writeIntoSheet(doc, sheetId, more, 'append', m, { formulas: false })
    const sl = () => new WorkbookLayout(doc).sheet(sheetId)!
    const p = sheetParts(sheetsOf(doc).get(sheetId)!)
    const col = (i: number) => sl().rows.ids.map(r => p.cells.get(cellKey(r, sl().cols.ids[i]!))).filter(v => v !== undefined)
    expect(col(1)).toEqual([1234.5, 32000, 2000])
    expect(col(4)).toEqual(['00123', '00124', '00125'])
    writeIntoSheet(doc, sheetId, more, 'replace', matchColumns(doc, sheetId, more), { formulas: false })
    expect(col(1)).toEqual([2000])
    expect(col(0)).toEqual([])
    expect(sheetIds(doc)).toHaveLength(1)
  })
})

describe('preview', () => {
  it('the dialog\'s preview of GBK bytes: detected encoding, headers after the title line, types; a chosen encoding and header override', () => {
    const b = bytes('2025年6月 店铺日报\n店铺,销售额,转化率\n天猫,"1,234.50",12.5%\n京东,3.2万,8%\n', 'gbk')
    const p = previewCsv(b)
    expect(p).toMatchObject({ detected: 'gbk', encoding: 'gbk', delimiter: ',', headerRow: 2, replaced: 0, table: { titles: ['店铺', '销售额', '转化率'], skipped: 1 } })
    expect(p.guesses.map(g => g.type)).toEqual(['text', 'number', 'percent'])
    expect(p.raw[0]).toEqual(['2025年6月 店铺日报'])
    expect(previewCsv(b, { encoding: 'utf-8' }).replaced).toBeGreaterThan(0)
    expect(previewCsv(b, { header: 0 }).table).toMatchObject({ header: false, skipped: 0 })
  })
})
