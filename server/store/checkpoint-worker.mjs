// Copies the SQLite write-ahead log back into the database file on its own connection and thread, so
// that the serving thread's commits never stop for it (an automatic checkpoint inside a commit held
// every socket for 10–30 ms when fifty rooms compacted at once). Plain JavaScript: starts in milliseconds.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { lowerThisThread } from './low-priority.mjs'

lowerThisThread()

const db = new Database(workerData.file)
db.pragma('busy_timeout = 5000')
let stopped = false

const checkpoint = () => {
  try {
    // PASSIVE: copies what no reader still needs, never waits for or blocks a writer
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch {
    // busy or locked: tried again at the next tick (the serving thread's backstop covers a long stall)
  }
}

const timer = setInterval(checkpoint, workerData.intervalMs)
parentPort.on('message', m => {
  if (m === 'stop' && !stopped) {
    stopped = true
    clearInterval(timer)
    db.close()
    parentPort.close()
  }
})
