// Background threads (compaction, checkpoints) yield the core to the thread that serves the sockets:
// on Linux a thread has its own nice value, set through its thread id. Where that is not possible
// (another system, a container that forbids it) the thread runs at the normal priority.
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'

export function lowerThisThread() {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 19)
    return true
  } catch {
    return false
  }
}
