/**
 * Starting a worker process: the one module that picks how. Inside the Electron app the composition
 * root registers Electron's `utilityProcess` (app/utility-process.ts: only app/ imports electron);
 * everywhere else (the CLI, the browser host, the tests) a worker is Node's `child_process.fork`. In
 * the built app each worker is its own bundle next to index.js; from source it is a .ts file run under
 * tsx's loader. Either way the worker gets its start data in an environment variable and talks over
 * structured clones (typed arrays survive); its name is its first argument (ps and pgrep show it).
 */
import { availableParallelism } from 'node:os';
import { fork, type Serializable } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type WorkerName = 'import-worker' | 'inference-worker' | 'embed-worker' | 'pack-worker' | 'image-worker';

const SOURCES: Record<WorkerName, string> = {
  'import-worker': 'import.ts',
  'inference-worker': 'inference.ts',
  'embed-worker': 'embed.ts',
  'pack-worker': 'pack.ts',
  'image-worker': 'image.ts',
};

const here = fileURLToPath(import.meta.url);
const fromSource = here.endsWith('.ts');
export const DATA_VARIABLE = 'XAIWS_WORKER_DATA';

/** A running worker process as its parent sees it, whoever started it. */
export interface WorkerProcess {
  readonly pid: number | undefined;
  send(message: Serializable): void;
  onMessage(handler: (message: unknown) => void): void;
  /** Called once when the process has ended; `signal` where the launcher knows it. */
  onExit(handler: (code: number | null, signal: string | null) => void): void;
  kill(): void;
  /** Whether this process keeps the parent's event loop alive (a CLI must be able to end while a worker idles). */
  hold(held: boolean): void;
}

export interface LaunchOptions {
  name: WorkerName;
  entry: string;
  env: NodeJS.ProcessEnv;
  execArgv: string[];
}

export type Launcher = (options: LaunchOptions) => WorkerProcess;

/** Node's fork: the same runtime as the parent (Electron's included), IPC with structured clones. */
export const forkLauncher: Launcher = ({ name, entry, env, execArgv }) => {
  const child = fork(entry, [name], {
    serialization: 'advanced',
    execArgv,
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    get pid() {
      return child.pid;
    },
    send: (message) => {
      if (child.connected) child.send(message);
    },
    onMessage: (handler) => child.on('message', handler),
    onExit: (handler) => {
      let ended = false;
      const end = (code: number | null, signal: string | null) => {
        if (!ended) handler(code, signal);
        ended = true;
      };
      child.on('exit', end);
      child.on('error', () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); // a failed spawn or channel: end it for sure
      });
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    hold: (held) => {
      if (held) {
        child.ref();
        child.channel?.ref();
      } else {
        child.unref();
        child.channel?.unref();
      }
    },
  };
};

let launcher: Launcher = forkLauncher;

/** The app's composition root hands in Electron's launcher; nothing else calls this. */
export function useLauncher(chosen: Launcher): void {
  launcher = chosen;
}

export function launchWorker(name: WorkerName, data: unknown): WorkerProcess {
  const entry = fromSource ? join(dirname(here), SOURCES[name]) : join(dirname(here), `${name}.js`);
  return launcher({
    name,
    entry,
    env: {
      // libuv's default of 4 threads for file reads and sharp's pipelines oversubscribes a 2-core machine:
      // an import of small JPEGs ran at 660 images/s with 4 and 800 with 2.
      UV_THREADPOOL_SIZE: String(Math.max(2, availableParallelism())),
      ...process.env,
      [DATA_VARIABLE]: JSON.stringify(data ?? null),
    },
    execArgv: fromSource ? ['--import', import.meta.resolve('tsx')] : [],
  });
}
