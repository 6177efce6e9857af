// @vitest-environment node
/**
 * History across a crash, with the server as a real child process: versions stored before a kill -9
 * are all there after a restart, byte for byte, with the edits made before it; and the audit trail's
 * command-line check (npm run audit:verify) passes on the stored chain and fails, naming the entry,
 * once a stored entry is edited behind the server's back.
 */
import { afterEach, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import * as Y from 'yjs'
import Database from 'better-sqlite3'
import { sheetIds } from '../../src/core/workbook/schema'
import { destroyAllClients, killAllServers, liveClient, REPO_ROOT, serverDirs, spawnServer, type ServerProcess } from '../helpers/process'
import { docUntil, ownerTokens, until } from '../helpers/server'
import { textAt, type } from '../helpers/workbook'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  destroyAllClients()
  await killAllServers()
  for (const f of cleanups.splice(0).reverse()) await f()
})

const api = async (p: ServerProcess, id: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(p.url + path, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${ownerTokens.get(id)}` }, body: body === undefined ? undefined : JSON.stringify(body) })
  return { status: res.status, json: await res.json() as any } // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** The versions list, asked again until it passes: a version stored by another process sends no event here. */
async function versionsUntil(p: ServerProcess, id: string, what: string, ok: (list: { id: string; auto: boolean }[]) => boolean) {
  let last: { id: string; auto: boolean }[] = []
  return until(what, () => ok(last) && last, recheck => {
    let stop = false
    const loop = async () => { while (!stop) { last = (await api(p, id, 'GET', `/api/workbooks/${id}/versions`)).json; recheck(); await new Promise(r => setTimeout(r, 20)) } }
    void loop()
    return () => { stop = true }
  }, 10_000)
}

function verifyCli(dataDir: string, id: string): Promise<{ code: number | null; out: string }> {
  return new Promise(resolve => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts', id], { cwd: REPO_ROOT, env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '' } })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    child.on('exit', code => resolve({ code, out }))
  })
}

it('keeps every version stored before a kill -9, and the audit check finds an edited entry', async () => {
  const dirs = serverDirs()
  cleanups.push(() => dirs.remove())
  const env = { HISTORY_EVERY_UPDATES: '2' }
  const first = await spawnServer(dirs, { env })
  const id = await first.createWorkbook({ name: '老板' })
  const c = liveClient(first.collabUrl, id, 'owner')
  await c.synced()
  const sid = sheetIds(c.doc)[0]!
  type(c.doc, sid, 'A1', '1')
  type(c.doc, sid, 'A2', '2')
  const autos = await versionsUntil(first, id, 'an automatic version', l => l.some(v => v.auto))
  const named = await api(first, id, 'POST', `/api/workbooks/${id}/versions`, { name: '已审批' })
  expect(named.status).toBe(201)
  const before = new Map<string, Buffer>()
  for (const v of [...autos, named.json]) {
    const res = await fetch(`${first.url}/api/workbooks/${id}/versions/${v.id}/state`, { headers: { authorization: `Bearer ${ownerTokens.get(id)}` } })
    expect(res.status).toBe(200)
    before.set(v.id, Buffer.from(await res.arrayBuffer()))
  }
  // an edit the next checkpoint would have taken, and the process killed under it
  type(c.doc, sid, 'A3', '3')
  await first.stop('SIGKILL')
  c.destroy()

  const second = await spawnServer(dirs, { env })
  const after = (await api(second, id, 'GET', `/api/workbooks/${id}/versions`)).json as { id: string }[]
  for (const [vid, bytes] of before) {
    expect(after.some(v => v.id === vid)).toBe(true)
    const res = await fetch(`${second.url}/api/workbooks/${id}/versions/${vid}/state`, { headers: { authorization: `Bearer ${ownerTokens.get(id)}` } })
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true)
  }
  const doc = new Y.Doc()
  Y.applyUpdate(doc, before.get(named.json.id)!)
  expect([textAt(doc, sid, 'A1'), textAt(doc, sid, 'A2')]).toEqual(['1', '2'])
  const again = liveClient(second.collabUrl, id, 'owner again')
  await again.synced()
  await docUntil(again.doc, 'the edits before the kill', d => textAt(d, sid, 'A2') === '2')
  await second.stop('SIGTERM')

  const ok = await verifyCli(dirs.dataDir, id)
  expect(ok.code, ok.out).toBe(0)
  expect(JSON.parse(ok.out.split('\n')[0]!)).toMatchObject({ ok: true })
  const db = new Database(join(dirs.dataDir, 'workbooks.sqlite'))
  try { db.prepare("UPDATE audit SET by_name = '别人' WHERE workbook_id = ? AND n = 1").run(id) } finally { db.close() }
  const broken = await verifyCli(dirs.dataDir, id)
  expect(broken.code).toBe(1)
  expect(JSON.parse(broken.out.split('\n')[0]!)).toMatchObject({ ok: false, brokenAt: 1 })
})
