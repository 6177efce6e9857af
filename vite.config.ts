import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'

const server = `http://127.0.0.1:${process.env.PORT ?? 8080}`

/**
 * Builds src/sw/service-worker.ts as /sw.js and writes this build's file list and version into it, so
 * the browser keeps exactly the files of the version it runs (workbooks then open offline).
 */
function serviceWorker(): Plugin {
  return {
    name: 'pw-service-worker',
    apply: 'build',
    generateBundle(_options, bundle) {
      const sw = bundle['sw.js']
      if (!sw || sw.type !== 'chunk') throw new Error('the service worker chunk (sw.js) is missing from the build')
      const files = Object.keys(bundle).filter(f => f !== 'sw.js' && f !== 'index.html' && !f.endsWith('.map')).sort().map(f => '/' + f)
      const version = createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 12)
      sw.code = sw.code.replace('__PW_PRECACHE__', JSON.stringify(files).replace(/\\/g, '\\\\').replace(/'/g, "\\'")).replace('__PW_VERSION__', version)
    },
  }
}

/**
 * The boot script (src/boot.ts) is an entry of its own, put first in the page's <head>: on a workbook
 * page it starts the requests for the workbook as soon as the page is parsed, before the main entry
 * (Vue, the router, messages) has even loaded. Its chunks are preloaded with it.
 */
function bootScript(): Plugin {
  return {
    name: 'pw-boot-script',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler(html, ctx) {
        const boot = Object.values(ctx.bundle ?? {}).find(c => c.type === 'chunk' && c.isEntry && c.name === 'boot')
        if (!boot || boot.type !== 'chunk') throw new Error('the boot chunk is missing from the build')
        // every chunk it imports, however deep, is asked for at once (not one round trip per level)
        const deps = new Set<string>()
        const walk = (file: string) => {
          const c = ctx.bundle?.[file]
          if (!c || c.type !== 'chunk') return
          for (const f of c.imports) if (!deps.has(f)) { deps.add(f); walk(f) }
        }
        walk(boot.fileName)
        return [
          { tag: 'script', attrs: { type: 'module', crossorigin: true, src: `/${boot.fileName}` }, injectTo: 'head-prepend' as const },
          ...[...deps].map(f => ({ tag: 'link', attrs: { rel: 'modulepreload', crossorigin: true, href: `/${f}` }, injectTo: 'head-prepend' as const })),
        ]
      },
    },
  }
}

/**
 * Writes a brotli (.br) and a gzip (.gz) copy beside every text file of the build of 1 KB or more; the
 * server sends them to browsers that take them (server/http/static.ts). Brotli quality 9, not 11: 11
 * saves another 8 % and takes 8 s instead of 0.5 s for this build.
 */
function precompress(): Plugin {
  let outDir = 'dist'
  return {
    name: 'pw-precompress',
    apply: 'build',
    configResolved(config) { outDir = config.build.outDir },
    closeBundle() {
      const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap(e => e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)])
      for (const file of walk(outDir)) {
        if (!/\.(js|mjs|css|html|svg|json|webmanifest|txt|xml|map)$/.test(file) || statSync(file).size < 1024) continue
        const body = readFileSync(file)
        writeFileSync(`${file}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }))
        writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }))
      }
    },
  }
}

export default defineConfig({
  plugins: [vue(), serviceWorker(), bootScript(), precompress()],
  build: {
    outDir: 'dist',
    chunkSizeWarningLimit: 4000,
    // which chunks each page loads: read by the bundle-size benchmark (bench/bundle.ts)
    manifest: true,
    rollupOptions: {
      input: { index: 'index.html', boot: 'src/boot.ts', sw: 'src/sw/service-worker.ts' },
      output: { entryFileNames: chunk => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
  server: {
    port: Number(process.env.VITE_PORT ?? 5173),
    proxy: {
      '/api': server,
      '/collab': { target: server.replace(/^http/, 'ws'), ws: true },
    },
  },
})
