/**
 * The reference codec: A1 formula text ⇄ the stored, position-independent form.
 *
 * In storage a reference names ids, not positions:
 *     ⟦[sheetId!]point[:point]⟧      point = [$]rowId,[$]colId   (either side empty for whole columns/rows)
 * e.g. `=SUM(B2:B5)` → `=SUM(⟦r1,c2:r4,c2⟧)`. String literals are kept verbatim and never scanned.
 * References that point outside the sheet's rows/columns, or to unknown sheets, stay as A1 text.
 */
import type { WorkbookLayout } from '../workbook/layout'

export const OPEN = '\u27e6' // ⟦
export const CLOSE = '\u27e7' // ⟧
export const MAX_COLS = 16384

const letterMemo: string[] = []

export function colToLetters(index: number): string {
  if (index < 1024) return (letterMemo[index] ??= lettersOf(index))
  return lettersOf(index)
}

function lettersOf(index: number): string {
  let n = index + 1
  let s = ''
  while (n > 0) {
    const r = (n - 1) % 26
    s = String.fromCharCode(65 + r) + s
    n = Math.floor((n - 1) / 26)
  }
  return s
}

export function lettersToCol(letters: string): number {
  let n = 0
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64)
  return n - 1
}

export function a1(row: number, col: number): string { return `${colToLetters(col)}${row + 1}` }

/** Parses "B12" into zero-based {row, col}; undefined when not a plain A1 address. */
export function parseA1(text: string): { row: number; col: number } | undefined {
  const m = /^\$?([A-Za-z]{1,3})\$?(\d{1,7})$/.exec(text.trim())
  if (!m) return undefined
  const col = lettersToCol(m[1]!)
  const row = Number(m[2]) - 1
  if (row < 0 || col >= MAX_COLS) return undefined
  return { row, col }
}

/** Sheet names that need no quotes: Latin letters, digits and underscore, not looking like a reference. */
export function quoteSheetName(name: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !/^[A-Za-z]{1,3}\d+$/.test(name) && !/^(TRUE|FALSE)$/i.test(name)) return name
  return `'${name.replace(/'/g, "''")}'`
}

// ---- A1 scanning ---------------------------------------------------------------------------------

interface A1Point { row?: number; col?: number; rowAbs: boolean; colAbs: boolean }
interface A1Ref { sheet?: string; start: A1Point; end?: A1Point; kind: 'cell' | 'cols' | 'rows' }
type Segment = { raw: string } | { raw: string; ref: A1Ref }

const WORD = /[\p{L}\p{N}_.$]/u
const CELL = /^(\$?)([A-Za-z]{1,3})(\$?)(\d{1,7})$/
const COLW = /^(\$?)([A-Za-z]{1,3})$/
const ROWW = /^(\$?)(\d{1,7})$/

function readWord(s: string, i: number): number {
  let j = i
  while (j < s.length && WORD.test(s[j]!)) j++
  return j
}

function readQuoted(s: string, i: number, q: string): number {
  // s[i] === q; returns index after the closing quote (or s.length if unterminated)
  let j = i + 1
  while (j < s.length) {
    if (s[j] === q) {
      if (s[j + 1] === q) { j += 2; continue }
      return j + 1
    }
    j++
  }
  return s.length
}

function cellPoint(w: string): A1Point | undefined {
  const m = CELL.exec(w)
  if (!m) return undefined
  const col = lettersToCol(m[2]!)
  const row = Number(m[4]) - 1
  if (row < 0 || col >= MAX_COLS) return undefined
  return { col, row, colAbs: m[1] === '$', rowAbs: m[3] === '$' }
}
function colPoint(w: string): A1Point | undefined {
  const m = COLW.exec(w)
  if (!m) return undefined
  const col = lettersToCol(m[2]!)
  if (col >= MAX_COLS) return undefined
  return { col, colAbs: m[1] === '$', rowAbs: false }
}
function rowPoint(w: string): A1Point | undefined {
  const m = ROWW.exec(w)
  if (!m) return undefined
  const row = Number(m[2]) - 1
  if (row < 0) return undefined
  return { row, rowAbs: m[1] === '$', colAbs: false }
}

/** Reads an optional sheet prefix at i: returns [sheetName, index after '!'] or undefined. */
function readSheetPrefix(s: string, i: number): [string, number] | undefined {
  if (s[i] === "'") {
    const j = readQuoted(s, i, "'")
    if (s[j] === '!' && j > i + 1 && s[j - 1] === "'") return [s.slice(i + 1, j - 1).replace(/''/g, "'"), j + 1]
    return undefined
  }
  const j = readWord(s, i)
  if (j > i && s[j] === '!') return [s.slice(i, j), j + 1]
  return undefined
}

