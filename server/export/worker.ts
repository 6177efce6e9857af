/**
 * The export worker (see ./runner.ts): takes jobs from the server's thread and answers each. A
 * 10,000-row export is over a second of CPU; here it no longer holds up the server's sockets.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { runExport } from './job'
import type { ExportJob, ExportWorkerData } from './messages'
import { setLicenseKeys } from '../../src/core/licenses'

// before any engine is built: the keys the server was given, not the defaults
setLicenseKeys((workerData as ExportWorkerData | null)?.licenseKeys ?? {})

parentPort!.on('message', (job: ExportJob) => {
  void runExport(job).then(reply => parentPort!.postMessage(reply))
})
parentPort!.postMessage({ ready: true })
