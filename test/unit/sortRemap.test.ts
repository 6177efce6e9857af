/**
 * The sort's shortcuts (src/core/workbook/sort.ts) read as the long way does: remapFormula skips
 * formulas that read no moved row other than their own, and dataRows stops early when the block's
 * last row holds a cell. Both are compared with the plain readings on seeded random input.
 */
import { describe, expect, it } from 'vitest'
import type * as Y from 'yjs'
import { CLOSE, OPEN } from '../../src/core/formulas/references'
import { setCell, setFrozen, setTotalsRow } from '../../src/core/workbook/mutations'
import { sheetParts, sheetsOf, visibleIds, type SheetMap } from '../../src/core/workbook/schema'
import { totalsRowOf } from '../../src/core/workbook/table'
import { dataRows, remapFormula } from '../../src/core/workbook/sort'
import { makeDoc, rng } from '../helpers/workbook'

/** remapFormula as it reads without its shortcut: every token rebuilt. */
function plainRemap(stored: string, ownSheet: string, ownRow: string, sheetId: string, atPosition: ReadonlyMap<string, string>): string {
  let out = ''
  let i = 0
  while (i < stored.length) {
    const open = stored.indexOf(OPEN, i)
    if (open < 0) { out += stored.slice(i); break }
    const close = stored.indexOf(CLOSE, open)
    if (close < 0) { out += stored.slice(i); break }
    out += stored.slice(i, open + 1)
    const token = stored.slice(open + 1, close)
    const bang = token.indexOf('!')
    const target = bang >= 0 ? token.slice(0, bang) : ownSheet
    if (target !== sheetId) out += token
    else {
      const head = bang >= 0 ? token.slice(0, bang + 1) : ''
      out += head + (bang >= 0 ? token.slice(bang + 1) : token).split(':').map(pt => {
        const comma = pt.indexOf(',')
        if (comma < 0) return pt
        const abs = pt.charCodeAt(0) === 36 ? '$' : ''
        const row = pt.slice(abs.length, comma)
        if (!row || (!abs && target === ownSheet && row === ownRow)) return pt
        const to = atPosition.get(row)
        return to ? abs + to + pt.slice(comma) : pt
      }).join(':')
    }
    out += CLOSE
    i = close + 1
  }
  return out
}

/** dataRows as it reads without its shortcut: every cell's row looked at. */
function plainDataRows(sheet: SheetMap): string[] {
  const p = sheetParts(sheet)
  const rows = visibleIds(p.rows, p.rowsGone)
  const frozen = Math.max(0, Math.min(rows.length, Number(sheet.get('frozenRows')) || 0))
  const totals = totalsRowOf(sheet)
  const ti = totals ? rows.indexOf(totals) : -1
  const block = rows.slice(frozen, ti >= frozen ? ti : rows.length)
  const filled = new Set<string>()
  p.cells.forEach((_v, key) => filled.add(key.slice(0, key.indexOf(':'))))
  let end = block.length
  while (end > 0 && !filled.has(block[end - 1]!)) end--
  return block.slice(0, end)
}

describe('the sort\'s shortcuts', () => {
  it('remapFormula gives what rebuilding every token gives', () => {
    const r = rng(42)
    const rows = ['r1', 'r2', 'r3', 'r10', 'r11', 'rr1']
    const atPosition = new Map([['r1', 'r3'], ['r3', 'r10'], ['r10', 'r1'], ['rr1', 'r2']])
    const point = () => (r.next() < 0.2 ? '' : (r.next() < 0.3 ? '$' : '') + r.pick(rows)) + ',' + (r.next() < 0.3 ? '$' : '') + r.pick(['c1', 'c2'])
    const token = () => OPEN + r.pick(['', '', 's0!', 's1!']) + point() + (r.next() < 0.4 ? ':' + point() : '') + (r.next() < 0.03 ? '' : CLOSE)
    let changed = 0
    for (let i = 0; i < 5000; i++) {
      const stored = '=' + Array.from({ length: r.int(1, 4) }, () => r.pick(['SUM(', '+', '"⟦r1,c1⟧"', '*2', ',']) + token()).join(r.pick(['+', ',', ')']))
      const own = r.pick(rows), home = r.pick(['s0', 's1'])
      const want = plainRemap(stored, home, own, 's0', atPosition)
      expect(remapFormula(stored, home, own, 's0', atPosition)).toBe(want)
      if (want !== stored) changed++
    }
    expect(changed).toBeGreaterThan(1000)
  })

  it('dataRows gives what looking at every cell gives', () => {
    const r = rng(7)
    for (let i = 0; i < 200; i++) {
      const doc: Y.Doc = makeDoc([{ name: 'S', id: 's0', rows: r.int(1, 12), cols: 3 }])
      const sheet = sheetsOf(doc).get('s0')!
      const p = sheetParts(sheet)
      const rows = p.rows.toArray(), cols = p.cols.toArray()
      for (let k = 0; k < r.int(0, 20); k++) setCell(doc, 's0', r.pick(rows), r.pick(cols), r.int(0, 9))
      if (r.next() < 0.3) setFrozen(doc, 's0', { rows: r.int(0, 3) })
      if (r.next() < 0.3) setTotalsRow(doc, 's0', r.pick(rows))
      expect(dataRows(sheet)).toEqual(plainDataRows(sheet))
    }
  })
})
