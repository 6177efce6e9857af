/**
 * Members and admins (issue 23): an owner adds people who signed in before, by email, with a role; a
 * member reaches the workbook signed in without a link ("my workbooks" in any browser); removing them
 * closes their socket. ADMIN_EMAILS list every workbook, end a person's sessions, revoke links and hand
 * a leaver's workbooks to someone else.
 */
import { describe, it, expect } from 'vitest'
import WebSocket from 'ws'
import { closed, createWorkbook, testScope } from '../helpers/server'
import { Jar, PEOPLE, hop, signIn, startOidcPair, type Idp } from '../helpers/idp'

const { server, cleanups } = testScope()

async function signedIn(base: string, idp: Idp, who: string): Promise<Jar> {
  idp.user = who
  const jar = new Jar()
  expect((await signIn(base, jar)).status).toBe(302)
  return jar
}

describe('members and admins', () => {
  it('members by email reach the workbook without a link, listed in "my workbooks"; an admin lists, revokes and transfers', async () => {
    const { s, idp, base } = await startOidcPair(server, cleanups, PEOPLE)
    const zhang = await signedIn(base, idp!, 'zhang')
    const wang = await signedIn(base, idp!, 'wang') // wang@example.com is the admin
    const li = await signedIn(base, idp!, 'li')
    const id = await createWorkbook(s, { title: '考核表' })
    expect((await s.api('POST', `/api/workbooks/${id}/members`, { email: 'unknown@example.com', role: 'editor' })).status).toBe(404)
    expect((await s.api('POST', `/api/workbooks/${id}/members`, { email: 'zhangsan@example.com', role: 'boss' })).status).toBe(400)
    const added = await s.api('POST', `/api/workbooks/${id}/members`, { email: 'zhangsan@example.com', role: 'editor' })
    expect(added.status).toBe(201)
    expect(added.json).toMatchObject({ name: '张三', role: 'editor' })
    expect((await s.api('POST', `/api/workbooks/${id}/members`, { email: 'wang@example.com', role: 'owner' })).status).toBe(201)

    const as = (jar: Jar, method: string, path: string, body?: unknown) => hop(jar, base + path, {
      method, headers: { origin: base, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    })
    const mine = await (await as(zhang, 'GET', '/api/me/workbooks')).json()
    expect(mine).toEqual([expect.objectContaining({ id, title: '考核表', role: 'editor', url: `/w/${id}` })])
    expect((await as(zhang, 'GET', `/api/workbooks/${id}`)).status).toBe(200)
    expect((await as(li, 'GET', `/api/workbooks/${id}`)).status).toBe(401)
    expect((await as(zhang, 'POST', `/api/workbooks/${id}/links`, { role: 'viewer', name: 'x' })).status).toBe(403) // an editor
    expect((await as(wang, 'POST', `/api/workbooks/${id}/links`, { role: 'viewer', name: '访客' })).status).toBe(201) // an owner member
    const accounts = (await s.api('GET', `/api/workbooks/${id}/accounts`)).json
    expect(accounts.members.map((m: { name: string; role: string }) => `${m.name}:${m.role}`)).toEqual(['张三:editor', '王经理:owner'])

    // the member's socket, no token: in; removing the member closes it (4403)
    const ws = new WebSocket(`${s.wsUrl}/collab/${id}`, { headers: { cookie: zhang.header(base), origin: base } })
    cleanups.push(() => ws.terminate())
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('unexpected-response', (_q, r) => reject(new Error(`upgrade ${r.statusCode}`))) })
    const shut = closed(ws)
    const zid = accounts.members[0].id
    expect((await s.api('DELETE', `/api/workbooks/${id}/members/${zid}`)).status).toBe(200)
    expect((await shut).code).toBe(4403)
    expect((await as(zhang, 'GET', `/api/workbooks/${id}`)).status).toBe(401)

    // admins
    expect((await as(li, 'GET', '/api/admin/workbooks')).status).toBe(403)
    expect((await hop(new Jar(), `${base}/api/admin/workbooks`)).status).toBe(401)
    const all = await (await as(wang, 'GET', '/api/admin/workbooks')).json()
    expect(all.map((w: { id: string }) => w.id)).toContain(id)
    const moved = await (await as(wang, 'POST', '/api/admin/transfer', { from: 'wang@example.com', to: 'li@example.com' })).json()
    expect(moved).toEqual({ moved: [id] })
    expect(await (await as(li, 'GET', '/api/me/workbooks')).json()).toEqual([expect.objectContaining({ id, role: 'owner' })])
    expect(await (await as(wang, 'GET', '/api/me/workbooks')).json()).toEqual([])
    const links = (await s.api('GET', `/api/workbooks/${id}/links`)).json as { id: string; name: string }[]
    const guest = links.find(l => l.name === '访客')!
    expect((await as(wang, 'DELETE', `/api/admin/workbooks/${id}/links/${guest.id}`)).status).toBe(200)
    expect((await s.api('GET', `/api/workbooks/${id}/links`)).json.find((l: { id: string }) => l.id === guest.id).revokedAt).not.toBeNull()
    // li's socket as the new owner member closes when an admin ends li's sessions
    const liWs = new WebSocket(`${s.wsUrl}/collab/${id}`, { headers: { cookie: li.header(base), origin: base } })
    cleanups.push(() => liWs.terminate())
    await new Promise<void>((resolve, reject) => { liWs.once('open', () => resolve()); liWs.once('unexpected-response', (_q, r) => reject(new Error(`upgrade ${r.statusCode}`))) })
    const liShut = closed(liWs)
    expect(await (await as(wang, 'DELETE', '/api/admin/sessions?email=li@example.com')).json()).toEqual({ ended: 1 })
    expect((await liShut).code).toBe(4403)
    expect((await hop(li, `${base}/api/me`)).status).toBe(401)
  })
})
