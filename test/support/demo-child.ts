/**
 * The app's first start in its own process (for the crash-recovery tests): opens (creates) the demo
 * project in DATA_DIR and prints one JSON line per job update, {kind, status, done, total}, so a test
 * can kill it with SIGKILL at a known point.
 */
import { join } from 'node:path';
import type { Job } from '../../src-shared/contract.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { ROOT } from './host.ts';

const ws = new Workstation({ dataDir: process.argv[2]!, resourcesDir: join(ROOT, 'resources'), transport: 'host' });
ws.onEvent((event, payload) => {
  if (event !== 'job.updated') return;
  const job = payload as Job;
  process.stdout.write(`${JSON.stringify({ kind: job.kind, status: job.status, done: job.done, total: job.total })}\n`);
});
await ws.openDemo();
