// @vitest-environment node
/**
 * Licence keys are configuration: the server reads HANDSONTABLE_LICENSE_KEY and HYPERFORMULA_LICENSE_KEY,
 * uses them itself, and gives them to the page as a `<meta name="pw-licenses">` in index.html (the
 * page runs no inline script), on the plain page and on the workbook page's variant alike.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { brotliDecompressSync } from 'node:zlib'
import { rawRequest, tempDir, testScope } from '../helpers/server'
import { licenseKeysFromEnv } from '../../server/index'
import { DEFAULT_LICENSE_KEYS, handsontableLicenseKey, hyperformulaLicenseKey, type LicenseKeys } from '../../src/core/licenses'
import { FormulaEngine, HF_CONFIG } from '../../src/core/formulas/engine'
import { makeDoc, type } from '../helpers/workbook'
import * as Y from 'yjs'
import { DEFAULT_EXPORT_OPTIONS, ExportRunner } from '../../server/export/runner'
import { silentLogger } from '../../server/log'
import { setLicenseKeys } from '../../src/core/licenses'

const { server, cleanups } = testScope()

const ENV = ['HANDSONTABLE_LICENSE_KEY', 'HYPERFORMULA_LICENSE_KEY'] as const
const saved = Object.fromEntries(ENV.map(k => [k, process.env[k]]))
afterEach(() => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k]
    else process.env[k] = saved[k]
  }
})

/** A built app with a head, and a manifest naming the workbook page's chunk, so /w/<id> gets its own variant. */
function site(): string {
  const t = tempDir('pw-static-')
  cleanups.push(t.remove)
  const dir = join(t.dir, 'dist')
  mkdirSync(join(dir, 'assets'), { recursive: true })
  mkdirSync(join(dir, '.vite'))
  writeFileSync(join(dir, 'index.html'), '<!doctype html>\n<html lang="zh-CN">\n  <head>\n    <meta charset="UTF-8">\n    <script type="module" crossorigin src="/assets/index-abc.js"></script>\n  </head>\n  <body><div id="app"></div></body>\n</html>\n')
  writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)\n')
  writeFileSync(join(dir, 'assets', 'WorkbookPage-def.js'), 'console.log(2)\n')
  writeFileSync(join(dir, '.vite', 'manifest.json'), JSON.stringify({
    'index.html': { file: 'assets/index-abc.js', isEntry: true },
    'src/pages/WorkbookPage.vue': { file: 'assets/WorkbookPage-def.js', css: ['assets/WorkbookPage-def.css'] },
  }))
  return dir
}

const META = /<meta name="pw-licenses" content='([^']*)'>/g
const unescapeAttribute = (v: string) => v.replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')

/** The keys the page at `path` carries (exactly one meta, in the head, before the scripts). */
async function pageKeys(url: string, path: string, encoding?: 'br'): Promise<{ keys: LicenseKeys; html: string; etag: string }> {
  const res = await rawRequest(url, path, encoding ? { 'accept-encoding': encoding } : {})
  expect(res.status, path).toBe(200)
  expect(res.headers['content-type'], path).toMatch(/^text\/html/)
  const html = (encoding === 'br' ? brotliDecompressSync(res.body) : res.body).toString('utf8')
  const found = [...html.matchAll(META)]
  expect(found, path).toHaveLength(1)
  const at = html.indexOf(found[0]![0])
  expect(at, path).toBeGreaterThan(html.indexOf('<head>'))
  expect(at, path).toBeLessThan(html.indexOf('<script'))
  return { keys: JSON.parse(unescapeAttribute(found[0]![1]!)) as LicenseKeys, html, etag: String(res.headers.etag) }
}

