/**
 * Speed of the generative explanations: the workstation's engine (onnxruntime-node, 2 intra-op
 * threads, the bundle's ONNX files) against the torch models they were exported from
 * (bench/generative_torch.py, 2 threads), same 1,000 Fashion-MNIST test images, same run. Per image
 * (batch 1, 100 images) and per 1,000 images (batches of 32, the job's batch): DXAI decomposition
 * with its 29 classifier inputs, a 10-step CAE path, InfoDisent components.
 * Run: node --import tsx bench/generative.ts
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import { readIdx } from '../src-main/datasets/read/idx.ts';
import { resolveBundle } from '../src-main/explain/bundles.ts';
import { GenerativeEngine } from '../src-main/explain/generative/engine.ts';
import { loadBundle } from '../src-main/models/bundle.ts';

const THREADS = 2;
const IMAGES = 1000;
const SINGLE = 100;
const BATCH = 32;
const STEPS = 10;
const options = { intraOpNumThreads: THREADS, interOpNumThreads: 1, graphOptimizationLevel: 'all' } as const;

const describe = async (path: string) => {
  const session = await ort.InferenceSession.create(path);
  const shape = (m: ort.InferenceSession.ValueMetadata) =>
    m.isTensor ? m.shape.map((d) => (typeof d === 'number' ? d : -1)) : [];
  const info = {
    inputs: session.inputMetadata.map((m) => ({ name: m.name, shape: shape(m), type: m.isTensor ? m.type : '' })),
    outputs: session.outputMetadata.map((m) => ({ name: m.name, shape: shape(m), type: m.isTensor ? m.type : '' })),
  };
  await session.release();
  return info;
};
const bundle = resolveBundle(await loadBundle('resources/models/fashion-mnist-cnn', describe));
const engine = new GenerativeEngine(bundle.ref, (path) => ort.InferenceSession.create(path, options));

const images = readIdx('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz');
const size = 28 * 28;
const pixels = Float32Array.from(images.data.subarray(0, IMAGES * size), (v) => v / 255);
const slice = (start: number, count: number) => pixels.subarray(start * size, (start + count) * size);

const runs = {
  decompose: (start: number, count: number) =>
    engine.decomposition(slice(start, count), count, new Array(count).fill(-1)),
  path: (start: number, count: number) =>
    engine.counterfactual(
      slice(start, count),
      count,
      Array.from({ length: count }, () => ({ target: -1, steps: STEPS })),
    ),
  components: (start: number, count: number) =>
    engine.components(slice(start, count), count, new Array(count).fill(-1)),
};

const workstation: Record<string, { perImageMs: number; seconds1000: number }> = {};
for (const [name, run] of Object.entries(runs)) {
  await run(0, 4); // warm-up: sessions
  let started = performance.now();
  for (let i = 0; i < SINGLE; i++) await run(i, 1);
  const perImageMs = (performance.now() - started) / SINGLE;
  started = performance.now();
  for (let s = 0; s < IMAGES; s += BATCH) await run(s, Math.min(BATCH, IMAGES - s));
  workstation[name] = {
    perImageMs: Number(perImageMs.toFixed(3)),
    seconds1000: Number(((performance.now() - started) / 1000).toFixed(3)),
  };
}
await engine.release();

const torchRun = spawnSync(
  '/usr/bin/python3',
  [
    'bench/generative_torch.py',
    '--threads',
    String(THREADS),
    '--images',
    String(IMAGES),
    '--single',
    String(SINGLE),
    '--batch',
    String(BATCH),
    '--steps',
    String(STEPS),
  ],
  { encoding: 'utf8' },
);
if (torchRun.status !== 0) throw new Error(`PyTorch reference failed: ${torchRun.stderr}`);
const torch = JSON.parse(torchRun.stdout.trim().split('\n').pop()!);

const speedup = Object.fromEntries(
  Object.keys(runs).map((name) => [
    name,
    {
      perImage: Number((torch[name].perImageMs / workstation[name]!.perImageMs).toFixed(2)),
      per1000: Number((torch[name].seconds1000 / workstation[name]!.seconds1000).toFixed(2)),
    },
  ]),
);
console.log(
  JSON.stringify(
    {
      machine: `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`,
      threads: THREADS,
      images: IMAGES,
      batch: BATCH,
      steps: STEPS,
      workstation,
      pytorch: torch,
      speedup,
    },
    null,
    2,
  ),
);
