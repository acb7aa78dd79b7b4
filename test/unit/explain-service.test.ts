/**
 * Explanations inside a project: layers of a registered model, one image's map (computed once, then
 * served from the project's cache), a filtered selection as a job with progress and cancel, and the
 * refusal to explain a model file that changed after it was registered.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workstation } from '../../src-main/workstation.ts';
import { fashionMnistSubset, tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { addModel } from '../../src-main/models/service.ts';
import {
  cachedExplanations,
  explainImage,
  explainLayerwise,
  imageMetrics,
  layers,
  sanityCheck,
  startExplain,
  startMetrics,
} from '../../src-main/explain/service.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { startInference } from '../../src-main/inference/service.ts';

const LAYER = '/features/features.10/Relu_output_0';
let ws: Workstation;
let dir: string;
let modelId: number;
let datasetId: number;

beforeAll(async () => {
  dir = tempDir();
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  await ws.createProject(join(dir, 'explain.xaiws'));
  const model = join(dir, 'classifier.onnx');
  copyFileSync(join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx'), model);
  modelId = (
    await addModel(ws, {
      path: model,
      manifestPath: join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.manifest.json'),
    })
  ).id;
  const job = await ws.jobs.wait(startImport(ws, { source: fashionMnistSubset(join(dir, 'data'), 48) }).id);
  datasetId = job.result!.datasetId as number;
  await ws.jobs.wait(startInference(ws, { modelId: modelId, datasetId: datasetId }).id);
});
afterAll(() => ws.shutdown());

describe('explanations in a project', () => {
  it('lists the model layers', async () => {
    const offered = await layers(ws, { modelId: modelId });
    expect(offered.find((l) => l.name === LAYER)).toMatchObject({ shape: [64, 7, 7], op: 'Relu', gradients: true });
  });

  it('computes a map once and serves it from the cache after', async () => {
    const imageId = ws.project.images.matchingIds({
      datasetId,
      correctness: 'all',
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'id',
    })[0]!;
    const first = await explainImage(ws, { modelId, imageId, method: 'gradcam', layer: LAYER, target: -1 });
    expect(first.cached).toBe(false);
    expect(first.layerShape).toEqual([7, 7]);
    expect(first.map).toHaveLength(49);
    expect(Math.max(...first.map)).toBeGreaterThan(0);
    const detail = await ws.project.predictions.forImage(modelId, imageId, ws.model(modelId).manifest.classes);
    expect(first.targetClass).toBe(detail!.predictedClass);
    const second = await explainImage(ws, { modelId, imageId, method: 'gradcam', layer: LAYER, target: -1 });
    expect(second.cached).toBe(true);
    expect(second.map).toEqual(first.map);
    const other = await explainImage(ws, { modelId, imageId, method: 'gradcam', layer: LAYER, target: 1 });
    expect(other.cached).toBe(false);
    expect(other.target).toBe(1);
    expect(other.targetClass).toBe('Trouser');
    await expect(explainImage(ws, { modelId, imageId, method: 'gradcam', layer: LAYER, target: 10 })).rejects.toThrow(
      /Target class 10 is not one of the model's 10 classes/,
    );
    await expect(
      explainImage(ws, { modelId, imageId, method: 'gradcam', layer: 'nope', target: -1 }),
    ).rejects.toMatchObject({ code: 'layer_not_found' });
  });

  it('keeps pixel attributions under the input, whatever layer is selected, and each smoothing apart', async () => {
    const imageId = ws.project.images.matchingIds({
      datasetId,
      correctness: 'all',
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'id',
    })[1]!;
    const saliency = await explainImage(ws, { modelId, imageId, method: 'saliency', layer: LAYER, target: -1 });
    expect(saliency).toMatchObject({ layer: 'input', layerShape: [28, 28], cached: false, smoothing: 'none' });
    expect(saliency.map).toHaveLength(784);
    const elsewhere = await explainImage(ws, { modelId, imageId, method: 'saliency', layer: 'other', target: -1 });
    expect(elsewhere.cached).toBe(true);
    const plain = await explainImage(ws, { modelId, imageId, method: 'gradcam', layer: LAYER, target: -1 });
    const augmented = await explainImage(ws, {
      modelId,
      imageId,
      method: 'gradcam',
      layer: LAYER,
      target: -1,
      smoothing: 'aug',
    });
    expect(augmented).toMatchObject({ cached: false, smoothing: 'aug', target: plain.target });
    expect(augmented.map).not.toEqual(plain.map);
    expect(Math.max(...augmented.map)).toBeLessThanOrEqual(1);
    const cached = cachedExplanations(ws, { modelId, imageId });
    expect(cached.map((e) => `${e.method}/${e.layer}/${e.smoothing}`).sort()).toEqual([
      `gradcam/${LAYER}/aug`,
      `gradcam/${LAYER}/none`,
      'saliency/input/none',
    ]);
    await expect(
      explainImage(ws, { modelId, imageId, method: 'eigencam', layer: LAYER, target: -1, smoothing: 'eigen' }),
    ).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/eigencam has no eigen smoothing/),
    });
  });

  it('explains a filtered selection as one job, then finds it all cached', async () => {
    const query = {
      datasetId,
      modelId,
      trueClass: 'Trouser',
      correctness: 'all' as const,
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'id' as const,
    };
    const expected = ws.project.images.matchingIds(query).length;
    expect(expected).toBeGreaterThan(0);
    const job = await ws.jobs.wait(
      startExplain(ws, { modelId, method: 'layercam', layer: LAYER, target: -1, query }).id,
    );
    expect(job.status).toBe('done');
    expect(job.result).toMatchObject({ images: expected, computed: expected, cached: 0 });
    expect(job.done).toBe(expected);
    const again = await ws.jobs.wait(
      startExplain(ws, { modelId, method: 'layercam', layer: LAYER, target: -1, query }).id,
    );
    expect(again.result).toMatchObject({ images: expected, computed: 0, cached: expected });
  });

  it('cancels a long selection between model runs and keeps what was stored', async () => {
    const query = { datasetId, correctness: 'all' as const, confidenceMin: 0, confidenceMax: 1, sort: 'id' as const };
    const started = startExplain(ws, { modelId, method: 'ablationcam', layer: LAYER, target: -1, query });
    ws.jobs.cancel(started.id);
    const job = await ws.jobs.wait(started.id);
    expect(job.status).toBe('cancelled');
    const ids = Array.from(ws.project.images.matchingIds(query));
    const base = {
      modelHash: ws.model(modelId).fileHash,
      method: 'ablationcam',
      layer: LAYER,
      requestedClass: -1,
      params: '{}',
    };
    // Jobs check the signal before each batch of 32 (and the worker between channel batches): at most one batch got stored.
    expect(ws.project.explanations.missing(base, ids).length).toBeGreaterThanOrEqual(48 - 32);
  });

  it('stores the clustered feature maps of every conv layer with stable cluster ids', async () => {
    const imageId = ws.project.images.matchingIds({
      datasetId,
      correctness: 'all',
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'id',
    })[2]!;
    const first = await explainLayerwise(ws, { modelId, imageId, target: -1 });
    expect(first.cached).toBe(false);
    expect(first.layers.map((l) => l.shape)).toEqual([
      [32, 28, 28],
      [64, 14, 14],
      [64, 7, 7],
    ]);
    for (const layer of first.layers) {
      expect(layer.clusters.length).toBe(layer.k);
      expect(layer.points).toHaveLength(layer.keptMaps);
      expect(layer.clusters.flatMap((c) => c.channels).sort((a, b) => a - b)).toEqual(
        layer.points.map((p) => p.channel).sort((a, b) => a - b),
      );
      expect(layer.clusters[0]!.map).toHaveLength(layer.shape[1]! * layer.shape[2]!);
    }
    const second = await explainLayerwise(ws, { modelId, imageId, target: -1 });
    expect(second.cached).toBe(true);
    expect(second.layers.flatMap((l) => l.clusters.map((c) => c.id))).toEqual(
      first.layers.flatMap((l) => l.clusters.map((c) => c.id)),
    );
    expect(second.layers[2]!.clusters[0]!.map).toEqual(first.layers[2]!.clusters[0]!.map);
  });

  it('measures deletion, insertion and ROAD of one map, and runs the sanity check', async () => {
    const imageId = ws.project.images.matchingIds({
      datasetId,
      correctness: 'all',
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'id',
    })[0]!;
    const metrics = await imageMetrics(ws, {
      modelId,
      imageId,
      method: 'gradcam',
      layer: LAYER,
      target: -1,
      steps: 20,
    });
    expect(metrics.targetClass).toBe('Ankle boot');
    expect(metrics.deletion.x).toHaveLength(21);
    expect(metrics.deletion.y[0]).toBeCloseTo(metrics.road.original, 6);
    expect(metrics.insertion.y[20]).toBeCloseTo(metrics.road.original, 6);
    expect(metrics.deletion.y[20]).toBeCloseTo(metrics.insertion.y[0]!, 6); // both the black image
    for (const auc of [metrics.deletion.auc, metrics.insertion.auc])
      (expect(auc).toBeGreaterThan(0), expect(auc).toBeLessThan(1));
    expect(metrics.road.morf).toHaveLength(9);
    expect(metrics.insertion.auc).toBeGreaterThan(metrics.deletion.auc); // a useful map for a confident prediction

    const sanity = await sanityCheck(ws, { modelId, imageId, method: 'gradcam', layer: LAYER, target: -1 });
    expect(sanity.steps.map((s) => s.op)).toEqual(['Gemm', 'Gemm', 'Conv', 'Conv', 'Conv']);
    for (const step of sanity.steps) expect(Math.abs(step.spearman)).toBeLessThanOrEqual(1);
  });

  it('averages the metrics of a filtered selection in one job', async () => {
    const query = {
      datasetId,
      modelId,
      trueClass: 'Trouser',
      correctness: 'all' as const,
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'id' as const,
    };
    const expected = ws.project.images.matchingIds(query).length;
    const job = await ws.jobs.wait(
      startMetrics(ws, { modelId, method: 'gradcam', layer: LAYER, target: -1, query, steps: 10 }).id,
    );
    expect(job.status).toBe('done');
    expect(job.result).toMatchObject({ images: expected, method: 'gradcam' });
    for (const key of ['deletionAuc', 'insertionAuc']) expect(job.result![key] as number).toBeGreaterThan(0);
    expect(typeof job.result!.roadCombined).toBe('number');
  });

  it('refuses to explain a model file that changed after registration', async () => {
    const path = ws.model(modelId).path;
    const bytes = readFileSync(path);
    writeFileSync(path, Buffer.concat([bytes, Buffer.from([0])]));
    try {
      const imageId = ws.project.images.matchingIds({
        datasetId,
        correctness: 'all',
        confidenceMin: 0,
        confidenceMax: 1,
        sort: 'id',
      })[1]!;
      await expect(
        explainImage(ws, { modelId, imageId, method: 'eigencam', layer: LAYER, target: -1 }),
      ).rejects.toMatchObject({ code: 'model_changed' });
      await expect(
        explainImage(ws, { modelId, imageId, method: 'eigencam', layer: LAYER, target: -1 }),
      ).rejects.toThrow(/changed since it was registered/);
    } finally {
      writeFileSync(path, bytes);
    }
  });
});
