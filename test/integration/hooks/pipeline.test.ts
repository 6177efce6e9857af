// @vitest-environment node
/**
 * The room pipeline (server/collab/room.ts) against the real server: a hook added by configuration
 * sees a change in order — authorize (before anything is applied) → onChange → onStored (after the
 * store has it, before anyone else sees it) — may refuse with a typed code, and is told when the room
 * rests, wakes and unloads. This is what history, audit and comments plug into.
 */
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { cellKey, sheetIds, sheetParts, sheetsOf, visibleColIds, visibleRowIds } from '../../../src/core/workbook/schema'
import { setCell } from '../../../src/core/workbook/mutations'
import { parseRefusalReason } from '../../../src/core/access/access'
import type { RoomContext, RoomHook } from '../../../server/collab/rooms'
import { createWorkbook, docUntil, nextEvent, syncedClient, testScope } from '../../helpers/server'

const { server, track } = testScope()
const cellAt = (d: Y.Doc, sid: string, r: string, c: string) => sheetParts(sheetsOf(d).get(sid)!).cells.get(cellKey(r, c))

/** A hook that writes down what it is told, and refuses any change that sets a cell to 'NO'. */
function recorder(events: string[]) {
  let ctxSeen: RoomContext | null = null
  const make = (ctx: RoomContext): RoomHook => {
    ctxSeen = ctx
    return {
      name: 'recorder',
      async onLoad() { events.push(`load:${ctx.state()}`) },
      onReady() { events.push('ready') },
      authorize({ update }) {
        const probe = new Y.Doc()
        Y.applyUpdate(probe, Y.encodeStateAsUpdate(ctx.doc()))
        Y.applyUpdate(probe, update)
        let no = false
        sheetsOf(probe).forEach(s => sheetParts(s).cells.forEach(v => { if (v === 'NO') no = true }))
        probe.destroy()
        events.push(`authorize:${no ? 'refuse' : 'allow'}`)
        return no ? { code: 'protected', detail: 'the recorder says no' } : null
      },
      onChange(_u, source) { events.push(`change:${source === null ? 'server' : source === 'bus' ? 'bus' : 'conn'}`) },
      onStored(batch) { events.push(`stored:${batch.seq > 0}`) },
      onRest() { events.push('rest') },
      onWake() { events.push('wake') },
      async onUnload() { events.push('unload') },
      onClose() { events.push('close') },
    }
  }
  return { make, ctx: () => ctxSeen }
}

describe('room pipeline', () => {
  it('an extra hook sees load, authorize, change and stored in order, can refuse with a code, and hears of rest, wake and unload', async () => {
    const events: string[] = []
    const rec = recorder(events)
    const s = await server({ roomHooks: [rec.make], restAfterMs: 0, unloadDelayMs: 50 })
    const id = await createWorkbook(s)
    const a = track(await syncedClient(s, id))
    const b = track(await syncedClient(s, id))
    expect(events.slice(0, 2)).toEqual(['load:loading', 'ready'])
    const sid = sheetIds(a.doc)[0]!
    const sheet = sheetsOf(a.doc).get(sid)!
    const [r0] = visibleRowIds(sheet), [c0] = visibleColIds(sheet)
    events.length = 0
    // what another client sees arrives only after the store took it, and after the hook heard of it
    let storedBeforeSeen = false
    b.doc.on('update', () => { storedBeforeSeen = events.includes('stored:true') })
    setCell(a.doc, sid, r0!, c0!, 'fine')
    await docUntil(b.doc, 'b sees the edit', d => cellAt(d, sid, r0!, c0!) === 'fine')
    expect(events).toEqual(['authorize:allow', 'change:conn', 'stored:true'])
    expect(storedBeforeSeen).toBe(true)
    // a refusal: nothing applied, the sender told the code
    events.length = 0
    const shut = new Promise<CloseEvent>((resolve, reject) => a.provider.once('connection-close', (e: CloseEvent | null) => (e ? resolve(e) : reject(new Error('no event')))))
    setCell(a.doc, sid, r0!, c0!, 'NO')
    const e = await shut
    expect(e.code).toBe(4409)
    expect(parseRefusalReason(e.reason).code).toBe('protected')
    expect(events).toEqual(['authorize:refuse'])
    expect(cellAt(s.rooms.rooms.get(id)!.doc, sid, r0!, c0!)).toBe('fine')
    // rest and wake (restAfterMs 0: only when asked), then unload once everyone left
    a.destroy()
    b.destroy()
    events.length = 0
    expect(s.rooms.restNow(id)).toBe(true)
    expect(s.rooms.state(id)).toBe('resting')
    await s.rooms.withDoc(id, d => { setCell(d, sid, r0!, c0!, 'from the API', 'server') })
    const unloaded = nextEvent(s.rooms, 'room-unloaded', rid => rid === id)
    await unloaded
    expect(events).toEqual(['rest', 'wake', 'change:server', 'stored:true', 'unload', 'close'])
    expect(rec.ctx()?.state()).toBe('closed')
  })
})
