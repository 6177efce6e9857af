// Compaction's CPU work, off the event loop that serves the sockets: stored rows in, one update out.
// Plain JavaScript (only Yjs is needed), so the thread starts in milliseconds.
import { parentPort } from 'node:worker_threads'
import * as Y from 'yjs'
import { lowerThisThread } from '../store/low-priority.mjs'

lowerThisThread()

parentPort.on('message', ({ id, rows, full }) => {
  try {
    const merged = Y.mergeUpdates(rows)
    let out = merged
    if (full) {
      // applied to a doc and encoded again: deleted content goes, the row is as small as it gets
      const doc = new Y.Doc()
      try {
        Y.applyUpdate(doc, merged)
        out = Y.encodeStateAsUpdate(doc)
      } finally {
        doc.destroy()
      }
    }
    parentPort.postMessage({ id, ok: true, update: out }, [out.buffer])
  } catch (e) {
    parentPort.postMessage({ id, ok: false, error: String(e && e.message || e) })
  }
})
