/**
 * Starting worker threads. In the built app each worker is its own bundle next to index.js; from
 * source (the CLI, the browser host, the tests) the worker is a .ts file that runs under tsx's loader.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

export type WorkerName = 'import-worker' | 'inference-worker' | 'embed-worker';

const SOURCES: Record<WorkerName, string> = {
  'import-worker': 'datasets/import-worker.ts',
  'inference-worker': 'inference/worker.ts',
  'embed-worker': 'aggregate/embed-worker.ts',
};

const here = fileURLToPath(import.meta.url);

export function startWorker(name: WorkerName, workerData: unknown): Worker {
  if (here.endsWith('.ts')) {
    // Node 20 applies no --import to a worker's entry, so a small ES module registers tsx first.
    const api = import.meta.resolve('tsx/esm/api');
    const entry = pathToFileURL(join(dirname(here), SOURCES[name])).href;
    const bootstrap = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(entry)});`;
    return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), { workerData });
  }
  return new Worker(join(dirname(here), `${name}.js`), { workerData });
}
