/** A support script of the tests in its own Node process, and the JSON line it prints when it is ready. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './host.ts';

export interface Child<T> {
  process: ChildProcess;
  ready: T;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  alive(): boolean;
  stop(): Promise<void>;
}

export async function startChild<T>(script: string, args: string[] = []): Promise<Child<T>> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code, signal) =>
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready: ${stderr}`)),
    );
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    process: child,
    ready: JSON.parse(line) as T,
    stderr: () => stderr,
    alive,
    stop: async () => {
      if (!alive()) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
