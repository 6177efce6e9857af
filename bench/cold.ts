/**
 * Cold open of a 10,000-row workbook to a rendered grid with computed values, in headless Chromium
 * (a new browser context each time: nothing cached), this app against a bare page with Handsontable +
 * HyperFormula on the same data (bench/cold/bare.ts, bundled here with esbuild). Target ≤ 1.3×.
 * The app shows the grid from the workbook view first (read-only) and the editable grid once the doc
 * is read: the ratio is of the first, the second is a detail.
 */
import { createServer, type Server } from 'node:http'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import * as Y from 'yjs'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import { startServer } from '../server/index'
import { silentLogger } from '../server/log'
import { hashToken, newLinkId, newToken } from '../server/auth'
import { buildDoc, makeA1Data } from './formula'
import { median, result, round, type Benchmark } from './harness'

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 7)

/** The median of the ratios of runs made next to each other (ours[i] / base[i]). */
function pairedRatio(ours: number[], base: number[], target: number): { ratio: number; pass: boolean } {
  const ratio = round(median(ours.map((o, i) => o / base[i]!)), 3)
  return { ratio, pass: ratio <= target }
}
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
// the cell to wait for: row 2's "Per order" (=IFERROR(G2/F2,0)), computed
const ROW = 1, COL = 7

