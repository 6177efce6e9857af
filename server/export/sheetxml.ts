/**
 * The data cells of an exported sheet as SpreadsheetML, written here rather than through ExcelJS.
 *
 * ExcelJS builds an object per cell and then renders each through its XML stream: for a 10,000-row
 * sheet that was half of the export. The export still has ExcelJS write the whole file (styles,
 * header and totals rows, column settings, frozen panes, dropdowns, colour rules, pictures, the meta
 * sheet), with the data rows left out. Then each sheet's `<sheetData>` gets the data rows written
 * here, and the workbook's shared strings get theirs.
 *
 * Style numbers: ExcelJS numbers the styles it sees as it writes, so a sheet asks it for a sample
 * cell of each style its data uses, in a row after everything else (`StyleSamples`). The sample row
 * tells what number each style got, and is then left out of the file.
 */
// what XML 1.0 cannot hold (dropped: control characters, as ExcelJS does, U+FFFE, U+FFFF and halves
// of surrogate pairs) and what must be escaped
const NEEDS_WORK = /[<>&"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF\uD800-\uDFFF]/
const DROPPED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const ENTITIES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' }

export function escapeXml(text: string): string {
  if (!NEEDS_WORK.test(text)) return text
  return text.replace(DROPPED, '').replace(/[<>&"]/g, ch => ENTITIES[ch]!)
}

/** A number as SpreadsheetML writes it; undefined for what it cannot hold (NaN, ±Infinity). */
export function xmlNumber(n: number): string | undefined {
  return Number.isFinite(n) ? String(n) : undefined
}

const UNESCAPE: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"', '&apos;': "'" }

/**
 * The strings of the data cells, added to the shared string table ExcelJS wrote
 * (`xl/sharedStrings.xml`: header titles, the totals row, the meta sheet). A string ExcelJS already
 * has is referred to, not added again.
 */
export class SharedStrings {
  private readonly index = new Map<string, number>()
  private readonly list: string[] = []
  private readonly base: number
  private refs = 0

  constructor(private readonly sst: string | undefined) {
    const items = sst === undefined ? [] : [...sst.matchAll(/<si>([\s\S]*?)<\/si>/g)]
    this.base = items.length
    items.forEach((m, i) => {
      // plain entries only; rich text keeps its own number and is not reused
      const t = /^<t(?: xml:space="preserve")?>([^<]*)<\/t>$/.exec(m[1]!)
      if (!t) return
      const text = t[1]!.replace(/&(?:lt|gt|amp|quot|apos);/g, e => UNESCAPE[e]!)
      if (!this.index.has(text)) this.index.set(text, i)
    })
  }

  /** the number of `text` in the shared string table */
  ref(text: string): number {
    let i = this.index.get(text)
    if (i === undefined) {
      i = this.base + this.list.length
      this.index.set(text, i)
      this.list.push(text)
    }
    this.refs++
    return i
  }

  /** ExcelJS's shared string table with these strings after its own, and the counts made right */
  xml(): string {
    const sst = this.sst
    const head = sst === undefined ? null : /<sst\b[^>]*>/.exec(sst)
    const end = sst === undefined ? -1 : sst.lastIndexOf('</sst>')
    if (sst === undefined || !head || end < 0) throw new Error('export: no shared string table as ExcelJS writes it')
    const attr = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(head[0])?.[1] ?? 0)
    const count = attr('count') + this.refs, unique = this.base + this.list.length
    const open = head[0].replace(/\s(count|uniqueCount)="\d+"/g, '').replace(/>$/, ` count="${count}" uniqueCount="${unique}">`)
    const items = this.list.map(s => /^\s|\n|\s$/.test(s) ? `<si><t xml:space="preserve">${escapeXml(s)}</t></si>` : `<si><t>${escapeXml(s)}</t></si>`)
    return sst.slice(0, head.index) + open + sst.slice(head.index + head[0].length, end) + items.join('') + '</sst>'
  }

  /** whether the table has to be written again: strings were referred to */
  get used(): boolean { return this.refs > 0 }
}

/**
 * The sample cells of one sheet: style object → column of its sample cell in the sample row.
 * `numeric` tells ExcelJS what kind of value the style is for (it gives numbers without a format the
 * General format, other values none), so the sample holds 0 or `true` accordingly.
 */
export class StyleSamples<S extends object> {
  private readonly cols = new Map<S, number>()
  private readonly samples: { style: S; numeric: boolean }[] = []

  add(style: S, numeric: boolean): void {
    if (this.cols.has(style)) return
    this.cols.set(style, this.samples.length)
    this.samples.push({ style, numeric })
  }

  /** the cells to give ExcelJS for the sample row: [1-based column, value, style] */
  cells(): [number, number | boolean, S][] {
    return this.samples.map(({ style, numeric }, i) => [i + 1, numeric ? 0 : true, style])
  }

  private styleNumbers: Map<S, number> | undefined

  /** reads what number each style got from the sample row as ExcelJS wrote it */
  read(rowXml: string): void {
    const byCol = new Map<number, number>()
    for (const m of rowXml.matchAll(/<c r="([A-Z]+)\d+"([^>]*)>/g)) {
      byCol.set(lettersToIndex(m[1]!), Number(/\bs="(\d+)"/.exec(m[2]!)?.[1] ?? 0))
    }
    const out = new Map<S, number>()
    this.samples.forEach(({ style }, i) => {
      const s = byCol.get(i)
      if (s === undefined) throw new Error('export: ExcelJS left out a style sample')
      out.set(style, s)
    })
    this.styleNumbers = out
  }

  /** style object → style number, once read */
  numbers(): Map<S, number> {
    if (!this.styleNumbers) throw new Error('export: style samples not read yet')
    return this.styleNumbers
  }
}

function lettersToIndex(letters: string): number {
  let n = 0
  for (let i = 0; i < letters.length; i++) n = n * 26 + (letters.charCodeAt(i) - 64)
  return n - 1
}

/** A data cell's value as the file holds it. */
export type FileCell =
  | { kind: 'n'; v: number }
  | { kind: 's'; v: string }
  | { kind: 'b'; v: boolean }
  | { kind: 'f'; f: string; result: number | string | boolean | { error: string } | undefined }
  /** no value, only a format */
  | { kind: 'empty' }

/** One `<c>` element of style number `style`; strings go to the shared string table. `ref` is the cell's A1 address. */
export function cellXml(ref: string, cell: FileCell, style: number, strings: SharedStrings): string {
  const s = style ? ` s="${style}"` : ''
  switch (cell.kind) {
    case 'n': {
      const v = xmlNumber(cell.v)
      return v === undefined ? `<c r="${ref}"${s} t="e"><v>#NUM!</v></c>` : `<c r="${ref}"${s}><v>${v}</v></c>`
    }
    case 's': return `<c r="${ref}"${s} t="s"><v>${strings.ref(cell.v)}</v></c>`
    case 'b': return `<c r="${ref}"${s} t="b"><v>${cell.v ? 1 : 0}</v></c>`
    case 'empty': return `<c r="${ref}"${s}/>`
    case 'f': {
      const f = `<f>${escapeXml(cell.f)}</f>`
      const r = cell.result
      if (r === undefined) return `<c r="${ref}"${s}>${f}</c>`
      if (typeof r === 'number') {
        const v = xmlNumber(r)
        return v === undefined ? `<c r="${ref}"${s} t="e">${f}<v>#NUM!</v></c>` : `<c r="${ref}"${s}>${f}<v>${v}</v></c>`
      }
      if (typeof r === 'string') return `<c r="${ref}"${s} t="str">${f}<v>${escapeXml(r)}</v></c>`
      if (typeof r === 'boolean') return `<c r="${ref}"${s} t="b">${f}<v>${r ? 1 : 0}</v></c>`
      return `<c r="${ref}"${s} t="e">${f}<v>${escapeXml(r.error)}</v></c>`
    }
  }
}

/** A worksheet part as ExcelJS wrote it, cut around its rows. */
export interface SheetXml {
  before: string
  after: string
  /** ExcelJS's rows, ascending: [1-based row number, the row's XML] */
  rows: [number, string][]
}

export function splitSheet(sheet: string): SheetXml {
  const open = sheet.indexOf('<sheetData')
  const close = sheet.indexOf('</sheetData>')
  if (open >= 0 && close > open) {
    const body = sheet.slice(sheet.indexOf('>', open) + 1, close)
    return {
      before: sheet.slice(0, open),
      after: sheet.slice(close + '</sheetData>'.length),
      rows: [...body.matchAll(/<row r="(\d+)"[^>]*?(?:\/>|>[\s\S]*?<\/row>)/g)].map(m => [Number(m[1]), m[0]]),
    }
  }
  const empty = /<sheetData\s*\/>/.exec(sheet)
  if (!empty) throw new Error('export: the worksheet has no sheetData')
  return { before: sheet.slice(0, empty.index), after: sheet.slice(empty.index + empty[0].length), rows: [] }
}

/** an element the worksheet schema puts between <sheetData> and <mergeCells>, at the start of the text */
const BEFORE_MERGES = /^\s*<(sheetCalcPr|sheetProtection|protectedRanges|scenarios|autoFilter|sortState|dataConsolidate|customSheetViews)\b(?:[^>]*\/>|[\s\S]*?<\/\1>)/

/**
 * The worksheet with our data rows put in: ExcelJS's own rows are kept (header, totals) except row
 * `drop` (the style samples), ours go in between by row number, and the dimension is set to what the
 * sheet holds. `ours` are [1-based row number, the cells' XML, the row's attributes (` hidden="1"`)], ascending;
 * `merges` the merged ranges (A1:B2); `autoFilter` the filter's element with its conditions; `noted`
 * the rows with a note on a cell: ExcelJS writes an empty row for them, which ours replace where we
 * have them. (The notes themselves are a part of their own, by cell address.)
 */
export function joinSheet(sheet: SheetXml, ours: readonly (readonly [number, string, string?])[], drop: number, dimension: string, merges: readonly string[] = [], autoFilter?: string, noted: ReadonlySet<number> = new Set()): string {
  const mine = noted.size ? new Set(ours.map(([r]) => r)) : null
  const theirs = sheet.rows.filter(([r]) => r !== drop && !(mine?.has(r) && noted.has(r)))
  const out: string[] = [sheet.before.replace(/<dimension ref="[^"]*"\/>/, `<dimension ref="${dimension}"/>`), '<sheetData>']
  let i = 0, j = 0
  while (i < theirs.length || j < ours.length) {
    const a = theirs[i], b = ours[j]
    if (b && (!a || b[0] < a[0])) { out.push(`<row r="${b[0]}"${b[2] ?? ''}>`, b[1], '</row>'); j++ }
    else if (a && b && a[0] === b[0]) throw new Error(`export: row ${a[0]} written twice`)
    else { out.push(a![1]); i++ }
  }
  out.push('</sheetData>')
  // ExcelJS writes the filter's range only: its conditions go in its place
  let after = autoFilter ? sheet.after.replace(/<autoFilter ref="[^"]*"\/>/, () => autoFilter) : sheet.after
  // merged ranges go after what the schema puts between the data and them (protection, the filter, …)
  let lead = ''
  for (let m = BEFORE_MERGES.exec(after); m; m = BEFORE_MERGES.exec(after)) { lead += m[0]; after = after.slice(m[0].length) }
  out.push(lead)
  if (merges.length) out.push(`<mergeCells count="${merges.length}">`, ...merges.map(ref => `<mergeCell ref="${ref}"/>`), '</mergeCells>')
  out.push(after)
  return out.join('')
}
