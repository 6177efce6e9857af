/**
 * The review pack's data (server/export/review.ts) shows what people formatted in the grid: the cells'
 * formats, number formats as the grid's text, merges as spans over the visible rows and columns, and
 * hidden rows and columns left out; and the print table's cells (src/components/print/printCells.ts).
 */
import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { reviewData, type ReviewSheet } from '../../server/export/review'
import { loadTemplates } from '../../server/templates'
import { buildWorkbook } from '../../src/core/templates/template'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { setCellStyle, type StylePatch } from '../../src/core/workbook/styles'
import { mergeCells } from '../../src/core/workbook/merges'
import { setHidden } from '../../src/core/workbook/hidden'
import { setColumnMeta, setTotalsRow } from '../../src/core/workbook/mutations'
import { EDGE, headEdges, printRows } from '../../src/components/print/printCells'
import { makeDoc, type } from '../helpers/workbook'
import { RULE_LOOKS } from '../../src/core/workbook/schema'

const registry = loadTemplates(fileURLToPath(new URL('../../templates', import.meta.url)))
const S = 's0'
const at = (doc: Y.Doc, r: number, c: number) => { const sl = new WorkbookLayout(doc).sheet(S)!; return { rowId: sl.rows.ids[r]!, colId: sl.cols.ids[c]! } }
const style = (doc: Y.Doc, r: number, c: number, patch: StylePatch) => setCellStyle(doc, S, [at(doc, r, c)], patch)
const merge = (doc: Y.Doc, r1: number, c1: number, r2: number, c2: number) => mergeCells(doc, new WorkbookLayout(doc), S, at(doc, r1, c1), at(doc, r2, c2))

/**
 *      A          B            C             D (hidden)   E
 *  1   渠道总览 (bold, filled; merged A1:E1)
 *  2   天猫       1200 #,##0.00  0.256 0.0% i   secret b     E列 u
 *  3   华东 ─┐    hidden row: its text is not printed (A3:A5 merged)
 *  4         │    800 (bottom border)
 *  5   ──────┘    合计 (the totals row)
 *  6
 *  7              (filled, empty)
 *  8
 *  9   (bold, empty)
 */
function formatted(): Y.Doc {
  const doc = makeDoc([{ name: '渠道', id: S, rows: 10, cols: 5 }])
  type(doc, S, 'A1', '渠道总览')
  type(doc, S, 'A2', '天猫'); type(doc, S, 'B2', '1200'); type(doc, S, 'C2', '0.256'); type(doc, S, 'D2', 'secret'); type(doc, S, 'E2', 'E列')
  type(doc, S, 'A3', '华东'); type(doc, S, 'B3', '隐藏的值')
  type(doc, S, 'B4', '800'); type(doc, S, 'B5', '合计')
  style(doc, 0, 0, { b: true, bg: '#fff2cc' })
  style(doc, 1, 1, { nf: '#,##0.00' })
  style(doc, 1, 2, { nf: '0.0%', i: true })
  style(doc, 1, 3, { b: true })
  style(doc, 1, 4, { u: true })
  style(doc, 2, 1, { bg: '#ff0000' })
  style(doc, 3, 1, { bb: true })
  style(doc, 6, 1, { bg: '#e8f0fe' })
  style(doc, 8, 0, { b: true })
  merge(doc, 0, 0, 0, 4)
  merge(doc, 2, 0, 4, 0)
  setHidden(doc, S, 'rows', [at(doc, 2, 0).rowId], true)
  setHidden(doc, S, 'cols', [at(doc, 0, 3).colId], true)
  setTotalsRow(doc, S, at(doc, 4, 0).rowId)
  return doc
}

