/**
 * The dataset map through the API (issue 19, point 1) on a real project: the first 300 Fashion-MNIST
 * test images and the demo classifier. The job embeds at the penultimate layer and keeps the map; its
 * scores agree with the predictions; 40 more images imported later are added without moving the
 * others; a feature-map layer works as well; a layer that does not exist is refused by name, and a
 * stopped job leaves the stored map as it was.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter } from '../../src-main/api/router.ts';
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { addModel } from '../../src-main/models/service.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { fashionMnistSubset, tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';

let ws: Workstation;
let dir: string;
let modelId: number;
let datasetId: number;
let dispatch: ReturnType<typeof createRouter>;

async function call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>> {
  const envelope = await dispatch(method, request);
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  return envelope.value as Result<M>;
}

async function importFirst(n: number) {
  const folder = fashionMnistSubset(join(dir, 'fm'), n);
  const job = await ws.jobs.wait(startImport(ws, { source: folder }).id);
  datasetId = job.result!.datasetId as number;
}

beforeAll(async () => {
  dir = tempDir();
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  await ws.createProject(join(dir, 'map.xaiws'));
  const model = join(ROOT, 'resources', 'models', 'fashion-mnist-cnn');
  modelId = (
    await addModel(ws, { path: join(model, 'classifier.onnx'), manifestPath: join(model, 'classifier.manifest.json') })
  ).id;
  await importFirst(300);
  dispatch = createRouter(ws);
});
afterAll(() => ws.shutdown());

describe('the dataset map job', () => {
  it('maps a dataset at the penultimate layer, with scores that agree with the predictions', async () => {
    expect(await call('map.get', { modelId, datasetId })).toBeNull();
    const job = await ws.jobs.wait((await call('map.build', { modelId, datasetId })).jobId);
    expect(job.error).toBeNull();
    expect(job.result).toMatchObject({ images: 300, added: 300, layer: '/head/head.2/Relu_output_0' });
    const map = (await call('map.get', { modelId, datasetId }))!;
    expect(map.imageIds).toHaveLength(300);
    expect(map.missing).toBe(0);
    expect(map.classes).toHaveLength(10);
    const wrong = map.label.map((l, i) => l !== map.predicted[i]);
    expect(wrong.filter(Boolean).length).toBeGreaterThan(3); // the demo CNN is 93 % right
    map.mistakenness.forEach((m, i) => expect(m! > 0.5).toBe(wrong[i]));
    // Its predictions are the inference job's: the same model, the same pixels.
    const { jobId } = await call('inference.run', { modelId, datasetId });
    await ws.jobs.wait(jobId);
    const detail = await call('images.get', { imageId: map.imageIds[0]!, modelId });
    expect(map.classes[map.predicted[0]!]).toBe(detail.prediction!.predictedClass);
    expect(Math.max(...map.uniqueness)).toBe(1);
    const similar = await call('map.similar', { modelId, imageId: map.imageIds[5]!, count: 5 });
    expect(similar.neighbours).toHaveLength(5);
    expect(similar.neighbours.map((n) => n.imageId)).not.toContain(map.imageIds[5]);
    const distances = similar.neighbours.map((n) => n.distance);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
  });

  it('adds images imported later without moving the mapped ones', async () => {
    const before = (await call('map.get', { modelId, datasetId }))!;
    await importFirst(340);
    expect((await call('map.get', { modelId, datasetId }))!.missing).toBe(40);
    const job = await ws.jobs.wait((await call('map.build', { modelId, datasetId })).jobId);
    expect(job.result).toMatchObject({ images: 340, added: 40 });
    const after = (await call('map.get', { modelId, datasetId }))!;
    expect(after.imageIds.slice(0, 300)).toEqual(before.imageIds);
    expect(after.x.slice(0, 300)).toEqual(before.x);
    expect(after.y.slice(0, 300)).toEqual(before.y);
    expect(after.missing).toBe(0);
    const again = await ws.jobs.wait((await call('map.build', { modelId, datasetId })).jobId);
    expect(again.result).toMatchObject({ added: 0, upToDate: true });
  });

  it('embeds at a feature map by averaging it, and refuses a layer the model does not have, by name', async () => {
    const conv = await ws.jobs.wait(
      (await call('map.build', { modelId, datasetId, layer: '/features/features.10/Relu_output_0' })).jobId,
    );
    expect(conv.error).toBeNull();
    expect((await call('map.get', { modelId, datasetId }))!.layer).toBe('/features/features.10/Relu_output_0');
    const bad = await ws.jobs.wait((await call('map.build', { modelId, datasetId, layer: 'no/such/layer' })).jobId);
    expect(bad.status).toBe('failed');
    expect(bad.error?.message).toMatch(/"no\/such\/layer" is not a tensor of this model/);
  });

  it('keeps the stored map when a job is stopped', async () => {
    const before = (await call('map.get', { modelId, datasetId }))!;
    const { jobId } = await call('map.build', { modelId, datasetId, rebuild: true });
    await call('jobs.cancel', { jobId }); // at once: it cannot have finished yet
    const job = await ws.jobs.wait(jobId);
    expect(job.status).toBe('cancelled');
    const after = (await call('map.get', { modelId, datasetId }))!;
    expect(after.createdAt).toBe(before.createdAt);
    expect(after.x).toEqual(before.x);
  });
});
