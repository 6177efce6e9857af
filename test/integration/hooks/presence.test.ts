// @vitest-environment node
/**
 * The presence hook (server/collab/hooks/presence.ts) against the real server: an awareness client id
 * belongs to the connection that first announced it, and to its link for good, so nobody can take a
 * colleague's presence while they reconnect; every relayed field is what the presence schema allows.
 */
import { describe, expect, it } from 'vitest'
import { sheetIds } from '../../../src/core/workbook/schema'
import { createLink, createWorkbook, rawSocket, socketUrl, syncedClient, testScope, until, type Client } from '../../helpers/server'
import { awarenessFrame, sendAndFlush } from './frames'

const { server, track, socket } = testScope()

const seenBy = (c: Client, client: number, what: string, pred: (st: Record<string, unknown> | undefined) => boolean) =>
  until(what, () => pred(c.provider.awareness.getStates().get(client) as Record<string, unknown> | undefined) || undefined,
    r => { c.provider.awareness.on('change', r); return () => c.provider.awareness.off('change', r) })

describe('presence hook', () => {
  it('while a colleague reconnects, nobody else can announce their client id: they come back under their own name', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const owner = track(await syncedClient(s, id))
    const sid = sheetIds(owner.doc)[0]!
    const li = track(await syncedClient(s, id, { token: await createLink(s, id, 'editor', '李经理') }))
    const liId = li.doc.clientID
    li.provider.awareness.setLocalStateField('user', { name: '李经理', color: '#0b8043' })
    await seenBy(owner, liId, 'the owner sees 李经理', st => (st?.user as { name?: string } | undefined)?.name === '李经理')
    li.provider.disconnect()
    await seenBy(owner, liId, '李经理 gone', st => st === undefined)
    // in the gap, Eve claims 李经理's id, with a forged name and a cursor that is no selection
    const ws = socket(await rawSocket(socketUrl(s, id, await createLink(s, id, 'editor', 'Eve'))))
    await sendAndFlush(ws, awarenessFrame([{ client: liId, clock: 99, state: { user: { name: '李经理', color: '#ff0000' }, cursor: { sheet: '<img src=x onerror=alert(1)>', anchor: 1 } } }]))
    expect(s.rooms.rooms.get(id)!.awareness.getStates().has(liId)).toBe(false)
    // nor can she clear it for him
    await sendAndFlush(ws, awarenessFrame([{ client: liId, clock: 100, state: null }]))
    // 李经理 reconnects: shown as himself, with his own selection
    li.provider.connect()
    li.provider.awareness.setLocalStateField('cursor', { sheet: sid, anchor: { row: 'r1', col: 'c1' }, head: { row: 'r2', col: 'c2' } })
    await seenBy(owner, liId, '李经理 back with his selection', st => (st?.cursor as { sheet?: string } | null | undefined)?.sheet === sid)
    expect(owner.provider.awareness.getStates().get(liId)).toEqual({
      user: { name: '李经理', color: '#0b8043', role: 'editor' },
      cursor: { sheet: sid, anchor: { row: 'r1', col: 'c1' }, head: { row: 'r2', col: 'c2' } },
    })
  })

  it('keeps only what the presence schema allows: the link\'s name and role, a colour, a selection by ids', async () => {
    const s = await server()
    const id = await createWorkbook(s)
    const owner = track(await syncedClient(s, id))
    const ws = socket(await rawSocket(socketUrl(s, id, await createLink(s, id, 'editor', 'Eve'))))
    const bad = [
      { sheet: '<b>x</b>', anchor: { row: 'r', col: 'c' }, head: { row: 'r', col: 'c' } },
      { sheet: 's1', anchor: { row: 'r', col: 'c' } },
      { sheet: 's1', anchor: { row: 'r'.repeat(100), col: 'c' }, head: { row: 'r', col: 'c' } },
      'text',
    ]
    for (let i = 0; i < bad.length; i++) {
      await sendAndFlush(ws, awarenessFrame([{ client: 7_000_000 + i, state: { user: { name: 'Owner', color: 'red; background: url(x)' }, cursor: bad[i], extra: 'x'.repeat(100) } }]))
    }
    await until('the owner sees Eve\'s states', () => [...owner.provider.awareness.getStates().keys()].filter(c => c >= 7_000_000 && c < 7_000_010).length === bad.length || undefined,
      r => { owner.provider.awareness.on('change', r); return () => owner.provider.awareness.off('change', r) })
    for (let i = 0; i < bad.length; i++) {
      expect(owner.provider.awareness.getStates().get(7_000_000 + i)).toEqual({ user: { name: 'Eve', color: '#5f6368', role: 'editor' }, cursor: null })
    }
    // positive control: a good selection goes through as sent
    const good = { sheet: 's1', anchor: { row: 'r1', col: 'c1' }, head: { row: 'r9', col: 'c3' } }
    await sendAndFlush(ws, awarenessFrame([{ client: 7_000_000, clock: 5, state: { user: { name: 'x', color: '#abcdef' }, cursor: good } }]))
    await until('the good selection', () => (owner.provider.awareness.getStates().get(7_000_000) as { cursor?: unknown })?.cursor !== null || undefined,
      r => { owner.provider.awareness.on('change', r); return () => owner.provider.awareness.off('change', r) })
    expect(owner.provider.awareness.getStates().get(7_000_000)).toEqual({ user: { name: 'Eve', color: '#abcdef', role: 'editor' }, cursor: good })
  })
})
