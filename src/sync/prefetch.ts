/**
 * The early start of a workbook page (/w/<id>): started by the entry script before the app mounts,
 * while the page's scripts load. With a share-link token (in the address or held by this browser),
 * it asks the server who the link makes me (GET /api/workbooks/<id>) and for the doc's whole state
 * (GET /api/workbooks/<id>/state), and reads that state into a Y.Doc as soon as Yjs has loaded. The
 * workbook then opens from that doc; the socket sync that follows carries only what changed since.
 *
 * It also asks for the workbook view (GET /api/workbooks/<id>/view, core/workbook/view.ts): what the
 * first screen needs, without the doc's history. The page computes and shows the grid from it, and
 * only then is the state read (the gate): for a large workbook that is a second of main-thread work,
 * which would otherwise come before anything is on screen.
 *
 * The server checks the token on these requests as it does on the socket. Nothing is kept: a failed
 * fetch (offline, refused) just means the page opens the way it always did (the browser's copy, the
 * socket).
 */
import type * as Y from 'yjs'
import type { HyperFormula } from 'hyperformula'
import { api, type WorkbookInfo } from '../api'
import { heldToken } from './links'
import type { ViewVersion, WorkbookView } from '../core/workbook/view'

/** The doc's state from the server, read into a doc of its own that nothing listens to yet. */
export type EarlyState =
  | { kind: 'doc'; doc: Y.Doc }
  /**
   * not here yet: the bytes (or null when the fetch failed) once they are and the view's grid is on
   * screen (`gate`: when the latter is, or will not be; `arrived`: the bytes as soon as they are here)
   */
  | { kind: 'pending'; bytes: Promise<Uint8Array | null>; gate: Promise<void>; arrived: Promise<Uint8Array | null> }

interface Early {
  id: string
  token: string
  info: Promise<WorkbookInfo>
  bytes: Promise<Uint8Array | null>
  doc: Y.Doc | null
  infoTaken: boolean
  stateTaken: boolean
  /** the workbook view (core/workbook/view.ts), or null when there is none to show */
  view: Promise<WorkbookView | null>
  viewTaken: boolean
  /**
   * Open once the grid is on screen from the view (or there is no view to show): reading the doc's
   * state, a second of main-thread work for a large workbook, waits for it.
   */
  gate: Promise<void>
  openGate: () => void
  viewHere: boolean
  /** the view came too late (after the state, by more than VIEW_AFTER_STATE_MS): not shown */
  viewAbandoned: boolean
}

/** How long the state waits for the view's grid at most, from the page's start (a view that never shows must not hold it up). */
const GATE_MS = 5_000
/**
 * How much later than the state the view may come and still be shown first. Showing it takes about as
 * long as reading the state, which then still leaves the engine to compute: a view up to about that
 * much later is still the faster way to the screen.
 */
const VIEW_AFTER_STATE_MS = 1_000

let early: Early | null = null

/** The workbook id of a workbook page's path (not of its print view), or null. */
export function workbookIdOf(path: string): string | null {
  const m = /^\/w\/([^/]+)\/?$/.exec(path)
  if (!m) return null
  try { return decodeURIComponent(m[1]!) } catch { return null }
}

async function fetchView(id: string, token: string): Promise<WorkbookView | null> {
  try {
    const res = await fetch(`/api/workbooks/${encodeURIComponent(id)}/view`, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' })
    if (!res.ok) return null
    const view = await res.json() as WorkbookView
    return view && view.v === 1 && typeof view.vector === 'string' && Array.isArray(view.sheets) && view.sheets.length > 0 ? view : null
  } catch {
    return null
  }
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
  const view = fetchView(id, token)
  const bytes = fetchState(id, token)
  let openGate = () => {}
  const gate = new Promise<void>(resolve => { openGate = resolve })
  const e: Early = { id, token, info, bytes, doc: null, infoTaken: false, stateTaken: false, view, viewTaken: false, gate, openGate, viewHere: false, viewAbandoned: false }
  early = e
  void view.then(v => { if (v) e.viewHere = true; else openGate() })
  setTimeout(openGate, GATE_MS)
  // a view slower than the state is not waited for long: past that, the page opens from the state
  void bytes.then(b => {
    if (b) setTimeout(() => { if (!e.viewHere) { e.viewAbandoned = true; openGate() } }, VIEW_AFTER_STATE_MS)
  })
  // read the state into a doc as soon as it, Yjs and the view's grid are here, unless the page took the bytes already
  void Promise.all([bytes, import('yjs'), gate]).then(([b, Yjs]) => {
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
  return { kind: 'pending', bytes: Promise.all([e.bytes, e.gate]).then(([b]) => b), gate: e.gate, arrived: e.bytes }
}

/** The early workbook view for this workbook and token (once), or null when none was asked for. */
export function takeEarlyView(id: string, token: string): Promise<WorkbookView | null> | null {
  const e = early
  if (!e || e.id !== id || e.token !== token || e.viewTaken) return null
  e.viewTaken = true
  return e.view.then(v => (e.viewAbandoned ? null : v))
}

/** The view's grid is on screen, or will not be: the doc's state may be read now. */
export function viewShown(id: string): void {
  if (early?.id === id) early.openGate()
}

/**
 * The view, computed by the page that showed it, for the formula engine to take over when the doc is
 * at the view's version (instead of computing the same again).
 */
let offered: { id: string; version: ViewVersion; hf: HyperFormula } | null = null

export function offerComputed(id: string, version: ViewVersion, hf: HyperFormula): void {
  if (offered && offered.hf !== hf) offered.hf.destroy()
  offered = { id, version: { vector: version.vector, snapshot: version.snapshot }, hf }
}

/** The offered instance for this workbook (once), or null; the taker owns it. */
export function takeComputed(id: string): { version: ViewVersion; hf: HyperFormula } | null {
  const o = offered
  if (!o || o.id !== id) return null
  offered = null
  return o
}

/** Takes back an offer nobody took (destroying it), as the page showing the view goes. */
export function withdrawComputed(hf: HyperFormula): void {
  if (offered?.hf !== hf) return
  offered = null
  hf.destroy()
}
