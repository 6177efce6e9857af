// @vitest-environment node
/**
 * Exports and imports against the real server: XLSX out (authorised like the rest of the API), CSV out
 * (safe against formula injection), XLSX in (round trip keeps values and formulas), and hostile files
 * (zip bombs, corrupt files, __proto__ names, oversized and slow files) refused with a clear 4xx while
 * the server and Object.prototype stay as they were.
 */
import { describe, expect, it } from 'vitest'
import ExcelJS from 'exceljs'
import * as Y from 'yjs'
import { createLink, createWorkbook, docUntil, nextEvent, ownerTokens, syncedClient, testScope, type TestServer } from '../helpers/server'
import { zip } from '../helpers/zip'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { decodeFormula } from '../../src/core/formulas/references'
import { cellKey, isFormula, sheetIds, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { columnFormulaFor } from '../../src/core/workbook/table'
import { layoutOf, textAt, type } from '../helpers/workbook'

import { cellStyle, setCellStyle } from '../../src/core/workbook/styles'
import { mergeCells, mergesOf, sheetMerges } from '../../src/core/workbook/merges'
import { hiddenIds, setHidden } from '../../src/core/workbook/hidden'
import { WorkbookLayout } from '../../src/core/workbook/layout'
const { server, track } = testScope()

const bearer = (t: string) => ({ authorization: `Bearer ${t}` })

async function get(s: TestServer, path: string, token?: string): Promise<Response> {
  return fetch(s.url + path, { headers: token === undefined ? {} : bearer(token) })
}

async function importFile(s: TestServer, body: Buffer, query = ''): Promise<{ status: number; json: any }> {
  const res = await fetch(`${s.url}/api/workbooks/import${query}`, {
    method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
  })
  const text = await res.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = text }
  return { status: res.status, json }
}

async function readXlsx(buf: ArrayBuffer | Buffer): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook()
  await wb.xlsx.load(buf as ArrayBuffer)
  return wb
}

/** Every sheet as name → rows of [A1 formula (no header offset) or null, value]. */
function contents(doc: Y.Doc) {
  const engine = new FormulaEngine(doc)
  try {
    // entries, not `out[name] =`: a sheet may be called __proto__
    const out: [string, Record<string, unknown>][] = []
    for (const id of engine.layout.order) {
      const sl = engine.layout.sheet(id)!
      const parts = sheetParts(sheetsOf(doc).get(id)!)
      const metas = sl.cols.ids.map(c => parts.colMeta.get(c) as ColumnMeta | undefined)
      let lastRow = -1, lastCol = -1
      sl.rows.ids.forEach((r, ri) => sl.cols.ids.forEach((c, ci) => { if (parts.cells.has(cellKey(r, c))) { lastRow = Math.max(lastRow, ri); lastCol = Math.max(lastCol, ci) } }))
      const cells: [string | null, unknown][][] = []
      for (let r = 0; r <= lastRow; r++) {
        const row: [string | null, unknown][] = []
        for (let c = 0; c <= lastCol; c++) {
          const input = parts.cells.get(cellKey(sl.rows.ids[r]!, sl.cols.ids[c]!))
          const v = engine.getValue(id, r, c)
          row.push([isFormula(input) ? decodeFormula(input.v, { layout: engine.layout, sheetId: id }) : null,
            typeof v === 'number' ? Number(v.toPrecision(10)) : v && typeof v === 'object' ? v.error : v === '' ? null : v])
        }
        cells.push(row)
      }
      const totals = sheetsOf(doc).get(id)!.get('totalsRow')
      out.push([sl.name, {
        titles: metas.slice(0, lastCol + 1).map(m => m?.title),
        types: metas.slice(0, lastCol + 1).map(m => m?.type === 'text' ? undefined : m?.type),
        // settings as they are, with the ids they hold made positional
        settings: metas.slice(0, lastCol + 1).map(m => m && {
          ...m, width: undefined,
          formula: m.formula && decodeFormula(columnFormulaFor(m.formula, sl.rows.ids[0]!, sl.rows.ids).v, { layout: engine.layout, sheetId: id }),
          rules: m.rules?.map(r => ({ ...r, colId: r.colId && sl.cols.indexOf(r.colId) })),
        }),
        totalsRow: typeof totals === 'string' ? sl.rows.indexOf(totals) : -1,
        cells,
      }])
    }
    return Object.fromEntries(out)
  } finally {
    engine.destroy()
  }
}

