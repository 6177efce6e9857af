// @vitest-environment node
/**
 * XLSX import fidelity against the real server and LibreOffice: files made by other programs (ExcelJS,
 * xlsx-populate, LibreOffice from a CSV and from an ODS made here) are imported, and every value the
 * app computes must equal LibreOffice's recalculation of the original file. The import must not hold
 * up the server's event loop (measured in the server's own process), dates keep their time of day and
 * the 1904 system, and a file that cannot be read is refused with its cause.
 */
import { describe, expect, it } from 'vitest'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import ExcelJS from 'exceljs'
import XlsxPopulate from 'xlsx-populate'
import JSZip from 'jszip'
import type * as Y from 'yjs'
import { syncedClient, testScope, type TestServer } from '../helpers/server'
import { comparable, computed, convertedByLibreOffice, throughLibreOffice } from '../helpers/libreoffice'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { decodeFormula } from '../../src/core/formulas/references'
import { cellKey, isFormula, sheetParts, sheetsOf } from '../../src/core/workbook/schema'
import { cellStyle } from '../../src/core/workbook/styles'
import { sheetMerges } from '../../src/core/workbook/merges'

const { server, track } = testScope()

async function importFile(s: TestServer, body: Buffer): Promise<{ status: number; json: any }> {
  const res = await fetch(`${s.url}/api/workbooks/import`, {
    method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
  })
  const text = await res.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = text }
  return { status: res.status, json }
}

async function importedDoc(s: TestServer, file: Buffer): Promise<{ doc: Y.Doc; report: { notes: string[]; formulas: number } }> {
  const res = await importFile(s, file)
  expect(res.status, JSON.stringify(res.json)).toBe(201)
  const client = track(await syncedClient(s, res.json.id, { token: res.json.token }))
  return { doc: client.doc, report: res.json.report }
}

/**
 * Every cell LibreOffice has a value for, its value beside the app's (by sheet name and position):
 * only the cells that differ are returned, with the formula the app keeps.
 */
function differences(doc: Y.Doc, lo: ExcelJS.Workbook): { where: string; lo: unknown; app: unknown; formula?: string }[] {
  const engine = new FormulaEngine(doc)
  const out: { where: string; lo: unknown; app: unknown; formula?: string }[] = []
  try {
    for (const ws of lo.worksheets) {
      const id = engine.layout.order.find(i => engine.layout.sheet(i)!.name === ws.name)
      if (!id) { out.push({ where: ws.name, lo: 'sheet', app: 'missing' }); continue }
      const sl = engine.layout.sheet(id)!
      const cells = sheetParts(sheetsOf(doc).get(id)!).cells
      ws.eachRow((row, r) => row.eachCell((cell, c) => {
        if (cell.isMerged && cell.master !== cell) return
        const want = computed(cell)
        const got = comparable(engine.getValue(id, r - 1, c - 1))
        if (JSON.stringify(want) === JSON.stringify(got)) return
        const input = cells.get(cellKey(sl.rows.ids[r - 1] ?? '', sl.cols.ids[c - 1] ?? ''))
        out.push({ where: `${ws.name}!${cell.address}`, lo: want, app: got, ...(isFormula(input) ? { formula: decodeFormula(input.v, { layout: engine.layout, sheetId: id }) } : {}) })
      }))
    }
  } finally {
    engine.destroy()
  }
  return out
}

/** 5,000 rows, 7,000 formulas (a product per row, a running total over 2,000 rows). */
async function bigFile(): Promise<Buffer> {
  const wb = new ExcelJS.Workbook()
  const ws = wb.addWorksheet('Data')
  ws.addRow(['Item', 'Qty', 'Price', 'Total', 'Running'])
  for (let r = 2; r <= 5001; r++) {
    ws.addRow([`item ${r}`, r % 17, (r % 23) + 0.5])
    ws.getCell(r, 4).value = { formula: `B${r}*C${r}` } as ExcelJS.CellFormulaValue
    if (r <= 2001) ws.getCell(r, 5).value = { formula: r === 2 ? `D${r}` : `E${r - 1}+D${r}` } as ExcelJS.CellFormulaValue
  }
  return Buffer.from(await wb.xlsx.writeBuffer())
}

