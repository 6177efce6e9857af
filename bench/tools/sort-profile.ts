/**
 * One sort of the sort benchmark (bench/sort.ts), with CPU profiles of where it went: the sorting
 * page (A), the second page (B) and this Node process (the server and its access check), each from
 * just before the click to the sorted grid on both pages. Summarise with bench/tools/cpuprofile-top.mjs
 * or cpuprofile-timeline.mjs.
 *
 *   vite build [--minify false --outDir /tmp/d] && node --import tsx bench/tools/sort-profile.ts [--dist /tmp/d] [--out /tmp/prof] [--runs N]
 *
 * Prints each run's times (click → sorted on A, on B); the last run is profiled.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as Y from 'yjs'
import { chromium, type Page } from 'playwright-core'
import { startServer } from '../../server/index'
import { silentLogger } from '../../server/log'
import { hashToken, newLinkId, newToken } from '../../server/auth'
import { FormulaEngine } from '../../src/core/formulas/engine'
import { setFrozen, setTotalsRow } from '../../src/core/workbook/mutations'
import { buildDoc, makeA1Data } from '../formula'

const args = process.argv.slice(2)
const arg = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : dflt)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const dist = arg('--dist', join(ROOT, 'dist'))
const out = arg('--out', '')
const runs = Number(arg('--runs', '2'))

const a1 = makeA1Data()
const { doc, sheetId } = buildDoc(a1)
const engine = new FormulaEngine(doc)
const sl = engine.layout.sheet(sheetId)!
setFrozen(doc, sheetId, { rows: 1 })
setTotalsRow(doc, sheetId, sl.rows.ids[a1.length - 1]!)
engine.destroy()
const min = Math.min(...a1.slice(1, -1).map(r => Number(r[1])))

const dir = mkdtempSync(join(tmpdir(), 'pw-sort-profile-'))
const server = await startServer({ port: 0, dataDir: dir, staticDir: dist, logger: silentLogger })
const tokens: string[] = []
for (let i = 0; i < runs; i++) {
  const token = newToken()
  await server.store.createWorkbook({ id: `sort${i}`, title: 'sort', template: 'blank', createdAt: 0, updatedAt: 0 }, Y.encodeStateAsUpdate(doc),
    { link: { id: newLinkId(), workbookId: `sort${i}`, role: 'owner', name: 'bench', createdAt: 0, revokedAt: null }, tokenHash: hashToken(token) })
  tokens.push(token)
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-dev-shm-usage'] })
const open = async (i: number): Promise<Page> => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await ctx.newPage()
  await page.goto(`${server.url}/w/sort${i}?token=${tokens[i]}`)
  await page.waitForSelector('[data-testid="grid"][data-live] .ht_master tbody td', { timeout: 120_000 })
  await page.waitForFunction(() => document.querySelector('[data-testid="connection-status"]')?.className.includes('connected'), undefined, { timeout: 60_000 })
  return page
}
const sortedAt = (page: Page) => page.waitForFunction(([v]) => {
  const td = document.querySelector('[data-testid="grid"][data-live] .ht_master tbody tr[aria-rowindex="3"] td[aria-colindex="3"]')
  const text = Array.from(td?.childNodes ?? []).filter(n => !(n instanceof HTMLElement && n.classList.contains('presence-tag'))).map(n => n.textContent ?? '').join('')
  return Number(text.replace(/,/g, '')) === v && Date.now()
}, [min] as const, { timeout: 120_000, polling: 'raf' }).then(h => h.jsonValue() as Promise<number>)

const node = new Session()
node.connect()
try {
  for (let i = 0; i < runs; i++) {
    const profiling = !!out && i === runs - 1
    const A = await open(i), B = await open(i)
    const cdpA = await A.context().newCDPSession(A), cdpB = await B.context().newCDPSession(B)
    await A.locator('[data-testid="grid"][data-live] .ht_master tbody tr[aria-rowindex="3"] td[aria-colindex="3"]').click()
    if (profiling) {
      for (const c of [cdpA, cdpB]) { await c.send('Profiler.enable'); await c.send('Profiler.setSamplingInterval', { interval: 200 }); await c.send('Profiler.start') }
      await node.post('Profiler.enable'); await node.post('Profiler.setSamplingInterval', { interval: 200 }); await node.post('Profiler.start')
    }
    const seenA = sortedAt(A), seenB = sortedAt(B)
    const t0 = await A.evaluate(() => { const at = Date.now(); (document.querySelector('[data-testid="sort-asc"]') as HTMLButtonElement).click(); return at })
    const [ta, tb] = await Promise.all([seenA, seenB])
    console.log(`run ${i}: sorting client ${ta - t0} ms, second client ${tb - t0} ms`)
    if (profiling) {
      mkdirSync(out, { recursive: true })
      writeFileSync(join(out, 'a.cpuprofile'), JSON.stringify((await cdpA.send('Profiler.stop')).profile))
      writeFileSync(join(out, 'b.cpuprofile'), JSON.stringify((await cdpB.send('Profiler.stop')).profile))
      writeFileSync(join(out, 'server.cpuprofile'), JSON.stringify((await node.post('Profiler.stop')).profile))
      console.log(`profiles in ${out}: a.cpuprofile, b.cpuprofile, server.cpuprofile`)
    }
    await A.context().close(); await B.context().close()
  }
} finally {
  node.disconnect()
  await browser.close()
  await server.close()
  rmSync(dir, { recursive: true, force: true })
}
process.exit(0)