describe('XLSX export over the API', () => {
  it('downloads the live workbook for any link of it, with a Chinese file name; refuses without one', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan', title: '2026年运营计划' })
    const c = track(await syncedClient(s, id))
    // a live edit is in the export at once
    const kpi = sheetIds(c.doc).find(x => layoutOf(c.doc).sheet(x)!.name === '商品运营')!
    type(c.doc, kpi, 'A1', '实时修改')
    await s.rooms.flushAll()
    const viewer = await createLink(s, id, 'viewer', '评审')
    const res = await get(s, `/api/workbooks/${id}/export.xlsx`, viewer)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
    expect(res.headers.get('content-disposition')).toContain(`filename*=UTF-8''${encodeURIComponent('2026年运营计划.xlsx')}`)
    const wb = await readXlsx(await res.arrayBuffer())
    expect(wb.worksheets.filter(w => w.state === 'visible').map(w => w.name)).toEqual(sheetIds(c.doc).map(x => layoutOf(c.doc).sheet(x)!.name))
    expect(wb.getWorksheet('商品运营')!.getCell('A2').value).toBe('实时修改')
    expect(wb.creator).toBe('评审')
    // the token may also ride in the address (a plain download link)
    expect((await get(s, `/api/workbooks/${id}/export.xlsx?token=${viewer}`)).status).toBe(200)
    expect((await get(s, `/api/workbooks/${id}/export.xlsx`)).status).toBe(401)
    const other = await createWorkbook(s)
    expect((await get(s, `/api/workbooks/${id}/export.xlsx`, ownerTokens.get(other)!)).status).toBe(403)
  })

  it('writes the filter the exporter sends as Excel\'s filter, and an import makes it a filter view; a bad filter is refused', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan', title: '筛选导出' })
    const c = track(await syncedClient(s, id))
    const sheet = sheetIds(c.doc).find(x => layoutOf(c.doc).sheet(x)!.name === '商品运营')!
    const sl = layoutOf(c.doc).sheet(sheet)!
    type(c.doc, sheet, 'A1', '保留'); type(c.doc, sheet, 'A2', '筛掉')
    await s.rooms.flushAll()
    const post = (body: unknown) => fetch(`${s.url}/api/workbooks/${id}/export.xlsx`, {
      method: 'POST', headers: { ...bearer(ownerTokens.get(id)!), 'content-type': 'application/json' }, body: JSON.stringify(body),
    })
    const res = await post({ filters: { [sheet]: { [sl.cols.ids[0]!]: { kind: 'values', values: ['保留'] } } } })
    expect(res.status).toBe(200)
    const file = Buffer.from(await res.arrayBuffer())
    const ws = (await readXlsx(file)).getWorksheet('商品运营')!
    expect(ws.autoFilter).toMatch(/^A1:/)
    expect(ws.getRow(2).hidden).toBe(false)
    expect(ws.getRow(3).hidden).toBe(true)
    const imported = await importFile(s, file, '?lang=zh-CN')
    expect(imported.status).toBe(201)
    const back = track(await syncedClient(s, imported.json.id, { token: imported.json.token }))
    const views = [...back.doc.getMap('filterViews').values()] as { name: string; sheet: string }[]
    expect(views.map(v => v.name)).toEqual(['文件中的筛选'])
    expect(layoutOf(back.doc).sheet(views[0]!.sheet)!.name).toBe('商品运营')
    expect(hiddenIds(back.doc, views[0]!.sheet, 'rows').size).toBe(0)
    for (const [body, text] of [
      [{ filters: { [sheet]: { c: { kind: 'op', op: 'like', value: 'x' } } } }, /filters\./],
      [{ filters: { '../x': {} } }, /filters\.\.\.\/x/],
      [{ filters: 'all' }, /filters/],
      [{ pictures: [] }, /images/],
    ] as const) {
      const r = await post(body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(await r.text()).toMatch(text)
    }
  })
})