/** Reads `word[:word]` at i as a reference (no sheet prefix); returns the ref and the end index. */
function readRefBody(s: string, i: number): [A1Ref, number] | undefined {
  const j = readWord(s, i)
  if (j === i) return undefined
  if (s[j] === '(') return undefined // a function name such as LOG10(
  const w1 = s.slice(i, j)
  const p1 = cellPoint(w1)
  if (s[j] === ':') {
    let k = j + 1
    const pre = readSheetPrefix(s, k)
    if (pre) k = pre[1]
    const k2 = readWord(s, k)
    const w2 = s.slice(k, k2)
    if (s[k2] !== '(') {
      const p2c = cellPoint(w2)
      if (p1 && p2c) return [{ start: p1, end: p2c, kind: 'cell', ...(pre ? { endSheet: pre[0] } : {}) } as A1Ref, k2]
      const c1 = colPoint(w1), c2 = colPoint(w2)
      if (c1 && c2 && !pre) return [{ start: c1, end: c2, kind: 'cols' }, k2]
      const r1 = rowPoint(w1), r2 = rowPoint(w2)
      if (r1 && r2 && !pre) return [{ start: r1, end: r2, kind: 'rows' }, k2]
    }
  }
  if (p1) return [{ start: p1, kind: 'cell' }, j]
  return undefined
}

/** Splits A1 formula text into raw segments and references. `s` includes the leading '='. */
export function scanA1(s: string): Segment[] {
  const out: Segment[] = []
  let raw = ''
  const flush = () => { if (raw) { out.push({ raw }); raw = '' } }
  let i = 0
  while (i < s.length) {
    const ch = s[i]!
    if (ch === '"') { const j = readQuoted(s, i, '"'); raw += s.slice(i, j); i = j; continue }
    if (ch === "'" || WORD.test(ch)) {
      const prev = i > 0 ? s[i - 1]! : ''
      if (prev && (WORD.test(prev) || prev === '#')) {
        const j = ch === "'" ? readQuoted(s, i, "'") : readWord(s, i)
        raw += s.slice(i, j); i = j; continue
      }
      const pre = readSheetPrefix(s, i)
      const bodyAt = pre ? pre[1] : i
      const body = readRefBody(s, bodyAt)
      if (body) {
        const [ref, end] = body
        if (pre) ref.sheet = pre[0]
        const endSheet = (ref as A1Ref & { endSheet?: string }).endSheet
        if (endSheet !== undefined && (!pre || endSheet.toLowerCase() !== pre[0].toLowerCase())) {
          raw += s.slice(i, end); i = end; continue // a 3D or mismatched range: leave as text
        }
        flush()
        out.push({ raw: s.slice(i, end), ref })
        i = end
        continue
      }
      const j = ch === "'" ? readQuoted(s, i, "'") : readWord(s, i)
      raw += s.slice(i, Math.max(j, i + 1)); i = Math.max(j, i + 1); continue
    }
    raw += ch
    i++
  }
  flush()
  return out
}

/** B5:A1 means A1:B5 (Excel rewrites it so): order each axis, keeping each end's $ with its number. */
function normaliseRange(ref: A1Ref): void {
  const a = ref.start, b = ref.end!
  if (a.row !== undefined && b.row !== undefined && a.row > b.row) {
    ;[a.row, b.row] = [b.row, a.row]
    ;[a.rowAbs, b.rowAbs] = [b.rowAbs, a.rowAbs]
  }
  if (a.col !== undefined && b.col !== undefined && a.col > b.col) {
    ;[a.col, b.col] = [b.col, a.col]
    ;[a.colAbs, b.colAbs] = [b.colAbs, a.colAbs]
  }
}

// ---- encode: A1 → stored -------------------------------------------------------------------------

export interface FormulaContext {
  layout: WorkbookLayout
  /** the sheet the formula lives on */
  sheetId: string
}

function encodePoint(p: A1Point, rowIds: string[], colIds: string[]): string | undefined {
  let r = ''
  let c = ''
  if (p.row !== undefined) { const id = rowIds[p.row]; if (id === undefined) return undefined; r = (p.rowAbs ? '$' : '') + id }
  if (p.col !== undefined) { const id = colIds[p.col]; if (id === undefined) return undefined; c = (p.colAbs ? '$' : '') + id }
  return `${r},${c}`
}

