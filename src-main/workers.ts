/**
 * Starting workers. Threads (`startWorker`) for work the main process trusts (imports, embeddings);
 * processes (`startWorkerProcess`) for work that can crash or exhaust memory (onnxruntime sessions on
 * a user's model, untrusted files), so that their death is one failed job, not the app. In the built
 * app each worker is its own bundle next to index.js; from source (the CLI, the browser host, the
 * tests) the worker is a .ts file that runs under tsx's loader. `workerPort` is the worker's side of
 * either kind: its start data, and messages to and from its parent.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parentPort, Worker, workerData } from 'node:worker_threads';

export type WorkerName = 'import-worker' | 'inference-worker' | 'embed-worker' | 'pack-worker';

const SOURCES: Record<WorkerName, string> = {
  'import-worker': 'datasets/import-worker.ts',
  'inference-worker': 'inference/worker.ts',
  'embed-worker': 'aggregate/embed-worker.ts',
  'pack-worker': 'labels/pack-worker.ts',
};

const here = fileURLToPath(import.meta.url);
const fromSource = here.endsWith('.ts');
const DATA_VARIABLE = 'XAIWS_WORKER_DATA';

function entryOf(name: WorkerName): string {
  return fromSource ? join(dirname(here), SOURCES[name]) : join(dirname(here), `${name}.js`);
}

export function startWorker(name: WorkerName, data: unknown): Worker {
  if (fromSource) {
    // Node 20 applies no --import to a worker's entry, so a small ES module registers tsx first.
    const api = import.meta.resolve('tsx/esm/api');
    const entry = pathToFileURL(entryOf(name)).href;
    const bootstrap = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(entry)});`;
    return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), { workerData: data });
  }
  return new Worker(entryOf(name), { workerData: data });
}

/**
 * A worker in a process of its own (Node's fork: the same runtime, Electron's included, as Node). Its
 * messages are structured clones (typed arrays survive); its stdout and stderr are the app's.
 */
export function startWorkerProcess(name: WorkerName, data: unknown): ChildProcess {
  return fork(entryOf(name), [], {
    serialization: 'advanced',
    execArgv: fromSource ? ['--import', import.meta.resolve('tsx')] : [],
    env: { ...process.env, [DATA_VARIABLE]: JSON.stringify(data ?? null) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

export interface WorkerPort<In, Out> {
  /** What the parent gave the worker when it started it. */
  data: unknown;
  isProcess: boolean;
  post(message: Out, transfer?: ArrayBuffer[]): void;
  onMessage(handler: (message: In) => void): void;
  /** Stops listening once every message posted so far has gone out, so a worker process can end. */
  close(): Promise<void>;
}

/** The worker's side: a thread's parentPort, or a forked process's IPC channel. */
export function workerPort<In, Out>(): WorkerPort<In, Out> {
  if (parentPort) {
    const port = parentPort;
    return {
      data: workerData, isProcess: false, post: (message, transfer) => port.postMessage(message, transfer), onMessage: (handler) => port.on('message', handler),
      close: async () => port.close(),
    };
  }
  if (!process.send) throw new Error('This module runs as a worker thread or a forked worker process');
  // A worker process goes first when memory runs out, so the operating system spares the app.
  void import('node:fs').then(({ writeFile }) => writeFile('/proc/self/oom_score_adj', '1000', () => undefined));
  const data = JSON.parse(process.env[DATA_VARIABLE] ?? 'null') as unknown;
  process.on('disconnect', () => process.exit(0)); // the parent is gone: so is the work
  let sending = Promise.resolve();
  return {
    data,
    isProcess: true,
    post: (message) => {
      sending = new Promise((resolve) => process.send!(message, undefined, undefined, () => resolve()));
    },
    onMessage: (handler) => process.on('message', handler as (message: unknown) => void),
    close: async () => {
      await sending; // messages go out in order: the last one sent means all are
      if (process.connected) process.disconnect();
    },
  };
}
