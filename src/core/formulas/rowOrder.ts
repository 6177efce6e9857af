/**
 * HyperFormula's row order, when it is not the doc's. Sorting a sheet moves its rows in the doc; giving
 * HyperFormula the sheet again in its new order costs a second for 10,000 rows. Yet where every formula
 * reads rows by id (its own row, or any single cell) or reads whole blocks whose set of rows the sort
 * kept (a totals row's =SUM(B2:B10001)) with functions for which the order of a range does not matter,
 * HyperFormula's values are already right, only at other places: the engine then keeps HyperFormula as
 * it is and remembers, per sheet, which row of HyperFormula holds which row id (an overlay).
 *
 * With an overlay, formulas go to HyperFormula with single-cell references at HyperFormula's rows and
 * range ends at the doc's positions (engineLayout): that reads the same cells exactly when each range holds
 * the same set of rows in both orders, which orderSafe checks for every formula that reads a sheet with
 * an overlay or lives in a row that moved (engineLayout). Anything else (a VLOOKUP over the sorted rows, ROW(), a range
 * inside the sorted block, a range in arithmetic, which HyperFormula intersects with the formula's own
 * row) makes the engine give HyperFormula the sheet in the doc's order, as before.
 */
import type { AxisLayout, SheetLayout, WorkbookLayout } from '../workbook/layout'
import { CLOSE, OPEN, needsRefreshAfterStructureChange, hasPositionalRefs } from './references'

/** A sheet whose rows HyperFormula holds in another order than the doc shows them. */
export interface RowOverlay {
  /** HyperFormula's rows: the row ids in its order (the doc's visible ids, another order) */
  readonly ids: readonly string[]
  /** row id → HyperFormula's row */
  readonly pos: ReadonlyMap<string, number>
  /** doc position → HyperFormula's row */
  readonly toHf: Int32Array
  /** moved[k]: how many of the first k positions hold another row in the doc than in HyperFormula */
  readonly moved: Int32Array
  /** cut[k]: the first k positions hold the same set of rows in both orders */
  readonly cut: Uint8Array
}

/** The overlay of HyperFormula's order `hf` over the doc's `doc` (the same ids), or null when they agree. */
export function makeOverlay(hf: readonly string[], doc: AxisLayout): RowOverlay | null {
  const n = hf.length
  if (n !== doc.length) throw new Error('an overlay orders the same rows')
  const pos = new Map<string, number>()
  hf.forEach((id, i) => pos.set(id, i))
  const toHf = new Int32Array(n), moved = new Int32Array(n + 1), cut = new Uint8Array(n + 1)
  // balance of each id over both prefixes: +1 seen in HyperFormula's, -1 in the doc's
  const balance = new Map<string, number>()
  let open = 0
  cut[0] = 1
  for (let k = 0; k < n; k++) {
    const a = hf[k]!, b = doc.ids[k]!
    const p = pos.get(b)
    if (p === undefined) throw new Error('an overlay orders the same rows')
    toHf[k] = p
    moved[k + 1] = moved[k]! + (a === b ? 0 : 1)
    if (a !== b) {
      for (const [id, d] of [[a, 1], [b, -1]] as const) {
        const was = balance.get(id) ?? 0, now = was + d
        if (now === 0) balance.delete(id); else balance.set(id, now)
        if (was === 0) open++; else if (now === 0) open--
      }
    }
    cut[k + 1] = open === 0 ? 1 : 0
  }
  return moved[n] === 0 ? null : { ids: hf, pos, toHf, moved, cut }
}

/**
 * The layout HyperFormula's formulas are written against: the doc's, except that a single row of a
 * sheet with an overlay is found at HyperFormula's row (indexOf). Range ends stay the doc's positions
 * (resolveEnd), which orderSafe makes sure read the same rows in both orders.
 */
export function engineLayout(layout: WorkbookLayout, overlays: ReadonlyMap<string, RowOverlay>): WorkbookLayout {
  if (overlays.size === 0) return layout
  const sheets = new Map<string, SheetLayout>()
  for (const [id, ov] of overlays) {
    const sl = layout.sheet(id)
    if (!sl) continue
    const rows = Object.create(sl.rows, { indexOf: { value: (rowId: string) => ov.pos.get(rowId) ?? -1 } }) as AxisLayout
    sheets.set(id, Object.create(sl, { rows: { value: rows } }) as SheetLayout)
  }
  return Object.create(layout, { sheet: { value: (id: string) => sheets.get(id) ?? layout.sheet(id) } }) as WorkbookLayout
}

