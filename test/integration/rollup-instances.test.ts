// @vitest-environment node
/**
 * A roll-up across two server instances on PostgreSQL + Redis (issue 21): the sources are edited by a
 * stock client on instance 1, the roll-up is open on instance 2 (which holds no room of the sources: it
 * hears of their changes on the bus and reads them from the store).
 */
import { afterEach, describe, expect, it } from 'vitest'
import pg from 'pg'
import { DATABASE_URL, REDIS_URL, uniqueName } from '../helpers/services'
import { createLink, createWorkbook, docUntil, ownerTokens, startTestServer, syncedClient, type Client, type TestServer } from '../helpers/server'
import { PostgresStore } from '../../server/store/postgres'
import { rollupValue, setKpi, sourceStatus } from '../helpers/rollup'

const cleanups: (() => unknown)[] = []
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f() })

async function cluster() {
  const schema = uniqueName('pw_rollup')
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: DATABASE_URL }); await c.connect()
    try { await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`) } finally { await c.end() }
  })
  return { schema, prefix: `${uniqueName('pwr')}:` }
}

async function instance(c: { schema: string; prefix: string }): Promise<TestServer> {
  const s = await startTestServer({
    store: await new PostgresStore(DATABASE_URL, { schema: c.schema }).open(), redisUrl: REDIS_URL, redisPrefix: c.prefix,
    rollupOptions: { debounceMs: 50, checkMs: 200 },
  })
  cleanups.push(() => s.close())
  return s
}

const track = (c: Client) => { cleanups.push(() => c.destroy()); return c }

describe('roll-ups across instances', () => {
  it('a source edited on instance 1 shows in the roll-up open on instance 2; a revoke on 1 shows unavailable on 2', async () => {
    const c = await cluster()
    const one = await instance(c)
    const two = await instance(c)
    const sources: { id: string; view: string }[] = []
    for (const actual of [5, 6]) {
      const id = await createWorkbook(one, { template: 'kpi-monitoring' })
      const w = track(await syncedClient(one, id))
      setKpi(w.doc, 'DAU', 'actual', actual)
      await one.rooms.flushAll()
      sources.push({ id, view: await createLink(one, id, 'viewer', 'hq') })
    }
    const res = await two.api('POST', '/api/rollups', {
      template: 'kpi-monitoring', sheetKey: 'kpi', mode: 'aggregate', key: '核心指标', measures: [{ column: 'actual', fn: 'sum' }],
      sources: sources.map(s => ({ workbookId: s.id, token: s.view })),
    })
    expect(res.status, res.text).toBe(201)
    ownerTokens.set(res.json.id, res.json.token)
    const viewer = track(await syncedClient(two, res.json.id))
    await docUntil(viewer.doc, 'summed on 2', d => rollupValue(d, 'DAU', 'actual') === 11, 5_000)
    // instance 2 loaded no room of the sources
    expect(sources.map(s => two.rooms.state(s.id))).toEqual([null, null])

    const editor = track(await syncedClient(one, sources[0]!.id))
    setKpi(editor.doc, 'DAU', 'actual', 50)
    await docUntil(viewer.doc, 'the edit on 1 rolled up on 2', d => rollupValue(d, 'DAU', 'actual') === 56, 5_000)
    expect(sources.map(s => two.rooms.state(s.id))).toEqual([null, null])

    const links = await one.api('GET', `/api/workbooks/${sources[1]!.id}/links`)
    const link = links.json.find((l: { role: string }) => l.role === 'viewer')
    expect((await one.api('DELETE', `/api/workbooks/${sources[1]!.id}/links/${link.id}`)).status).toBe(200)
    await docUntil(viewer.doc, 'unavailable on 2', d => sourceStatus(d, sources[1]!.id) === 'unavailable' && rollupValue(d, 'DAU', 'actual') === 50, 5_000)
  })
})
