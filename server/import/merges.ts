/**
 * Merged ranges read before ExcelJS sees the file: ExcelJS checks each merge against every one before
 * it (10,000 ranges: 5.7 s; 50,000 past any deadline), so a sheet with many of them has its
 * <mergeCells> taken out of its XML here and read with a regular expression, by sheet name.
 */
import JSZip from 'jszip'

const MANY = 500

const attr = (tag: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1]

/** The file with the big <mergeCells> lists taken out, and those lists by sheet name (undefined: none big). */
export async function takeMerges(buf: ArrayBuffer): Promise<{ buf: ArrayBuffer; bySheet: Map<string, string[]> } | undefined> {
  let zip: JSZip
  try { zip = await JSZip.loadAsync(buf) } catch { return undefined }
  const book = await zip.file('xl/workbook.xml')?.async('string')
  const rels = await zip.file('xl/_rels/workbook.xml.rels')?.async('string')
  if (!book || !rels) return undefined
  const targets = new Map<string, string>()
  for (const m of rels.matchAll(/<(?:\w+:)?Relationship\b[^>]*>/g)) {
    const id = attr(m[0], 'Id'), target = attr(m[0], 'Target')
    if (id && target) targets.set(id, target.startsWith('/') ? target.slice(1) : `xl/${target}`)
  }
  const bySheet = new Map<string, string[]>()
  for (const m of book.matchAll(/<(?:\w+:)?sheet\b[^>]*>/g)) {
    const name = attr(m[0], 'name'), rid = /\b\w+:id="([^"]*)"/.exec(m[0])?.[1]
    const path = rid && targets.get(rid)
    const file = path ? zip.file(path) : null
    if (!name || !file) continue
    const xml = await file.async('string')
    const block = /<(\w+:)?mergeCells\b[\s\S]*?<\/\1?mergeCells>/.exec(xml)
    if (!block) continue
    const refs = [...block[0].matchAll(/<(?:\w+:)?mergeCell\b[^>]*\bref="([A-Z]{1,3}\d{1,7}:[A-Z]{1,3}\d{1,7})"/g)].map(x => x[1]!)
    if (refs.length < MANY) continue
    bySheet.set(name.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'"), refs)
    zip.file(path!, xml.slice(0, block.index) + xml.slice(block.index + block[0].length))
  }
  if (!bySheet.size) return undefined
  return { buf: await zip.generateAsync({ type: 'arraybuffer', compression: 'STORE' }), bySheet }
}

const col = (letters: string) => [...letters].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0)

/** Covered cells (not the top-left one) of the ranges, by row (1-based): [first, last] columns. */
export function coveredCells(refs: readonly string[], maxEntries: number): Map<number, [number, number][]> {
  const out = new Map<number, [number, number][]>()
  let n = 0
  for (const ref of refs) {
    const m = /^([A-Z]+)(\d+):([A-Z]+)(\d+)$/.exec(ref)
    if (!m) continue
    const c1 = col(m[1]!), r1 = Number(m[2]), c2 = col(m[3]!), r2 = Number(m[4])
    for (let r = r1; r <= r2; r++) {
      if (++n > maxEntries) throw new Error(`limit: merged ranges over more than ${maxEntries} rows`)
      const list = out.get(r) ?? []
      list.push(r === r1 ? [c1 + 1, c2] : [c1, c2])
      out.set(r, list)
    }
  }
  return out
}