/** Functions that read a range as a set (or pairwise, as SUMIF does): the order of its rows does not matter. */
const SET_FUNCTIONS = new Set([
  'SUM', 'COUNT', 'COUNTA', 'COUNTBLANK', 'AVERAGE', 'AVERAGEA', 'MIN', 'MAX', 'MINA', 'MAXA', 'PRODUCT', 'MEDIAN', 'SUMSQ',
  'STDEV', 'STDEVA', 'STDEVP', 'STDEVPA', 'STDEV.S', 'STDEV.P', 'VAR', 'VARA', 'VARP', 'VARPA', 'VAR.S', 'VAR.P',
  'LARGE', 'SMALL', 'RANK', 'RANK.EQ', 'COUNTIF', 'COUNTIFS', 'SUMIF', 'SUMIFS', 'AVERAGEIF', 'AVERAGEIFS', 'MINIFS', 'MAXIFS',
  'SUMPRODUCT', 'AND', 'OR',
])

/** Functions that take a range as a range (not intersected with the formula's row), in any order of its rows only when a set function. */
const RANGE_FUNCTIONS = new Set([...SET_FUNCTIONS, 'VLOOKUP', 'HLOOKUP', 'LOOKUP', 'MATCH', 'XMATCH', 'XLOOKUP', 'INDEX', 'ROWS', 'COLUMNS'])

/** Functions whose value does not depend on where the formula is, nor on where the cells it reads are. */
const PLACE_FREE = new Set([
  ...RANGE_FUNCTIONS,
  'IF', 'IFS', 'IFERROR', 'IFNA', 'NOT', 'XOR', 'TRUE', 'FALSE', 'ROUND', 'ROUNDUP', 'ROUNDDOWN', 'INT', 'TRUNC', 'ABS', 'MOD',
  'POWER', 'SQRT', 'EXP', 'LN', 'LOG', 'LOG10', 'SIGN', 'CEILING', 'FLOOR', 'PI', 'TEXT', 'LEN', 'LEFT', 'RIGHT', 'MID', 'UPPER',
  'LOWER', 'TRIM', 'CONCATENATE', 'SUBSTITUTE', 'REPLACE', 'FIND', 'SEARCH', 'VALUE', 'EXACT', 'REPT', 'DATE', 'TIME', 'YEAR',
  'MONTH', 'DAY', 'HOUR', 'MINUTE', 'SECOND', 'WEEKDAY', 'WEEKNUM', 'TODAY', 'NOW', 'EDATE', 'EOMONTH', 'DATEDIF', 'DAYS',
  'NETWORKDAYS', 'WORKDAY', 'ISBLANK', 'ISNUMBER', 'ISTEXT', 'ISERROR', 'ISERR', 'ISNA', 'ISLOGICAL', 'ISEVEN', 'ISODD', 'N',
  'T', 'CHOOSE', 'SWITCH',
])

const isWordStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
const isWord = (c: number) => isWordStart(c) || (c >= 48 && c <= 57) || c === 46

/** What orderSafe needs of the doc. */
export interface OrderContext {
  /** the doc's layout (after the change being applied) */
  layout: WorkbookLayout
  overlays: ReadonlyMap<string, RowOverlay>
  /** the doc's layout before the change, and the sheets whose rows it reordered: orderSafe then also says whether a range end into them moved */
  before?: WorkbookLayout
  reordered?: ReadonlySet<string>
}

/**
 * Whether HyperFormula, given the stored formula `stored` (of sheet `home`, row `rowId`) written against
 * engineLayout, reads what the doc means: false, true, or 'moved' when it does but a range end into a
 * reordered sheet is at another position than before the change (HyperFormula needs the formula again).
 */
