import { createHash } from 'node:crypto'
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

export default defineConfig({
  plugins: [vue(), serviceWorker()],
  build: {
    outDir: 'dist',
    chunkSizeWarningLimit: 4000,
    // which chunks each page loads: read by the bundle-size benchmark (bench/bundle.ts)
    manifest: true,
    rollupOptions: {
      input: { index: 'index.html', sw: 'src/sw/service-worker.ts' },
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
