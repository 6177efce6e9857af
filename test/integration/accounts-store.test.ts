// @vitest-environment node
/**
 * The account store (issue 23), one suite on SQLite and on a real PostgreSQL: accounts by (issuer,
 * subject) with a stable id, sessions by hash with expiry and "everywhere", link bindings, members;
 * deleting a workbook takes its members and bindings along.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { SqliteStore } from '../../server/store/sqlite'
import type { Store } from '../../server/store/types'
import { freshPostgres } from '../helpers/services'
import { tempDir } from '../helpers/server'

const cleanups: (() => unknown)[] = []
afterEach(async () => { for (const f of cleanups.splice(0).reverse()) await f() })

const kinds: [string, () => Promise<Store>][] = [
  ['sqlite', async () => {
    const t = tempDir('pw-accounts-')
    cleanups.push(t.remove)
    const store = new SqliteStore(t.dir)
    cleanups.push(() => store.close())
    return store
  }],
  ['postgres', async () => {
    const pg = await freshPostgres()
    cleanups.push(pg.drop)
    return pg.store
  }],
]

describe.each(kinds)('accounts on %s', (_kind, open) => {
  it('accounts, sessions, bindings and members', async () => {
    const store = await open()
    const a = store.accounts
    const claims = { issuer: 'https://idp', subject: 's1', email: 'zhangsan@example.com', name: '张三', avatar: '' }
    const z = await a.upsertAccount(claims, 'acct-zhang-00001', 100)
    expect(z).toMatchObject({ id: 'acct-zhang-00001', name: '张三', createdAt: 100, lastSeenAt: 100 })
    // the same (issuer, subject) again: the same id, refreshed name
    expect(await a.upsertAccount({ ...claims, name: '张三丰' }, 'acct-other-00002', 200)).toMatchObject({ id: z.id, name: '张三丰', createdAt: 100, lastSeenAt: 200 })
    const w = await a.upsertAccount({ ...claims, subject: 's2', email: 'wang@example.com', name: '王经理' }, 'acct-wang-000003', 300)
    expect((await a.findAccountsByEmail('ZhangSan@Example.com')).map(x => x.id)).toEqual([z.id])
    expect(await a.getAccount('nobody')).toBeNull()

    await a.createSession('h1', z.id, 1000, 2000)
    await a.createSession('h2', z.id, 1000, 5000)
    await a.createSession('h3', w.id, 1000, 5000)
    expect(await a.findSession('h1', 1500)).toEqual({ accountId: z.id, createdAt: 1000, expiresAt: 2000 })
    expect(await a.findSession('h1', 2000)).toBeNull()
    await a.deleteSession('h2')
    expect(await a.findSession('h2', 1500)).toBeNull()
    await a.createSession('h4', z.id, 1500, 5000)
    expect(await a.deleteSessionsOf(z.id)).toBe(2)
    expect(await a.findSession('h3', 1500)).toMatchObject({ accountId: w.id })

    await store.createWorkbook({ id: 'wb1', title: 't', template: 'blank', createdAt: 1, updatedAt: 1 })
    await a.bindLink('l1', 'wb1', z.id)
    await a.bindLink('l1', 'wb1', w.id)
    expect(await a.linkBinding('l1')).toBe(w.id)
    expect([...(await a.linkBindings('wb1'))]).toEqual([['l1', w.id]])
    await a.setMember('wb1', z.id, 'editor', 10)
    await a.setMember('wb1', w.id, 'owner', 20)
    await a.setMember('wb1', z.id, 'viewer', 30)
    expect((await a.members('wb1')).map(m => `${m.accountId}:${m.role}:${m.addedAt}`)).toEqual([`${z.id}:viewer:10`, `${w.id}:owner:20`])
    expect(await a.membershipsOf(w.id)).toEqual([{ workbookId: 'wb1', accountId: w.id, role: 'owner', addedAt: 20 }])
    await a.removeMember('wb1', z.id)
    expect((await a.members('wb1')).length).toBe(1)
    await a.bindLink('l2', 'wb1', z.id)
    await a.bindLink('l2', 'wb1', null)
    expect(await a.linkBinding('l2')).toBeNull()

    expect(await store.deleteWorkbook('wb1')).toBe(true)
    expect(await a.linkBinding('l1')).toBeNull()
    expect(await a.membershipsOf(w.id)).toEqual([])
    expect(await a.getAccount(w.id)).not.toBeNull()
  })
})
