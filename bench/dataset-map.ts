/**
 * The dataset map job on the 70,000 Fashion-MNIST images at the demo classifier's penultimate layer
 * (embeddings, PCA, 15 nearest neighbours, UMAP layout, scores), as the app runs it (built workers),
 * side by side with the same steps in PyTorch and scikit-learn (bench/map_reference.py) on the same
 * images and two threads, and UMAP's layout against umap-js on the same 10,000-point graph.
 * Run: npm run build && node --import tsx bench/dataset-map.ts [--skip-umap-js]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { UMAP } from 'umap-js';
import type { Job } from '../src-shared/contract.ts';
import { Workstation } from '../src-main/workstation.ts';
import { startImport } from '../src-main/datasets/service.ts';
import { addModel } from '../src-main/models/service.ts';
import { startMap, newestMap } from '../src-main/explain/dataset-map.ts';
import { nearestNeighbours } from '../src-main/explain/map/graphs.ts';
import { fuzzyUnion, optimiseLayout, scaledStart } from '../src-main/explain/map/umap.ts';
import { seededUniform } from '../src-shared/random.ts';
import { useBuiltWorkers } from './built-workers.ts';

const THREADS = 2;
useBuiltWorkers();
const dir = mkdtempSync(join(tmpdir(), 'xaiws-bench-map-'));
const ws = new Workstation({ dataDir: dir, resourcesDir: 'resources', transport: 'cli' }); // workers use every core: 2 here
await ws.createProject(join(dir, 'map.xaiws'));
const imported = await ws.jobs.wait(startImport(ws, { source: '/usr/share/datasets/fashion-mnist' }).id);
const datasetId = imported.result!.datasetId as number;
const modelDir = 'resources/models/fashion-mnist-cnn';
const model = await addModel(ws, {
  path: join(modelDir, 'classifier.onnx'),
  manifestPath: join(modelDir, 'classifier.manifest.json'),
});

// Stage times from the job's progress, as the Jobs panel sees them.
const stages: { stage: string; at: number }[] = [];
ws.onEvent((event, payload) => {
  const job = payload as Job;
  if (event === 'job.updated' && job.kind === 'map' && stages.at(-1)?.stage !== job.stage)
    stages.push({ stage: job.stage, at: performance.now() });
});
const started = performance.now();
const job = await ws.jobs.wait(startMap(ws, { modelId: model.id, datasetId, rebuild: false }).id);
const seconds = (performance.now() - started) / 1000;
if (job.status !== 'done') throw new Error(`map job ${job.status}: ${job.error?.message}`);
const workerPeak = ws.pool.pids.map((pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
});
const stageSeconds = Object.fromEntries(
  stages.map((s, i) => [s.stage, Number((((stages[i + 1]?.at ?? started + seconds * 1000) - s.at) / 1000).toFixed(2))]),
);

// The app's neighbours of every 35th image, by IDX index, for the reference to check.
const { map } = newestMap(ws.project, model.fileHash, datasetId)!;
const idxIndex = (imageId: number) => {
  const source = ws.project.images.detail(imageId)!.source;
  const [file, index] = source.split('#') as [string, string];
  return (file.startsWith('t10k') ? 60_000 : 0) + Number(index);
};
const rowIdx = Array.from(map.imageIds, idxIndex);
const checked: Record<string, number[]> = {};
const k = map.neighbours.k;
for (let row = 0; row < map.imageIds.length; row += 35)
  checked[rowIdx[row]!] = Array.from(map.neighbours.indices.subarray(row * k, (row + 1) * k), (r) => rowIdx[r]!);
writeFileSync(join(dir, 'neighbours.json'), JSON.stringify(checked));
const byRow: Record<string, number[]> = {};
for (let row = 0; row < map.imageIds.length; row += 35)
  byRow[row] = Array.from(map.neighbours.indices.subarray(row * k, (row + 1) * k));
writeFileSync(join(dir, 'row-neighbours.json'), JSON.stringify(byRow));
writeFileSync(
  join(dir, 'reduced.f32'),
  Buffer.from(map.reduced.buffer, map.reduced.byteOffset, map.reduced.byteLength),
);
const reference = JSON.parse(
  execFileSync(
    '/usr/bin/python3',
    [
      'bench/map_reference.py',
      '--threads',
      String(THREADS),
      '--neighbours',
      join(dir, 'neighbours.json'),
      '--reduced',
      join(dir, 'reduced.f32'),
      '--reduced-neighbours',
      join(dir, 'row-neighbours.json'),
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: String(THREADS), OPENBLAS_NUM_THREADS: String(THREADS) },
    },
  ).trim(),
);

// UMAP's layout alone, ours against umap-js, on the same graph of the first 10,000 images.
let layout: Record<string, number> | null = null;
if (!process.argv.includes('--skip-umap-js')) {
  const n = 10_000;
  const dims = map.reduced.length / map.imageIds.length;
  const reduced = map.reduced.slice(0, n * dims);
  const create = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { intraOpNumThreads: THREADS });
  const knn = await nearestNeighbours(create, reduced, 'self', dims, 15);
  let t = performance.now();
  await optimiseLayout(
    fuzzyUnion(knn, n),
    scaledStart(
      Float32Array.from({ length: n }, (_, i) => reduced[i * dims]!),
      Float32Array.from({ length: n }, (_, i) => reduced[i * dims + 1]!),
    ),
  );
  const ours = (performance.now() - t) / 1000;
  const rows = Array.from({ length: n }, (_, i) => Array.from(reduced.subarray(i * dims, (i + 1) * dims)));
  const umap = new UMAP({ nComponents: 2, nNeighbors: 16, random: seededUniform(7) });
  umap.setPrecomputedKNN(
    Array.from({ length: n }, (_, i) => [i, ...knn.indices.subarray(i * 15, (i + 1) * 15)]),
    Array.from({ length: n }, (_, i) => [0, ...knn.distances.subarray(i * 15, (i + 1) * 15)]),
  );
  t = performance.now();
  const epochs = umap.initializeFit(rows);
  for (let e = 0; e < epochs; e++) umap.step();
  const theirs = (performance.now() - t) / 1000;
  layout = { points: n, oursSeconds: Number(ours.toFixed(2)), umapJsSeconds: Number(theirs.toFixed(2)) };
}

await ws.shutdown();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      machine: `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`,
      images: map.imageIds.length,
      layer: map.layer,
      app: {
        seconds: Number(seconds.toFixed(2)),
        stages: stageSeconds,
        workerPeakMiB: workerPeak.map(Math.round),
        mainPeakMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        duplicatePairs: map.duplicatePairs,
        leaks: map.leak.reduce((a, b) => a + b, 0),
      },
      reference,
      layout,
    },
    null,
    2,
  ),
);