describe('the review pack', () => {
  it('leaves hidden rows and columns out, shows number formats as the grid does, and only the formatted cells\' formats', () => {
    const sheet = reviewData(formatted()).sheets[0]!
    // column D and row 3 are not printed: their values are nowhere in the pack
    expect(sheet.columns).toEqual(['A', 'B', 'C', 'E'])
    expect(JSON.stringify(sheet.rows)).not.toContain('secret')
    expect(JSON.stringify(sheet.rows)).not.toContain('隐藏的值')
    // rows 1, 2, 4, 5, 6, 7: up to the filled empty cell B7; the bold empty A9 shows nothing and is not printed
    expect(sheet.rows).toEqual([
      ['渠道总览', '', '', ''],
      ['天猫', '1,200.00', '25.6%', 'E列'],
      ['华东', '800', '', ''],
      ['', '合计', '', ''],
      ['', '', '', ''],
      ['', '', '', ''],
    ])
    expect(sheet.numeric).toEqual([false, true, true, false])
    expect(sheet.totalsRow).toBe(3)
    // the number formats are in the texts; the hidden row's fill and column's bold are not sent
    expect(sheet.styles).toEqual({
      '0:0': { b: true, bg: '#fff2cc' },
      '1:2': { i: true },
      '1:3': { u: true },
      '2:1': { bb: true },
      '5:1': { bg: '#e8f0fe' },
    })
  })

  it('draws conditional colours over a fill, colour scales and data bars as the grid does; the totals row keeps its own', () => {
    const doc = makeDoc([{ name: '达成', id: S, rows: 5, cols: 3 }])
    for (const [r, a, b] of [[1, 10, 5], [2, 20, 50], [3, 30, 100]] as const) { type(doc, S, `A${r}`, String(a)); type(doc, S, `B${r}`, String(b)) }
    type(doc, S, 'A4', '=SUM(A1:A3)'); type(doc, S, 'B4', '=SUM(B1:B3)')
    setTotalsRow(doc, S, at(doc, 3, 0).rowId)
    setColumnMeta(doc, S, at(doc, 0, 0).colId, { rules: [{ op: '>', value: 25, style: 'good' }], scale: { kind: 'scale', min: '#000000', max: '#ffffff' } })
    setColumnMeta(doc, S, at(doc, 0, 1).colId, { scale: { kind: 'bar', color: '#638ec6' } })
    style(doc, 2, 0, { bg: '#ff0000', b: true })
    const sheet = reviewData(doc).sheets[0]!
    expect(sheet.styles).toEqual({
      // the scale from 10 (black) to 30; 30 matches the rule, which goes over the scale and its own fill (its bold stays)
      '0:0': { bg: '#000000' },
      '1:0': { bg: '#808080' },
      '2:0': { bg: '#e6f4ea', fc: '#1e6b34', b: true },
      '0:1': { bar: { color: '#638ec6', pct: 0 } },
      '1:1': { bar: { color: '#638ec6', pct: 47 } },
      '2:1': { bar: { color: '#638ec6', pct: 100 } },
    })
    const drawn = printRows(sheet)
    expect(drawn[1]![1]!.style.backgroundImage).toBe('linear-gradient(to right, #638ec699 47%, transparent 47%)')
    expect(drawn[2]![0]!.style).toMatchObject({ backgroundColor: '#e6f4ea', color: '#1e6b34' })
  })

  it('spans merges over the visible rows and columns; a merge whose top-left row is hidden still shows its text', () => {
    const sheet = reviewData(formatted()).sheets[0]!
    // A1:E1 over four visible columns; A3:A5 over rows 4 and 5 (pack rows 2 and 3), showing A3's text
    expect(sheet.merges).toEqual([
      { row: 0, col: 0, rowspan: 1, colspan: 4 },
      { row: 2, col: 0, rowspan: 2, colspan: 1 },
    ])
    expect(sheet.rows[2]![0]).toBe('华东')
  })

  it('a merge all in hidden rows is left out, and one left a single visible cell is no merge', () => {
    const doc = makeDoc([{ name: 'S', id: S, rows: 6, cols: 3 }])
    type(doc, S, 'A1', 'x'); type(doc, S, 'C6', 'end')
    merge(doc, 1, 0, 2, 0)
    merge(doc, 3, 1, 4, 1)
    setHidden(doc, S, 'rows', [at(doc, 1, 0).rowId, at(doc, 2, 0).rowId, at(doc, 4, 0).rowId], true)
    const sheet = reviewData(doc).sheets[0]!
    expect(sheet.rows).toHaveLength(3)
    expect(sheet.merges).toBeUndefined()
    expect(sheet.styles).toBeUndefined()
  })

  it('a template\'s sheets keep the shape they had: no formats or merges where none are set, only its colour rules\' colours', () => {
    const doc = new Y.Doc()
    buildWorkbook(doc, registry.get('operations-plan')!, { locale: 'zh-CN' })
    const data = reviewData(doc)
    expect(data.sheets.length).toBeGreaterThan(5)
    const ruled = new Set(Object.values(RULE_LOOKS).map(l => JSON.stringify(l)))
    expect(data.sheets.some(s => s.styles)).toBe(true)
    for (const s of data.sheets) {
      for (const look of Object.values(s.styles ?? {})) expect(ruled).toContain(JSON.stringify(look))
      expect(s).not.toHaveProperty('merges')
      expect(s.rows.every(r => r.length === s.columns.length)).toBe(true)
    }
  })
})

describe('the print table', () => {
  it('draws a merge once with its span, the covered cells not at all, formats as style properties and a border on both sides of its edge', () => {
    const sheet = reviewData(formatted()).sheets[0]!
    const rows = printRows(sheet)
    expect(rows.map(r => r.map(c => c.c))).toEqual([[0], [0, 1, 2, 3], [0, 1, 2, 3], [1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]])
    expect(rows[0]![0]).toMatchObject({ text: '渠道总览', colspan: 4, style: { fontWeight: '700', backgroundColor: '#fff2cc' } })
    expect(rows[0]![0]).not.toHaveProperty('rowspan')
    expect(rows[2]![0]).toMatchObject({ text: '华东', rowspan: 2 })
    expect(rows[1]![2]!.style).toEqual({ fontStyle: 'italic' })
    expect(rows[1]![3]!.style).toEqual({ textDecorationLine: 'underline' })
    // B4's bottom border: its own bottom edge and the top edge of B5 below
    expect(rows[2]![1]!.style).toEqual({ borderBottom: EDGE })
    expect(rows[3]![0]!.style).toEqual({ borderTop: EDGE })
    expect(rows[1]![1]!.class).toEqual({ num: true, wrap: false })
    expect(headEdges(sheet)).toEqual([false, false, false, false])
  })

  it('takes only #rrggbb colours, and the first row\'s top border onto the header', () => {
    const sheet: ReviewSheet = {
      id: 'x', name: 'x', columns: ['A', 'B'], numeric: [false, false], rows: [['a', 'b']], totalsRow: -1, charts: [],
      styles: { '0:0': { bg: 'red;background:url(x)', fc: '#00ff00', bt: true, ha: 'center', va: 'middle', wrap: true, u: true, s: true } as never },
    }
    const [cell] = printRows(sheet)[0]!
    expect(cell!.style).toEqual({ color: '#00ff00', textAlign: 'center', verticalAlign: 'middle', textDecorationLine: 'underline line-through', borderTop: EDGE })
    expect(cell!.class.wrap).toBe(true)
    expect(headEdges(sheet)).toEqual([true, false])
  })
})