describe('the import off the server thread', () => {
  it('reads, builds and encodes a 5,000-row, 7,000-formula file in the worker: /api/health answers throughout, the event loop is not held 50 ms', async () => {
    const s = await server()
    const file = await bigFile()
    // the server runs in this process: this is its event loop
    const h = monitorEventLoopDelay({ resolution: 10 })
    h.enable()
    const elu = performance.eventLoopUtilization()
    const started = performance.now()
    let done = false
    const importing = importFile(s, file).finally(() => { done = true })
    const latencies: number[] = []
    while (!done) {
      const t = performance.now()
      expect((await fetch(s.url + '/api/health')).status).toBe(200)
      latencies.push(performance.now() - t)
      // a person's poll, not a load test: the loop's own garbage would be collected on this thread
      await new Promise(r => setTimeout(r, 25))
    }
    const res = await importing
    const ms = performance.now() - started
    const busy = performance.eventLoopUtilization(elu)
    h.disable()
    expect(res.status).toBe(201)
    expect(res.json.report.formulas).toBe(7000)
    console.info(`import of 5,000 rows × 7,000 formulas: ${Math.round(ms)} ms; /api/health max ${Math.round(Math.max(...latencies))} ms over ${latencies.length} requests; event-loop stall p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms, max ${(h.max / 1e6).toFixed(1)} ms; server thread busy ${Math.round(busy.active)} ms`)
    expect(latencies.length).toBeGreaterThan(3)
    // no stretch of the import's own work on this thread: building here held it 628 ms in one piece. The
    // bounds are loose on purpose (this is a check that the work is off the thread, not a speed target:
    // other test files share the 2 CPUs, and the scheduler alone delayed an idle loop's timer 113 ms)
    expect(Math.max(...latencies)).toBeLessThan(500)
    expect(h.percentile(99) / 1e6).toBeLessThan(100)
    expect(h.max / 1e6).toBeLessThan(400)
    // and the workbook is there with its computed values
    const { doc } = await importedDoc(s, file)
    const engine = new FormulaEngine(doc)
    try {
      const id = engine.layout.order[0]!
      // header row "Item…" is not bold nor frozen: it stays a row
      expect(engine.getValue(id, 2000, 4)).toBeCloseTo([...Array(2000).keys()].reduce((n, i) => n + ((i + 2) % 17) * (((i + 2) % 23) + 0.5), 0), 6)
    } finally {
      engine.destroy()
    }
  }, 120_000)
})

/** Each file imported, beside LibreOffice's recalculation of the same file: no value differs. */
async function expectSameAsLibreOffice(s: TestServer, files: Map<string, Buffer>, unreadable: string[] = []): Promise<Map<string, { doc: Y.Doc; report: { notes: string[]; formulas: number } }>> {
  const lo = await throughLibreOffice(files)
  const out = new Map<string, { doc: Y.Doc; report: { notes: string[]; formulas: number } }>()
  for (const [name, file] of files) {
    const imported = await importedDoc(s, file)
    const diff = differences(imported.doc, lo.get(name)!).filter(d => !unreadable.includes(d.where))
    expect({ name, differences: diff }).toEqual({ name, differences: [] })
    out.set(name, imported)
  }
  return out
}

const DAY = 86_400_000, SERIAL0 = Date.UTC(1899, 11, 30)

