// `npm run dev`: the API/collab server (restarted on change) and Vite with hot reload, proxied to it.
import { spawn } from 'node:child_process'

const procs = [
  spawn('npx', ['tsx', 'watch', 'server/index.ts'], { stdio: 'inherit', env: { ...process.env, STATIC_DIR: process.env.STATIC_DIR ?? 'dist' } }),
  spawn('npx', ['vite'], { stdio: 'inherit' }),
]
const stop = () => { for (const p of procs) p.kill('SIGTERM') }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
for (const p of procs) p.on('exit', (code) => { stop(); process.exitCode = code ?? 0 })
