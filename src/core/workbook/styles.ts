/**
 * Cell formatting (bold, italic, underline, strikethrough, font and fill colour, alignment, wrap), in
 * the doc's root map `styles`, one entry per cell and property:
 *
 *   styles   Y.Map   "sheetId/rowId:colId#prop" → value   (b i u s wrap: true; fc bg: "#rrggbb";
 *                                                          ha: left|center|right; va: top|middle|bottom;
 *                                                          nf: a number format code in Excel's syntax;
 *                                                          bt bb bl br: a thin border on that edge)
 *
 * One entry per property, not one object per cell: A making a cell bold while B colours it keeps
 * both. Keys use row and column ids, so a format goes with its cell through inserts, deletes and
 * moves, and comes back with an undone delete. A root map (not a part of each sheet) because a part
 * added to a sheet that exists would be created twice by two people formatting at once, and one of
 * them would lose their formats.
 */
import type * as Y from 'yjs'
import { isValidFormat } from 'numfmt'
import { ID_TEXT } from '../access/shape'

export interface CellStyle {
  /** bold, italic, underline, strikethrough */
  b?: true; i?: true; u?: true; s?: true
  /** font colour, fill colour: #rrggbb */
  fc?: string; bg?: string
  ha?: 'left' | 'center' | 'right'
  va?: 'top' | 'middle' | 'bottom'
  wrap?: true
  /** thin borders on the top, bottom, left, right edge */
  bt?: true; bb?: true; bl?: true; br?: true
  /** number format, Excel's format code ("#,##0.00", "0.0%", 0\.0,"万", yyyy"年"m"月"d"日"): over the column's */
  nf?: string
}
export type StyleProp = keyof CellStyle
export const STYLE_PROPS: readonly StyleProp[] = ['b', 'i', 'u', 's', 'fc', 'bg', 'ha', 'va', 'wrap', 'nf', 'bt', 'bb', 'bl', 'br']
/** the longest number format code a cell takes */
export const MAX_FORMAT_CODE = 100
const PROPS: ReadonlySet<string> = new Set(STYLE_PROPS)
const COLOR = /^#[0-9a-f]{6}$/

/** Whether `v` is a value property `p` may have (what the server lets into the doc). */
export function isStyleValue(p: string, v: unknown): boolean {
  switch (p) {
    case 'b': case 'i': case 'u': case 's': case 'wrap': case 'bt': case 'bb': case 'bl': case 'br': return v === true
    case 'fc': case 'bg': return typeof v === 'string' && COLOR.test(v)
    case 'ha': return v === 'left' || v === 'center' || v === 'right'
    case 'va': return v === 'top' || v === 'middle' || v === 'bottom'
    case 'nf': return typeof v === 'string' && v.length > 0 && v.length <= MAX_FORMAT_CODE && isValidFormat(v)
    default: return false
  }
}

export function stylesOf(doc: Y.Doc): Y.Map<unknown> { return doc.getMap('styles') }

export const styleKey = (sheetId: string, rowId: string, colId: string, p: StyleProp): string => `${sheetId}/${rowId}:${colId}#${p}`