describe('dates', () => {
  it('keep their time of day, a number in a date cell keeps its fraction, 1904 files do not shift, and a text or error in a date cell refuses nothing', async () => {
    const s = await server()
    const wb = new ExcelJS.Workbook()
    const ws = wb.addWorksheet('Dates')
    const put = (a1: string, value: ExcelJS.CellValue, numFmt: string) => { const c = ws.getCell(a1); c.value = value; c.numFmt = numFmt }
    put('A1', new Date(Date.UTC(2025, 5, 18, 9, 0)), 'yyyy-mm-dd hh:mm')
    put('A2', 45000.75, 'yyyy-mm-dd')
    put('A3', { formula: 'A1+1' } as ExcelJS.CellFormulaValue, 'yyyy-mm-dd hh:mm')
    // cached text and an error in date-formatted formula cells ("Invalid time value" refused the file)
    put('A4', { formula: 'TEXT(A1,"yyyy")', result: '2025' } as ExcelJS.CellFormulaValue, 'yyyy-mm-dd')
    put('A5', { formula: '1/0', result: { error: '#DIV/0!' } } as ExcelJS.CellFormulaValue, 'yyyy-mm-dd')
    put('A6', { formula: 'HOUR(A1)+MINUTE(A2)/60' } as ExcelJS.CellFormulaValue, 'General')
    put('A7', new Date(Date.UTC(2025, 0, 1)), 'yyyy-mm-dd')
    put('A8', { formula: 'A7-A2' } as ExcelJS.CellFormulaValue, '0.00')
    const w1904 = new ExcelJS.Workbook()
    w1904.properties.date1904 = true
    const ws2 = w1904.addWorksheet('1904')
    ws2.getCell('A1').value = new Date(Date.UTC(2025, 5, 18)); ws2.getCell('A1').numFmt = 'yyyy-mm-dd'
    ws2.getCell('A2').value = { formula: 'A1+1' } as ExcelJS.CellFormulaValue; ws2.getCell('A2').numFmt = 'yyyy-mm-dd'
    ws2.getCell('A3').value = { formula: 'YEAR(A1)*100+MONTH(A1)' } as ExcelJS.CellFormulaValue
    const d1904 = Buffer.from(await w1904.xlsx.writeBuffer())
    // LibreOffice saves it with date1904="true" (ExcelJS writes "1")
    const lo1904 = (await convertedByLibreOffice(new Map([['d1904', ['xlsx', d1904] as [string, Buffer]]]), 'xlsx')).get('d1904')!
    expect(lo1904.length).toBeGreaterThan(0)
    const files = new Map([['dates', Buffer.from(await wb.xlsx.writeBuffer())], ['d1904', d1904], ['lo1904', lo1904]])
    // ExcelJS reads LibreOffice's text and error results of A4 and A5 as dates (the very quirk the import
    // had): those two are checked against what LibreOffice computes, as literals, below
    const got = await expectSameAsLibreOffice(s, files, ['Dates!A4', 'Dates!A5'])
    // and the figures themselves: 09:00 kept, 45000.75 not cut to 45000, 2025-06-18 in the 1904 file
    const engine = new FormulaEngine(got.get('dates')!.doc)
    try {
      const id = engine.layout.order[0]!
      expect(engine.getValue(id, 0, 0)).toBeCloseTo((Date.UTC(2025, 5, 18, 9) - SERIAL0) / DAY, 9)
      expect(engine.getValue(id, 1, 0)).toBe(45000.75)
      expect(engine.getValue(id, 5, 0)).toBe(9)
      expect(engine.getValue(id, 3, 0)).toBe('2025')
      expect(engine.getValue(id, 4, 0)).toMatchObject({ error: '#DIV/0!' })
    } finally {
      engine.destroy()
    }
    for (const name of ['d1904', 'lo1904']) {
      const e1904 = new FormulaEngine(got.get(name)!.doc)
      try {
        expect(e1904.getValue(e1904.layout.order[0]!, 0, 0)).toBe((Date.UTC(2025, 5, 18) - SERIAL0) / DAY)
        expect(e1904.getValue(e1904.layout.order[0]!, 2, 0)).toBe(202506)
      } finally {
        e1904.destroy()
      }
    }
  }, 240_000)
})

