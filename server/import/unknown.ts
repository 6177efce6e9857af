/**
 * Formulas of an imported file the engine cannot compute (#NAME?): the functions it lacks are named in
 * the report, and a formula whose file had a cached result keeps both — its text, wrapped as
 * IFERROR(formula, cached) so the cell shows the file's value (and the formula's own once the engine
 * has the function) — and is marked in the grid: italic on a pale yellow fill.
 */
import type * as Y from 'yjs'
import { FormulaEngine, isErrorValue } from '../../src/core/formulas/engine'
import { setCells, type CellWrite } from '../../src/core/workbook/mutations'
import { setCellStyle } from '../../src/core/workbook/styles'
import { isFormula, sheetIds, sheetParts, sheetsOf } from '../../src/core/workbook/schema'

export type Cached = { v: number | string | boolean } | { d: string }

export const CACHED_MARK = { i: true, bg: '#fff2cc' } as const

/** A cached value as a formula literal. */
function literal(c: Cached): string | undefined {
  if ('d' in c) { const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(c.d); return m ? `DATE(${Number(m[1])},${Number(m[2])},${Number(m[3])})` : undefined }
  if (typeof c.v === 'number') return Number.isFinite(c.v) ? String(c.v) : undefined
  if (typeof c.v === 'boolean') return c.v ? 'TRUE' : 'FALSE'
  return c.v.length <= 2000 ? `"${c.v.replace(/"/g, '""')}"` : undefined
}

export function keepCachedValues(doc: Y.Doc, cached: ReadonlyMap<string, Cached>, report: { notes: string[] }): void {
  const engine = new FormulaEngine(doc)
  const unknown = new Set<string>()
  let broken = 0, kept = 0
  const rewrites = new Map<string, CellWrite[]>()
  try {
    const known = new Set(engine.hf.getRegisteredFunctionNames())
    for (const id of sheetIds(doc)) {
      const parts = sheetParts(sheetsOf(doc).get(id)!)
      const sl = engine.layout.sheet(id)!
      // the cells there are, not the whole grid
      parts.cells.forEach((input, key) => {
        if (!isFormula(input)) return
        const i = key.indexOf(':')
        const rowId = key.slice(0, i), colId = key.slice(i + 1)
        const r = sl.rows.indexOf(rowId), c = sl.cols.indexOf(colId)
        if (r < 0 || c < 0) return
        const v = engine.getValue(id, r, c)
        if (!isErrorValue(v) || v.error !== '#NAME?') return
        broken++
        const lacking = [...input.v.matchAll(/([A-Z][A-Z0-9.]*)\(/g)].map(m => m[1]!).filter(f => !known.has(f))
        lacking.forEach(f => unknown.add(f))
        const value = cached.get(`${id}\u0000${key}`)
        const lit = value && lacking.length ? literal(value) : undefined
        if (!lit) return
        const list = rewrites.get(id) ?? []
        list.push({ rowId, colId, value: { t: 'f', v: `=IFERROR(${input.v.slice(1)},${lit})` } })
        rewrites.set(id, list)
      })
    }
  } finally {
    engine.destroy()
  }
  for (const [id, writes] of rewrites) {
    setCells(doc, id, writes)
    setCellStyle(doc, id, writes.map(w => ({ rowId: w.rowId, colId: w.colId })), { ...CACHED_MARK })
    kept += writes.length
  }
  if (unknown.size) {
    report.notes.push(`functions the app does not compute: ${[...unknown].slice(0, 20).join(', ')}; ${kept} of the ${broken} formulas using them show the file's cached value (kept as IFERROR(formula, cached value), in italics on yellow)`)
  } else if (broken) {
    report.notes.push(`${broken} formulas show #NAME?`)
  }
}