/** A1 text (with '=') → stored form. Never throws: what it cannot resolve stays as text. */
export function encodeFormula(text: string, ctx: FormulaContext): string {
  let out = ''
  for (const seg of scanA1(text)) {
    if (!('ref' in seg)) { out += seg.raw.replace(/[\u27e6\u27e7]/g, '?'); continue }
    const ref = seg.ref
    const sheetId = ref.sheet === undefined ? ctx.sheetId : ctx.layout.sheetIdByName(ref.sheet)
    const sheet = sheetId === undefined ? undefined : ctx.layout.sheet(sheetId)
    if (!sheet) { out += seg.raw; continue }
    if (ref.end) normaliseRange(ref)
    const a = encodePoint(ref.start, sheet.rows.ids, sheet.cols.ids)
    const b = ref.end ? encodePoint(ref.end, sheet.rows.ids, sheet.cols.ids) : ''
    if (a === undefined || b === undefined) { out += seg.raw; continue }
    out += OPEN + (ref.sheet !== undefined ? `${sheetId}!` : '') + a + (ref.end ? `:${b}` : '') + CLOSE
  }
  return out
}

// ---- decode: stored → A1 ---------------------------------------------------------------------------

export interface DecodeOptions {
  /** how sheet names are written: display names (UI) or sheet ids (formula engine) */
  sheetLabel?: 'name' | 'id'
  /** rows that stand above a sheet's first row where the text goes (an exported header row): added to row numbers */
  rowOffset?: (sheetId: string) => number
  /** the name a sheet goes by where the text goes (Excel's are at most 31 characters), for 'name' labels */
  sheetName?: (sheetId: string) => string
}

interface StoredPoint { row?: string; col?: string; rowAbs: boolean; colAbs: boolean }

function parseStoredPoint(p: string): StoredPoint {
  // hot path on load: plain index arithmetic, no split/replace
  const comma = p.indexOf(',')
  const rowAbs = p.charCodeAt(0) === 36 // $
  const colAbs = p.charCodeAt(comma + 1) === 36
  const rs = rowAbs ? 1 : 0, cs = comma + 1 + (colAbs ? 1 : 0)
  return {
    row: comma > rs ? p.slice(rs, comma) : undefined,
    col: p.length > cs ? p.slice(cs) : undefined,
    rowAbs, colAbs,
  }
}

function decodeToken(token: string, ctx: FormulaContext, opts: DecodeOptions): string {
  const bang = token.indexOf('!')
  const sheetId = bang >= 0 ? token.slice(0, bang) : ctx.sheetId
  const body = bang >= 0 ? token.slice(bang + 1) : token
  const sheet = ctx.layout.sheet(sheetId)
  if (!sheet) return '#REF!'
  const colon = body.indexOf(':')
  const a = parseStoredPoint(colon < 0 ? body : body.slice(0, colon))
  const b = colon < 0 ? undefined : parseStoredPoint(body.slice(colon + 1))
  let prefix = ''
  if (bang >= 0) prefix = (opts.sheetLabel === 'id' ? `'${sheetId}'` : quoteSheetName(opts.sheetName?.(sheetId) ?? sheet.name)) + '!'

  if (!b) {
    const r = a.row === undefined ? 0 : sheet.rows.indexOf(a.row)
    const c = a.col === undefined ? 0 : sheet.cols.indexOf(a.col)
    if (r < 0 || c < 0) return '#REF!'
    return prefix + (a.colAbs ? '$' : '') + colToLetters(c) + (a.rowAbs ? '$' : '') + (r + 1 + (opts.rowOffset?.(sheetId) ?? 0))
  }
  // a range: each end moves inward past deleted ids, as Excel shrinks ranges
  const hasRow = a.row !== undefined && b.row !== undefined
  const hasCol = a.col !== undefined && b.col !== undefined
  let r1 = 0, r2 = 0, c1 = 0, c2 = 0
  if (hasRow) {
    const x = sheet.rows.resolveEnd(a.row!, 'start'), y = sheet.rows.resolveEnd(b.row!, 'end')
    if (x === undefined || y === undefined) return '#REF!'
    r1 = Math.min(x, y); r2 = Math.max(x, y)
    if (x > y || r1 < 0 || r2 >= sheet.rows.length) return '#REF!'
  }
  if (hasCol) {
    const x = sheet.cols.resolveEnd(a.col!, 'start'), y = sheet.cols.resolveEnd(b.col!, 'end')
    if (x === undefined || y === undefined) return '#REF!'
    c1 = Math.min(x, y); c2 = Math.max(x, y)
    if (x > y || c1 < 0 || c2 >= sheet.cols.length) return '#REF!'
  }
  const $ = (abs: boolean) => (abs ? '$' : '')
  const off = opts.rowOffset?.(sheetId) ?? 0
  r1 += off; r2 += off
  if (!hasRow) return `${prefix}${$(a.colAbs)}${colToLetters(c1)}:${$(b.colAbs)}${colToLetters(c2)}`
  if (!hasCol) {
    // HyperFormula loops forever inserting a row between two overlapping whole-row ranges (2:2 and
    // 2:3), so the engine gets the same rows as a cell range across the sheet's columns.
    if (opts.sheetLabel === 'id') {
      if (sheet.cols.length === 0) return '#REF!'
      return `${prefix}$A${$(a.rowAbs)}${r1 + 1}:$${colToLetters(sheet.cols.length - 1)}${$(b.rowAbs)}${r2 + 1}`
    }
    return `${prefix}${$(a.rowAbs)}${r1 + 1}:${$(b.rowAbs)}${r2 + 1}`
  }
  return `${prefix}${$(a.colAbs)}${colToLetters(c1)}${$(a.rowAbs)}${r1 + 1}:${$(b.colAbs)}${colToLetters(c2)}${$(b.rowAbs)}${r2 + 1}`
}

