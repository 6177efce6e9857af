// Summarises a V8 .cpuprofile: self and inclusive time per function, optionally only samples under a
// function name.  node bench/tools/cpuprofile-top.mjs <file.cpuprofile> [functionName] [topN]
// Profile the bench with: node --expose-gc --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/run.ts
import { readFileSync } from 'node:fs'
const [file, root, n = 30] = process.argv.slice(2)
const p = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(p.nodes.map(x => [x.id, x]))
const parent = new Map(); for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id)
const dt = new Map(); for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
const label = x => `${x.callFrame.functionName || '(anon)'} ${x.callFrame.url.split('/').slice(-2).join('/')}:${x.callFrame.lineNumber}`
const self = new Map(), incl = new Map(); let total = 0
for (const [id, t] of dt) {
  let chain = []; let cur = id; while (cur !== undefined) { chain.push(byId.get(cur)); cur = parent.get(cur) }
  if (root && !chain.some(x => x.callFrame.functionName === root)) continue
  total += t
  const l = label(byId.get(id)); self.set(l, (self.get(l) ?? 0) + t)
  const seen = new Set(); for (const x of chain) { const k = label(x); if (seen.has(k)) continue; seen.add(k); incl.set(k, (incl.get(k) ?? 0) + t) }
}
console.log('total ms', (total / 1000).toFixed(0), root ? `(under ${root})` : '')
console.log('--- self'); for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, +n)) console.log((v / 1000).toFixed(0).padStart(7), k)
console.log('--- inclusive'); for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, +n)) console.log((v / 1000).toFixed(0).padStart(7), k)