describe('licence keys', () => {
  it('set in the environment: the page carries them (plain page and workbook page), and the server uses them', async () => {
    // characters that would end the attribute or start markup, as a key could hold; the HyperFormula
    // key must be one it accepts (formulas give #LIC! otherwise, and the templates' check stops the start)
    const custom = { handsontable: "acme-'1234'-<b>&co", hyperformula: 'internal-use-in-handsontable' }
    process.env.HANDSONTABLE_LICENSE_KEY = custom.handsontable
    process.env.HYPERFORMULA_LICENSE_KEY = ` ${custom.hyperformula}\n`
    const s = await server({ staticDir: site() })
    for (const path of ['/', '/w/some-workbook', '/templates']) expect((await pageKeys(s.url, path)).keys, path).toEqual(custom)
    const wb = await pageKeys(s.url, '/w/some-workbook', 'br')
    expect(wb.keys).toEqual(custom)
    // the workbook page is its own variant, the meta kept
    expect(wb.html).toContain('<link rel="modulepreload" crossorigin href="/assets/WorkbookPage-def.js">')
    expect(wb.html).not.toContain('<b>')
    // exports and previews on the server: the same keys, read when an engine is built
    expect(handsontableLicenseKey()).toBe(custom.handsontable)
    expect(hyperformulaLicenseKey()).toBe(custom.hyperformula)
    const engine = new FormulaEngine(makeDoc())
    try { expect(engine.hf.getConfig().licenseKey).toBe(custom.hyperformula) } finally { engine.destroy() }
    expect(HF_CONFIG.licenseKey).toBe(custom.hyperformula)
  })

  it('without the environment: the non-commercial Handsontable key and the GPL HyperFormula key', async () => {
    for (const k of ENV) delete process.env[k]
    const dir = site()
    const s = await server({ staticDir: dir })
    expect(DEFAULT_LICENSE_KEYS).toEqual({ handsontable: 'non-commercial-and-evaluation', hyperformula: 'gpl-v3' })
    const plain = await pageKeys(s.url, '/')
    expect(plain.keys).toEqual(DEFAULT_LICENSE_KEYS)
    expect((await pageKeys(s.url, '/w/some-workbook')).keys).toEqual(DEFAULT_LICENSE_KEYS)
    expect(hyperformulaLicenseKey()).toBe('gpl-v3')
    // a cache that kept the page with other keys asks again: another version
    expect((await rawRequest(s.url, '/', { 'if-none-match': plain.etag })).status).toBe(304)
    const other = await server({ staticDir: dir, licenseKeys: { handsontable: 'acme-key' } })
    const changed = await pageKeys(other.url, '/')
    expect(changed.keys).toEqual({ ...DEFAULT_LICENSE_KEYS, handsontable: 'acme-key' })
    expect(changed.etag).not.toBe(plain.etag)
    expect((await rawRequest(other.url, '/', { 'if-none-match': plain.etag })).status).toBe(200)
    // the page as built, but for the meta
    expect(changed.html.replace(/\n\s*<meta name="pw-licenses"[^>]*>/, '')).toBe(plain.html.replace(/\n\s*<meta name="pw-licenses"[^>]*>/, ''))
  })

  it('empty or blank variables count as unset', () => {
    expect(licenseKeysFromEnv({})).toEqual(DEFAULT_LICENSE_KEYS)
    expect(licenseKeysFromEnv({ HANDSONTABLE_LICENSE_KEY: '', HYPERFORMULA_LICENSE_KEY: '  ' })).toEqual(DEFAULT_LICENSE_KEYS)
    expect(licenseKeysFromEnv({ HYPERFORMULA_LICENSE_KEY: 'commercial-key' })).toEqual({ ...DEFAULT_LICENSE_KEYS, hyperformula: 'commercial-key' })
  })

  it('the export worker thread computes with the keys the server was given', async () => {
    const doc = makeDoc([{ name: 'S' }])
    type(doc, 's0', 'A1', '=SUM(1,2)')
    const state = Y.encodeStateAsUpdate(doc)
    const csvWith = async (hyperformula: string) => {
      setLicenseKeys({ hyperformula })
      const runner = new ExportRunner({ ...DEFAULT_EXPORT_OPTIONS, inProcess: false }, silentLogger)
      try {
        const reply = await runner.run({ kind: 'csv', state, sheet: 'S' })
        expect(runner.inProcess).toBe(false)
        return new TextDecoder().decode((reply as { body: Uint8Array }).body)
      } finally {
        await runner.close()
      }
    }
    try {
      // a key HyperFormula refuses shows in what the worker computes: it did not fall back to its own default
      expect(await csvWith('not-a-valid-key')).toMatch(/^\uFEFF?#LIC!/)
      expect(await csvWith('gpl-v3')).toMatch(/^\uFEFF?3\b/)
    } finally {
      setLicenseKeys(DEFAULT_LICENSE_KEYS)
    }
  })
})
