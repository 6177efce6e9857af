// @vitest-environment node
/**
 * CSV/TSV import against the real server: POST /api/workbooks/import with text/csv (encodings, title
 * lines, quoted line breaks, the forms of numbers, dates and amounts, formula-looking text kept as
 * text), clear 4xx errors, a 50 MB file streamed in with the server's heap bounded, and
 * POST /api/workbooks/:id/sheets/import appending to / replacing a sheet's rows as the person, through
 * the access rules (a viewer is refused; a locked sheet refuses the whole import).
 */
import { describe, expect, it } from 'vitest'
import { request } from 'node:http'
import iconv from 'iconv-lite'
import * as Y from 'yjs'
import { createLink, docUntil, nextEvent, ownerTokens, syncedClient, testScope, type TestServer } from '../helpers/server'
import { csvEvents } from '../../server/import/csv'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { cellKey, sheetIds, sheetName, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { lockSheet, setProtections } from '../../src/core/access/access'
import { textForInput } from '../../src/core/workbook/input'

const { server, cleanups } = testScope()
const track = <T extends { destroy(): void }>(c: T) => { cleanups.push(() => c.destroy()); return c }

async function importCsv(s: TestServer, body: Uint8Array, query = '', type = 'text/csv'): Promise<{ status: number; json: any }> {
  const res = await fetch(`${s.url}/api/workbooks/import${query}`, { method: 'POST', body: new Uint8Array(body) as Uint8Array<ArrayBuffer>, headers: { 'content-type': type } })
  const text = await res.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = text }
  return { status: res.status, json }
}

/** The imported workbook's first sheet: titles, column metas, and the stored inputs row by row. */
async function opened(s: TestServer, created: { id: string; token: string }) {
  const c = track(await syncedClient(s, created.id, { token: created.token }))
  const doc = c.doc
  const sid = sheetIds(doc)[0]!
  const sl = new WorkbookLayout(doc).sheet(sid)!
  const p = sheetParts(sheetsOf(doc).get(sid)!)
  const metas = sl.cols.ids.map(c => (p.colMeta.get(c) ?? {}) as ColumnMeta)
  const row = (r: number) => sl.cols.ids.map(c => p.cells.get(cellKey(sl.rows.ids[r]!, c))).slice(0, metas.filter(m => m.title).length || 6)
  return { doc, sid, sl, metas, titles: metas.map(m => m.title ?? '').filter(Boolean), row }
}

const TABLE = [
  '2025年6月 店铺销售日报',
  '店铺,商品,销售额,转化率,客单价,日期,GMV,备注',
  '天猫旗舰店,"羽绒服,加厚","1,234.50",12.5%,"¥3,600",2025年6月18日,3.2万,"第一行\n第二行"',
  '京东自营,保温杯,980,8%,¥120,2025年6月19日,1.5亿,"=cmd|\' /C calc\'!A0"',
].join('\r\n') + '\r\n'

