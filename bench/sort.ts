/**
 * Sorting 10,000 data rows by one column, in headless Chromium: from the click on "sort ascending" to
 * the sorted grid on the sorting client (A) and on a second client of the same workbook (B, through the
 * server), against Handsontable's own ColumnSorting plugin sorting the same rows on a bare page (time
 * from its sort() call to the sorted grid). Target ≤ 1.5× for both. The Yjs update the sort makes is
 * reported (bytes). Each run sorts a fresh copy of the workbook; runs alternate with the baseline's.
 */
import { createServer, type Server } from 'node:http'
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import * as Y from 'yjs'
import { build } from 'esbuild'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startServer } from '../server/index'
import { silentLogger } from '../server/log'
import { hashToken, newLinkId, newToken } from '../server/auth'
import { FormulaEngine } from '../src/core/formulas/engine'
import { setFrozen, setTotalsRow } from '../src/core/workbook/mutations'
import { sortRows } from '../src/core/workbook/sort'
import { buildDoc, makeA1Data } from './formula'
import { median, result, round, type Benchmark } from './harness'

const RUNS = Number(process.env.BENCH_SORT_RUNS ?? 5)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
// the built app the server serves (BENCH_DIST: another build, e.g. one made with `vite build --outDir`)
const DIST = process.env.BENCH_DIST ?? join(ROOT, 'dist')

