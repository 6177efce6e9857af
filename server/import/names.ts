/**
 * Defined names of an .xlsx (named ranges and named formulas, from xl/workbook.xml): read as data, and
 * put in place of their uses in a formula's text before it is encoded, so `=SUM(Sales)` computes what
 * `=SUM(Data!$B$2:$B$9)` does (a workbook has no names of its own). A name of one sheet
 * (localSheetId) stands before a workbook-wide one of the same spelling.
 */
export interface DefinedName { name: string; text: string; sheet?: number }

const unescape = (s: string) => s.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-f]+));/gi, (_, e: string, d?: string, h?: string) =>
  d ? String.fromCodePoint(Number(d)) : h ? String.fromCodePoint(parseInt(h, 16)) : ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' } as Record<string, string>)[e.toLowerCase()]!)

/** The names of a workbook.xml (Excel's own _xlnm.* — print areas, filters — left out). */
export function readDefinedNames(xml: string, max = 2_000): DefinedName[] {
  const out: DefinedName[] = []
  for (const m of xml.matchAll(/<(?:\w+:)?definedName\b([^>]*?)(?:\/>|>([\s\S]*?)<\/(?:\w+:)?definedName>)/g)) {
    if (out.length >= max) break
    const attrs = m[1] ?? ''
    const name = unescape(/\bname="([^"]*)"/.exec(attrs)?.[1] ?? '')
    const text = unescape(m[2] ?? '').trim()
    if (!name || !text || /^_xlnm\./i.test(name) || text.length > 8000) continue
    const local = /\blocalSheetId="(\d+)"/.exec(attrs)?.[1]
    out.push({ name, text, ...(local !== undefined ? { sheet: Number(local) } : {}) })
  }
  return out
}

/** name (upper case) → text, for formulas of sheet `index` (its own names over the workbook's). */
export function namesFor(names: readonly DefinedName[], index: number): Map<string, string> {
  const out = new Map<string, string>()
  for (const n of names) if (n.sheet === undefined) out.set(n.name.toUpperCase(), n.text)
  for (const n of names) if (n.sheet === index) out.set(n.name.toUpperCase(), n.text)
  return out
}

const MAX_FORMULA = 100_000

const REF = /^(?:'(?:[^']|'')+'|[^\s'!(),:;+\-*/^&=<>"]+)!\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?$/i
// a name: letters (any script), digits, _ . \ ; not a cell reference, not a function (followed by '(')
const WORD = /[\p{L}_\\][\p{L}\p{N}_.\\]*/uy

/** The formula text (no '=') with each defined name it uses replaced by what it names; `used` collects them. */
export function inlineNames(formula: string, names: ReadonlyMap<string, string>, used: Set<string>, depth = 0): string {
  if (!names.size || depth > 8) return formula
  let out = '', i = 0
  while (i < formula.length) {
    const ch = formula[i]!
    if (ch === '"' || ch === "'") { // a string or a quoted sheet name: copied as it is
      let j = i + 1
      while (j < formula.length) { if (formula[j] === ch) { if (formula[j + 1] === ch) { j += 2; continue } break } j++ }
      out += formula.slice(i, j + 1); i = j + 1; continue
    }
    if (ch === '[') { const j = formula.indexOf(']', i); const end = j < 0 ? formula.length : j + 1; out += formula.slice(i, end); i = end; continue }
    WORD.lastIndex = i
    const m = WORD.exec(formula)
    if (!m) { out += ch; i++; continue }
    const word = m[0], end = i + word.length
    const prev = i > 0 ? formula[i - 1]! : ''
    const text = names.get(word.toUpperCase())
    const isCall = formula[end] === '(', isSheet = formula[end] === '!', qualified = prev === '!' || /[\p{N}$]/u.test(prev)
    if (text === undefined || isCall || isSheet || qualified) { out += word; i = end; continue }
    used.add(word)
    const inner = inlineNames(text.replace(/^=/, ''), names, used, depth + 1)
    out += REF.test(inner) ? inner : `(${inner})`
    // names of names of names… grow as a power: a formula past this is refused, not built
    if (out.length > MAX_FORMULA) throw new Error(`limit: a formula longer than ${MAX_FORMULA} characters once the names it uses are put in place`)
    i = end
  }
  return out
}
