/**
 * The messages between the server's thread (./runner.ts) and the export job (./job.ts, run in the
 * worker of ./worker.ts or in process): what is asked and what comes back. Both sides need them and
 * neither owns them, so they live here, apart from both.
 */
import type { ExportReport } from './xlsx'
import type { ReviewData } from './review'
import type { SheetFilter } from '../../src/core/workbook/filter'
import type { LicenseKeys } from '../../src/core/licenses'
import type { WorkbookDiff } from '../../src/core/history/diff'

/** what the worker thread is started with */
export interface ExportWorkerData {
  /** the server's licence keys (the thread's own copy of src/core/licenses.ts starts with the defaults) */
  licenseKeys: LicenseKeys
}

/** `baselines`: the named versions BASELINE() formulas read, [name, state] (src/core/formulas/baseline.ts) */
export type ExportJob =
  /** filters: the exporter's filter of each sheet (by sheet id), written as Excel's autoFilter */
  | { id: number; kind: 'xlsx'; state: Uint8Array; author?: string; images?: [string, Uint8Array][]; filters?: Record<string, SheetFilter>; now?: number; baselines?: [string, Uint8Array][] }
  | { id: number; kind: 'csv'; state: Uint8Array; sheet: string; baselines?: [string, Uint8Array][] }
  | { id: number; kind: 'json'; state: Uint8Array; baselines?: [string, Uint8Array][] }
  /** the workbook view (src/core/workbook/view.ts) as JSON: made here too, off the server's thread */
  | { id: number; kind: 'view'; state: Uint8Array; first?: boolean }
  /** what changed from the version `from` to `state` (src/core/history/diff.ts), as JSON */
  /**
   * `fromKey`/`toKey`: a version's key (workbook:version; versions never change) for the worker to keep it;
   * `currentKey`: the workbook whose current state `state` is (no toKey), kept and brought up to date
   */
  | { id: number; kind: 'diff'; state: Uint8Array; from: Uint8Array; values: boolean; fromKey?: string; toKey?: string; currentKey?: string }

export type ExportReply =
  | { id: number; ok: true; kind: 'xlsx'; title: string; body: Uint8Array; report: ExportReport }
  | { id: number; ok: true; kind: 'csv'; title: string; body: Uint8Array; sheetName: string }
  | { id: number; ok: true; kind: 'json'; title: string; review: ReviewData }
  | { id: number; ok: true; kind: 'view'; title: string; json: string }
  | { id: number; ok: true; kind: 'diff'; title: string; diff: WorkbookDiff }
  | { id: number; ok: false; status: 404 | 500 | 503; message: string }

type DistributiveOmit<T, K extends keyof never> = T extends unknown ? Omit<T, K> : never
/** a job as a caller asks for it: the runner gives it its id */
export type ExportRequest = DistributiveOmit<ExportJob, 'id'>
