// @vitest-environment node
/**
 * Connection guards (server/collab/connection.ts) against the real server: binary frames only, a size
 * limit, a rate limit, and a bounded queue while the room loads; each closes only the socket at fault.
 */
import { describe, expect, it } from 'vitest'
import * as encoding from 'lib0/encoding'
import { GatedStore, closed, createWorkbook, rawSocket, socketUrl, syncedClient, tempDir, testScope } from '../../helpers/server'

const { server, track, socket, cleanups } = testScope()

/** a query-awareness message: the smallest frame a client may send */
const QUERY = new Uint8Array([3])
const step1 = () => { const e = encoding.createEncoder(); encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 0); encoding.writeVarUint8Array(e, new Uint8Array([0])); return encoding.toUint8Array(e) }

describe('connection guards', () => {
  it('a text frame closes with 1003 and a frame over the size limit with 4413; the others stay', async () => {
    const s = await server({ maxMessageBytes: 1024 })
    const id = await createWorkbook(s)
    const bystander = track(await syncedClient(s, id))
    const text = socket(await rawSocket(socketUrl(s, id)))
    const t = closed(text)
    text.send('hello')
    expect(await t).toEqual({ code: 1003, reason: 'binary messages only' })
    const big = socket(await rawSocket(socketUrl(s, id)))
    const b = closed(big)
    big.send(new Uint8Array(2048))
    expect((await b).code).toBe(4413)
    expect(bystander.provider.wsconnected).toBe(true)
  })

  it('past the rate limit (burst, then per second) the socket closes with 1008; within it, nothing happens', async () => {
    const s = await server({ messagesPerSecond: 1, messageBurst: 10 })
    const id = await createWorkbook(s)
    const calm = socket(await rawSocket(socketUrl(s, id)))
    let calmClosed = false
    calm.on('close', () => { calmClosed = true })
    for (let i = 0; i < 5; i++) calm.send(QUERY)
    const noisy = socket(await rawSocket(socketUrl(s, id)))
    const n = closed(noisy)
    for (let i = 0; i < 30; i++) noisy.send(QUERY)
    expect(await n).toEqual({ code: 1008, reason: 'rate limit' })
    // the calm socket still gets answers
    const answer = new Promise<Buffer>(r => calm.once('message', (d: Buffer) => r(d)))
    calm.send(QUERY)
    expect((await answer)[0]).toBe(1)
    expect(calmClosed).toBe(false)
  })

  it('while the room loads, messages wait in a bounded queue: within it they are answered after the load, past it the socket closes', async () => {
    const t = tempDir('pw-data-')
    cleanups.push(t.remove)
    const store = new GatedStore(t.dir)
    const s = await server({ store, dataDir: t.dir, maxQueuedMessages: 5 })
    const id = await createWorkbook(s)
    store.loadGate.close()
    const patient = socket(await rawSocket(socketUrl(s, id)))
    const answers: number[] = []
    patient.on('message', (d: Buffer) => answers.push(d[0]!))
    patient.send(step1())
    patient.send(QUERY)
    const eager = socket(await rawSocket(socketUrl(s, id)))
    const e = closed(eager)
    for (let i = 0; i < 6; i++) eager.send(QUERY)
    expect(await e).toEqual({ code: 1008, reason: 'too many messages' })
    expect(answers).toEqual([])
    store.loadGate.open()
    const done = new Promise<void>(r => { const f = () => { if (answers.includes(1)) { patient.off('message', f); r() } }; patient.on('message', f); f() })
    await done
    // the server's step 1 first, then the answers to what waited
    expect(answers[0]).toBe(0)
    expect(answers).toContain(1)
  })
})
