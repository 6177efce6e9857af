/**
 * Gzipped JavaScript a browser loads for the home page and for the workbook page (the entry, the
 * page's chunk and their static imports, from Vite's manifest of the last build), against the budgets
 * the project set: 150 KB and 600 KB. The ratio is size / budget.
 */
import { existsSync, readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import type { Benchmark } from './harness'

const DIST = fileURLToPath(new URL('../dist', import.meta.url))
interface Chunk { file: string; imports?: string[]; dynamicImports?: string[]; isEntry?: boolean }

export function pageJs(manifest: Record<string, Chunk>, page: string): string[] {
  const files = new Set<string>()
  const walk = (key: string) => {
    const c = manifest[key]
    if (!c || files.has(c.file)) return
    files.add(c.file)
    for (const i of c.imports ?? []) walk(i)
  }
  walk('index.html')
  // the boot script is an entry of its own that the build puts first in every page (vite.config.ts)
  walk('src/boot.ts')
  walk(page)
  return [...files].filter(f => f.endsWith('.js'))
}

const gz = (files: string[]) => files.reduce((n, f) => n + gzipSync(readFileSync(join(DIST, f)), { level: 9 }).length, 0)

export const bundleBenchmark: Benchmark = {
  name: 'bundle size',
  run() {
    const manifestFile = join(DIST, '.vite', 'manifest.json')
    if (!existsSync(manifestFile)) throw new Error('dist/.vite/manifest.json is missing: run `vite build` first (npm run bench does)')
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, Chunk>
    const pages: [string, string, number][] = [['home page', 'src/pages/HomePage.vue', 150], ['workbook page', 'src/pages/WorkbookPage.vue', 600]]
    return {
      results: pages.map(([name, key, budgetKb]) => {
        const kb = gz(pageJs(manifest, key)) / 1024
        // sizes, not times: the "ms" columns hold KB gzipped, the baseline is the budget
        return { name: `${name}: gzipped JS KB (vs budget ${budgetKb} KB)`, oursMs: Math.round(kb * 10) / 10, baselineMs: budgetKb, ratio: Math.round((kb / budgetKb) * 1000) / 1000, target: 1, pass: kb <= budgetKb, stat: `${pageJs(manifest, key).length} files` }
      }),
    }
  },
}