describe('files made by other programs', () => {
  it('ExcelJS, xlsx-populate, LibreOffice from a CSV and from an ODS: every value the app computes is LibreOffice\'s', async () => {
    const s = await server()
    // ExcelJS: a Chinese sheet name, a named range and a named cell, cross-sheet formulas, a hidden sheet, merges
    const ej = new ExcelJS.Workbook()
    const data = ej.addWorksheet('数据')
    data.addRows([['产品', '数量', '单价'], ['笔', 3, 1.5], ['墨水', 2, 4.25], ['纸', 10, 0.2]])
    ej.definedNames.add("'数据'!$B$2:$B$4", 'Qty')
    data.getCell('E1').value = 0.13
    data.getCell('E1').name = 'Rate'
    data.mergeCells('G1:H2')
    data.getCell('G1').value = 'merged'
    const calc = ej.addWorksheet('Calc')
    calc.getCell('A1').value = { formula: 'SUM(Qty)' } as ExcelJS.CellFormulaValue
    calc.getCell('A2').value = { formula: "SUMPRODUCT(Qty,'数据'!C2:C4)*(1+Rate)" } as ExcelJS.CellFormulaValue
    calc.getCell('A3').value = { formula: "'数据'!B2*'数据'!C2" } as ExcelJS.CellFormulaValue
    calc.getCell('A4').value = { formula: 'IF(A1>10,"many","few")' } as ExcelJS.CellFormulaValue
    calc.getCell('A5').value = { formula: 'Hidden!A1*2' } as ExcelJS.CellFormulaValue
    const hidden = ej.addWorksheet('Hidden', { state: 'hidden' })
    hidden.getCell('A1').value = 21
    // xlsx-populate: named range, named cell and a named constant, used across sheets
    const xp = await XlsxPopulate.fromBlankAsync()
    const sales = xp.sheet(0).name('销售')
    sales.range('A1:B4').value([['Region', 'Amount'], ['North', 120], ['South', 80.5], ['East', 42]])
    sales.cell('D1').value(0.1)
    xp.definedName('Amounts', sales.range('B2:B4'))
    xp.definedName('TaxRate', sales.cell('D1'))
    sales.cell('C2').formula('B2*(1+TaxRate)')
    sales.cell('E1').formula('SUM(Amounts)')
    const summary = xp.addSheet('Summary')
    summary.cell('A1').formula("'销售'!E1*2")
    summary.cell('A2').formula('AVERAGE(Amounts)')
    summary.cell('A3').formula('MAX(Amounts)-MIN(Amounts)')
    // LibreOffice: a CSV with dates and times, and an ODS (from a workbook with formulas and a name)
    const csv = Buffer.from('Item,Qty,Price,When\nPen,3,1.5,2025-06-18 09:30\nInk,2,4.25,2025-06-19\nPaper,10,0.2,2025-06-20 17:45\n')
    const forOds = new ExcelJS.Workbook()
    const o = forOds.addWorksheet('Plan')
    o.addRows([['a', 'b'], [1, 2], [3, 4], [5, 6]])
    forOds.definedNames.add('Plan!$A$2:$A$4', 'Firsts')
    o.getCell('D1').value = { formula: 'SUM(Firsts)*2' } as ExcelJS.CellFormulaValue
    o.getCell('D2').value = { formula: 'AVERAGE(B2:B4)+COUNTIF(A2:A4,">2")' } as ExcelJS.CellFormulaValue
    o.getCell('D3').value = { formula: 'VLOOKUP(3,A2:B4,2,FALSE)' } as ExcelJS.CellFormulaValue
    const ods = (await convertedByLibreOffice(new Map([['plan', ['xlsx', Buffer.from(await forOds.xlsx.writeBuffer())] as [string, Buffer]]]), 'ods')).get('plan')!
    const fromLo = await convertedByLibreOffice(new Map([['csv', ['csv', csv] as [string, Buffer]], ['ods', ['ods', ods] as [string, Buffer]]]), 'xlsx', '44,34,76,1,,0,false,true')
    const files = new Map([
      ['exceljs', Buffer.from(await ej.xlsx.writeBuffer())],
      ['populate', await xp.outputAsync()],
      ['lo-csv', fromLo.get('csv')!],
      ['lo-ods', fromLo.get('ods')!],
    ])
    const got = await expectSameAsLibreOffice(s, files)
    expect(got.get('exceljs')!.report.notes.join('\n')).toMatch(/defined names put in place where formulas use them: .*Qty/)
    expect(got.get('populate')!.report.notes.join('\n')).toMatch(/Amounts/)
    expect(got.get('populate')!.report.formulas).toBe(5)
  }, 240_000)
})

