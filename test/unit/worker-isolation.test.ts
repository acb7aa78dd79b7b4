/**
 * A user's model cannot take the workstation down: onnxruntime runs in worker processes. A model that
 * expands to 2^31 elements at run time fails its job with `out_of_memory` under the worker's memory
 * bound; a worker killed with SIGKILL in the middle of a job fails that job with `worker_crashed`;
 * either way the process (here: the test's own, which holds the workstation) stays up and the next
 * job gets a fresh worker and finishes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workstation } from '../../src-main/workstation.ts';
import { fashionMnistSubset, tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { floatTensor, int64Tensor, ints, int, makeModel, node } from '../support/onnx-builder.ts';
import { addModel } from '../../src-main/models/service.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { startInference } from '../../src-main/inference/service.ts';

const CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
let ws: Workstation;
let dir: string;
let datasetId: number;
let demoModel: number;

/** [N,1,28,28] -> Expand to [N, 2739138, 28, 28] (2^31 elements an image) -> mean -> added to 10 zero logits. */
function explodingModel(path: string): void {
  const model = makeModel({
    inputShape: [1, 28, 28],
    nodes: [
      node('Expand', ['x', 'wide'], 'expanded'),
      node('ReduceMean', ['expanded'], 'mean', [ints('axes', [1, 2, 3]), int('keepdims', 0)]),
      node('Reshape', ['mean', 'column'], 'column_mean'),
      node('Add', ['column_mean', 'zeros'], 'logits'),
    ],
    initializers: [
      int64Tensor('wide', [4], [1, 2739138, 1, 1]),
      int64Tensor('column', [2], [-1, 1]),
      floatTensor('zeros', [1, 10], new Array(10).fill(0)),
    ],
    result: 'logits',
  });
  writeFileSync(path, model.encode());
  writeFileSync(
    path.replace(/\.onnx$/, '.manifest.json'),
    JSON.stringify({
      format: 'xaiws.classifier/1',
      name: 'Exploding',
      input: { channels: 1, height: 28, width: 28 },
      output: { kind: 'logits' },
      classes: CLASSES,
    }),
  );
}

beforeAll(async () => {
  dir = tempDir();
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli', workerMemoryMb: 1500 });
  await ws.createProject(join(dir, 'isolation.xaiws'));
  demoModel = (await addModel(ws, { path: join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx') })).id;
  datasetId = (await ws.jobs.wait(startImport(ws, { source: fashionMnistSubset(join(dir, 'data'), 2000) }).id)).result!
    .datasetId as number;
}, 600_000);
afterAll(() => ws.shutdown());

async function classifies(): Promise<void> {
  const job = await ws.jobs.wait(startInference(ws, { modelId: demoModel, datasetId: datasetId }).id);
  expect(job.status).toBe('done');
  expect(job.result!.images).toBe(2000);
}

describe('models in worker processes', () => {
  it('fails a model that exhausts memory with out_of_memory, and the app goes on', async () => {
    const path = join(dir, 'exploding.onnx');
    explodingModel(path);
    const model = await addModel(ws, { path: path }); // loading is fine: the memory goes at run time
    // One image: 8 GiB the system grants, then fills; the worker's bound stops it.
    const one = await ws.jobs.wait(startInference(ws, { modelId: model.id, datasetId: datasetId, batchSize: 1 }).id);
    expect(one.status).toBe('failed');
    expect(one.error).toMatchObject({ code: 'out_of_memory', message: expect.stringContaining('exploding.onnx') });
    expect(one.error!.message).toMatch(/1500 MiB/);
    await classifies();
    // Four images: 32 GiB, more than the machine has; onnxruntime's refusal says so by name too.
    const four = await ws.jobs.wait(startInference(ws, { modelId: model.id, datasetId: datasetId, batchSize: 4 }).id);
    expect(four.status).toBe('failed');
    expect(four.error).toMatchObject({ code: 'out_of_memory', message: expect.stringContaining('exploding.onnx') });
    await classifies();
  });

  it('fails the job whose worker is killed with SIGKILL, and the next job gets a fresh worker', async () => {
    let killed = 0;
    const job = startInference(ws, { modelId: demoModel, datasetId: datasetId, batchSize: 16 });
    const unsubscribe = ws.onEvent((event, payload) => {
      const update = payload as { id?: string; done?: number };
      if (event === 'job.updated' && update.id === job.id && (update.done ?? 0) > 0 && killed === 0) {
        killed = ws.pool.pids[0] ?? 0;
        if (killed) process.kill(killed, 'SIGKILL');
      }
    });
    const final = await ws.jobs.wait(job.id);
    unsubscribe();
    expect(killed).toBeGreaterThan(0);
    expect(final.status).toBe('failed');
    expect(final.error).toMatchObject({ code: 'worker_crashed', message: expect.stringMatching(/SIGKILL/) });
    await classifies();
    expect(ws.pool.pids).not.toContain(killed);
  });
});
