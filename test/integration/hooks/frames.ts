/** Raw y-websocket frames for tests that speak to the real server as a hostile client would. */
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import type WebSocket from 'ws'

export const updateFrame = (u: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  syncProtocol.writeUpdate(e, u)
  return encoding.toUint8Array(e)
}

export const awarenessFrame = (entries: { client: number; clock?: number; state: unknown }[]): Uint8Array => {
  const inner = encoding.createEncoder()
  encoding.writeVarUint(inner, entries.length)
  for (const x of entries) {
    encoding.writeVarUint(inner, x.client)
    encoding.writeVarUint(inner, x.clock ?? 1)
    encoding.writeVarString(inner, JSON.stringify(x.state))
  }
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint8Array(e, encoding.toUint8Array(inner))
  return encoding.toUint8Array(e)
}

/** Sends a frame, then a query-awareness; resolves on an awareness answer (the frame has been handled by then). */
export async function sendAndFlush(ws: WebSocket, frame: Uint8Array): Promise<void> {
  const answered = new Promise<void>(r => {
    const f = (data: Buffer) => { if (data[0] === 1) { ws.off('message', f); r() } }
    ws.on('message', f)
  })
  ws.send(frame)
  ws.send(new Uint8Array([3]))
  await answered
}