/** Stored form → A1 text for the current layout. Deleted targets become #REF!. */
export function decodeFormula(stored: string, ctx: FormulaContext, opts: DecodeOptions = {}): string {
  if (stored.indexOf(OPEN) < 0) {
    return opts.sheetLabel === 'id' ? engineText(stored, ctx) : stored
  }
  let out = ''
  let i = 0
  while (i < stored.length) {
    const ch = stored[i]!
    if (ch === '"') { const j = readQuoted(stored, i, '"'); out += stored.slice(i, j); i = j; continue }
    if (ch === OPEN) {
      const j = stored.indexOf(CLOSE, i)
      if (j < 0) { out += stored.slice(i); break }
      out += decodeToken(stored.slice(i + 1, j), ctx, opts)
      i = j + 1
      continue
    }
    // copy a run of plain characters at once
    let j = i + 1
    while (j < stored.length && stored[j] !== '"' && stored[j] !== OPEN) j++
    const chunk = stored.slice(i, j)
    out += opts.sheetLabel === 'id' ? engineChunk(chunk, ctx) : chunk
    i = j
  }
  return out
}

const BOOL_WORD = /(^|[^\p{L}\p{N}_.$'])(TRUE|FALSE)(?![\p{L}\p{N}_.(]|\s*\()/giu

/** Formula text outside string literals, for the engine: sheet names → ids, TRUE/FALSE → TRUE()/FALSE(). */
function engineChunk(chunk: string, ctx: FormulaContext): string {
  const t = chunk.includes('!') ? relabelSheets(chunk, ctx) : chunk
  // HyperFormula knows TRUE and FALSE only as functions; Excel also takes them as bare literals
  return /TRUE|FALSE/i.test(t) ? t.replace(BOOL_WORD, (_m, pre: string, word: string) => `${pre}${word.toUpperCase()}()`) : t
}

function engineText(stored: string, ctx: FormulaContext): string {
  if (!/TRUE|FALSE/i.test(stored) && !stored.includes('!')) return stored
  let out = ''
  let i = 0
  while (i < stored.length) {
    if (stored[i] === '"') { const j = readQuoted(stored, i, '"'); out += stored.slice(i, j); i = j; continue }
    let j = i + 1
    while (j < stored.length && stored[j] !== '"') j++
    out += engineChunk(stored.slice(i, j), ctx)
    i = j
  }
  return out
}

/**
 * References kept as A1 text (outside the sheet) may still name a sheet by its display name; the
 * engine knows sheets by id, so rewrite those prefixes. A sheet that does not exist (yet) is #REF!:
 * handed over by name, HyperFormula would make a placeholder sheet for it, and setting such a formula
 * a second time makes it throw ("There's no sheet with id = …"), which left the engine half updated.
 * When a sheet gets that name, reconcileFormulas re-reads the formula (it has positional references).
 */
function relabelSheets(text: string, ctx: FormulaContext): string {
  if (!text.includes('!')) return text
  let out = ''
  for (const seg of scanA1(text)) {
    if ('ref' in seg && seg.ref.sheet !== undefined) {
      const id = ctx.layout.sheetIdByName(seg.ref.sheet)
      const bang = seg.raw.indexOf('!', seg.raw.startsWith("'") ? seg.raw.lastIndexOf("'") : 0)
      out += id ? `'${id}'` + seg.raw.slice(bang) : '#REF!'
    } else out += seg.raw
  }
  return out
}

/**
 * True when a stored formula still holds A1 references by position (ones that pointed outside the
 * sheet when typed). The engine re-evaluates those after structural changes.
 */
export function hasPositionalRefs(stored: string): boolean {
  const plain = stored.replace(/\u27e6[^\u27e7]*\u27e7/g, '0')
  return scanA1(plain).some(seg => 'ref' in seg)
}

const WHOLE_ROWS = /\u27e6(?:[a-z0-9]+!)?\$?[a-z0-9]+,(?::|\u27e7)/
const refreshMemo = new Map<string, boolean>()

/**
 * Formulas whose engine text does not follow HyperFormula's own adjustment on inserts/deletes: those
 * with positional references, and whole-row ranges (given to the engine as cell ranges).
 */
export function needsRefreshAfterStructureChange(stored: string): boolean {
  let v = refreshMemo.get(stored)
  if (v === undefined) {
    v = WHOLE_ROWS.test(stored) || hasPositionalRefs(stored)
    if (refreshMemo.size > 50_000) refreshMemo.clear()
    refreshMemo.set(stored, v)
  }
  return v
}

/**
 * True when an end of a range in the stored formula resolves (see AxisLayout.resolveEnd) through one
 * of `ids`: rows or columns whose deletion was just made, or whose tombstone just changed. There
 * HyperFormula, which moves range ends by position, and the doc, which follows the tombstones, can
 * disagree: when a delete arrives after inserts its maker had not seen (concurrent edits), or together
 * with inserts in one update, or when a concurrent second delete of a row replaces its tombstone.
 * The engine re-reads these formulas after structural changes.
 */
export function rangeEndResolvesThrough(stored: string, ctx: FormulaContext, ids: ReadonlySet<string>): boolean {
  if (ids.size === 0) return false
  let i = stored.indexOf(OPEN)
  while (i >= 0) {
    const j = stored.indexOf(CLOSE, i)
    if (j < 0) return false
    const colon = stored.indexOf(':', i)
    if (colon >= 0 && colon < j) {
      const bang = stored.indexOf('!', i)
      const prefixed = bang >= 0 && bang < colon
      const sheet = ctx.layout.sheet(prefixed ? stored.slice(i + 1, bang) : ctx.sheetId)
      if (sheet) {
        const a = parseStoredPoint(stored.slice(prefixed ? bang + 1 : i + 1, colon))
        const b = parseStoredPoint(stored.slice(colon + 1, j))
        if ((a.row !== undefined && sheet.rows.resolvesThrough(a.row, 'start', ids))
          || (b.row !== undefined && sheet.rows.resolvesThrough(b.row, 'end', ids))
          || (a.col !== undefined && sheet.cols.resolvesThrough(a.col, 'start', ids))
          || (b.col !== undefined && sheet.cols.resolvesThrough(b.col, 'end', ids))) return true
      }
    }
    i = stored.indexOf(OPEN, j)
  }
  return false
}

/** True when the stored formula references anything by id. */
export function hasReferences(stored: string): boolean { return stored.indexOf(OPEN) >= 0 }

/** Shifts the relative references of an A1 formula by (dRow, dCol), as Excel does when a formula is copied. */
export function shiftA1Formula(text: string, dRow: number, dCol: number): string {
  let out = ''
  for (const seg of scanA1(text)) {
    if (!('ref' in seg)) { out += seg.raw; continue }
    const { ref } = seg
    const move = (p: A1Point): A1Point | undefined => {
      const row = p.row === undefined ? undefined : p.rowAbs ? p.row : p.row + dRow
      const col = p.col === undefined ? undefined : p.colAbs ? p.col : p.col + dCol
      if ((row !== undefined && row < 0) || (col !== undefined && (col < 0 || col >= MAX_COLS))) return undefined
      return { ...p, row, col }
    }
    const a = move(ref.start)
    const b = ref.end ? move(ref.end) : undefined
    if (!a || (ref.end && !b)) { out += '#REF!'; continue }
    const prefix = ref.sheet !== undefined ? quoteSheetName(ref.sheet) + '!' : ''
    const fmt = (p: A1Point) =>
      (p.col !== undefined ? (p.colAbs ? '$' : '') + colToLetters(p.col) : '') + (p.row !== undefined ? (p.rowAbs ? '$' : '') + (p.row + 1) : '')
    out += prefix + fmt(a) + (b ? ':' + fmt(b) : '')
  }
  return out
}
