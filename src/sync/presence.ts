/**
 * Presence over Yjs awareness: who is here, on which sheet, and which cells they have selected.
 * Selections are kept by row/column ids, so a colleague's outline stays on the same cells when rows or
 * columns are inserted above or left of it. Awareness states from other clients are untrusted input:
 * everything is checked before use.
 */
import { cleanName, isColor } from './identity'

export interface CursorState {
  sheet: string
  /** where the selection started and where it ends, by ids */
  anchor: { row: string; col: string }
  head: { row: string; col: string }
}

export interface PresenceState {
  user: { name: string; color: string }
  cursor: CursorState | null
}

export interface Peer {
  clientId: number
  name: string
  color: string
  cursor: CursorState | null
  /** the signed-in person on that connection (set by the server), when there is one */
  account?: string
}

const ID = /^[\w-]{1,64}$/

function readCell(v: unknown): { row: string; col: string } | null {
  if (!v || typeof v !== 'object') return null
  const { row, col } = v as Record<string, unknown>
  return typeof row === 'string' && typeof col === 'string' && ID.test(row) && ID.test(col) ? { row, col } : null
}

/** A peer from an awareness state, or null when the state is not a presence state. */
export function readPeer(clientId: number, state: unknown): Peer | null {
  if (!state || typeof state !== 'object') return null
  const user = (state as Record<string, unknown>).user
  if (!user || typeof user !== 'object') return null
  const name = cleanName((user as Record<string, unknown>).name)
  const color = (user as Record<string, unknown>).color
  if (!name || !isColor(color)) return null
  const account = (user as Record<string, unknown>).account
  return { clientId, name, color, cursor: readCursor((state as Record<string, unknown>).cursor), ...(typeof account === 'string' && account ? { account: account.slice(0, 320) } : {}) }
}

/** A selection from untrusted presence (the server keeps only this of it), or null. */
export function readCursor(c: unknown): CursorState | null {
  if (!c || typeof c !== 'object') return null
  const sheet = (c as Record<string, unknown>).sheet
  const anchor = readCell((c as Record<string, unknown>).anchor)
  const head = readCell((c as Record<string, unknown>).head)
  return typeof sheet === 'string' && ID.test(sheet) && anchor && head ? { sheet, anchor, head } : null
}

/** Everyone else present, in a stable order (by client id). */
export function peersOf(states: Map<number, unknown>, self: number): Peer[] {
  const out: Peer[] = []
  for (const [id, st] of states) {
    if (id === self) continue
    const p = readPeer(id, st)
    if (p) out.push(p)
  }
  return out.sort((a, b) => a.clientId - b.clientId)
}

/** A peer's selection as visible positions, or null when its sheet/rows/cols are not in view. */
export interface PeerBox { peer: Peer; r1: number; c1: number; r2: number; c2: number; tagRow: number; tagCol: number }

/**
 * `anchor` is the active cell (where the selection started, where the name tag goes), `head` the
 * opposite corner. A deleted corner shrinks the box to the other one.
 */
export function peerBox(peer: Peer, sheetId: string, rowIndex: (id: string) => number, colIndex: (id: string) => number): PeerBox | null {
  const c = peer.cursor
  if (!c || c.sheet !== sheetId) return null
  let ar = rowIndex(c.anchor.row), ac = colIndex(c.anchor.col), hr = rowIndex(c.head.row), hc = colIndex(c.head.col)
  if (ar < 0 || ac < 0) { ar = hr; ac = hc }
  if (hr < 0 || hc < 0) { hr = ar; hc = ac }
  if (ar < 0 || ac < 0) return null
  return { peer, r1: Math.min(ar, hr), r2: Math.max(ar, hr), c1: Math.min(ac, hc), c2: Math.max(ac, hc), tagRow: ar, tagCol: ac }
}