describe('CSV import: a new workbook', () => {
  it.each<[string, (t: string) => Uint8Array, string]>([
    ['GBK', t => iconv.encode(t.replace(/¥/g, '￥'), 'gbk'), 'gbk'],
    ['GB18030', t => iconv.encode(t.replace('羽绒服', '𠮷羽绒服').replace(/¥/g, '￥'), 'gb18030'), 'gb18030'],
    ['UTF-8 with a BOM', t => iconv.encode(t, 'utf8', { addBOM: true }), 'utf-8'],
    ['UTF-16 LE', t => iconv.encode(t, 'utf16le', { addBOM: true }), 'utf-16le'],
    ['UTF-16 BE', t => iconv.encode(t, 'utf16be', { addBOM: true }), 'utf-16be'],
  ])('%s with Chinese headers, a title line, quoted line breaks: the right values and types', async (_, encode, encoding) => {
    const s = await server()
    const res = await importCsv(s, new Uint8Array(encode(TABLE)), `?filename=${encodeURIComponent('店铺日报.csv')}`)
    expect(res.status, JSON.stringify(res.json)).toBe(201)
    expect(res.json).toMatchObject({ title: '店铺日报', you: { role: 'owner' } })
    expect(res.json.report).toMatchObject({ encoding, delimiter: ',', rows: 2, columns: 8, header: true, skippedLines: 1, replacedCharacters: 0 })
    expect(res.json.report.types.map((t: { type: string }) => t.type)).toEqual(['text', 'text', 'number', 'percent', 'currency', 'date', 'number', 'text'])
    expect(res.json.report.coerced).toMatchObject({ numbers: 2, percents: 2, currency: 2, dates: 2, wan: 2, formulasAsText: 1 })
    const w = await opened(s, res.json)
    expect(sheetName(w.doc, w.sid)).toBe('店铺日报')
    expect(w.titles).toEqual(['店铺', '商品', '销售额', '转化率', '客单价', '日期', 'GMV', '备注'])
    expect(w.row(0)).toEqual(['天猫旗舰店', encoding === 'gb18030' ? '𠮷羽绒服,加厚' : '羽绒服,加厚', 1234.5, 0.125, 3600, { t: 'd', v: '2025-06-18' }, 32000, '第一行\n第二行'])
    expect(w.row(1)).toEqual(['京东自营', '保温杯', 980, 0.08, 120, { t: 'd', v: '2025-06-19' }, 150000000, "=cmd|' /C calc'!A0"])
    expect(w.metas.slice(2, 5)).toMatchObject([{ type: 'number', decimals: 2 }, { type: 'percent', decimals: 1 }, { type: 'currency', currency: '¥', decimals: 0 }])
    // the formula-looking text is text: the editor shows it with Excel's apostrophe, the engine never runs it
    const ctx = { layout: new WorkbookLayout(w.doc), sheetId: w.sid }
    expect(textForInput(w.row(1)[7] as string, ctx, w.metas[7])).toBe("'=cmd|' /C calc'!A0")
  })

  it('TSV by its type, a chosen header row, formulas=keep makes "=" text a formula', async () => {
    const s = await server()
    const tsv = '说明\t\n\n数量\t单价\t合计\n2\t3\t=A2*B2\n'
    const res = await importCsv(s, new TextEncoder().encode(tsv), '?header=2&formulas=keep&lang=en', 'text/tab-separated-values')
    expect(res.status, JSON.stringify(res.json)).toBe(201)
    expect(res.json).toMatchObject({ title: 'Imported workbook', report: { delimiter: '\t', skippedLines: 1, blankLines: 1, rows: 1, coerced: { formulas: 1 } } })
    const w = await opened(s, res.json)
    expect(w.titles).toEqual(['数量', '单价', '合计'])
    expect(w.row(0)[2]).toMatchObject({ t: 'f' })
  })

  it('clear errors: not CSV (400), undecodable in the chosen encoding (422), a bad option (400), too large (413)', async () => {
    const s = await server()
    const zip = await importCsv(s, new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0]))
    expect(zip).toMatchObject({ status: 400, json: { error: expect.stringMatching(/ZIP/) } })
    const bad = await importCsv(s, iconv.encode('店铺,销售额\n天猫,1\n'.repeat(50), 'gbk'), '?encoding=utf-8')
    expect(bad).toMatchObject({ status: 422, json: { error: expect.stringMatching(/not readable as utf-8/) } })
    expect((await importCsv(s, new TextEncoder().encode('a,b\n'), '?delimiter=x')).status).toBe(400)
    expect((await importCsv(s, new Uint8Array(0))).status).toBe(400)
    // declared larger than 100 MB: refused before a byte is read
    const big = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${s.url}/api/workbooks/import`, { method: 'POST', headers: { 'content-type': 'text/csv', 'content-length': String(200 * 1024 * 1024) } }, res => {
        let text = ''
        res.on('data', d => { text += d }).on('end', () => resolve({ status: res.statusCode!, text }))
      })
      req.on('error', reject)
      req.flushHeaders()
    })
    expect(big).toMatchObject({ status: 413, text: expect.stringMatching(/larger than 100 MB/) })
    const rows = await importCsv(s, new TextEncoder().encode('n\n' + '1\n'.repeat(200_100)))
    expect(rows).toMatchObject({ status: 413, json: { error: expect.stringMatching(/more than 200000 rows/) } })
    // the server is fine after all that
    expect((await importCsv(s, new TextEncoder().encode('a,b\n1,2\n'))).status).toBe(201)
  })
})

describe('CSV import: into an open workbook', () => {
  async function sheetImport(s: TestServer, id: string, token: string, body: string, query: string) {
    const res = await fetch(`${s.url}/api/workbooks/${id}/sheets/import${query}`, { method: 'POST', body: new Uint8Array(iconv.encode(body, 'gbk')) as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'text/csv', authorization: `Bearer ${token}` } })
    return { status: res.status, json: await res.json() as any }
  }

  it('appends and replaces rows as an editor, matching columns by title; a viewer is refused; a protected column or a locked sheet refuses the whole import', async () => {
    const s = await server()
    const first = await importCsv(s, new TextEncoder().encode('店铺,销售额,日期\n天猫,"1,000",2025-06-01\n'), '?name=王经理')
    expect(first.status).toBe(201)
    ownerTokens.set(first.json.id, first.json.token)
    const owner = await opened(s, first.json)
    const editor = await createLink(s, first.json.id, 'editor', '小李')
    const viewer = await createLink(s, first.json.id, 'viewer', '访客')
    const values = (col: number) => {
      const sl = new WorkbookLayout(owner.doc).sheet(owner.sid)!
      const p = sheetParts(sheetsOf(owner.doc).get(owner.sid)!)
      return sl.rows.ids.map(r => p.cells.get(cellKey(r, sl.cols.ids[col]!))).filter(v => v !== undefined)
    }

    // columns in another order, one the sheet lacks: matched by title, the other left out (and said so)
    const appended = await sheetImport(s, first.json.id, editor, '日期,店铺,销售额,渠道\n2025年6月2日,京东,"2,500.5",自营\n2025/6/3,拼多多,3.2万,百亿补贴\n', `?mode=append&sheet=${encodeURIComponent(sheetName(owner.doc, owner.sid))}`)
    expect(appended.status, JSON.stringify(appended.json)).toBe(200)
    expect(appended.json).toMatchObject({ mode: 'append', rows: 2, columns: [{ title: '日期', matched: true }, { title: '店铺', matched: true }, { title: '销售额', matched: true }, { title: '渠道', matched: false }], report: { encoding: 'gbk' } })
    await docUntil(owner.doc, 'the appended rows reach the owner', () => values(0).length === 3)
    expect(values(0)).toEqual(['天猫', '京东', '拼多多'])
    expect(values(1)).toEqual([1000, 2500.5, 32000])
    expect(values(2)).toEqual([{ t: 'd', v: '2025-06-01' }, { t: 'd', v: '2025-06-02' }, { t: 'd', v: '2025-06-03' }])

    const replaced = await sheetImport(s, first.json.id, editor, '店铺,销售额\n抖音,10\n', '?mode=replace&sheet=0')
    expect(replaced.status, JSON.stringify(replaced.json)).toBe(200)
    await docUntil(owner.doc, 'the replaced rows reach the owner', () => values(0).length === 1)
    expect([values(0), values(1), values(2)]).toEqual([['抖音'], [10], []])

    const asViewer = await sheetImport(s, first.json.id, viewer, '店铺\n x\n', '?mode=append&sheet=0')
    expect(asViewer.status).toBe(403)

    const added = await sheetImport(s, first.json.id, editor, '商品,数量\n羽绒服,3\n', `?mode=new-sheet&filename=${encodeURIComponent('库存.csv')}`)
    expect(added.status).toBe(200)
    await docUntil(owner.doc, 'the new sheet reaches the owner', d => sheetIds(d).some(id => sheetName(d, id) === '库存'))

    // 销售额 protected for 王经理 only: 小李's import writing it is refused whole; 王经理's goes in
    const salesCol = new WorkbookLayout(owner.doc).sheet(owner.sid)!.cols.ids[1]!
    setProtections(owner.doc, [{ id: 'sales', sheet: owner.sid, cols: [salesCol], names: ['王经理'] }], 'owner')
    const serverDoc = () => s.rooms.rooms.get(first.json.id)!.doc as Y.Doc
    await docUntil(serverDoc(), 'the server has the protection', d => JSON.stringify(d.getMap('access').toJSON()).includes('sales'))
    const protectedCol = await sheetImport(s, first.json.id, editor, '店铺,销售额\n快手,5\n', '?mode=append&sheet=0')
    expect(protectedCol).toMatchObject({ status: 403, json: { error: expect.stringMatching(/refused: protected/) } })
    expect(values(0)).toEqual(['抖音'])
    const wang = await createLink(s, first.json.id, 'editor', '王经理')
    expect((await sheetImport(s, first.json.id, wang, '店铺,销售额\n快手,5\n', '?mode=append&sheet=0')).status).toBe(200)
    await docUntil(owner.doc, 'the manager\'s rows reach the owner', () => values(0).length === 2)
    expect(values(1)).toEqual([10, 5])
    setProtections(owner.doc, [], 'owner')

    // the owner locks the sheet: the editor's import is refused whole, nothing of it written
    lockSheet(owner.doc, owner.sid, '王经理', 'owner')
    const lockedRef = await fetch(`${s.url}/api/workbooks/${first.json.id}`, { headers: { authorization: `Bearer ${editor}` } })
    expect(lockedRef.status).toBe(200)
    await docUntil(serverDoc(), 'the server has the lock', d => (d.getMap('access').toJSON() as Record<string, unknown>) && JSON.stringify(d.getMap('access').toJSON()).includes('王经理'))
    const locked = await sheetImport(s, first.json.id, editor, '店铺,销售额\n快手,5\n', '?mode=append&sheet=0')
    expect(locked).toMatchObject({ status: 403, json: { error: expect.stringMatching(/refused/) } })
    expect(values(0)).toEqual(['抖音', '快手'])
    expect((await sheetImport(s, first.json.id, editor, '无关\n1\n', '?mode=append&sheet=0')).status).toBe(422)
    expect((await sheetImport(s, first.json.id, editor, '店铺\n1\n', '?mode=append&sheet=nope')).status).toBe(404)
  })
})

describe('CSV import: a change while the file uploads', () => {
  it('the sheet is locked while an editor\'s file is on its way: the import is planned and checked again, and refused', async () => {
    const s = await server()
    const first = await importCsv(s, new TextEncoder().encode('店铺,销售额\n天猫,1\n'), '?name=王经理')
    ownerTokens.set(first.json.id, first.json.token)
    const owner = await opened(s, first.json)
    const editor = await createLink(s, first.json.id, 'editor', '小李')
    const req = request(`${s.url}/api/workbooks/${first.json.id}/sheets/import?mode=append&sheet=0`, { method: 'POST', headers: { 'content-type': 'text/csv', authorization: `Bearer ${editor}` } })
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', r => { let text = ''; r.setEncoding('utf8').on('data', d => { text += d }).on('end', () => resolve({ status: r.statusCode!, text })) })
      req.on('error', reject)
    })
    const reading = nextEvent(csvEvents, 'reading', (kind: unknown) => kind === 'sheet')
    req.write('店铺,销售额\n')
    await reading
    // the workbook's state was taken before the worker started: the lock comes after it
    lockSheet(owner.doc, owner.sid, '王经理', 'owner')
    await docUntil(s.rooms.rooms.get(first.json.id)!.doc as Y.Doc, 'the server has the lock', d => JSON.stringify(d.getMap('access').toJSON()).includes('王经理'))
    req.end('快手,5\n')
    expect(await answer).toMatchObject({ status: 403, text: expect.stringMatching(/refused/) })
    expect(sheetParts(sheetsOf(owner.doc).get(owner.sid)!).cells.size).toBe(2)
  })
})

describe('CSV import: a 50 MB file', () => {
  it('streams in with the server\'s heap bounded, and every row arrives', async () => {
    const s = await server()
    const ROWS = 100_000
    const desc = '商品描述：加厚羽绒服，白鸭绒含绒量90%，立领连帽，防风防泼水，适合零下二十度穿着，'.repeat(4)
    const line = (i: number) => `${String(202506180000000000n + BigInt(i))},天猫旗舰店${i % 50},"${desc}${i}","${(1000 + i % 9000).toLocaleString('en-US')}.50",${i % 100}.5%,¥${i % 700},2025年6月${1 + i % 28}日,${(i % 90) / 10 + 1}万\n`
    const header = '订单号,店铺,商品,销售额,转化率,客单价,日期,GMV\n'
    let size = 0
    const base = process.memoryUsage()
    let peakHeap = base.heapUsed, peakBuffers = base.arrayBuffers
    const sampler = setInterval(() => { const m = process.memoryUsage(); peakHeap = Math.max(peakHeap, m.heapUsed); peakBuffers = Math.max(peakBuffers, m.arrayBuffers) }, 20)
    const started = performance.now()
    // written as it is made (backpressure honoured): the test holds no more of it than the server does
    const res = await new Promise<{ status: number; json: any }>((resolve, reject) => {
      const req = request(`${s.url}/api/workbooks/import?filename=orders.csv`, { method: 'POST', headers: { 'content-type': 'text/csv; charset=utf-8' } }, r => {
        let text = ''
        r.setEncoding('utf8').on('data', d => { text += d }).on('end', () => resolve({ status: r.statusCode!, json: JSON.parse(text) }))
      })
      req.on('error', reject)
      let i = 0
      const write = () => {
        if (i === 0) { req.write(header); size += Buffer.byteLength(header) }
        while (i < ROWS) {
          let chunk = ''
          for (let k = 0; k < 200 && i < ROWS; k++) chunk += line(i++)
          size += Buffer.byteLength(chunk)
          if (!req.write(chunk)) { req.once('drain', write); return }
        }
        req.end()
      }
      write()
    })
    clearInterval(sampler)
    const ms = Math.round(performance.now() - started)
    expect(res.status, JSON.stringify(res.json)).toBe(201)
    expect(res.json.report).toMatchObject({ rows: ROWS, columns: 8, encoding: 'utf-8', header: true })
    expect(size).toBeGreaterThan(50 * 1024 * 1024)
    expect(res.json.report.bytes).toBe(size)
    expect(res.json.report.coerced).toMatchObject({ numbers: ROWS, percents: ROWS, currency: ROWS, dates: ROWS, wan: ROWS })
    const heapMb = Math.round((peakHeap - base.heapUsed) / 1048576), buffersMb = Math.round((peakBuffers - base.arrayBuffers) / 1048576)
    console.log(`50 MB CSV: ${(size / 1048576).toFixed(1)} MB, ${ROWS} rows in ${ms} ms; server+test thread heap +${heapMb} MB, array buffers +${buffersMb} MB; worker heap ${res.json.report.workerHeapMb} MB (${res.json.report.ms} ms)`)
    // the file is never held on the server's thread (nor the doc made from it): its heap grows far less than the file
    expect(heapMb).toBeLessThan(100)
    // what was stored, read whole (a socket's first sync of 800,000 cells can take longer than its test timeout on a busy machine)
    const state = await fetch(`${s.url}/api/workbooks/${res.json.id}/state`, { headers: { authorization: `Bearer ${res.json.token}` } })
    expect(state.status).toBe(200)
    const doc = new Y.Doc()
    Y.applyUpdate(doc, new Uint8Array(await state.arrayBuffer()))
    const sid = sheetIds(doc)[0]!
    const sl = new WorkbookLayout(doc).sheet(sid)!
    const cells = sheetParts(sheetsOf(doc).get(sid)!).cells
    expect(sl.rows.length).toBeGreaterThanOrEqual(ROWS)
    expect(cells.get(cellKey(sl.rows.ids[ROWS - 1]!, sl.cols.ids[0]!))).toBe(String(202506180000000000n + BigInt(ROWS - 1)))
    expect(cells.get(cellKey(sl.rows.ids[ROWS - 1]!, sl.cols.ids[7]!))).toBe(((ROWS - 1) % 90 / 10 + 1) * 10_000)
    doc.destroy()
  }, 180_000)
})