async function barePage(a1: (string | number)[][]): Promise<{ url: string; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-sort-'))
  await build({ entryPoints: [join(ROOT, 'bench/sort/bare.ts')], bundle: true, format: 'esm', minify: true, outfile: join(dir, 'bare.js'), logLevel: 'silent', target: 'es2022' })
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

/** Waits until the cell (visible row, col) of the main grid reads as `value`, and returns Date.now() then. */
function sortedAt(page: Page, row: number, col: number, value: number, live: boolean): Promise<number> {
  const sel = `${live ? '[data-testid="grid"][data-live] ' : ''}.ht_master tbody tr[aria-rowindex="${row + 2}"] td[aria-colindex="${col + 2}"]`
  return page.waitForFunction(([s, v]) => {
    const td = document.querySelector(s as string)
    const text = Array.from(td?.childNodes ?? []).filter(n => !(n instanceof HTMLElement && n.classList.contains('presence-tag'))).map(n => n.textContent ?? '').join('')
    return Number(text.replace(/,/g, '')) === v && Date.now()
  }, [sel, value] as const, { timeout: 120_000, polling: 'raf' }).then(h => h.jsonValue() as Promise<number>)
}

export const sortBenchmark: Benchmark = {
  name: 'sort in Chromium',
  async run() {
    if (!existsSync(join(DIST, 'index.html'))) throw new Error(`${DIST} is missing: run \`vite build\` first (npm run bench does)`)
    const a1 = makeA1Data()
    const { doc, sheetId } = buildDoc(a1)
    // the header row stays on top and the totals row at the bottom, as a planning sheet's
    const engine = new FormulaEngine(doc)
    const sl = engine.layout.sheet(sheetId)!
    setFrozen(doc, sheetId, { rows: 1 })
    setTotalsRow(doc, sheetId, sl.rows.ids[a1.length - 1]!)
    const min = Math.min(...a1.slice(1, -1).map(r => Number(r[1])))
    // the update a sort makes (the same mutation the page runs)
    const sv = Y.encodeStateVector(doc)
    const copy = new Y.Doc()
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc))
    const ce = new FormulaEngine(copy)
    sortRows(copy, sheetId, [{ colId: sl.cols.ids[1]! }], (r, c) => ce.getValueById(sheetId, r, c))
    const updateBytes = Y.encodeStateAsUpdate(copy, sv).length
    ce.destroy(); engine.destroy()

    const dir = mkdtempSync(join(tmpdir(), 'pw-bench-sort-data-'))
    const server = await startServer({ port: 0, dataDir: dir, staticDir: DIST, logger: silentLogger })
    const state = Y.encodeStateAsUpdate(doc)
    const tokens: string[] = []
    for (let i = 0; i <= RUNS; i++) {
      const token = newToken()
      await server.store.createWorkbook({ id: `sort${i}`, title: 'sort', template: 'blank', createdAt: 0, updatedAt: 0 }, state,
        { link: { id: newLinkId(), workbookId: `sort${i}`, role: 'owner', name: 'bench', createdAt: 0, revokedAt: null }, tokenHash: hashToken(token) })
      tokens.push(token)
    }
    const bare = await barePage(a1.slice(0, -1).map(r => r.map(v => (typeof v === 'string' && v.startsWith('=') ? v : v))))
    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-dev-shm-usage'] })
    const openOurs = async (i: number): Promise<Page> => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
      const page = await ctx.newPage()
      await page.goto(`${server.url}/w/sort${i}?token=${tokens[i]}`)
      await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td', { timeout: 120_000 })
      await page.waitForFunction(() => document.querySelector('[data-testid="connection-status"]')?.className.includes('connected'), undefined, { timeout: 60_000 })
      return page
    }
    const ours = async (i: number): Promise<{ a: number; b: number }> => {
      const A = await openOurs(i), B = await openOurs(i)
      try {
        // A's active cell in column B, below the header
        await A.locator('[data-testid="grid"][data-live] .ht_master tbody tr[aria-rowindex="3"] td[aria-colindex="3"]').click()
        const seenB = sortedAt(B, 1, 1, min, true)
        const seenA = sortedAt(A, 1, 1, min, true)
        const t0 = await A.evaluate(() => { const at = Date.now(); (document.querySelector('[data-testid="sort-asc"]') as HTMLButtonElement).click(); return at })
        const [ta, tb] = await Promise.all([seenA, seenB])
        return { a: ta - t0, b: tb - t0 }
      } finally {
        await A.context().close(); await B.context().close()
      }
    }
    const baseline = async (): Promise<number> => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
      const page = await ctx.newPage()
      try {
        await page.goto(bare.url)
        await page.waitForFunction(() => document.body?.dataset.ready === '1', undefined, { timeout: 60_000 })
        const seen = sortedAt(page, 0, 1, min, false)
        const t0 = await page.evaluate(() => (window as unknown as { sortNow: () => number }).sortNow())
        return (await seen) - t0
      } finally { await ctx.close() }
    }
    try {
      // warm-up: the server's code paths and the OS caches (each run opens fresh pages)
      await ours(0); await baseline()
      const a: number[] = [], b: number[] = [], base: number[] = []
      for (let i = 1; i <= RUNS; i++) {
        if (i % 2) { const o = await ours(i); a.push(o.a); b.push(o.b); base.push(await baseline()) } else { base.push(await baseline()); const o = await ours(i); a.push(o.a); b.push(o.b) }
      }
      const paired = (xs: number[]) => round(median(xs.map((x, i) => x / base[i]!)), 3)
      return {
        results: [
          { ...result('sort 10k rows by one column → sorted grid, sorting client (vs Handsontable ColumnSorting)', median(a), median(base), 1.5, `median of ${RUNS} paired runs`), ratio: paired(a), pass: paired(a) <= 1.5 },
          { ...result('sort 10k rows by one column → sorted grid, second client (vs Handsontable ColumnSorting)', median(b), median(base), 1.5, `median of ${RUNS} paired runs`), ratio: paired(b), pass: paired(b) <= 1.5 },
        ],
        details: [
          { name: 'sort 10k rows: the Yjs update the sort makes', ms: null, stat: `${updateBytes} bytes` },
          { name: 'sort 10k rows: sorting client, runs (ms)', ms: null, stat: a.map(x => x.toFixed(0)).join(', ') },
          { name: 'sort 10k rows: second client, runs (ms)', ms: null, stat: b.map(x => x.toFixed(0)).join(', ') },
          { name: 'sort 10k rows: Handsontable ColumnSorting, runs (ms)', ms: null, stat: base.map(x => x.toFixed(0)).join(', ') },
        ],
        ...(RUNS !== 5 ? { unrecorded: `BENCH_SORT_RUNS=${RUNS}` } : {}),
      }
    } finally {
      await browser.close()
      await bare.close()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
