// A V8 .cpuprofile as a timeline: per slice of N ms (default 50), how much was idle and which
// top-level activity (the outermost function below the root that is not a runtime frame) ran most.
//   node bench/tools/cpuprofile-timeline.mjs <file.cpuprofile> [sliceMs]
import { readFileSync } from 'node:fs'
const [file, slice = 50] = process.argv.slice(2)
const p = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(p.nodes.map(x => [x.id, x]))
const parent = new Map(); for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id)
const name = x => `${x.callFrame.functionName || '(anon)'}@${x.callFrame.url.split('/').pop().replace(/-[A-Za-z0-9_-]{8}\.js$/, '')}:${x.callFrame.lineNumber}`
// the deepest "interesting" frame: the frame of the sample plus its chain, labelled by the 4th frame from the root
const buckets = new Map()
let t = 0
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0
  const chain = []; let cur = p.samples[i]; while (cur !== undefined) { chain.unshift(byId.get(cur)); cur = parent.get(cur) }
  const leaf = chain[chain.length - 1]
  const fn = leaf.callFrame.functionName
  const key = fn === '(idle)' ? '(idle)' : fn === '(garbage collector)' ? '(gc)' : fn === '(program)' ? '(program)' : chain.slice(1, 6).map(name).join(' > ')
  const b = Math.floor((t / 1000) / slice)
  if (!buckets.has(b)) buckets.set(b, new Map())
  const m = buckets.get(b); m.set(key, (m.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000)
}
for (const [b, m] of [...buckets].sort((a, b) => a[0] - b[0])) {
  const idle = (m.get('(idle)') ?? 0)
  const top = [...m].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 2).map(([k, v]) => `${v.toFixed(0)}ms ${k.slice(0, 150)}`)
  console.log(`${String(b * slice).padStart(5)}  idle ${idle.toFixed(0).padStart(3)}  ${top.join(' | ')}`)
}
