/**
 * One open workbook: its Y.Doc, the y-websocket provider, the browser's own copy (IndexedDB), the
 * formula engine, presence (awareness) and a per-person undo manager, exposed as refs. Everything is
 * torn down when the owning scope is disposed.
 *
 * Connection status, as people see it:
 *   connecting  first contact, nothing to show yet
 *   syncing     connected, exchanging what each side lacks
 *   connected   in step with the server; edits go out as they are made
 *   offline     no server; edits are kept in this browser (`unsent` counts them) and sent on reconnect
 */
import { watchBaselines } from './useBaselines'
import { onScopeDispose, ref, shallowRef, type Ref, type ShallowRef } from 'vue'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { IndexeddbPersistence } from 'y-indexeddb'
import type { Awareness } from 'y-protocols/awareness'
import { FormulaEngine } from '../core/formulas/engine'
import { getTitle, metaOf, sheetIds, sheetName } from '../core/workbook/schema'
import * as m from '../core/workbook/mutations'
import type { Identity } from '../sync/identity'
import { personalUndo, type UndoPlace } from '../sync/undo'
import { takeComputed, takeEarlyState } from '../sync/prefetch'
import { viewMatches } from '../core/workbook/view'
import { parseRefusalReason } from '../core/access/refusal'
import { reissueState, trackOwnClients } from '../sync/reissue'

export type ConnectionStatus = 'connecting' | 'syncing' | 'connected' | 'offline'

export interface SheetTab { id: string; name: string }

export interface OpenWorkbook {
  doc: Y.Doc
  /** the origin of every change this person makes; the undo manager tracks only it */
  origin: object
  engine: ShallowRef<FormulaEngine | null>
  ready: Ref<boolean>
  status: Ref<ConnectionStatus>
  /** changes made here that the server has not had yet (kept in this browser meanwhile) */
  unsent: Ref<number>
  /** shown from this browser's copy, not (yet) in step with the server */
  fromLocalCopy: Ref<boolean>
  /** the browser has no copy and the server cannot be reached */
  unreachable: Ref<boolean>
  /** why the server closed the connection for good: 'deleted', 'revoked', another reason, or '' */
  closedReason: Ref<string>
  /** the server refused a change of mine (protected cells, a locked sheet): its reason; the page reopens the workbook */
  refused: Ref<string>
  /** the refused replica's state, for carrying my other unsent edits into the fresh one (see sync/carry) */
  refusedState: Ref<Uint8Array | null>
  title: Ref<string>
  sheets: Ref<SheetTab[]>
  canUndo: Ref<boolean>
  canRedo: Ref<boolean>
  awareness: Awareness
  /** undoes my last step; returns where it was made */
  undo(): UndoPlace | null
  redo(): UndoPlace | null
  /** where I am now: remembered with each step I make */
  setPlaceGetter(fn: () => UndoPlace | null): void
  /** runs a named mutation with this person's origin */
  mutate<T>(fn: (doc: Y.Doc, origin: object) => T): T
  rename(title: string): void
  /** announces who I am to everyone present */
  setIdentity(id: Identity): void
}

