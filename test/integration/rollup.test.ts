/**
 * Roll-up workbooks (issue 21) on one server (SQLite): made from KPI workbooks by their view links,
 * live as stock clients edit the sources, right after a source inserts a row above and renames its
 * sheet, a revoked link shown unavailable, bad input refused naming the source.
 */
import { describe, expect, it } from 'vitest'
import { renameSheet } from '../../src/core/workbook/mutations'
import { setCell } from '../../src/core/workbook/mutations'
import { CLOSE } from '../../server/collab/close'
import { readSources } from '../../src/core/rollup/plan'
import { readPlan } from '../../src/core/rollup/plan'
import { createLink, createWorkbook, docUntil, ownerTokens, syncedClient, testScope, closed, type TestServer } from '../helpers/server'
import { insertKpiAbove, kpiSheet, rollupRowCount, rollupValue, setKpi, sourceStatus, colByKey, rowWhere } from '../helpers/rollup'
import WebSocket from 'ws'

const scope = testScope()
const LIVE_MS = 5_000

async function kpiSources(server: TestServer, actuals: number[]) {
  const out: { id: string; view: string }[] = []
  for (const [i, actual] of actuals.entries()) {
    const id = await createWorkbook(server, { template: 'kpi-monitoring', title: `门店 ${i + 1}` })
    const c = scope.track(await syncedClient(server, id))
    setKpi(c.doc, 'DAU', 'actual', actual)
    await server.rooms.flushAll()
    c.destroy()
    out.push({ id, view: await createLink(server, id, 'viewer', '总部') })
  }
  return out
}

async function makeRollup(server: TestServer, sources: { id: string; view: string }[], extra: Record<string, unknown> = {}) {
  const res = await server.api('POST', '/api/rollups', {
    title: '汇总', template: 'kpi-monitoring', sheetKey: 'kpi', sources: sources.map(s => ({ workbookId: s.id, token: s.view })),
    mode: 'aggregate', key: '核心指标', measures: [{ column: '实际值', fn: 'sum' }, { column: 'target', fn: 'sum' }], ...extra,
  })
  expect(res.status, res.text).toBe(201)
  expect(Object.keys(res.json)).toEqual(expect.arrayContaining(['id', 'url', 'token']))
  ownerTokens.set(res.json.id, res.json.token)
  return res.json as { id: string; url: string; token: string }
}