export async function barePage(a1: (string | number)[][]): Promise<{ url: string; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-cold-'))
  await build({ entryPoints: [join(ROOT, 'bench/cold/bare.ts')], bundle: true, format: 'esm', minify: true, outfile: join(dir, 'bare.js'), logLevel: 'silent', target: 'es2022' })
  for (const css of ['handsontable.min.css', 'ht-theme-main.min.css']) copyFileSync(join(ROOT, 'node_modules/handsontable/styles', css), join(dir, css))
  writeFileSync(join(dir, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/handsontable.min.css"><link rel="stylesheet" href="/ht-theme-main.min.css"><style>html,body,#grid{height:100%;margin:0}</style></head><body><div id="grid"></div><script type="module" src="/bare.js"></script></body></html>')
  writeFileSync(join(dir, 'data.json'), JSON.stringify(a1))
  const types: Record<string, string> = { html: 'text/html', js: 'text/javascript', css: 'text/css', json: 'application/json' }
  const http: Server = createServer((req, res) => {
    const name = (req.url ?? '/').split('?')[0] === '/' ? 'index.html' : (req.url ?? '').slice(1).split('?')[0]!
    const file = join(dir, name)
    if (!existsSync(file) || name.includes('..')) { res.writeHead(404); res.end(); return }
    res.writeHead(200, { 'Content-Type': types[name.split('.').pop()!] ?? 'application/octet-stream' })
    res.end(readFileSync(file))
  })
  await new Promise<void>(r => http.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`, close: () => new Promise<void>(r => http.close(() => { rmSync(dir, { recursive: true, force: true }); r() })) }
}

/**
 * Opens the workbook (its doc, stored as the server's state) and the bare page (its A1 data) `runs`
 * times each, in pairs, after one warm-up each: times to computed values on screen, and ours to the
 * editable grid, with the app's phase marks.
 */
export async function coldOpen(a1: (string | number)[][], doc: Y.Doc, runs: number) {
  {
    if (!existsSync(join(ROOT, 'dist/index.html'))) throw new Error('dist/ is missing: run `vite build` first (npm run bench does)')
    const RUNS = runs
    const dir = mkdtempSync(join(tmpdir(), 'pw-bench-cold-data-'))
    const server = await startServer({ port: 0, dataDir: dir, staticDir: join(ROOT, 'dist'), logger: silentLogger })
    const token = newToken()
    await server.store.createWorkbook({ id: 'cold10k', title: 'cold open', template: 'blank', createdAt: 0, updatedAt: 0 }, Y.encodeStateAsUpdate(doc),
      { link: { id: newLinkId(), workbookId: 'cold10k', role: 'owner', name: 'bench', createdAt: 0, revokedAt: null }, tokenHash: hashToken(token) })
    const bare = await barePage(a1)
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'] })
    const phases: Record<string, number>[] = []
    const cell = `.ht_master tbody tr[aria-rowindex="${ROW + 2}"] td[aria-colindex="${COL + 2}"]`
    const liveCell = `[data-testid="grid"][data-live] ${cell}`
    const editable: number[] = []
    const open = async (which: 'ours' | 'bare'): Promise<number> => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
      const page = await ctx.newPage()
      try {
        await page.goto(which === 'ours' ? `${server.url}/w/cold10k?token=${token}` : bare.url, { waitUntil: 'commit' })
        // the time is taken by the check that sees the value (not by a later round trip, which would
        // also count whatever the page does right after showing it)
        const seen = which === 'ours'
          ? await page.waitForFunction(sel => /^-?\d/.test(document.querySelector(sel)?.textContent ?? '') && performance.now(), cell, { timeout: 180_000, polling: 'raf' })
          : await page.waitForFunction(() => document.body?.dataset.ready === '1' && performance.now(), undefined, { timeout: 180_000, polling: 'raf' })
        const at = await seen.jsonValue() as number
        if (which === 'ours') {
          // and when the workbook could be edited: the live grid (not the one drawn from the workbook view) shows it
          const live = await page.waitForFunction(sel => /^-?\d/.test(document.querySelector(sel)?.textContent ?? '') && performance.now(), liveCell, { timeout: 180_000, polling: 'raf' })
          editable.push(await live.jsonValue() as number)
          phases.push(await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').filter(m => m.name.startsWith('pw:')).map(m => [m.name, m.startTime]))))
        }
        return at
      } finally {
        await ctx.close()
      }
    }
    try {
      await open('ours'); await open('bare') // warm the server's room and the OS caches, not the browser's
      const ours: number[] = [], base: number[] = []
      for (let i = 0; i < RUNS; i++) {
        if (i % 2) { base.push(await open('bare')); ours.push(await open('ours')) } else { ours.push(await open('ours')); base.push(await open('bare')) }
      }
      const mark = (k: string) => median(phases.slice(-RUNS).map(p => p[k] ?? NaN))
      return { ours, base, editable: editable.slice(-RUNS), mark }
    } finally {
      await browser.close()
      await bare.close()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export const coldOpenBenchmark: Benchmark = {
  name: 'cold open in Chromium',
  async run() {
    const a1 = makeA1Data()
    const { doc } = buildDoc(a1)
    {
      const { ours, base, editable, mark } = await coldOpen(a1, doc, RUNS)
      return {
        // each run of ours is paired with the bare run next to it in time, and the ratio is the median of
        // the pairs' ratios: this machine's speed drifts by tens of percent within a minute, which a
        // ratio of two medians over the whole run takes for a difference between the pages
        results: [{
          ...result('cold open 10k rows → rendered values (vs bare Handsontable + HyperFormula)', median(ours), median(base), 1.3, `median of ${RUNS} paired runs`),
          ...pairedRatio(ours, base, 1.3),
        }],
        details: [
          { name: 'cold open, ours: page → grid from the workbook view', ms: round(mark('pw:preview-shown')), stat: 'median' },
          { name: 'cold open, ours: page → editable grid', ms: round(median(editable)), stat: 'median' },
          { name: 'cold open, ours: page → provider started', ms: round(mark('pw:provider-start')), stat: 'median' },
          { name: 'cold open, ours: page → workbook synced', ms: round(mark('pw:doc-ready')), stat: 'median' },
          { name: 'cold open, ours: page → formulas computed', ms: round(mark('pw:engine-ready')), stat: 'median' },
          { name: 'cold open, ours: page → grid mounting', ms: round(mark('pw:grid-start')), stat: 'median' },
        ],
      }
    }
  },
}