export function collabUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/collab`
}

const unsentKey = (id: string) => `pw.unsent.${id}`

function readUnsent(id: string): number {
  try { return Math.max(0, Number(localStorage.getItem(unsentKey(id))) || 0) } catch { return 0 }
}
function writeUnsent(id: string, n: number): void {
  try { if (n > 0) localStorage.setItem(unsentKey(id), String(n)); else localStorage.removeItem(unsentKey(id)) } catch { /* private mode */ }
}

/** The origin of the server's state fetched over HTTP (sync/prefetch): not an edit of mine. */
const SERVER_STATE = { who: 'server-state' }

export function useWorkbook(id: string, identity: Identity, token = ''): OpenWorkbook {
  // the doc's state fetched while the page loaded (sync/prefetch), read into a doc nothing listens to
  // yet: taking that doc spares reading it again and the socket then sends only what changed since
  const early = takeEarlyState(id, token)
  const doc = early?.kind === 'doc' ? early.doc : new Y.Doc()
  // the client ids this replica writes with (Yjs may change its id by itself): see sync/reissue
  const ownClients = trackOwnClients(doc)
  /** the doc holds the server's state (over HTTP) before the socket synced */
  let fromServer = early?.kind === 'doc'
  const origin = { who: 'local' }
  const engine = shallowRef<FormulaEngine | null>(null)
  const ready = ref(false)
  const status = ref<ConnectionStatus>('connecting')
  const unsent = ref(readUnsent(id))
  const fromLocalCopy = ref(false)
  const unreachable = ref(false)
  const closedReason = ref('')
  const refused = ref('')
  const refusedState = shallowRef<Uint8Array | null>(null)
  const title = ref('')
  const sheets = ref<SheetTab[]>([])
  const canUndo = ref(false)
  const canRedo = ref(false)

  // The browser's copy first: a workbook opened before opens offline, and edits made offline survive a
  // reload. When the server's state is here already and this browser has no unsent edits, the copy is
  // opened once the workbook is on screen: what it holds is on the server, and it stores everything
  // from then on (starting with the whole doc).
  let local: IndexeddbPersistence | null = null
  /** the copy is not to be opened (anymore): the workbook was closed, deleted, refused or revoked */
  let localGone = false
  const openLocal = () => {
    if (local || localGone || typeof indexedDB === 'undefined') return
    local = new IndexeddbPersistence(`pw-workbook-${id}`, doc)
    local.on('synced', () => {
      start()
      if (!ready.value && !socketUp && status.value !== 'connecting') unreachable.value = true
    })
  }
  const deferLocal = fromServer && unsent.value === 0
  performance.mark('pw:provider-start')
  // while the early state is on its way the socket waits for it: its first sync then carries only the rest
  const provider = new WebsocketProvider(collabUrl(), id, doc, { disableBc: true, maxBackoffTime: 5_000, params: token ? { token } : {}, connect: early?.kind !== 'pending' })
  const awareness = provider.awareness
  awareness.setLocalStateField('user', { name: identity.name, color: identity.color })

  let place: () => UndoPlace | null = () => null
  const history = personalUndo(doc, origin, () => place())
  const undoManager = history.manager
  const refreshUndo = () => { canUndo.value = undoManager.canUndo(); canRedo.value = undoManager.canRedo() }
  undoManager.on('stack-item-added', refreshUndo)
  undoManager.on('stack-item-popped', refreshUndo)
  undoManager.on('stack-cleared', refreshUndo)

  const refreshMeta = () => {
    title.value = getTitle(doc)
    sheets.value = sheetIds(doc).map(sid => ({ id: sid, name: sheetName(doc, sid) }))
  }

  let socketUp = false
  let everSynced = false
  /** the socket failed or closed at least once (before that, a workbook shown from the server's state is still connecting) */
  let socketFailed = false
  const refreshStatus = () => {
    status.value = socketUp ? (provider.synced ? 'connected' : 'syncing') : everSynced || (ready.value && (!fromServer || socketFailed)) ? 'offline' : 'connecting'
    fromLocalCopy.value = ready.value && !everSynced && !fromServer
  }

  let stopBaselines = () => {}
  /** The engine starts once there is a workbook to show: from the server or from the browser's copy. */
  const start = () => {
    if (engine.value || sheetIds(doc).length === 0) return
    // marks for the cold-open benchmark (bench/cold.ts): when the workbook arrived, when it computed
    performance.mark('pw:doc-ready')
    // the grid shown from the workbook view computed the same version already: taken over, not redone
    const computed = takeComputed(id)
    const taken = computed && viewMatches(computed.version, doc) ? computed.hf : undefined
    if (computed && !taken) computed.hf.destroy()
    const e = new FormulaEngine(doc, {}, taken)
    if (taken) performance.mark('pw:engine-taken-over')
    performance.mark('pw:engine-ready')
    e.localOrigins.add(origin)
    e.onChange((c) => { if (c.sheetsChanged) refreshMeta() })
    engine.value = e
    // BASELINE() formulas get their named versions (./useBaselines.ts)
    stopBaselines = watchBaselines(id, doc, e)
    refreshMeta()
    ready.value = true
    unreachable.value = false
    refreshStatus()
  }

  provider.on('status', ({ status: s }: { status: string }) => {
    socketUp = s === 'connected'
    if (s === 'disconnected') socketFailed = true
    refreshStatus()
  })
  provider.on('connection-close', (ev: CloseEvent | null) => {
    socketFailed = true
    if (ev && (ev.code === 4409 || ev.code === 4413)) {
      // 4413: too large to take (one message, or the workbook grown past its limit)
      // my replica holds a change the server will never take: this copy must go (the page reopens)
      // the reason is a refusal code (core/access/refusal); a message too large to read is closed with English text
      const reason = ev.code === 4413 && parseRefusalReason(ev.reason).code === 'refused' ? 'message-too-large' : ev.reason || 'refused'
      // 4409: my other edits are carried into the fresh replica; 4413 (too large): sending them again would fail again.
      // My client id taken by someone else: everything I wrote goes again under new ids (sync/reissue), nothing lost
      const takenId = ev.code === 4409 && parseRefusalReason(reason).code === 'foreign-client'
      refusedState.value = ev.code !== 4409 ? null : takenId ? reissueState(doc, ownClients.ids) : Y.encodeStateAsUpdate(doc)
      localGone = true
      void (local ? local.clearData() : Promise.resolve()).catch(() => {}).then(() => { refused.value = reason })
    } else if (ev && ev.code >= 4400 && ev.code < 4500) {
      closedReason.value = ev.code === 4404 ? 'deleted' : ev.code === 4403 ? 'revoked' : ev.reason || String(ev.code)
      // a deleted workbook's copy is of no use to anyone, nor one whose link was revoked
      if (ev.code === 4404 || ev.code === 4403) { localGone = true; void local?.clearData() }
    }
    if (!ready.value && local?.synced) unreachable.value = true
  })
  provider.on('connection-error', () => {
    socketFailed = true
    if (!ready.value && local?.synced) unreachable.value = true
    refreshStatus()
  })
  provider.on('sync', (synced: boolean) => {
    if (synced) {
      // everything made here went out with the sync exchange that just finished
      everSynced = true
      unsent.value = 0
      writeUnsent(id, 0)
      start()
    }
    refreshStatus()
  })
  // changes made while not in step with the server are counted until the next sync
  const onUpdate = (_u: Uint8Array, o: unknown) => {
    if (o === provider || o === local || o === SERVER_STATE) return
    if (!(socketUp && provider.synced)) {
      unsent.value++
      writeUnsent(id, unsent.value)
    }
  }
  doc.on('update', onUpdate)

  // the browser knows first when the network goes: stop the socket instead of waiting for a timeout
  const onOffline = () => provider.disconnect()
  const onOnline = () => provider.connect()
  window.addEventListener('offline', onOffline)
  window.addEventListener('online', onOnline)

  const onMeta = () => { title.value = getTitle(doc) }
  metaOf(doc).observe(onMeta)

  let disposed = false
  let frame = 0, timer = 0
  if (early?.kind === 'pending') {
    // The early state is still on its way (or waits for the workbook view's grid to be on screen); the
    // socket waits for it. The browser's copy opens now when it holds unsent edits of mine; when the
    // state is not here yet by the time the view's grid shows, the copy opens meanwhile; otherwise the
    // copy opens once the workbook is on screen, as with a state that came early (reading a large copy
    // is as long as reading the state).
    const mine = unsent.value > 0
    let arrived = false
    void early.arrived.then((b) => { arrived = !!b })
    void early.gate.then(() => { if (!disposed && (mine || !arrived)) openLocal() })
    void early.bytes.then((bytes) => {
      if (disposed) return
      if (bytes) {
        try {
          Y.applyUpdate(doc, bytes, SERVER_STATE)
          if (!everSynced) fromServer = true
        } catch { /* not a state we can read: the socket sync brings it */ }
      }
      start()
      refreshStatus()
      if (!provider.shouldConnect && navigator.onLine !== false) provider.connect()
      if (!local) frame = requestAnimationFrame(() => { frame = 0; timer = window.setTimeout(() => { timer = 0; openLocal() }, 0) })
    })
  } else if (deferLocal) {
    // shown at once from the server's state; the browser's copy opens once it is on screen
    start()
    frame = requestAnimationFrame(() => { frame = 0; timer = window.setTimeout(() => { timer = 0; openLocal() }, 0) })
  } else {
    // as it always was (and when unsent edits of mine are in the browser's copy): the copy opens now
    openLocal()
  }

  onScopeDispose(() => {
    disposed = true
    localGone = true
    if (frame) cancelAnimationFrame(frame)
    if (timer) clearTimeout(timer)
    window.removeEventListener('offline', onOffline)
    window.removeEventListener('online', onOnline)
    doc.off('update', onUpdate)
    metaOf(doc).unobserve(onMeta)
    history.destroy()
    provider.destroy()
    void local?.destroy()
    stopBaselines()
    engine.value?.destroy()
    doc.destroy()
  })

  return {
    doc, origin, engine, ready, status, unsent, fromLocalCopy, unreachable, closedReason, refused, refusedState, title, sheets, canUndo, canRedo, awareness,
    undo: () => { const p = history.undo(); refreshUndo(); return p },
    redo: () => { const p = history.redo(); refreshUndo(); return p },
    setPlaceGetter: (fn) => { place = fn },
    // each change someone makes is its own undo step (as in Excel), with whatever it sets off at once
    mutate: (fn) => { history.newStep(); return fn(doc, origin) },
    rename: (t: string) => { history.newStep(); m.setTitle(doc, t, origin) },
    setIdentity: (who: Identity) => awareness.setLocalStateField('user', { name: who.name, color: who.color }),
  }
}
