// @vitest-environment node
/**
 * Templates out and in: a workbook saved as a template appears in the gallery and makes the same
 * workbook again; a template file downloads and uploads; custom templates survive a restart; bad files
 * are refused with the field named.
 */
import { listCharts } from '../../src/core/charts/charts'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createLink, createWorkbook, ownerTokens, syncedClient, testScope } from '../helpers/server'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { decodeFormula } from '../../src/core/formulas/references'
import { cellKey, isFormula, sheetIds, sheetParts, sheetsOf, type ColumnMeta } from '../../src/core/workbook/schema'
import { columnFormulaFor } from '../../src/core/workbook/table'
import { layoutOf, type } from '../helpers/workbook'

const { server, track, dataDir } = testScope()

/** Sheets as shown: names, column settings (ids made positional), totals row, cells (formula A1, value). */
function shown(doc: Y.Doc) {
  const engine = new FormulaEngine(doc)
  try {
    return engine.layout.order.map(id => {
      const sl = engine.layout.sheet(id)!
      const parts = sheetParts(sheetsOf(doc).get(id)!)
      let lastRow = -1
      sl.rows.ids.forEach((r, ri) => sl.cols.ids.forEach(c => { if (parts.cells.has(cellKey(r, c))) lastRow = Math.max(lastRow, ri) }))
      const totals = sheetsOf(doc).get(id)!.get('totalsRow')
      return {
        name: sl.name,
        columns: sl.cols.ids.map(c => parts.colMeta.get(c) as ColumnMeta | undefined).filter(Boolean).map(m => ({
          ...m, formula: m!.formula && decodeFormula(columnFormulaFor(m!.formula, sl.rows.ids[0]!, sl.rows.ids).v, { layout: engine.layout, sheetId: id }),
          rules: m!.rules?.map(r => ({ ...r, colId: r.colId && sl.cols.indexOf(r.colId) })),
        })),
        totalsRow: typeof totals === 'string' ? sl.rows.indexOf(totals) : -1,
        cells: Array.from({ length: lastRow + 1 }, (_, r) => sl.cols.ids.map((c, ci) => {
          const input = parts.cells.get(cellKey(sl.rows.ids[r]!, c))
          const v = engine.getValue(id, r, ci)
          return [isFormula(input) ? decodeFormula(input.v, { layout: engine.layout, sheetId: id }) : null, typeof v === 'number' ? Number(v.toPrecision(10)) : v && typeof v === 'object' ? v.error : v]
        })),
      }
    })
  } finally {
    engine.destroy()
  }
}

describe('save as template', () => {
  it('a workbook saved as a template makes the same workbook again, and survives a restart', async () => {
    const dir = dataDir()
    const s = await server({ dataDir: dir })
    const id = await createWorkbook(s, { template: 'operations-plan', lang: 'zh-CN' })
    const c = track(await syncedClient(s, id))
    const sheet = sheetIds(c.doc).find(x => layoutOf(c.doc).sheet(x)!.name === '商品运营')!
    type(c.doc, sheet, 'A1', '我们的爆款')
    await s.rooms.flushAll()
    // viewers may not, editors may
    const viewer = await createLink(s, id, 'viewer', 'v')
    expect((await s.api('POST', `/api/workbooks/${id}/template`, { title: 'x' }, { headers: { authorization: `Bearer ${viewer}` } })).status).toBe(403)
    const saved = await s.api('POST', `/api/workbooks/${id}/template`, { title: '我们的运营计划', description: '从工作簿保存' }, { headers: { authorization: `Bearer ${await createLink(s, id, 'editor', 'e')}` } })
    expect(saved.status).toBe(201)
    expect(saved.json.id).toMatch(/^u-[a-z0-9]{10}$/)
    const gallery = await s.api('GET', '/api/templates?lang=en')
    const entry = gallery.json.find((t: { id: string }) => t.id === saved.json.id)
    expect(entry).toMatchObject({ custom: true, title: '我们的运营计划', description: '从工作簿保存' })
    expect(entry.preview.rows.length).toBeGreaterThan(0)
    expect(gallery.json.find((t: { id: string }) => t.id === 'blank').custom).toBe(false)

    const again = await createWorkbook(s, { template: saved.json.id })
    const d = track(await syncedClient(s, again))
    expect(shown(d.doc)).toEqual(shown(c.doc))
    // the dashboards come along, on the same sheets, over the same columns
    const chartsOf = (doc: typeof c.doc) => listCharts(doc).map(({ spec }) => {
      const sl = layoutOf(doc).sheet(spec.sheet)!
      return [spec.kind, spec.title, sl.name, sl.cols.indexOf(spec.labels), spec.series.map(x => sl.cols.indexOf(x)), spec.secondAxis?.map(x => sl.cols.indexOf(x)), spec.deviation && sl.cols.indexOf(spec.deviation.actual)]
    })
    expect(chartsOf(d.doc)).toEqual(chartsOf(c.doc))
    expect(chartsOf(d.doc)).toHaveLength(5)

    await s.close()
    const s2 = await server({ dataDir: dir })
    expect((await s2.api('GET', '/api/templates')).json.some((t: { id: string; custom: boolean }) => t.id === saved.json.id && t.custom)).toBe(true)
  })
})