describe('roll-up workbooks', () => {
  it('sums three KPI workbooks by 核心指标, live, through inserted rows, renamed sheets and a revoked link', async () => {
    const server = await scope.server({ rollupOptions: { debounceMs: 50, checkMs: 200 } })
    const sources = await kpiSources(server, [10, 20, 30])
    const rollup = await makeRollup(server, sources)
    const viewer = scope.track(await syncedClient(server, rollup.id))
    await docUntil(viewer.doc, 'DAU summed', d => rollupValue(d, 'DAU', 'actual') === 60, LIVE_MS)
    // the template's targets: 10 each
    expect(rollupValue(viewer.doc, 'DAU', 'target')).toBe(30)
    expect(readSources(viewer.doc).map(s => s.status)).toEqual(['ok', 'ok', 'ok'])
    // the deviation is the template's formula on the combined row
    const plan = readPlan(viewer.doc)!
    expect(Object.keys(plan.formulas)).toContain(colByKey(viewer.doc, plan.sheet, 'deviation'))

    // a stock client edits a source: the roll-up shows it
    const editor = scope.track(await syncedClient(server, sources[0]!.id))
    setKpi(editor.doc, 'DAU', 'actual', 15)
    await docUntil(viewer.doc, 'the edit rolled up', d => rollupValue(d, 'DAU', 'actual') === 65, LIVE_MS)

    // a source inserts a row above and renames its sheet: still right, and the new row joins
    const second = scope.track(await syncedClient(server, sources[1]!.id))
    insertKpiAbove(second.doc, '新指标', 7)
    renameSheet(second.doc, kpiSheet(second.doc), '门店看板')
    setKpi(second.doc, 'DAU', 'actual', 21)
    await docUntil(viewer.doc, 'row inserted above', d => rollupValue(d, '新指标', 'actual') === 7 && rollupValue(d, 'DAU', 'actual') === 66, LIVE_MS)

    // the third source's view link is revoked: it shows unavailable, its numbers leave (not zeros)
    const links = await server.api('GET', `/api/workbooks/${sources[2]!.id}/links`)
    const link = links.json.find((l: { name: string; role: string }) => l.role === 'viewer')
    expect((await server.api('DELETE', `/api/workbooks/${sources[2]!.id}/links/${link.id}`)).status).toBe(200)
    await docUntil(viewer.doc, 'unavailable', d => sourceStatus(d, sources[2]!.id) === 'unavailable', LIVE_MS)
    expect(rollupValue(viewer.doc, 'DAU', 'actual')).toBe(36)
    expect(readSources(viewer.doc).find(s => s.workbookId === sources[2]!.id)?.title).toBe('门店 3')
  })

  it('adds and removes sources (owner only), and refuses a client writing the roll-up sheet', async () => {
    const server = await scope.server({ rollupOptions: { debounceMs: 50, checkMs: 60_000 } })
    const sources = await kpiSources(server, [1, 2])
    const rollup = await makeRollup(server, sources.slice(0, 1), { mode: 'stack', key: undefined, measures: undefined })
    const owner = scope.track(await syncedClient(server, rollup.id))
    const plan = () => readPlan(owner.doc)!
    await docUntil(owner.doc, 'one block', d => rollupValue(d, 'DAU', 'actual') === 1, LIVE_MS)
    const blockRows = rollupRowCount(owner.doc)
    expect(blockRows).toBeGreaterThan(3)
    // the source column names the source
    expect(owner.doc.getMap('rollup').get('sourceCol')).toBeTruthy()

    // a viewer of the roll-up may not add sources
    const rollupViewer = await createLink(server, rollup.id, 'viewer', 'v')
    const refused = await server.api('POST', `/api/rollups/${rollup.id}/sources`, { workbookId: sources[1]!.id, token: sources[1]!.view }, { headers: { authorization: `Bearer ${rollupViewer}` } })
    expect(refused.status).toBe(403)
    const added = await server.api('POST', `/api/rollups/${rollup.id}/sources`, { workbookId: sources[1]!.id, token: sources[1]!.view }, { headers: { authorization: `Bearer ${rollup.token}` } })
    expect(added.status, added.text).toBe(201)
    await docUntil(owner.doc, 'two blocks', d => rollupRowCount(d) === 2 * blockRows, LIVE_MS)

    // a wrong token: added, shown unavailable, the roll-up keeps working
    const third = await createWorkbook(server, { template: 'kpi-monitoring' })
    const wrong = await server.api('POST', `/api/rollups/${rollup.id}/sources`, { workbookId: third, token: 'not-a-token' }, { headers: { authorization: `Bearer ${rollup.token}` } })
    expect(wrong.status).toBe(201)
    expect(wrong.json.available).toBe(false)
    await docUntil(owner.doc, 'wrong token unavailable', d => sourceStatus(d, third) === 'unavailable', LIVE_MS)
    expect(rollupRowCount(owner.doc)).toBe(2 * blockRows)

    const removed = await server.api('DELETE', `/api/rollups/${rollup.id}/sources/${sources[0]!.id}`, undefined, { headers: { authorization: `Bearer ${rollup.token}` } })
    expect(removed.status).toBe(204)
    await docUntil(owner.doc, 'one block left', d => rollupRowCount(d) === blockRows && rollupValue(d, 'DAU', 'actual') === 2, LIVE_MS)

    // the owner's own client writing a roll-up cell is refused (4409), the sheet stays as the server wrote it
    const writer = await syncedClient(server, rollup.id)
    const ws = writer.provider.ws as unknown as WebSocket
    const closing = closed(ws)
    const s = plan().sheet
    const row = rowWhere(writer.doc, s, colByKey(writer.doc, s, 'metric'), 'DAU')!
    setCell(writer.doc, s, row, colByKey(writer.doc, s, 'actual'), 999)
    expect((await closing).code).toBe(CLOSE.refused)
    writer.destroy()
    expect(rollupValue(owner.doc, 'DAU', 'actual')).toBe(2)
  })

  it('refuses a source of another template, naming it', async () => {
    const server = await scope.server()
    const [kpi] = await kpiSources(server, [1])
    const other = await createWorkbook(server, { template: 'budget-forecast' })
    const view = await createLink(server, other, 'viewer', 'hq')
    const res = await server.api('POST', '/api/rollups', {
      template: 'kpi-monitoring', sheetName: '数据监控', mode: 'stack',
      sources: [{ workbookId: kpi!.id, token: kpi!.view }, { workbookId: other, token: view }],
    })
    expect(res.status).toBe(400)
    expect(res.json.error).toContain(other)
    const badKey = await server.api('POST', '/api/rollups', { template: 'kpi-monitoring', sheetKey: 'kpi', mode: 'aggregate', key: 'nope', sources: [] })
    expect(badKey.status).toBe(400)
    expect(badKey.json.error).toContain('nope')
    // the server lives on
    expect((await server.api('GET', '/api/health')).status).toBe(200)
  })
})