describe('array formulas', () => {
  it('CSE array formulas (over a range and in one cell) compute what LibreOffice computes', async () => {
    const s = await server()
    const wb = new ExcelJS.Workbook()
    const ws = wb.addWorksheet('Arrays')
    ws.addRows([[1, 2], [3, 4], [5, 6]])
    // (ExcelJS's types leave out fillFormula's fourth argument, the share type)
    ;(ws as unknown as { fillFormula(range: string, f: string, results: number[], type: string): void }).fillFormula('C1:C3', 'A1:A3*B1:B3', [2, 12, 30], 'array')
    ws.getCell('D1').value = { formula: 'SUM(A1:A3*B1:B3)', shareType: 'array', ref: 'D1', result: 44 } as unknown as ExcelJS.CellFormulaValue
    ws.getCell('E1').value = { formula: 'SUM(IF(A1:A3>2,B1:B3,0))', shareType: 'array', ref: 'E1', result: 10 } as unknown as ExcelJS.CellFormulaValue
    const got = await expectSameAsLibreOffice(s, new Map([['arrays', Buffer.from(await wb.xlsx.writeBuffer())]]))
    expect(got.get('arrays')!.report.notes.join('\n')).not.toMatch(/array formula/)
  }, 120_000)
})

describe('functions the engine lacks', () => {
  it('are named in the report; the formula is kept and shows the file\'s cached value, marked — equal to LibreOffice\'s', async () => {
    const s = await server()
    const wb = new ExcelJS.Workbook()
    const ws = wb.addWorksheet('Stats')
    ws.addRows([[1], [2], [3], [4], [100]])
    ws.getCell('B1').value = { formula: 'TRIMMEAN(A1:A5,0.4)', result: 3 } as ExcelJS.CellFormulaValue
    ws.getCell('B2').value = { formula: 'FIXED(1234.567,1)', result: '1,234.6' } as ExcelJS.CellFormulaValue
    ws.getCell('B3').value = { formula: 'SUM(A1:A5)', result: 110 } as ExcelJS.CellFormulaValue
    const got = await expectSameAsLibreOffice(s, new Map([['stats', Buffer.from(await wb.xlsx.writeBuffer())]]))
    const { doc, report } = got.get('stats')!
    expect(report.notes.join('\n')).toMatch(/functions the app does not compute: TRIMMEAN, FIXED; 2 of the 2 formulas/)
    const engine = new FormulaEngine(doc)
    try {
      const id = engine.layout.order[0]!
      const sl = engine.layout.sheet(id)!
      const cells = sheetParts(sheetsOf(doc).get(id)!).cells
      const formulaAt = (r: number) => { const x = cells.get(cellKey(sl.rows.ids[r]!, sl.cols.ids[1]!)); return isFormula(x) ? decodeFormula(x.v, { layout: engine.layout, sheetId: id }) : x }
      expect([formulaAt(0), formulaAt(1), formulaAt(2)]).toEqual(['=IFERROR(TRIMMEAN(A1:A5,0.4),3)', '=IFERROR(FIXED(1234.567,1),"1,234.6")', '=SUM(A1:A5)'])
      expect(cellStyle(doc, id, sl.rows.ids[0]!, sl.cols.ids[1]!)).toMatchObject({ i: true, bg: '#fff2cc' })
      expect(cellStyle(doc, id, sl.rows.ids[2]!, sl.cols.ids[1]!)?.bg).toBeUndefined()
    } finally {
      engine.destroy()
    }
  }, 120_000)
})