describe('the gallery is the server\'s', () => {
  it('with a create secret, saving a workbook as a template needs it too', async () => {
    const s = await server({ createSecret: 'gallery-secret-123' })
    const created = await s.api('POST', '/api/workbooks', { template: 'blank' }, { headers: { authorization: 'Bearer gallery-secret-123' } })
    const owner = { authorization: `Bearer ${created.json.token}` }
    expect((await s.api('POST', `/api/workbooks/${created.json.id}/template`, { title: 't' }, { headers: owner })).status).toBe(403)
    expect((await s.api('POST', `/api/workbooks/${created.json.id}/template`, { title: 't' }, { headers: { ...owner, 'x-create-secret': 'wrong' } })).status).toBe(403)
    expect((await s.api('POST', `/api/workbooks/${created.json.id}/template`, { title: 't' }, { headers: { ...owner, 'x-create-secret': 'gallery-secret-123' } })).status).toBe(201)
  })
})

describe('template files', () => {
  it('download, upload (under a new id), delete; shipped templates stay', async () => {
    const s = await server()
    const file = await fetch(`${s.url}/api/templates/performance-appraisal/file`)
    expect(file.status).toBe(200)
    expect(file.headers.get('content-disposition')).toMatch(/template\.json/)
    const json = await file.json()
    expect(json.id).toBe('performance-appraisal')
    const up = await s.api('POST', '/api/templates', json)
    expect(up.status).toBe(201)
    expect(up.json.id).not.toBe('performance-appraisal')
    const list = (await s.api('GET', '/api/templates')).json as { id: string; custom: boolean }[]
    expect(list.filter(t => t.id === up.json.id && t.custom)).toHaveLength(1)
    expect(list.filter(t => t.id === 'performance-appraisal' && !t.custom)).toHaveLength(1)
    // the uploaded one builds the same workbook as the original
    const a = track(await syncedClient(s, await createWorkbook(s, { template: 'performance-appraisal' })))
    const b = track(await syncedClient(s, await createWorkbook(s, { template: up.json.id })))
    expect(shown(b.doc)).toEqual(shown(a.doc))
    expect((await s.api('DELETE', '/api/templates/performance-appraisal')).status).toBe(403)
    expect((await s.api('DELETE', `/api/templates/${up.json.id}`)).status).toBe(204)
    expect((await s.api('GET', '/api/templates')).json.some((t: { id: string }) => t.id === up.json.id)).toBe(false)
    expect((await s.api('DELETE', `/api/templates/${up.json.id}`)).status).toBe(404)
    expect(ownerTokens.size).toBeGreaterThan(0)
  })

  it('bad files are refused with the field named; __proto__ stays data', async () => {
    const s = await server()
    const before = Object.getOwnPropertyNames(Object.prototype).sort()
    const cases: [unknown, RegExp][] = [
      [{}, /schemaVersion|sheets|title/],
      [{ schemaVersion: 2, title: 'x', sheets: [] }, /sheets/],
      [{ schemaVersion: 2, title: 'x', sheets: [{ name: 'A', columns: [{ type: 'nope' }] }] }, /columns\[0\]\.type/],
      [{ schemaVersion: 99, title: 'x', sheets: [{ name: 'A' }] }, /schemaVersion/],
      [{ schemaVersion: 2, title: 'x', include: ['no-such-template'], sheets: [] }, /no-such-template/],
      [{ schemaVersion: 2, title: 'x', sheets: [{ name: 'A/B' }] }, /sheet name/],
    ]
    for (const [body, message] of cases) {
      const res = await s.api('POST', '/api/templates', body)
      expect({ body, status: res.status }).toEqual({ body, status: 400 })
      expect(res.json.error).toMatch(message)
    }
    const proto = await s.api('POST', '/api/templates', undefined, { rawBody: '{"schemaVersion":2,"title":"p","__proto__":{"polluted":1},"sheets":[{"name":"__proto__","data":[["constructor"]]}]}' })
    expect(proto.status).toBe(201)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before)
    const d = track(await syncedClient(s, await createWorkbook(s, { template: proto.json.id })))
    expect(layoutOf(d.doc).sheet(sheetIds(d.doc)[0]!)!.name).toBe('__proto__')
  })
})
