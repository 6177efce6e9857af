/**
 * The export worker (see ./runner.ts): takes jobs from the server's thread and answers each. A
 * 10,000-row export is over a second of CPU; here it no longer holds up the server's sockets.
 */
import { parentPort } from 'node:worker_threads'
import { runExport } from './job'
import type { ExportJob } from './messages'

parentPort!.on('message', (job: ExportJob) => {
  void runExport(job).then(reply => parentPort!.postMessage(reply))
})
parentPort!.postMessage({ ready: true })