describe('the export worker', () => {
  it('computes exports in one worker thread, kept between exports and stopped when idle', async () => {
    const s = await server({ exportOptions: { idleMs: 300 } })
    const id = await createWorkbook(s, { template: 'operations-plan', title: '运营计划' })
    expect(s.exports.started).toBe(0)
    const started = nextEvent(s.exports, 'started', undefined, 30_000)
    const stopped = nextEvent(s.exports, 'stopped', undefined, 30_000)
    const [a, b, c] = await Promise.all([
      get(s, `/api/workbooks/${id}/export.xlsx`, ownerTokens.get(id)!),
      get(s, `/api/workbooks/${id}/export.csv?sheet=0`, ownerTokens.get(id)!),
      get(s, `/api/workbooks/${id}/export.json`, ownerTokens.get(id)!),
    ])
    await started
    expect([a.status, b.status, c.status]).toEqual([200, 200, 200])
    expect((await readXlsx(await a.arrayBuffer())).worksheets.length).toBeGreaterThan(1)
    expect((await b.text()).length).toBeGreaterThan(10)
    expect((await c.json()).sheets.length).toBeGreaterThan(1)
    // three exports, one worker
    expect(s.exports.started).toBe(1)
    await stopped
    // the next export starts a new one
    expect((await get(s, `/api/workbooks/${id}/export.xlsx`, ownerTokens.get(id)!)).status).toBe(200)
    expect(s.exports.started).toBe(2)
  })

  it('an export over its time limit, or whose worker dies, fails with 503; the server serves on and the next export gets a new worker', async () => {
    const s = await server({ exportOptions: { timeoutMs: 1 } })
    const id = await createWorkbook(s, { template: 'operations-plan' })
    const slow = await get(s, `/api/workbooks/${id}/export.xlsx`, ownerTokens.get(id)!)
    expect(slow.status).toBe(503)
    expect((await slow.json()).error).toMatch(/longer than/)
    expect((await s.api('GET', '/api/health')).json.ok).toBe(true)
    expect((await get(s, `/api/workbooks/${id}/export.csv`, ownerTokens.get(id)!)).status).toBe(503)
    expect(s.exports.started).toBe(2)

    // a heap too small for the export: the worker runs out of memory
    const t = await server({ exportOptions: { maxHeapMb: 4 } })
    const id2 = await createWorkbook(t, { template: 'operations-plan' })
    const dead = await get(t, `/api/workbooks/${id2}/export.xlsx`, ownerTokens.get(id2)!)
    expect(dead.status).toBe(503)
    expect((await dead.json()).error).toMatch(/export/)
    expect((await t.api('GET', '/api/health')).json.ok).toBe(true)
  })

  it('refuses exports past the queue with 503 while the others finish', async () => {
    const s = await server({ exportOptions: { maxQueued: 1 } })
    const id = await createWorkbook(s, { template: 'operations-plan' })
    const token = ownerTokens.get(id)!
    // one runs (starting the worker), one waits, the rest are refused at once
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(s, `/api/workbooks/${id}/export.csv`, token)))
    const statuses = answers.map(a => a.status).sort()
    expect(statuses.filter(x => x === 200).length).toBeGreaterThanOrEqual(2)
    expect(statuses.filter(x => x === 503).length).toBeGreaterThanOrEqual(1)
    expect(statuses.every(x => x === 200 || x === 503)).toBe(true)
    const refused = answers.find(a => a.status === 503)!
    expect((await refused.json()).error).toMatch(/waiting/)
    expect((await get(s, `/api/workbooks/${id}/export.csv`, token)).status).toBe(200)
  })

  it('answers an unknown sheet with 404 naming the sheets there are', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan' })
    const res = await get(s, `/api/workbooks/${id}/export.csv?sheet=nope`, ownerTokens.get(id)!)
    expect(res.status).toBe(404)
    expect((await res.json()).error).toMatch(/nope.*sheets: /)
  })
})

