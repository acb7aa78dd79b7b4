/**
 * What running the models in worker processes costs the app: the whole inference job (10,000
 * Fashion-MNIST test images, read from the project, preprocessed, run, stored) in images/s, and
 * Grad-CAM of single images through the API (first computation, not the cache) in ms/image, as the
 * app runs them, Grad-CAM of the whole dataset as a selection job (batches of 32) in ms/image, and the
 * round trip of a call that does nothing in the worker. Run it on two checkouts
 * to compare (docs/BENCHMARKS.md, "Worker processes").
 * Run: node --import tsx bench/worker-cost.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Workstation } from '../src-main/workstation.ts';
import { addModel } from '../src-main/models/service.ts';
import { explainImage, startExplain } from '../src-main/explain/service.ts';
import { startImport } from '../src-main/datasets/service.ts';
import { startInference } from '../src-main/inference/service.ts';

// The demo by default; a real-size model with XAIWS_BENCH_MODEL (its manifest beside it), its CAM layer
// and a smaller dataset (bench/models/resnet18.py writes a ResNet-18 at 224 px).
const MODEL = process.env.XAIWS_BENCH_MODEL ?? 'resources/models/fashion-mnist-cnn/classifier.onnx';
const SOURCE = process.env.XAIWS_BENCH_SOURCE ?? 'resources/datasets/fashion-mnist';
const LAYER = process.env.XAIWS_BENCH_LAYER ?? '/features/features.10/Relu_output_0';
const REPEATS = Number(process.env.XAIWS_BENCH_REPEATS ?? 5);
const CAM_IMAGES = Number(process.env.XAIWS_BENCH_CAM_IMAGES ?? 500);
const CALLS = 1000;

const dir = mkdtempSync(join(tmpdir(), 'xaiws-bench-'));
const ws = new Workstation({ dataDir: dir, resourcesDir: 'resources', transport: 'cli' });
try {
  await ws.createProject(join(dir, 'bench.xaiws'));
  const model = await addModel(ws, { path: MODEL });
  const imported = await ws.jobs.wait(startImport(ws, { source: SOURCE }).id);
  const datasetId = imported.result!.datasetId as number;
  const rates: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const job = await ws.jobs.wait(startInference(ws, { modelId: model.id, datasetId: datasetId }).id);
    rates.push(job.result!.imagesPerSecond as number);
  }
  const ids = ws.project.images
    .matchingIds({ datasetId, correctness: 'all', confidenceMin: 0, confidenceMax: 1, sort: 'id' })
    .slice(0, CAM_IMAGES + 5);
  for (const imageId of ids.slice(CAM_IMAGES))
    await explainImage(ws, { modelId: model.id, imageId, method: 'gradcam', layer: LAYER, target: -1 }); // warm-up
  const started = performance.now();
  for (const imageId of ids.slice(0, CAM_IMAGES))
    await explainImage(ws, { modelId: model.id, imageId, method: 'gradcam', layer: LAYER, target: -1 });
  const camMs = (performance.now() - started) / CAM_IMAGES;
  const query = { datasetId, correctness: 'all' as const, confidenceMin: 0, confidenceMax: 1, sort: 'id' as const };
  const jobStarted = performance.now();
  await ws.jobs.wait(startExplain(ws, { modelId: model.id, method: 'gradcam', layer: LAYER, target: -1, query }).id);
  const jobCount = ws.project.images.matchingIds(query).length - ids.length; // the single calls' maps are cached
  const jobMs = (performance.now() - jobStarted) / jobCount;
  // A call that does nothing in the worker (the session is loaded): the message round trip itself.
  await ws.pool.call('inspect', { key: model.fileHash, path: model.path });
  const calls = performance.now();
  for (let i = 0; i < CALLS; i++) await ws.pool.call('inspect', { key: model.fileHash, path: model.path });
  const callMs = (performance.now() - calls) / CALLS;
  const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
  console.log(
    JSON.stringify({
      machine: `${cpus().length} x ${cpus()[0]?.model}`,
      inferenceImagesPerSecond: median,
      runs: rates,
      gradcamMsPerImage: Number(camMs.toFixed(3)),
      gradcamJobMsPerImage: Number(jobMs.toFixed(3)),
      roundTripMs: Number(callMs.toFixed(3)),
    }),
  );
} finally {
  await ws.shutdown();
  rmSync(dir, { recursive: true, force: true });
}
