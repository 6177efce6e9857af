/**
 * Reads a CSV as its bytes arrive (the parent posts each chunk of the upload and waits for an ack
 * before sending many more): detects the encoding on the first 64 KB (or takes the one chosen),
 * decodes with iconv-lite, sniffs the delimiter and header, parses, then either builds the new
 * workbook (its encoded state goes back: the server's thread never holds the big doc) or hands back
 * the table for the server to write into an existing sheet as the person.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { getHeapStatistics } from 'node:v8'
import * as Y from 'yjs'
import iconv from 'iconv-lite'
import { SAMPLE_BYTES, decoderLabel, detectEncoding, notText, replacements, type CsvEncoding } from '../../src/core/csv/decode'
import { CsvLimitError, CsvParser } from '../../src/core/csv/parse'
import { sniff } from '../../src/core/csv/sniff'
import { guessColumns, tableOf } from '../../src/core/csv/table'
import { buildCsvWorkbook, type WriteResult } from '../../src/core/csv/build'
import { CsvPlanError, planSheetImport } from '../../src/core/csv/plan'
import { checkChange } from '../../src/core/access/access'
import type { CsvJob, CsvWorkerMessage, CsvReport } from './csv-model'

const job = workerData as CsvJob
const port = parentPort!
const started = performance.now()
let peakHeap = 0
const heap = () => { peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size) }

class Refused extends Error { constructor(readonly status: number, message: string) { super(message) } }

let head: Buffer[] = [], headBytes = 0
let decoder: { write(b: Buffer): string; end(): string | undefined } | undefined
let parser: CsvParser | undefined
let encoding: CsvEncoding | undefined, detected: CsvEncoding | undefined
let delimiter = job.options.delimiter
const rows: string[][] = []
let cells = 0, chars = 0, bad = 0, bytes = 0

function take(text: string): void {
  chars += text.length
  bad += replacements(text)
  const before = rows.length
  parser!.push(text, rows)
  for (let i = before; i < rows.length; i++) cells += rows[i]!.length
  if (rows.length > job.limits.maxRows + 50) throw new CsvLimitError(`more than ${job.limits.maxRows} rows`)
  if (cells > job.limits.maxCells) throw new CsvLimitError(`more than ${job.limits.maxCells} cells`)
}

function start(): void {
  const sample = Buffer.concat(head)
  head = []
  const found = detectEncoding(sample.subarray(0, SAMPLE_BYTES))
  detected = found.encoding
  encoding = job.options.encoding ?? found.encoding
  const why = notText(sample, encoding)
  if (why) throw new Refused(400, why)
  decoder = iconv.getDecoder(decoderLabel(encoding), { stripBOM: true })
  const text = decoder.write(sample)
  const probe = text.slice(0, SAMPLE_BYTES)
  if (probe.length && replacements(probe) > Math.max(2, probe.length * 0.005)) {
    throw new Refused(422, `the file is not readable as ${encoding}${job.options.encoding ? '' : ' (choose its encoding)'}`)
  }
  delimiter ??= sniff(probe).delimiter
  parser = new CsvParser(delimiter, { maxField: 32_000, maxCols: job.limits.maxCols })
  take(text)
}

function chunk(b: Buffer): void {
  bytes += b.length
  if (!decoder) {
    head.push(b); headBytes += b.length
    if (headBytes >= SAMPLE_BYTES) start()
    return
  }
  take(decoder.write(b))
}

function finish(): CsvWorkerMessage {
  if (!decoder) { if (!headBytes) throw new Refused(400, 'the file is empty'); start() }
  const tail = decoder!.end()
  if (tail) take(tail)
  parser!.end(rows)
  if (chars && bad > Math.max(2, chars * 0.01)) throw new Refused(422, `${bad} characters of the file are not ${encoding}`)
  const table = tableOf(rows, job.options.header)
  rows.length = 0
  if (!table.rows.length && !table.header) throw new Refused(422, 'the file has no rows')
  if (table.rows.length > job.limits.maxRows) throw new CsvLimitError(`more than ${job.limits.maxRows} rows`)
  const guesses = guessColumns(table)
  heap()
  const report: CsvReport = {
    encoding: encoding!, detectedEncoding: detected!, delimiter: delimiter!, rows: table.rows.length, columns: table.width,
    header: table.header, skippedLines: table.skipped, blankLines: parser!.blank, unclosedQuote: parser!.unclosed, replacedCharacters: bad,
    types: table.titles.map((title, i) => ({ title, type: guesses[i]!.type })),
    coerced: null, bytes, ms: 0, workerHeapMb: 0,
  }
  if (job.kind === 'table') return { ok: true, kind: 'table', table, guesses, report }
  if (job.kind === 'sheet') return intoSheet(job, table, guesses, report)
  const doc = new Y.Doc()
  const built = buildCsvWorkbook(doc, table, guesses, { title: job.title, sheetName: job.sheetName, formulas: job.options.formulas, timeZone: job.timeZone, lang: job.lang })
  report.coerced = built.coerced
  heap()
  const state = Y.encodeStateAsUpdate(doc)
  doc.destroy()
  return { ok: true, kind: 'workbook', state, report }
}

/**
 * Plans the import on a copy of the workbook and checks it with the rules of every change, as the
 * server would on its own thread: what goes back is the change as an update, for the server to apply.
 */
function intoSheet(j: Extract<CsvJob, { kind: 'sheet' }>, table: ReturnType<typeof tableOf>, guesses: ReturnType<typeof guessColumns>, report: CsvReport): CsvWorkerMessage {
  const before = new Y.Doc(), after = new Y.Doc()
  try {
    Y.applyUpdate(before, j.state)
    Y.applyUpdate(after, j.state)
    let plan
    try { plan = planSheetImport(before, table, guesses, { mode: j.mode, sheet: j.sheet, filename: j.filename, formulas: j.options.formulas }) } catch (e) {
      if (e instanceof CsvPlanError) throw new Refused(e.status, e.message)
      throw e
    }
    let refusal: { code: string } | null = null
    let written: WriteResult | undefined
    after.transact(tr => { written = plan.write(after, null); refusal = checkChange(before, after, tr, j.who) })
    if (refusal) throw new Refused(403, `the import was refused: ${(refusal as { code: string }).code}`)
    report.coerced = written!.coerced
    heap()
    const vector = Y.encodeStateVector(before)
    return { ok: true, kind: 'sheet', table, guesses, report, update: Y.encodeStateAsUpdate(after, vector), vector, written: written!, matches: plan.matches }
  } finally {
    before.destroy(); after.destroy()
  }
}

port.on('message', (m: { chunk?: Uint8Array; end?: true }) => {
  try {
    if (m.chunk) { chunk(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength)); if (bytes % (4 << 20) < m.chunk.byteLength) heap(); port.postMessage({ ack: true, bytes, rows: rows.length }); return }
    const out = finish()
    if (out.ok) { out.report.ms = Math.round(performance.now() - started); out.report.workerHeapMb = Math.round(peakHeap / 1048576) }
    port.postMessage(out, out.ok && out.kind === 'workbook' ? [out.state.buffer as ArrayBuffer] : [])
  } catch (e) {
    const status = e instanceof Refused ? e.status : e instanceof CsvLimitError ? 413 : 422
    const message = e instanceof CsvLimitError ? `the file holds ${e.message}` : e instanceof Error ? e.message.slice(0, 300) : String(e)
    port.postMessage({ ok: false, status, message } satisfies CsvWorkerMessage)
  }
})