describe('CSV export', () => {
  it('neutralises formula injection, keeps numbers numbers and Chinese text with a BOM', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'blank', lang: 'en' })
    const c = track(await syncedClient(s, id))
    const sheet = sheetIds(c.doc)[0]!
    const payloads = ['=HYPERLINK("http://evil","x")', '+cmd|calc', '-2+3', '@SUM(1+1)', '\tTAB', '\rCR', '=1+1']
    // typed with a leading apostrophe, as a person enters text that looks like a formula
    payloads.forEach((p, i) => type(c.doc, sheet, `A${i + 1}`, `'${p}`))
    type(c.doc, sheet, 'B1', '-5')
    type(c.doc, sheet, 'B2', '3.14')
    type(c.doc, sheet, 'B3', '=B1*2')
    type(c.doc, sheet, 'B4', '数据监控, 含 "引号"')
    type(c.doc, sheet, 'B5', '=A99+1')
    await s.rooms.flushAll()
    expect(textAt(c.doc, sheet, 'A1')).toBe(`'${payloads[0]}`)
    const res = await get(s, `/api/workbooks/${id}/export.csv?sheet=0`, ownerTokens.get(id)!)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    const bytes = Buffer.from(await res.arrayBuffer())
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const text = bytes.toString('utf8').slice(1)
    const lines = text.split('\r\n')
    // every payload starts with an apostrophe (a field with a CR is quoted: the quote comes first)
    expect(lines[0]).toBe(`"'=HYPERLINK(""http://evil"",""x"")",-5`)
    expect(lines[1]).toBe(`'+cmd|calc,3.14`)
    expect(lines[2]).toBe(`'-2+3,-10`)
    expect(lines[3]).toBe(`'@SUM(1+1),"数据监控, 含 ""引号"""`)
    expect(lines[4]).toBe(`'\tTAB,1`)
    expect(text).toContain(`"'\rCR"`)
    expect(lines.filter(l => /^[=+\-@]/.test(l))).toEqual([])
    // by name too; an unknown sheet is a clear 404
    expect((await get(s, `/api/workbooks/${id}/export.csv?sheet=${encodeURIComponent('sheet1')}`, ownerTokens.get(id)!)).status).toBe(200)
    const missing = await get(s, `/api/workbooks/${id}/export.csv?sheet=nope`, ownerTokens.get(id)!)
    expect(missing.status).toBe(404)
    expect((await missing.json()).error).toContain('Sheet1')
  })
})