describe('many merged ranges', () => {
  it('50,000 merged ranges import within seconds, each kept, the cells under them left out', async () => {
    const s = await server()
    const wb = new ExcelJS.Workbook()
    const ws = wb.addWorksheet('M')
    for (let i = 0; i < 50_000; i++) { ws.getCell(i * 2 + 1, 1).value = i; ws.getCell(i * 2 + 2, 2).value = 'under' }
    ws.getCell('D1').value = { formula: 'SUM(A1:A100000)' } as ExcelJS.CellFormulaValue
    // the merges written into the sheet's XML (ExcelJS's own mergeCells is quadratic to write, too)
    const zip = await JSZip.loadAsync(await wb.xlsx.writeBuffer())
    const xml = await zip.file('xl/worksheets/sheet1.xml')!.async('string')
    const list = Array.from({ length: 50_000 }, (_, i) => `<mergeCell ref="A${i * 2 + 1}:B${i * 2 + 2}"/>`).join('')
    zip.file('xl/worksheets/sheet1.xml', xml.replace('</sheetData>', `</sheetData><mergeCells count="50000">${list}</mergeCells>`))
    const file = await zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' })
    const started = performance.now()
    const { doc, report } = await importedDoc(s, file)
    const ms = performance.now() - started
    console.info(`import of 50,000 merged ranges: ${Math.round(ms)} ms`)
    // about 5 s alone (LibreOffice opens such a file in 1.5 s); the import's own deadline bounds it
    expect(report.notes.join('\n')).not.toMatch(/merged ranges past/)
    const id = [...sheetsOf(doc).keys()][0]!
    const engine = new FormulaEngine(doc)
    try {
      expect(sheetMerges(doc, engine.layout, id).length).toBe(50_000)
      expect(engine.getValue(id, 0, 3)).toBe((49_999 * 50_000) / 2)
      // the text under each merge was the file's hidden value: left out
      expect(engine.getValue(id, 1, 1)).toBeNull()
    } finally {
      engine.destroy()
    }
  }, 120_000)
})

describe('column titles', () => {
  it('a header title longer than 100 characters is kept whole', async () => {
    const s = await server()
    const wb = new ExcelJS.Workbook()
    const ws = wb.addWorksheet('T')
    const long = '预算说明 — '.repeat(20) + 'end'
    ws.addRow(['短', long])
    ws.getRow(1).font = { bold: true }
    ws.addRow([1, 2])
    const { doc } = await importedDoc(s, Buffer.from(await wb.xlsx.writeBuffer()))
    const id = [...sheetsOf(doc).keys()][0]!
    const engine = new FormulaEngine(doc)
    try {
      const colId = engine.layout.sheet(id)!.cols.ids[1]!
      expect((sheetParts(sheetsOf(doc).get(id)!).colMeta.get(colId) as { title?: string }).title).toBe(long)
    } finally {
      engine.destroy()
    }
  })
})

describe('refusals that name their cause', () => {
  it('a password-protected workbook is told so, not "not a ZIP archive"', async () => {
    const s = await server()
    const xp = await XlsxPopulate.fromBlankAsync()
    xp.sheet(0).cell('A1').value(1)
    const res = await importFile(s, await xp.outputAsync({ password: 'secret' }))
    expect(res.status).toBe(415)
    expect(res.json.error).toMatch(/password-protected or an old \.xls/)
    expect((await fetch(s.url + '/api/health')).status).toBe(200)
  })
})

/** The file as the Open XML SDK writes it: every element of the main namespace with an `x:` prefix. */
async function withPrefixes(file: Buffer): Promise<Buffer> {
  const zip = await JSZip.loadAsync(file)
  for (const name of Object.keys(zip.files).filter(n => /^xl\/(workbook|worksheets\/sheet\d+)\.xml$/.test(n))) {
    const xml = await zip.file(name)!.async('string')
    zip.file(name, xml.replace(/<(\/?)([A-Za-z]\w*)(?=[\s>/])/g, (m, slash: string, tag: string) => `<${slash}x:${tag}`)
      .replace('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', 'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'))
  }
  return zip.generateAsync({ type: 'nodebuffer' })
}

describe('files the reader fails on', () => {
  it('XML with namespace prefixes is read again without them, equal to LibreOffice, and the report says so', async () => {
    const s = await server()
    const wb = new ExcelJS.Workbook()
    const ws = wb.addWorksheet('SDK')
    ws.addRows([[1, 2], [3, 4]])
    ws.getCell('C1').value = { formula: 'A1+B2*2' } as ExcelJS.CellFormulaValue
    const file = await withPrefixes(Buffer.from(await wb.xlsx.writeBuffer()))
    const got = await expectSameAsLibreOffice(s, new Map([['sdk', file]]))
    expect(got.get('sdk')!.report.notes.join('\n')).toMatch(/namespace prefixes.*the reader's error was/)
    expect(got.get('sdk')!.report.formulas).toBe(1)
  }, 120_000)
})
