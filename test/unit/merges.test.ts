/** Merged cells: by corner ids, widened by inserts inside, kept through a deleted corner, concurrent overlaps settled the same everywhere; the server's check; the export. */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import ExcelJS from 'exceljs'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { mergeCells, sheetMerges, unmergeIn, mergesOf } from '../../src/core/workbook/merges'
import { deleteRows, insertCols, insertRows } from '../../src/core/workbook/mutations'
import { checkChange, defineRoots, setProtections, type Principal } from '../../src/core/access/access'
import { exportXlsx } from '../../server/export/xlsx'
import { makeDoc, rng, type } from '../helpers/workbook'

const ids = (doc: Y.Doc, r: number, c: number) => { const sl = new WorkbookLayout(doc).sheet('s0')!; return { rowId: sl.rows.ids[r]!, colId: sl.cols.ids[c]! } }
const boxes = (doc: Y.Doc) => sheetMerges(doc, new WorkbookLayout(doc), 's0').map(({ row, col, rowspan, colspan }) => [row, col, rowspan, colspan])

describe('merged cells', () => {
  it('widen with rows and columns inserted inside, shrink past a deleted corner, and go with unmerge', () => {
    const doc = makeDoc([{ name: 'S', id: 's0', rows: 8, cols: 5 }])
    mergeCells(doc, new WorkbookLayout(doc), 's0', ids(doc, 1, 1), ids(doc, 2, 3))
    expect(boxes(doc)).toEqual([[1, 1, 2, 3]])
    insertRows(doc, 's0', 2, 1)
    insertCols(doc, 's0', 2, 1)
    expect(boxes(doc)).toEqual([[1, 1, 3, 4]])
    insertRows(doc, 's0', 0, 1)
    expect(boxes(doc)).toEqual([[2, 1, 3, 4]])
    deleteRows(doc, 's0', 4, 1) // the last row of the merge: it ends one row up
    expect(boxes(doc)).toEqual([[2, 1, 2, 4]])
    expect(unmergeIn(doc, new WorkbookLayout(doc), 's0', 3, 3, 3, 3)).toBe(1)
    expect(boxes(doc)).toEqual([])
    mergeCells(doc, new WorkbookLayout(doc), 's0', ids(doc, 0, 0), ids(doc, 2, 1), true)
    expect(boxes(doc)).toEqual([[0, 0, 1, 2], [1, 0, 1, 2], [2, 0, 1, 2]])
  })

  it('two replicas merging, inserting and deleting at random agree on the merges shown (seeded)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed)
      const a = makeDoc([{ name: 'S', id: 's0', rows: 10, cols: 6 }], 1)
      const b = new Y.Doc()
      b.clientID = 2
      Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
      for (let step = 0; step < 30; step++) {
        const d = r.next() < 0.5 ? a : b
        const sl = new WorkbookLayout(d).sheet('s0')!
        const op = r.int(0, 9)
        const r1 = r.int(0, sl.rows.length - 2), c1 = r.int(0, sl.cols.length - 2)
        if (op < 4) mergeCells(d, new WorkbookLayout(d), 's0', ids(d, r1, c1), ids(d, Math.min(sl.rows.length - 1, r1 + r.int(0, 2)), Math.min(sl.cols.length - 1, c1 + r.int(1, 2))), r.next() < 0.2)
        else if (op < 6) insertRows(d, 's0', r.int(0, sl.rows.length), 1)
        else if (op < 7 && sl.rows.length > 4) deleteRows(d, 's0', r.int(0, sl.rows.length - 1), 1)
        else if (op < 8) insertCols(d, 's0', r.int(0, sl.cols.length), 1)
        else unmergeIn(d, new WorkbookLayout(d), 's0', r1, c1, r1 + 1, c1 + 1)
        if (r.next() < 0.3) { Y.applyUpdate(a, Y.encodeStateAsUpdate(b)); Y.applyUpdate(b, Y.encodeStateAsUpdate(a)) }
      }
      Y.applyUpdate(a, Y.encodeStateAsUpdate(b)); Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
      expect(boxes(a), `seed ${seed}`).toEqual(boxes(b))
      // shown merges never overlap
      const shown = boxes(a)
      for (const [i, x] of shown.entries()) for (const y of shown.slice(i + 1)) {
        const apart = x[0]! + x[2]! <= y[0]! || y[0]! + y[2]! <= x[0]! || x[1]! + x[3]! <= y[1]! || y[1]! + y[3]! <= x[1]!
        expect(apart, `seed ${seed}`).toBe(true)
      }
    }
  })

  it('a protected cell is not merged by someone the protection leaves out; the export writes the merges', async () => {
    const doc = makeDoc([{ name: 'S', id: 's0', rows: 4, cols: 3 }])
    type(doc, 's0', 'A1', '华东区'); type(doc, 's0', 'C3', '42')
    const cols = new WorkbookLayout(doc).sheet('s0')!.cols.ids
    setProtections(doc, [{ id: 'p', sheet: 's0', cols: [cols[2]!], names: ['王经理'] }])
    const attempt = (who: Principal, fn: (d: Y.Doc) => void) => {
      const copy = new Y.Doc(); defineRoots(copy); Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc)); defineRoots(doc)
      let res: { code: string } | null = null
      copy.transact(tr => { fn(copy); res = checkChange(doc, copy, tr, who) })
      return (res as { code: string } | null)?.code ?? null
    }
    const li: Principal = { role: 'editor', name: '小李' }
    expect(attempt(li, d => mergeCells(d, new WorkbookLayout(d), 's0', ids(d, 0, 1), ids(d, 1, 2)))).toBe('protected')
    expect(attempt(li, d => mergeCells(d, new WorkbookLayout(d), 's0', ids(d, 0, 0), ids(d, 1, 1)))).toBeNull()
    expect(attempt(li, d => mergesOf(d).set(`s0/${ids(d, 0, 0).rowId}:${ids(d, 0, 0).colId}`, { r: 'x y' } as never))).toBe('not-a-merge')
    mergeCells(doc, new WorkbookLayout(doc), 's0', ids(doc, 0, 0), ids(doc, 1, 1))
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load((await exportXlsx(doc)).buffer as unknown as ArrayBuffer)
    const ws = wb.worksheets[0]!
    expect(ws.getCell('A1').value).toBe('华东区')
    expect(ws.getCell('B2').isMerged).toBe(true)
    expect(ws.getCell('C3').isMerged).toBe(false)
    expect(ws.getCell('C3').value).toBe(42)
  })
})
