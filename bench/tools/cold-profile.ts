/**
 * One cold open of the cold-open benchmark's workbook (bench/cold.ts), with what it spent where:
 * resource timings, the pw: marks, and optionally a CPU profile of the page (.cpuprofile, summarise it
 * with bench/tools/cpuprofile-top.mjs).
 *
 *   vite build && node --import tsx bench/tools/cold-profile.ts [--profile out.cpuprofile] [--bare] [--runs N]
 *   (--bare: the benchmark's bare Handsontable + HyperFormula page instead)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { chromium } from 'playwright-core'
import { startServer } from '../../server/index'
import { silentLogger } from '../../server/log'
import { hashToken, newLinkId, newToken } from '../../server/auth'
import { buildDoc, makeA1Data } from '../formula'
import { barePage } from '../cold'

const args = process.argv.slice(2)
const profileOut = args.includes('--profile') ? args[args.indexOf('--profile') + 1] : ''
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 1
const bareSide = args.includes('--bare')
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const cell = '.ht_master tbody tr[aria-rowindex="3"] td[aria-colindex="9"]'

const dir = mkdtempSync(join(tmpdir(), 'pw-cold-profile-'))
const server = await startServer({ port: 0, dataDir: dir, staticDir: join(ROOT, 'dist'), logger: silentLogger })
const token = newToken()
await server.store.createWorkbook({ id: 'cold10k', title: 'cold open', template: 'blank', createdAt: 0, updatedAt: 0 }, Y.encodeStateAsUpdate(buildDoc(makeA1Data()).doc),
  { link: { id: newLinkId(), workbookId: 'cold10k', role: 'owner', name: 'bench', createdAt: 0, revokedAt: null }, tokenHash: hashToken(token) })
const bare = bareSide ? await barePage(makeA1Data()) : null
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'] })
try {
  for (let i = 0; i < runs + 1; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await ctx.newPage()
    const cdp = await ctx.newCDPSession(page)
    const profiling = profileOut && i === runs
    if (profiling) { await cdp.send('Profiler.enable'); await cdp.send('Profiler.setSamplingInterval', { interval: 200 }); await cdp.send('Profiler.start') }
    await page.goto(bare ? bare.url : `${server.url}/w/cold10k?token=${token}`, { waitUntil: 'commit' })
    if (bare) await page.waitForFunction(() => document.body?.dataset.ready === '1', undefined, { timeout: 60_000, polling: 'raf' })
    else await page.waitForFunction(sel => /^-?\d/.test(document.querySelector(sel)?.textContent ?? ''), cell, { timeout: 60_000, polling: 'raf' })
    const at = await page.evaluate(() => performance.now())
    if (profiling) writeFileSync(profileOut!, JSON.stringify((await cdp.send('Profiler.stop')).profile))
    if (i > 0) {
      const info = await page.evaluate(() => ({
        marks: performance.getEntriesByType('mark').filter(m => m.name.startsWith('pw:')).map(m => `${m.name} ${m.startTime.toFixed(0)}`),
        res: (performance.getEntriesByType('resource') as PerformanceResourceTiming[]).map(r => `${r.startTime.toFixed(0).padStart(5)} → ${r.responseEnd.toFixed(0).padStart(5)}  ${(r.transferSize / 1024).toFixed(0).padStart(5)} kB  ${r.name.replace(location.origin, '').replace(/token=[^&]+/, 'token=…')}`),
        nav: (() => { const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming; return `html ${n.responseEnd.toFixed(0)}, DCL ${n.domContentLoadedEventEnd.toFixed(0)}, load ${n.loadEventEnd.toFixed(0)}` })(),
      }))
      console.log(`--- run ${i}: value shown at ${at.toFixed(0)} ms; ${info.nav}`)
      for (const r of info.res) console.log('  ' + r)
      for (const m of info.marks) console.log('  ' + m)
    }
    await ctx.close()
  }
} finally {
  await browser.close()
  await bare?.close()
  await server.close()
  rmSync(dir, { recursive: true, force: true })
}