export function orderSafe(stored: string, home: string, rowId: string, ctx: OrderContext): boolean | 'moved' {
  const { overlays, layout } = ctx
  const own = overlays.get(home)
  const ownAt = own ? layout.sheet(home)?.rows.indexOf(rowId) ?? -1 : -1
  // in a row HyperFormula holds elsewhere: whatever it reads by its own place (ROW(), a range in arithmetic) differs
  const displaced = !!own && ownAt >= 0 && own.toHf[ownAt] !== ownAt
  let touches = displaced
  let bare = false
  let moved = false
  let span: string | undefined
  const calls: (string | null)[] = []
  const names: string[] = []
  const n = stored.length
  let i = 0
  while (i < n) {
    const c = stored.charCodeAt(i)
    if (c === 34) { // a string literal, "" inside
      i++
      while (i < n) { if (stored.charCodeAt(i) === 34) { if (stored.charCodeAt(i + 1) === 34) { i += 2; continue } break } i++ }
      i++
      continue
    }
    if (c === 40) { calls.push(null); i++; continue }
    if (c === 41) { calls.pop(); i++; continue }
    if (stored[i] === OPEN) {
      const close = stored.indexOf(CLOSE, i)
      if (close < 0) return false
      const token = stored.slice(i + 1, close)
      i = close + 1
      const bang = token.indexOf('!')
      const sheetId = bang >= 0 ? token.slice(0, bang) : home
      const body = bang >= 0 ? token.slice(bang + 1) : token
      const ov = overlays.get(sheetId)
      if (ov) touches = true
      const colon = body.indexOf(':')
      if (colon < 0) continue // a single cell: read by its id in both orders
      const sl = layout.sheet(sheetId)
      const a = endRow(body.slice(0, colon)), b = endRow(body.slice(colon + 1))
      const x = sl && a !== undefined && b !== undefined ? sl.rows.resolveEnd(a, 'start') : undefined
      const y = sl && a !== undefined && b !== undefined ? sl.rows.resolveEnd(b, 'end') : undefined
      const rows = x !== undefined && y !== undefined && x <= y && x >= 0 && y < sl!.rows.length
      if (a !== undefined && b !== undefined && ctx.reordered?.has(sheetId)) {
        // (ends resolved through deleted rows may even cross now: #REF!)
        const was = ctx.before?.sheet(sheetId)?.rows
        if (!was || was.resolveEnd(a, 'start') !== x || was.resolveEnd(b, 'end') !== y) moved = true
      }
      let shuffled = false
      if (ov && sl) {
        if (rows) {
          shuffled = ov.moved[y! + 1]! - ov.moved[x!]! > 0
          // the same rows in both orders, or HyperFormula reads others
          if (shuffled && !(ov.cut[x!] && ov.cut[y! + 1])) return false
        } else if (a === undefined || b === undefined) {
          shuffled = ov.moved[sl.rows.length]! > 0 // whole columns
        }
        if (shuffled) {
          // rows paired across ranges (SUMIF, SUMPRODUCT) are the same rows only over the same span
          const key = rows ? `${sheetId}|${x}|${y}` : `${sheetId}|all`
          if (span !== undefined && span !== key) return false
          span = key
        }
      }
      if (shuffled || displaced) {
        // taken as a range (not intersected with the formula's row), and as a set when its rows are shuffled
        const fn = calls[calls.length - 1] ?? ''
        if (!wholeArgument(stored, i - token.length - 2, i - 1) || !(shuffled ? SET_FUNCTIONS : RANGE_FUNCTIONS).has(fn)) return false
      }
      continue
    }
    if (isWordStart(c) && !(i > 0 && (isWord(stored.charCodeAt(i - 1)) || stored.charCodeAt(i - 1) === 35))) {
      let j = i + 1
      while (j < n && isWord(stored.charCodeAt(j))) j++
      let k = j
      while (k < n && stored.charCodeAt(k) === 32) k++
      const name = stored.slice(i, j).toUpperCase()
      if (stored.charCodeAt(k) === 40) { names.push(name); calls.push(name); i = k + 1; continue }
      // a bare word other than TRUE and FALSE: an A1 reference (read by its place) or a name
      if (name !== 'TRUE' && name !== 'FALSE') bare = true
      i = j
      continue
    }
    if (c >= 48 && c <= 57) { // a number (1E5 is one)
      i++
      while (i < n && isWord(stored.charCodeAt(i))) i++
      continue
    }
    i++
  }
  if (touches && (bare || names.some(name => !PLACE_FREE.has(name)))) return false
  // A1 text (a reference that pointed outside its sheet when typed) is read by position: on a sheet with
  // an overlay, or perhaps into one
  if (bare && (own || stored.includes('!')) && needsRefreshAfterStructureChange(stored) && hasPositionalRefs(stored)) return false
  return moved ? 'moved' : true
}

/** The row of a stored range end "[$]row,[$]col", or undefined for a whole column. */
function endRow(p: string): string | undefined {
  const comma = p.indexOf(',')
  const s = p.charCodeAt(0) === 36 ? 1 : 0
  return comma > s ? p.slice(s, comma) : undefined
}

/** The token from `open` to `close` is a whole argument: right after "(" or ",", right before "," or ")". */
function wholeArgument(stored: string, open: number, close: number): boolean {
  let a = open - 1
  while (a >= 0 && stored.charCodeAt(a) === 32) a--
  let b = close + 1
  while (b < stored.length && stored.charCodeAt(b) === 32) b++
  const before = stored[a], after = stored[b]
  return (before === '(' || before === ',') && (after === ',' || after === ')')
}

/** Whether the change from `o` to `n` only put the same rows in another order (columns as they were). */
export function onlyReordered(o: SheetLayout, n: SheetLayout): boolean {
  if (o.rows.length !== n.rows.length || o.cols.length !== n.cols.length) return false
  for (let i = 0; i < o.cols.length; i++) if (o.cols.ids[i] !== n.cols.ids[i]) return false
  for (const id of n.rows.ids) if (!o.rows.pos.has(id)) return false
  return true
}

/** HyperFormula's rows after inserting rows where the doc has them (`inserts`: runs of new indexes in `ids`, the doc's order after). */
export function withInserts(hf: readonly string[], inserts: readonly [number, number][], ids: readonly string[]): string[] {
  const out: string[] = []
  let k = 0
  for (const [at, count] of inserts) {
    while (out.length < at) out.push(hf[k++]!)
    for (let j = at; j < at + count; j++) out.push(ids[j]!)
  }
  while (k < hf.length) out.push(hf[k++]!)
  return out
}
