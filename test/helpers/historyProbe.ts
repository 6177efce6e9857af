/**
 * What the history security tests share (test/integration/history-security.test.ts and
 * history-privacy.test.ts): requests with exactly one token, the audit event counter, a fixture
 * workbook with every kind of link and two named versions.
 */
import { expect } from 'vitest'
import * as Y from 'yjs'
import { sheetIds } from '../../src/core/workbook/schema'
import { setCell } from '../../src/core/workbook/mutations'
import { WorkbookLayout } from '../../src/core/workbook/layout'
import { parseA1 } from '../../src/core/formulas/references'
import type { ServerOptions } from '../../server/index'
import { createLink, createWorkbook, nextEvent, ownerTokens, syncedClient, until, type Client, type TestServer, type testScope } from './server'
import { type } from './workbook'

export interface Reply { status: number; headers: Headers; text: string; json: any; buf: Buffer }

/** A request with exactly this token (null: none at all), unlike `s.api`, which adds the owner's. */
export async function call(s: TestServer, method: string, path: string, token: string | null, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const hasBody = opts.body !== undefined || opts.raw !== undefined
  const res = await fetch(s.url + path, {
    method,
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers },
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  })
  const buf = Buffer.from(await res.arrayBuffer())
  const text = buf.toString('utf8')
  let json: unknown
  try { json = text ? JSON.parse(text) : undefined } catch { json = undefined }
  return { status: res.status, headers: res.headers, text, json, buf }
}

export function auditWatch(s: TestServer) {
  let count = 0
  s.rooms.on('audited', (_id: string, info: { entries: number }) => { count += info.entries })
  return {
    get count() { return count },
    atLeast: (n: number) => until(`${n} audit entries`, () => count >= n, recheck => { s.rooms.on('audited', recheck); return () => { s.rooms.off('audited', recheck) } }),
  }
}

export const sheetOf = (c: Client) => sheetIds(c.doc)[0]!

/** Writes a raw input (a string stays a string, even "=…") into a visible cell. */
export function put(doc: Y.Doc, sheetId: string, addr: string, value: unknown): void {
  const l = new WorkbookLayout(doc).sheet(sheetId)!
  const p = parseA1(addr)!
  setCell(doc, sheetId, l.rows.ids[p.row]!, l.cols.ids[p.col]!, value as never)
}

/** The next time the server closes this client's socket. */
export const serverClose = (c: Client) =>
  nextEvent<[{ code: number; reason: string } | null]>(c.provider as never, 'connection-close', e => e !== null).then(([e]) => ({ code: e!.code, reason: e!.reason }))

/** The server still answers, and never logged an unhandled error (a 500) in this test. */
export async function stillServing(s: TestServer, id: string, token = ownerTokens.get(id)!): Promise<void> {
  expect((await call(s, 'GET', `/api/workbooks/${id}`, token)).status).toBe(200)
  expect((await call(s, 'GET', `/api/workbooks/${id}/versions`, token)).status).toBe(200)
  expect(s.log.lines.filter(l => l.startsWith('error'))).toEqual([])
}

/** A small RFC 4180 reader. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = [], field = '', quoted = false
  const t = text.replace(/^\uFEFF/, '')
  for (let i = 0; i < t.length; i++) {
    const ch = t[i]!
    if (quoted) {
      if (ch === '"' && t[i + 1] === '"') { field += '"'; i++ } else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') { row.push(field); field = '' } else if (ch === '\r' && t[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i++ } else field += ch
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row) }
  return rows
}


/** The kit of one test file's scope: clients closed and servers stopped after each test. */
export function probeKit({ server, track }: ReturnType<typeof testScope>) {
  const client = async (s: TestServer, id: string, token?: string): Promise<Client> => track(await syncedClient(s, id, token === undefined ? {} : { token }))

  /**
   * A workbook with an owner, an editor, a viewer and a revoked link, a named version `v1` with A1 set,
   * and a second workbook (its own owner and version `v2`).
   */
  async function fixture(opts: ServerOptions = {}) {
    const s = await server({ maxAuthFailures: 1_000_000, ...opts })
    const audit = auditWatch(s)
    const id = await createWorkbook(s, { name: '老板' })
    const owner = ownerTokens.get(id)!
    const editor = await createLink(s, id, 'editor', '小李')
    const viewer = await createLink(s, id, 'viewer', '访客')
    const made = await s.api('POST', `/api/workbooks/${id}/links`, { role: 'editor', name: '离职的人' })
    expect(made.status).toBe(201)
    expect((await s.api('DELETE', `/api/workbooks/${id}/links/${made.json.id}`)).status).toBe(200)
    const revoked = made.json.token as string
    const id2 = await createWorkbook(s, { name: '外人' })
    const other = ownerTokens.get(id2)!
    const ownerClient = await client(s, id)
    const sid = sheetOf(ownerClient)
    const before = audit.count
    type(ownerClient.doc, sid, 'A1', '1')
    await audit.atLeast(before + 1)
    const v1 = (await call(s, 'POST', `/api/workbooks/${id}/versions`, owner, { body: { name: 'v1' } })).json.id as string
    const v2 = (await call(s, 'POST', `/api/workbooks/${id2}/versions`, other, { body: { name: 'v2' } })).json.id as string
    expect(v1).toBeTruthy()
    expect(v2).toBeTruthy()
    return { s, audit, id, id2, owner, editor, viewer, revoked, other, ownerClient, sid, v1, v2 }
  }

  return { client, fixture }
}
