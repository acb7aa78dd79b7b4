import { resolve } from 'node:path';
import { defineConfig, externalizeDepsPlugin } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Main process: one entry for Electron plus one per worker process, so that the workers exist as files
// next to index.js (src-main/workers/spawn.ts resolves them there in the built app).
export default defineConfig({
  main: {
    plugins: [externalizeDepsPlugin()],
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: resolve('src-main/app/main.ts'),
          'import-worker': resolve('src-main/workers/import.ts'),
          'inference-worker': resolve('src-main/workers/inference.ts'),
          'embed-worker': resolve('src-main/workers/embed.ts'),
          'pack-worker': resolve('src-main/workers/pack.ts'),
          'image-worker': resolve('src-main/workers/image.ts'),
        },
        output: { chunkFileNames: '[name]-[hash].js' },
      },
    },
  },
  preload: {
    plugins: [externalizeDepsPlugin({ exclude: ['zod'] })],
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve('src-preload/index.ts') },
        // A sandboxed preload cannot be an ES module.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: 'src-renderer',
    base: './',
    plugins: [svelte()],
    build: {
      outDir: 'out/renderer',
      rollupOptions: {
        input: { index: resolve('src-renderer/index.html'), participant: resolve('src-renderer/participant.html') },
      },
    },
  },
});
