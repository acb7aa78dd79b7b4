/**
 * Classifier throughput: the demo CNN in onnxruntime-node (our inference worker, 2 intra-op threads)
 * against the same model in PyTorch (bench/torch_reference.py, 2 threads), same images, same batch
 * size, in the same run. Also the whole inference job (database reads, preprocessing, storing).
 * Run: node --import tsx bench/inference.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readIdx } from '../src-main/datasets/read/idx.ts';
import { InferencePool } from '../src-main/workers/inference-pool.ts';
import { writeNormalised } from '../src-main/inference/runtime/tensor.ts';
import { parseManifest } from '../src-main/models/manifest.ts';
import { hashFile } from '../src-main/models/register.ts';
import { Workstation } from '../src-main/workstation.ts';
import { addModel } from '../src-main/models/service.ts';
import { startImport } from '../src-main/datasets/service.ts';
import { startInference } from '../src-main/inference/service.ts';

const THREADS = 2;
const BATCH = 256;
const REPEATS = 3;
const modelPath = 'resources/models/fashion-mnist-cnn/classifier.onnx';
const manifest = parseManifest(
  JSON.parse(readFileSync('resources/models/fashion-mnist-cnn/classifier.manifest.json', 'utf8')),
  'manifest',
);

const images = readIdx('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz');
const labels = readIdx('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz').data;
const count = images.shape[0]!;
const size = 28 * 28;
const tensor = new Float32Array(count * size);
for (let i = 0; i < count; i++) writeNormalised(images.data.subarray(i * size, (i + 1) * size), manifest, tensor, i);

const pool = new InferencePool(1, THREADS);
const model = { key: await hashFile(modelPath), path: modelPath, manifest };
await pool.call('inferTensor', { model, tensor: tensor.slice(0, BATCH * size), count: BATCH }); // warm-up and session load
const runs: number[] = [];
let correct = 0;
for (let repeat = 0; repeat < REPEATS; repeat++) {
  const started = performance.now();
  correct = 0;
  for (let start = 0; start < count; start += BATCH) {
    const n = Math.min(BATCH, count - start);
    const { output } = await pool.call('inferTensor', {
      model,
      tensor: tensor.slice(start * size, (start + n) * size),
      count: n,
    });
    for (let row = 0; row < n; row++) {
      const logits = output.subarray(row * 10, row * 10 + 10);
      if (logits.indexOf(Math.max(...logits)) === labels[start + row]) correct++;
    }
  }
  runs.push((performance.now() - started) / 1000);
}
await pool.close();
const ortSeconds = Math.min(...runs);
const ort = {
  engine: 'onnxruntime-node',
  threads: THREADS,
  batch: BATCH,
  images: count,
  seconds: ortSeconds,
  imagesPerSecond: count / ortSeconds,
  accuracy: correct / count,
};

const torchRun = spawnSync(
  '/usr/bin/python3',
  ['bench/torch_reference.py', '--threads', String(THREADS), '--batch', String(BATCH), '--repeats', String(REPEATS)],
  { encoding: 'utf8' },
);
if (torchRun.status !== 0) throw new Error(`PyTorch reference failed: ${torchRun.stderr}`);
const torch = JSON.parse(torchRun.stdout.trim().split('\n').pop()!);

// The whole job as the app runs it: read pixels from the project, preprocess, run, store.
const dir = mkdtempSync(join(tmpdir(), 'xaiws-bench-'));
const workstation = new Workstation({ dataDir: dir, resourcesDir: 'resources', transport: 'cli' });
await workstation.createProject(join(dir, 'bench.xaiws'));
const registered = await addModel(workstation, { path: modelPath });
const datasetId = (
  await workstation.jobs.wait(startImport(workstation, { source: 'resources/datasets/fashion-mnist' }).id)
).result!.datasetId as number;
const jobRuns: number[] = [];
for (let repeat = 0; repeat < REPEATS; repeat++) {
  const job = await workstation.jobs.wait(
    startInference(workstation, { modelId: registered.id, datasetId: datasetId, batchSize: BATCH }).id,
  );
  jobRuns.push(job.result!.seconds as number);
}
await workstation.shutdown();
rmSync(dir, { recursive: true, force: true });
const jobSeconds = Math.min(...jobRuns);

const round = (value: number) => Math.round(value);
console.log(
  JSON.stringify(
    {
      machine: `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`,
      onnxruntime: { ...ort, imagesPerSecond: round(ort.imagesPerSecond) },
      pytorch: { ...torch, imagesPerSecond: round(torch.imagesPerSecond) },
      ratio: Number((ort.imagesPerSecond / torch.imagesPerSecond).toFixed(2)),
      inferenceJob: { images: count, seconds: jobSeconds, imagesPerSecond: round(count / jobSeconds) },
    },
    null,
    2,
  ),
);
