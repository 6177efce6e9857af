/**
 * One open workbook: its Y.Doc, the y-websocket provider, the formula engine and a per-person undo
 * manager, exposed as refs. Everything is torn down when the owning scope is disposed.
 */
import { onScopeDispose, ref, shallowRef, type Ref, type ShallowRef } from 'vue'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { FormulaEngine } from '../core/formulas/engine'
import { getTitle, metaOf, sheetIds, sheetName, sheetOrderOf, sheetsOf } from '../core/workbook/schema'
import * as m from '../core/workbook/mutations'

export type ConnectionStatus = 'connecting' | 'connected' | 'offline'

export interface SheetTab { id: string; name: string }

export interface OpenWorkbook {
  doc: Y.Doc
  /** the origin of every change this person makes; the undo manager tracks only it */
  origin: object
  engine: ShallowRef<FormulaEngine | null>
  ready: Ref<boolean>
  status: Ref<ConnectionStatus>
  closedReason: Ref<string>
  title: Ref<string>
  sheets: Ref<SheetTab[]>
  canUndo: Ref<boolean>
  canRedo: Ref<boolean>
  undo(): void
  redo(): void
  /** runs a named mutation with this person's origin */
  mutate<T>(fn: (doc: Y.Doc, origin: object) => T): T
  rename(title: string): void
}

export function collabUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/collab`
}

export function useWorkbook(id: string): OpenWorkbook {
  const doc = new Y.Doc()
  const origin = { who: 'local' }
  const engine = shallowRef<FormulaEngine | null>(null)
  const ready = ref(false)
  const status = ref<ConnectionStatus>('connecting')
  const closedReason = ref('')
  const title = ref('')
  const sheets = ref<SheetTab[]>([])
  const canUndo = ref(false)
  const canRedo = ref(false)

  const provider = new WebsocketProvider(collabUrl(), id, doc, { disableBc: true })

  const undoManager = new Y.UndoManager([sheetsOf(doc), sheetOrderOf(doc), metaOf(doc)], {
    trackedOrigins: new Set([origin]),
    captureTimeout: 400,
  })
  const refreshUndo = () => { canUndo.value = undoManager.canUndo(); canRedo.value = undoManager.canRedo() }
  undoManager.on('stack-item-added', refreshUndo)
  undoManager.on('stack-item-popped', refreshUndo)
  undoManager.on('stack-cleared', refreshUndo)

  const refreshMeta = () => {
    title.value = getTitle(doc)
    sheets.value = sheetIds(doc).map(sid => ({ id: sid, name: sheetName(doc, sid) }))
  }

  provider.on('status', ({ status: s }: { status: string }) => {
    status.value = s === 'connected' ? 'connected' : s === 'connecting' ? 'connecting' : 'offline'
  })
  provider.on('connection-close', (ev: CloseEvent | null) => {
    if (ev && ev.code >= 4400 && ev.code < 4500) closedReason.value = ev.reason || String(ev.code)
  })
  provider.on('sync', (synced: boolean) => {
    if (!synced || engine.value) return
    const e = new FormulaEngine(doc)
    e.localOrigins.add(origin)
    e.onChange((c) => { if (c.sheetsChanged) refreshMeta() })
    engine.value = e
    refreshMeta()
    ready.value = true
  })
  const onMeta = () => { title.value = getTitle(doc) }
  metaOf(doc).observe(onMeta)

  onScopeDispose(() => {
    metaOf(doc).unobserve(onMeta)
    undoManager.destroy()
    provider.destroy()
    engine.value?.destroy()
    doc.destroy()
  })

  return {
    doc, origin, engine, ready, status, closedReason, title, sheets, canUndo, canRedo,
    undo: () => { undoManager.undo(); refreshUndo() },
    redo: () => { undoManager.redo(); refreshUndo() },
    mutate: (fn) => fn(doc, origin),
    rename: (t: string) => m.setTitle(doc, t, origin),
  }
}
