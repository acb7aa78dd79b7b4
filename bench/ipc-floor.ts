/**
 * The floor of any call into another process on this machine: a forked child that sends back each
 * message, 2,000 round trips, with Node's JSON and structured-clone serialisations. The worker RPC
 * cannot be faster than this (docs/BENCHMARKS.md, "Worker processes").
 * Run: node --import tsx bench/ipc-floor.ts
 */
import { fork, type Serializable } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROUNDS = 2000;

if (process.argv[2] === 'child') {
  process.on('message', (message) => process.send!(message));
} else {
  const result: Record<string, number> = {};
  for (const serialization of ['json', 'advanced'] as const) {
    const child = fork(fileURLToPath(import.meta.url), ['child'], { serialization, execArgv: process.execArgv });
    const echo = (message: Serializable) =>
      new Promise<void>((resolve) => {
        child.once('message', () => resolve());
        child.send(message);
      });
    await echo(0);
    const started = performance.now();
    for (let i = 0; i < ROUNDS; i++) await echo({ i });
    result[`${serialization}Us`] = Number((((performance.now() - started) / ROUNDS) * 1000).toFixed(1));
    child.kill();
  }
  console.log(JSON.stringify(result));
}