describe('XLSX import', () => {
  it('round trip of what the sheet shows besides values: formats, merges, hidden rows and columns', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'blank' })
    const c = track(await syncedClient(s, id))
    const sheet = sheetIds(c.doc)[0]!
    const layout = () => new WorkbookLayout(c.doc).sheet(sheet)!
    const at = (r: number, col: number) => ({ rowId: layout().rows.ids[r]!, colId: layout().cols.ids[col]! })
    type(c.doc, sheet, 'A1', '华东区'); type(c.doc, sheet, 'C2', '120'); type(c.doc, sheet, 'A4', 'hidden row')
    setCellStyle(c.doc, sheet, [at(0, 0)], { b: true, fc: '#c00000', bg: '#fff2cc', ha: 'center', wrap: true })
    setCellStyle(c.doc, sheet, [at(1, 2)], { i: true, u: true, va: 'top' })
    mergeCells(c.doc, new WorkbookLayout(c.doc), sheet, at(0, 0), at(1, 1))
    setHidden(c.doc, sheet, 'rows', [at(3, 0).rowId], true)
    setHidden(c.doc, sheet, 'cols', [at(0, 3).colId], true)
    await docUntil(s.rooms.rooms.get(id)!.doc, 'the server has the merge', d => mergesOf(d).size === 1)
    await s.rooms.flushAll()
    const file = Buffer.from(await (await get(s, `/api/workbooks/${id}/export.xlsx`, ownerTokens.get(id)!)).arrayBuffer())
    const imported = await importFile(s, file)
    expect(imported.status).toBe(201)
    const d = track(await syncedClient(s, imported.json.id, { token: imported.json.token }))
    const sid = sheetIds(d.doc)[0]!
    const sl = new WorkbookLayout(d.doc).sheet(sid)!
    expect(cellStyle(d.doc, sid, sl.rows.ids[0]!, sl.cols.ids[0]!)).toEqual({ b: true, fc: '#c00000', bg: '#fff2cc', ha: 'center', wrap: true })
    expect(cellStyle(d.doc, sid, sl.rows.ids[1]!, sl.cols.ids[2]!)).toEqual({ i: true, u: true, va: 'top' })
    expect(sheetMerges(d.doc, new WorkbookLayout(d.doc), sid).map(b => [b.row, b.col, b.rowspan, b.colspan])).toEqual([[0, 0, 2, 2]])
    expect([...hiddenIds(d.doc, sid, 'rows')].map(x => sl.rows.indexOf(x))).toEqual([3])
    expect([...hiddenIds(d.doc, sid, 'cols')].map(x => sl.cols.indexOf(x))).toEqual([3])
  })

  it('round trip: every value, formula, title and column type of the operations plan comes back', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan', lang: 'zh-CN' })
    const c = track(await syncedClient(s, id))
    const file = Buffer.from(await (await get(s, `/api/workbooks/${id}/export.xlsx`, ownerTokens.get(id)!)).arrayBuffer())
    const imported = await importFile(s, file, `?title=${encodeURIComponent('导入 复盘')}&name=${encodeURIComponent('王经理')}`)
    expect(imported.status).toBe(201)
    expect(imported.json).toMatchObject({ title: '导入 复盘', you: { role: 'owner', name: '王经理' } })
    expect(imported.json.report.formulas).toBeGreaterThan(50)
    const d = track(await syncedClient(s, imported.json.id, { token: imported.json.token }))
    expect(contents(d.doc)).toEqual(contents(c.doc))
    // and out again: the second export holds the same formulas and values as the first
    const again = await readXlsx(await (await get(s, `/api/workbooks/${imported.json.id}/export.xlsx`, imported.json.token)).arrayBuffer())
    const first = await readXlsx(file)
    for (const ws of first.worksheets.filter(w => w.state === 'visible')) {
      const ws2 = again.getWorksheet(ws.name)!
      ws.eachRow((row, r) => row.eachCell((cell, col) => {
        expect(ws2.getRow(r).getCell(col).value, `${ws.name}!${cell.address}`).toEqual(cell.value)
      }))
    }
  })

  it('takes a file made elsewhere: formats become column types, a bold first row titles, shared formulas their own', async () => {
    const s = await server()
    const wb = new ExcelJS.Workbook()
    const ws = wb.addWorksheet('渠道')
    ws.addRow(['渠道', '预算', '占比', '上线日期'])
    ws.getRow(1).font = { bold: true }
    ws.addRow(['天猫', 50000, null, new Date(Date.UTC(2026, 5, 18))])
    ws.addRow(['抖音', 30000, null, new Date(Date.UTC(2026, 5, 20))])
    ws.getCell('C2').value = { formula: 'B2/SUM($B$2:$B$3)', shareType: 'shared', ref: 'C2:C3', result: 0.625 } as ExcelJS.CellFormulaValue
    ws.getCell('C3').value = { sharedFormula: 'C2', result: 0.375 } as ExcelJS.CellSharedFormulaValue
    ws.getColumn(2).numFmt = '"¥"#,##0.00'
    ws.getColumn(3).numFmt = '0.0%'
    ws.getColumn(4).numFmt = 'yyyy/m/d'
    ws.getColumn(1).width = 20
    ws.mergeCells('F1:G1')
    ws.getCell('F1').value = '合并'
    const res = await importFile(s, Buffer.from(await wb.xlsx.writeBuffer()))
    expect(res.status).toBe(201)
    const d = track(await syncedClient(s, res.json.id, { token: res.json.token }))
    const got = contents(d.doc)['渠道'] as { titles: unknown[]; types: unknown[]; cells: unknown[][] }
    expect(got.titles.slice(0, 4)).toEqual(['渠道', '预算', '占比', '上线日期'])
    expect(got.types.slice(0, 4)).toEqual([undefined, 'currency', 'percent', 'date'])
    expect(got.cells[0]!.slice(0, 4)).toEqual([[null, '天猫'], [null, 50000], ['=B1/SUM($B$1:$B$2)', 0.625], [null, 46191]])
    expect(got.cells[1]![2]).toEqual(['=B2/SUM($B$1:$B$2)', 0.375])
    const sid = sheetIds(d.doc)[0]!
    expect((sheetParts(sheetsOf(d.doc).get(sid)!).colMeta.get(layoutOf(d.doc).sheet(sid)!.cols.ids[0]!) as ColumnMeta).width).toBe(140)
    // F1:G1 is in the title row, which became the columns' titles: said, not carried
    expect(res.json.report.notes.join('\n')).toMatch(/1 merged cells in the title row/)
  })
})

