/**
 * Import of the 70,000 Fashion-MNIST images (train + test IDX pairs, thumbnails included) into a new
 * project through the import job (worker thread), as the app runs it: images/s and peak memory.
 * Run: node --import tsx bench/import.ts [SOURCE] [--built]
 * --built: the import worker is the app's built bundle (out/main/import-worker.js, `npm run build` first)
 * instead of its TypeScript source under tsx's loader, which costs the worker's start about 0.3 s.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Workstation } from '../src-main/workstation.ts';
import { startImport } from '../src-main/datasets/service.ts';
import { useBuiltWorkers } from './built-workers.ts';

const args = process.argv.slice(2);
const SOURCE = args.find((a) => !a.startsWith('--')) ?? '/usr/share/datasets/fashion-mnist';
if (args.includes('--built')) useBuiltWorkers();
const dir = mkdtempSync(join(tmpdir(), 'xaiws-bench-import-'));
const workstation = new Workstation({ dataDir: dir, resourcesDir: 'resources', transport: 'cli' });
await workstation.createProject(join(dir, 'import.xaiws'));
const baselineRss = process.memoryUsage().rss;
let peakRss = baselineRss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
const started = performance.now();
const job = await workstation.jobs.wait(startImport(workstation, { source: SOURCE }).id);
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
const images = job.result!.added as number;
const dbBytes =
  statSync(join(dir, 'import.xaiws')).size +
  (statSync(join(dir, 'import.xaiws-wal'), { throwIfNoEntry: false })?.size ?? 0);
await workstation.shutdown();
rmSync(dir, { recursive: true, force: true });
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
console.log(
  JSON.stringify(
    {
      machine: `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`,
      source: SOURCE,
      worker: args.includes('--built') ? 'built bundle' : 'source under tsx',
      status: job.status,
      images,
      seconds: Number(seconds.toFixed(2)),
      imagesPerSecond: Math.round(images / seconds),
      peakRssMiB: mib(peakRss),
      rssGrowthMiB: mib(peakRss - baselineRss),
      maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      projectFileMiB: mib(dbBytes),
    },
    null,
    2,
  ),
);
