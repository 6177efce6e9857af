import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // browser tests measure nothing but still need the CPU to themselves on a 2-core machine
    fileParallelism: false,
    // expect.poll waits for what a page shows; a loaded CI machine may take seconds, never a fixed sleep
    expect: { poll: { timeout: 10_000, interval: 50 } },
  },
})