describe('hostile files', () => {
  const before = Object.getOwnPropertyNames(Object.prototype).sort()

  it('are refused with a clear 4xx, and the server keeps serving', async () => {
    const s = await server({ maxImportBytes: 2 * 1024 * 1024, importLimits: { maxUnpackedBytes: 8 * 1024 * 1024, maxCells: 1_000 } })
    const types = Buffer.from('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>')
    const cases: [string, Buffer, number, RegExp][] = [
      ['empty', Buffer.alloc(0), 400, /body/],
      ['not a zip', Buffer.from('<html>hello</html>'), 415, /ZIP/],
      ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)), 415, /ZIP/],
      ['a truncated workbook', Buffer.alloc(0), 400, /damaged/],
      ['a zip bomb that lies about its size', zip([{ name: '[Content_Types].xml', data: types }, { name: 'xl/workbook.xml', data: Buffer.alloc(100 * 1024 * 1024), declaredSize: 1000 }]), 413, /unpacks to more than 8 MB/],
      ['too many parts', zip(Array.from({ length: 2_001 }, (_, i) => ({ name: `xl/p${i}.xml`, data: Buffer.from('x'), method: 0 as const }))), 413, /parts/],
      ['a zip without a workbook', zip([{ name: 'hello.txt', data: Buffer.from('hi') }]), 415, /no workbook/],
      ['a workbook whose XML is garbage', zip([{ name: '[Content_Types].xml', data: types }, { name: 'xl/workbook.xml', data: Buffer.from('<<<not xml') }]), 422, /could not be read/],
      ['over the upload limit', Buffer.alloc(3 * 1024 * 1024, 1), 413, /larger than 2 MB/],
    ]
    // a real workbook cut in half
    const good = new ExcelJS.Workbook()
    good.addWorksheet('A').addRow([1, 2, 3])
    const goodBuf = Buffer.from(await good.xlsx.writeBuffer())
    cases[3]![1] = goodBuf.subarray(0, Math.floor(goodBuf.length / 2))
    // more cells than the server takes
    const big = new ExcelJS.Workbook()
    const bws = big.addWorksheet('big')
    for (let r = 0; r < 60; r++) bws.addRow(Array.from({ length: 20 }, (_, c) => r * 20 + c))
    cases.push(['more cells than allowed', Buffer.from(await big.xlsx.writeBuffer()), 413, /more than 1000 cells/])
    // two cells far apart: nearly empty, but a grid of 50 million
    const far = new ExcelJS.Workbook()
    const fws = far.addWorksheet('far')
    fws.getCell('A1').value = 1
    fws.getRow(100_000).getCell(500).value = 2
    cases.push(['two cells far apart', Buffer.from(await far.xlsx.writeBuffer()), 413, /span \d+ cells/])
    for (const [what, body, status, message] of cases) {
      const res = await importFile(s, body)
      expect({ what, status: res.status }).toEqual({ what, status })
      expect(res.json.error, what).toMatch(message)
    }
    expect(await s.store.listWorkbooks()).toEqual([])
    expect((await fetch(s.url + '/api/health')).status).toBe(200)
    expect((await importFile(s, goodBuf)).status).toBe(201)
  })

  it('a file that takes too long to read is cut off', async () => {
    const s = await server({ importLimits: { timeoutMs: 1 } })
    const wb = new ExcelJS.Workbook()
    wb.addWorksheet('A').addRow([1])
    const res = await importFile(s, Buffer.from(await wb.xlsx.writeBuffer()))
    expect(res.status).toBe(422)
    expect(res.json.error).toMatch(/longer than/)
    expect((await fetch(s.url + '/api/health')).status).toBe(200)
  })

  it('__proto__ and constructor as sheet names, values and titles are only data', async () => {
    const s = await server()
    const wb = new ExcelJS.Workbook()
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      const ws = wb.addWorksheet(name)
      ws.addRow(['__proto__', 'constructor', 'toString'])
      ws.getRow(1).font = { bold: true }
      ws.addRow(['{"polluted":1}', 1, 2])
    }
    wb.title = '__proto__'
    const res = await importFile(s, Buffer.from(await wb.xlsx.writeBuffer()))
    expect(res.status).toBe(201)
    const d = track(await syncedClient(s, res.json.id, { token: res.json.token }))
    const got = contents(d.doc)
    expect(Object.keys(got)).toEqual(['__proto__', 'constructor', 'prototype'])
    expect((got['__proto__'] as { titles: unknown }).titles).toEqual(['__proto__', 'constructor', 'toString'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before)
    expect(Object.getPrototypeOf({})).toBe(Object.prototype)
  })
})
