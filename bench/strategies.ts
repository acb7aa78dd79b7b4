/**
 * Strategy discovery (SpRAy), two measurements.
 * --speed: 6,000 Grad-CAM maps of one Fashion-MNIST class (T-shirt/top, train and test) by the demo
 *   classifier; the app's clustering of them (kNN graph, eigenvectors, eigengap, k-means) timed in one
 *   process, side by side with scikit-learn's SpectralClustering (affinity="nearest_neighbors",
 *   n_neighbors=10, the same k) on the same maps and threads, and the whole strategies job end to end.
 * --shortcut MODEL_DIR: the colour benchmark's 800 test images and a classifier (classifier.onnx and
 *   classifier.manifest.json in MODEL_DIR); the strategies job for the shortcut class (3), and how the
 *   images carrying the corner mark fall into its clusters: the cluster holding most of them, its purity
 *   and its recall.
 * Run: npm run build && node --import tsx bench/strategies.ts --speed | --shortcut DIR [--method gradcam]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { CamMethodName } from '../src-shared/contract.ts';
import { Workstation } from '../src-main/workstation.ts';
import { startImport } from '../src-main/datasets/service.ts';
import { addModel } from '../src-main/models/service.ts';
import { verifiedModel } from '../src-main/models/identity.ts';
import { spectralClusters } from '../src-main/explain/map/spectral.ts';
import { normalisedMap, startStrategies, strategiesResult } from '../src-main/explain/strategies.ts';
import { adjustedRand } from '../test/support/stats.ts';
import { useBuiltWorkers } from './built-workers.ts';

const args = process.argv.slice(2);
const method = (
  args[args.indexOf('--method') + 1] && args.includes('--method') ? args[args.indexOf('--method') + 1] : 'gradcam'
) as CamMethodName;
useBuiltWorkers();
const dir = mkdtempSync(join(tmpdir(), 'xaiws-bench-strategies-'));
const ws = new Workstation({ dataDir: dir, resourcesDir: 'resources', transport: 'cli' });
await ws.createProject(join(dir, 'strategies.xaiws'));
const seconds = (from: number) => Number(((performance.now() - from) / 1000).toFixed(2));
const machine = `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`;
let output: Record<string, unknown>;

if (args.includes('--speed')) {
  const imported = await ws.jobs.wait(startImport(ws, { source: '/usr/share/datasets/fashion-mnist' }).id);
  const datasetId = imported.result!.datasetId as number;
  const modelDir = 'resources/models/fashion-mnist-cnn';
  const model = await addModel(ws, {
    path: join(modelDir, 'classifier.onnx'),
    manifestPath: join(modelDir, 'classifier.manifest.json'),
  });
  const classIndex = 0;
  const className = model.manifest.classes[classIndex]!;
  const { ids, names } = ws.project.images.classNames(datasetId);
  const imageIds = ids.filter((_, i) => names[i] === className).slice(0, 6000);
  const layer = '/features/features.10/Relu_output_0';
  // The maps, as the job computes them.
  const ref = await verifiedModel(model);
  let started = performance.now();
  const maps = new Float32Array(imageIds.length * 49);
  for (let at = 0; at < imageIds.length; at += 256) {
    const batch = imageIds.slice(at, at + 256);
    const { results } = await ws.pool.call('cam', {
      model: ref,
      source: { projectPath: ws.project.path, imageIds: batch },
      request: { method, layer, targets: batch.map(() => classIndex) },
    });
    results.forEach((r, i) => maps.set(normalisedMap(r.map, r.layerShape[0], r.layerShape[1]).map, (at + i) * 49));
  }
  const mapSeconds = seconds(started);
  const create = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
  started = performance.now();
  const ours = await spectralClusters(create, maps, 49);
  const oursSeconds = seconds(started);
  writeFileSync(join(dir, 'maps.f32'), Buffer.from(maps.buffer));
  const script = `
import json, sys, time
import numpy as np
from sklearn.cluster import SpectralClustering
from threadpoolctl import threadpool_limits
x = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, 49)
with threadpool_limits(2):
    started = time.perf_counter()
    labels = SpectralClustering(n_clusters=int(sys.argv[2]), affinity="nearest_neighbors", n_neighbors=10,
                                random_state=0, n_jobs=2).fit_predict(x)
    seconds = time.perf_counter() - started
print(json.dumps({"seconds": round(seconds, 2), "labels": labels.tolist()}))`;
  const theirs = JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', script, join(dir, 'maps.f32'), String(ours.k)], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2' },
    }),
  ) as { seconds: number; labels: number[] };
  started = performance.now();
  const job = await ws.jobs.wait(
    startStrategies(ws, { modelId: model.id, datasetId, classIndex, method, images: 6000 }).id,
  );
  const jobSeconds = seconds(started);
  output = {
    machine,
    maps: imageIds.length,
    mapShape: [7, 7],
    method,
    mapSeconds,
    clustering: {
      app: { seconds: oursSeconds, k: ours.k, eigengap: ours.eigengap },
      scikitLearn: { seconds: theirs.seconds, k: ours.k },
      adjustedRandBetween: Number(adjustedRand(ours.assignment, theirs.labels).toFixed(3)),
    },
    job: { status: job.status, seconds: jobSeconds, reported: (job.result as { seconds?: number }).seconds },
  };
} else {
  const modelDir = args[args.indexOf('--shortcut') + 1]!;
  const data = join(dir, 'benchmark');
  execFileSync('/usr/bin/python3', ['-m', 'training', 'benchmark', '--out', data, '--train', '0', '--test', '800']);
  const truth = JSON.parse(readFileSync(join(data, 'benchmark.json'), 'utf8')) as {
    images: { image: string; shortcut: boolean; label: number }[];
    shortcut: { class: number };
  };
  const imported = await ws.jobs.wait(startImport(ws, { source: join(data, 'benchmark.csv') }).id);
  const datasetId = imported.result!.datasetId as number;
  const model = await addModel(ws, {
    path: join(modelDir, 'classifier.onnx'),
    manifestPath: join(modelDir, 'classifier.manifest.json'),
  });
  const classIndex = truth.shortcut.class;
  const started = performance.now();
  const job = await ws.jobs.wait(
    startStrategies(ws, { modelId: model.id, datasetId, classIndex, method, images: 6000 }).id,
  );
  const report = strategiesResult(ws, { modelId: model.id, datasetId, classIndex, method })!;
  const marked = (imageId: number) => {
    const source = ws.project.images.detail(imageId)!.source;
    return truth.images.find((e) => source.endsWith(e.image))!.shortcut;
  };
  const allMarked = report.clusters.flatMap((c) => c.members).filter(marked).length;
  const clusters = report.clusters.map((c) => {
    const m = c.members.filter(marked).length;
    return { rank: c.rank, size: c.size, marked: m, predictedAsClass: c.predictedAsClass, unusualness: c.unusualness };
  });
  const best = [...clusters].sort((a, b) => b.marked - a.marked)[0]!;
  output = {
    machine,
    model: model.name,
    method,
    shortcutClass: report.className,
    images: report.images,
    markedImages: allMarked,
    k: report.clusters.length,
    eigengap: report.eigengap,
    clusters,
    shortcutCluster: {
      rank: best.rank,
      purity: Number((best.marked / best.size).toFixed(3)),
      recall: Number((best.marked / Math.max(1, allMarked)).toFixed(3)),
    },
    job: { status: job.status, seconds: seconds(started) },
  };
}
await ws.shutdown();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(output, null, 2));
