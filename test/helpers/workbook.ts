import * as Y from 'yjs'
import { addSheet, initWorkbook } from '../../src/core/workbook/mutations'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { inputFromText, textForInput } from '../../src/core/workbook/input'
import { sheetParts, sheetsOf, cellKey } from '../../src/core/workbook/schema'
import { setCell } from '../../src/core/workbook/mutations'
import { parseA1 } from '../../src/core/formulas/references'

/** A doc with sheets of the given names (rows × cols each) and fixed, readable ids. */
export function makeDoc(sheets: { name: string; id?: string; rows?: number; cols?: number }[] = [{ name: 'Sheet1' }], clientID?: number): Y.Doc {
  const doc = new Y.Doc()
  if (clientID !== undefined) doc.clientID = clientID
  initWorkbook(doc, { title: 't' })
  sheets.forEach((s, i) => {
    const id = s.id ?? `s${i}`
    const rows = s.rows ?? 10, cols = s.cols ?? 5
    addSheet(doc, {
      id, name: s.name,
      rowIds: Array.from({ length: rows }, (_, r) => `${id}r${r}`),
      colIds: Array.from({ length: cols }, (_, c) => `${id}c${c}`),
    })
  })
  return doc
}

export function layoutOf(doc: Y.Doc) { return new WorkbookLayout(doc) }

/** Types text into a visible cell (A1 address) as a user would. */
export function type(doc: Y.Doc, sheetId: string, addr: string, text: string, origin: unknown = null): void {
  const layout = layoutOf(doc)
  const sl = layout.sheet(sheetId)!
  const { row, col } = parseA1(addr)!
  const value = inputFromText(text, { layout, sheetId })
  setCell(doc, sheetId, sl.rows.ids[row]!, sl.cols.ids[col]!, value, origin)
}

/** The text shown in the editor for a visible cell (A1 address). */
export function textAt(doc: Y.Doc, sheetId: string, addr: string): string {
  const layout = layoutOf(doc)
  const sl = layout.sheet(sheetId)!
  const { row, col } = parseA1(addr)!
  const cells = sheetParts(sheetsOf(doc).get(sheetId)!).cells
  return textForInput(cells.get(cellKey(sl.rows.ids[row]!, sl.cols.ids[col]!)), { layout, sheetId })
}

/** Two docs kept in sync by hand: updates are queued until exchange() runs. */
export function pair(a: Y.Doc, b: Y.Doc) {
  const toB: Uint8Array[] = [], toA: Uint8Array[] = []
  a.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== 'remote') toB.push(u) })
  b.on('update', (u: Uint8Array, origin: unknown) => { if (origin !== 'remote') toA.push(u) })
  return {
    exchange() {
      while (toB.length || toA.length) {
        for (const u of toB.splice(0)) Y.applyUpdate(b, u, 'remote')
        for (const u of toA.splice(0)) Y.applyUpdate(a, u, 'remote')
      }
    },
  }
}

/** Seeded PRNG (mulberry32) so random tests can be replayed from the printed seed. */
export function rng(seed: number) {
  let s = seed >>> 0
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  }
}
