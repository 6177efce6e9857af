// @vitest-environment node
/**
 * Charts against the real server: a chart's data follows cell edits another client makes; the review
 * pack carries each sheet's charts; the .xlsx export places the chart pictures the browser drew, and
 * refuses pictures that are not PNG, too many or too large, with a clear 4xx.
 */
import { describe, expect, it } from 'vitest'
import { deflateSync } from 'node:zlib'
import ExcelJS from 'exceljs'
import { createLink, createWorkbook, ownerTokens, syncedClient, testScope } from '../helpers/server'
import { docUntil } from '../helpers/server'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { chartData, listCharts } from '../../src/core/charts/charts'
import { editCells } from '../../src/core/workbook/mutations'
import { sheetName } from '../../src/core/workbook/schema'

const { server, track } = testScope()

/** A real PNG of w×h pixels of one colour. */
function png(w = 4, h = 3): string {
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0 })
  const crc = (b: Buffer) => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0 }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length)
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td))
    return Buffer.concat([len, td, c])
  }
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2
  const raw = Buffer.concat(Array.from({ length: h }, () => Buffer.concat([Buffer.from([0]), Buffer.alloc(w * 3, 0x80)])))
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]).toString('base64')
}

describe('charts through the server', () => {
  it('a chart\'s data follows cell edits made by another client', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'kpi-monitoring' })
    const a = track(await syncedClient(s, id))
    const b = track(await syncedClient(s, id, { token: await createLink(s, id, 'editor', '小李') }))
    const engine = new FormulaEngine(a.doc)
    const { spec } = listCharts(a.doc)[0]!
    const data = () => chartData(a.doc, spec, (r, c) => engine.getValueById(spec.sheet, r, c))
    expect(data().series[1]!.values[0]).toBe(8.5)
    expect(data().verdicts![0]).toBe('bad')
    // B, an editor elsewhere, enters DAU's actual above its target
    const row = data().rowIds[0]!
    editCells(b.doc, spec.sheet, [{ rowId: row, colId: spec.deviation!.actual, value: 12 }])
    await docUntil(a.doc, 'the edit arrives', () => data().series[1]!.values[0] === 12)
    expect(data().verdicts![0]).toBe('good')
    engine.destroy()
  })

  it('the review pack carries each sheet\'s charts with their data', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan' })
    const res = await s.api('GET', `/api/workbooks/${id}/export.json`)
    expect(res.status).toBe(200)
    const withCharts = res.json.sheets.filter((x: { charts: unknown[] }) => x.charts.length).map((x: { name: string }) => x.name)
    expect(withCharts).toEqual(['运营目标', '数据监控', '预算分配', '收入预测', '渠道规划'])
    const kpi = res.json.sheets.find((x: { name: string }) => x.name === '数据监控')
    expect(kpi.charts[0].categories[0]).toBe('DAU')
  })

  it('the .xlsx places the chart pictures sent with it beside their sheets, and refuses bad pictures', async () => {
    const s = await server()
    const id = await createWorkbook(s, { template: 'operations-plan' })
    const c = track(await syncedClient(s, id))
    const charts = listCharts(c.doc)
    const kpi = charts.find(x => sheetName(c.doc, x.spec.sheet) === '数据监控')!
    const post = (body: unknown, token = ownerTokens.get(id)!) => fetch(`${s.url}/api/workbooks/${id}/export.xlsx`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body),
    })
    // a viewer may export too; a picture for a chart that does not exist is ignored
    const viewer = await createLink(s, id, 'viewer', '看板')
    const res = await post({ images: [{ chartId: kpi.id, png: png() }, { chartId: 'chNotAChart', png: png() }] }, viewer)
    expect(res.status).toBe(200)
    const notes = JSON.parse(decodeURIComponent(res.headers.get('x-export-notes') ?? '[]')) as string[]
    // the other four charts were not drawn: the notes say so
    expect(notes.filter(n => n.includes('chart(s)'))).toHaveLength(4)
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(await res.arrayBuffer())
    const images = wb.worksheets.map(ws => [ws.name, ws.getImages().length] as const).filter(([, n]) => n > 0)
    expect(images).toEqual([['数据监控', 1]])
    const placed = wb.getWorksheet('数据监控')!.getImages()[0]!
    // to the right of the table's columns
    expect(placed.range.tl.nativeCol).toBeGreaterThanOrEqual(11)
    expect(wb.model.media).toHaveLength(1)

    const bad = async (body: unknown, status: number, text: RegExp) => {
      const r = await post(body)
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(status)
      expect(await r.text()).toMatch(text)
    }
    await bad('{"images": [', 400, /malformed JSON/)
    await bad({ pictures: [] }, 400, /images/)
    await bad({ images: [{ chartId: kpi.id, png: Buffer.from('GIF89a not a png').toString('base64') }] }, 400, /not a PNG/)
    await bad({ images: [{ chartId: kpi.id, png: 'not base64!' }] }, 400, /base64/)
    await bad({ images: Array.from({ length: 51 }, () => ({ chartId: kpi.id, png: png() })) }, 400, /at most 50/)
    await bad({ images: [{ chartId: kpi.id, png: Buffer.concat([Buffer.from(png(), 'base64'), Buffer.alloc(2.1 * 1024 * 1024)]).toString('base64') }] }, 413, /2 MB/)
    // no token, no export
    expect((await fetch(`${s.url}/api/workbooks/${id}/export.xlsx`, { method: 'POST', body: '{"images":[]}' })).status).toBe(401)
    // and the server still serves
    expect((await s.api('GET', '/api/health')).status).toBe(200)
  })
})