/** A key of the styles map read back, or null when it is not one. */
export function parseStyleKey(key: string): { sheetId: string; rowId: string; colId: string; prop: StyleProp } | null {
  const m = /^([^/]+)\/([^:]+):([^#]+)#(\w+)$/.exec(key)
  if (!m || !ID_TEXT.test(m[1]!) || !ID_TEXT.test(m[2]!) || !ID_TEXT.test(m[3]!) || !PROPS.has(m[4]!)) return null
  return { sheetId: m[1]!, rowId: m[2]!, colId: m[3]!, prop: m[4] as StyleProp }
}

/** The format of one cell (an empty object when it has none). */
export function cellStyle(doc: Y.Doc, sheetId: string, rowId: string, colId: string): CellStyle {
  return readStyle(stylesOf(doc), sheetId, rowId, colId)
}

export function readStyle(map: Y.Map<unknown>, sheetId: string, rowId: string, colId: string): CellStyle {
  if (map.size === 0) return {}
  const out: Record<string, unknown> = {}
  const base = `${sheetId}/${rowId}:${colId}#`
  for (const p of STYLE_PROPS) {
    const v = map.get(base + p)
    if (v !== undefined && isStyleValue(p, v)) out[p] = v
  }
  return out as CellStyle
}

/** Every formatted cell of a sheet: "rowId:colId" → its format. */
export function sheetStyles(doc: Y.Doc, sheetId: string): Map<string, CellStyle> {
  const out = new Map<string, CellStyle>()
  const prefix = `${sheetId}/`
  stylesOf(doc).forEach((v, key) => {
    if (!key.startsWith(prefix)) return
    const k = parseStyleKey(key)
    if (!k || !isStyleValue(k.prop, v)) return
    const cell = `${k.rowId}:${k.colId}`
    const st = out.get(cell) ?? {}
    ;(st as Record<string, unknown>)[k.prop] = v
    out.set(cell, st)
  })
  return out
}

export interface StyledCell { rowId: string; colId: string }

/** A change of format: a property set to a value, or to null (taken off). */
export type StylePatch = { [P in StyleProp]?: CellStyle[P] | null }

/** Sets (or, with null, takes off) the properties of `patch` on every cell, in one transaction. */
export function setCellStyle(doc: Y.Doc, sheetId: string, cells: readonly StyledCell[], patch: StylePatch, origin: unknown = null): void {
  const entries = Object.entries(patch) as [StyleProp, unknown][]
  for (const [p, v] of entries) {
    if (!PROPS.has(p) || (v !== null && !isStyleValue(p, v))) throw new Error(`not a format: ${p} = ${JSON.stringify(v)}`)
  }
  const map = stylesOf(doc)
  doc.transact(() => {
    for (const c of cells) {
      for (const [p, v] of entries) {
        const key = styleKey(sheetId, c.rowId, c.colId, p)
        if (v === null) { if (map.has(key)) map.delete(key) }
        else if (map.get(key) !== v) map.set(key, v)
      }
    }
  }, origin)
}

/** Takes every format off the cells. */
export function clearCellStyle(doc: Y.Doc, sheetId: string, cells: readonly StyledCell[], origin: unknown = null): void {
  setCellStyle(doc, sheetId, cells, Object.fromEntries(STYLE_PROPS.map(p => [p, null])) as StylePatch, origin)
}

/**
 * What a toggle (bold, italic, …) does to a selection, as Excel decides it: on, unless the first cell
 * already has it (then off for all).
 */
export function toggled(doc: Y.Doc, sheetId: string, cells: readonly StyledCell[], p: 'b' | 'i' | 'u' | 's' | 'wrap'): StylePatch {
  const first = cells[0]
  const on = first ? cellStyle(doc, sheetId, first.rowId, first.colId)[p] === true : false
  return { [p]: on ? null : true }
}

export type BorderKind = 'all' | 'outer' | 'none'

/**
 * Borders over a block of cells (visible positions r1..r2 × c1..c2, ids by position): every edge of
 * every cell, the block's outline, or none (every edge of the block's cells taken off).
 */
export function setBorders(doc: Y.Doc, sheetId: string, block: { rowIds: readonly string[]; colIds: readonly string[] }, kind: BorderKind, origin: unknown = null): void {
  const { rowIds, colIds } = block
  doc.transact(() => {
    rowIds.forEach((rowId, i) => colIds.forEach((colId, j) => {
      const cell = [{ rowId, colId }]
      if (kind === 'none') setCellStyle(doc, sheetId, cell, { bt: null, bb: null, bl: null, br: null }, origin)
      else if (kind === 'all') setCellStyle(doc, sheetId, cell, { bt: true, bb: true, bl: true, br: true }, origin)
      else {
        const patch: StylePatch = {}
        if (i === 0) patch.bt = true
        if (i === rowIds.length - 1) patch.bb = true
        if (j === 0) patch.bl = true
        if (j === colIds.length - 1) patch.br = true
        if (Object.keys(patch).length) setCellStyle(doc, sheetId, cell, patch, origin)
      }
    }))
  }, origin)
}
