/**
 * CAM speed: the workstation's engine (inference worker, onnxruntime-node, 2 intra-op threads, the
 * built gradient graph) against pytorch-grad-cam's algorithm in PyTorch (bench/cam_torch.py, 2 threads)
 * on the demo classifier, its last conv block, the same 1,000 Fashion-MNIST test images, same run.
 * Grad-CAM per image (batch 1) and per 1,000 images (batches of 64); Score-CAM per 1,000 images.
 * Run: node --import tsx bench/cam.ts
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { readIdx } from '../src-main/datasets/read/idx.ts';
import { InferencePool } from '../src-main/workers/inference-pool.ts';
import { writeNormalised } from '../src-main/inference/runtime/tensor.ts';
import { parseManifest } from '../src-main/models/manifest.ts';
import { hashFile } from '../src-main/models/register.ts';

const THREADS = 2;
const IMAGES = 1000;
const SINGLE = 200;
const BATCH = 64;
const LAYER = '/features/features.10/Relu_output_0';
const modelPath = 'resources/models/fashion-mnist-cnn/classifier.onnx';
const manifest = parseManifest(
  JSON.parse(readFileSync('resources/models/fashion-mnist-cnn/classifier.manifest.json', 'utf8')),
  'manifest',
);

const images = readIdx('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz');
const size = 28 * 28;
const tensor = new Float32Array(IMAGES * size);
for (let i = 0; i < IMAGES; i++) writeNormalised(images.data.subarray(i * size, (i + 1) * size), manifest, tensor, i);

const pool = new InferencePool(1, THREADS);
const model = { key: await hashFile(modelPath), path: modelPath, manifest };
const explain = (method: 'gradcam' | 'scorecam', start: number, count: number) =>
  pool
    .call('cam', {
      model,
      source: { tensor: tensor.slice(start * size, (start + count) * size), count },
      request: { method, layer: LAYER, targets: new Array(count).fill(-1) },
    })
    .then((reply) => reply.results);

await explain('gradcam', 0, 8); // warm-up: probe, gradient graph, sessions
await explain('scorecam', 0, 1);
let started = performance.now();
for (let i = 0; i < SINGLE; i++) await explain('gradcam', i, 1);
const perImage = (performance.now() - started) / SINGLE;
started = performance.now();
for (let s = 0; s < IMAGES; s += BATCH) await explain('gradcam', s, Math.min(BATCH, IMAGES - s));
const gradcamSeconds = (performance.now() - started) / 1000;
started = performance.now();
for (let s = 0; s < IMAGES; s += BATCH) await explain('scorecam', s, Math.min(BATCH, IMAGES - s));
const scorecamSeconds = (performance.now() - started) / 1000;
await pool.close();

const torchRun = spawnSync(
  '/usr/bin/python3',
  [
    'bench/cam_torch.py',
    '--threads',
    String(THREADS),
    '--images',
    String(IMAGES),
    '--single',
    String(SINGLE),
    '--batch',
    String(BATCH),
  ],
  { encoding: 'utf8' },
);
if (torchRun.status !== 0) throw new Error(`PyTorch reference failed: ${torchRun.stderr}`);
const torch = JSON.parse(torchRun.stdout.trim().split('\n').pop()!);

const fixed = (value: number, digits = 3) => Number(value.toFixed(digits));
console.log(
  JSON.stringify(
    {
      machine: `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`,
      layer: LAYER,
      workstation: {
        engine: 'onnxruntime-node (worker)',
        threads: THREADS,
        gradcamPerImageMs: fixed(perImage),
        gradcamSeconds: fixed(gradcamSeconds),
        scorecamSeconds: fixed(scorecamSeconds),
        images: IMAGES,
      },
      pytorch: torch,
      speedup: {
        gradcamPerImage: fixed(torch.gradcamPerImageMs / perImage, 2),
        gradcam1000: fixed(torch.gradcamSeconds / gradcamSeconds, 2),
        scorecam1000VsBatch16: fixed(torch.scorecamSecondsBatch16 / scorecamSeconds, 2),
        scorecam1000VsBatch64: fixed(torch.scorecamSecondsBatch64 / scorecamSeconds, 2),
      },
    },
    null,
    2,
  ),
);
