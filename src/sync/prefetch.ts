/**
 * The early start of a workbook page (/w/<id>): started by the entry script before the app mounts,
 * while the page's scripts load. With a share-link token (in the address or held by this browser),
 * it asks the server who the link makes me (GET /api/workbooks/<id>) and for the doc's whole state
 * (GET /api/workbooks/<id>/state), and reads that state into a Y.Doc as soon as Yjs has loaded. The
 * workbook then opens from that doc; the socket sync that follows carries only what changed since.
 *
 * The server checks the token on these requests as it does on the socket. Nothing is kept: a failed
 * fetch (offline, refused) just means the page opens the way it always did (the browser's copy, the
 * socket).
 */
import type * as Y from 'yjs'
import { api, type WorkbookInfo } from '../api'
import { heldToken } from './links'

/** The doc's state from the server, read into a doc of its own that nothing listens to yet. */
export type EarlyState =
  | { kind: 'doc'; doc: Y.Doc }
  /** not here yet: the bytes (or null when the fetch failed) once they are */
  | { kind: 'pending'; bytes: Promise<Uint8Array | null> }

interface Early {
  id: string
  token: string
  info: Promise<WorkbookInfo>
  bytes: Promise<Uint8Array | null>
  doc: Y.Doc | null
  infoTaken: boolean
  stateTaken: boolean
}

let early: Early | null = null

/** The workbook id of a workbook page's path (not of its print view), or null. */
export function workbookIdOf(path: string): string | null {
  const m = /^\/w\/([^/]+)\/?$/.exec(path)
  if (!m) return null
  try { return decodeURIComponent(m[1]!) } catch { return null }
}

async function fetchState(id: string, token: string): Promise<Uint8Array | null> {
  try {
    const res = await fetch(`/api/workbooks/${encodeURIComponent(id)}/state`, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' })
    if (!res.ok) return null
    return new Uint8Array(await res.arrayBuffer())
  } catch {
    return null
  }
}

/** Starts the early requests when `location` is a workbook page with a token; returns whether it did. */
export function prefetchWorkbook(loc: { pathname: string; search: string } = location): boolean {
  const id = workbookIdOf(loc.pathname)
  if (!id) return false
  const fromUrl = new URLSearchParams(loc.search).get('token')
  const token = fromUrl || heldToken(id)
  if (!token) return false
  const info = api.get(id, token)
  info.catch(() => {}) // the page reads it (and its failure) when it mounts
  const bytes = fetchState(id, token)
  const e: Early = { id, token, info, bytes, doc: null, infoTaken: false, stateTaken: false }
  early = e
  // read the state into a doc as soon as both it and Yjs are here, unless the page took the bytes already
  void Promise.all([bytes, import('yjs')]).then(([b, Yjs]) => {
    if (!b || e.stateTaken || early !== e) return
    const doc = new Yjs.Doc()
    try {
      Yjs.applyUpdate(doc, b)
      e.doc = doc
    } catch {
      doc.destroy()
    }
  }, () => {})
  return true
}

/** The early request of who the link makes me, for this workbook and token (once), or null. */
export function takeEarlyInfo(id: string, token: string): Promise<WorkbookInfo> | null {
  if (!early || early.id !== id || early.token !== token || early.infoTaken) return null
  early.infoTaken = true
  return early.info
}

/** The early state of this workbook for this token (once), or null when there is none. */
export function takeEarlyState(id: string, token: string): EarlyState | null {
  const e = early
  if (!e || e.id !== id || e.token !== token || e.stateTaken) return null
  e.stateTaken = true
  if (e.doc) {
    const doc = e.doc
    e.doc = null
    return { kind: 'doc', doc }
  }
  return { kind: 'pending', bytes: e.bytes }
}
