/**
 * The generative explainers inside a project, through the API router (so every result also passes its
 * contract schema): the demo bundle's DXAI, CAE and InfoDisent models on real Fashion-MNIST images,
 * results cached and reused, a selection job, the dataset index (class-code map, prototypes from the
 * project), grid overlays, and the errors of a bundle with a missing, changed or absent file.
 */
import { cpSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import { createRouter } from '../../src-main/api/router.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { fashionMnistSubset, tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { addModel } from '../../src-main/models/service.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { startInference } from '../../src-main/inference/service.ts';

const BUNDLE = join(ROOT, 'resources/models/fashion-mnist-cnn');
let ws: Workstation;
let dir: string;
let modelId: number;
let datasetId: number;
let ids: number[];
let dispatch: ReturnType<typeof createRouter>;

async function call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>> {
  const envelope = await dispatch(method, request);
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  return envelope.value as Result<M>;
}

beforeAll(async () => {
  dir = tempDir();
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  dispatch = createRouter(ws);
  await ws.createProject(join(dir, 'generative.xaiws'));
  modelId = (
    await addModel(ws, {
      path: join(BUNDLE, 'classifier.onnx'),
      manifestPath: join(BUNDLE, 'classifier.manifest.json'),
    })
  ).id;
  const job = await ws.jobs.wait(startImport(ws, { source: fashionMnistSubset(join(dir, 'data'), 40) }).id);
  datasetId = job.result!.datasetId as number;
  await ws.jobs.wait(startInference(ws, { modelId: modelId, datasetId: datasetId }).id);
  ids = Array.from(
    ws.project.images.matchingIds({ datasetId, correctness: 'all', confidenceMin: 0, confidenceMax: 1, sort: 'id' }),
  );
});
afterAll(() => ws.shutdown());

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe('DXAI decomposition', () => {
  it('splits the image into parts that add up exactly, scores each, and sweeps beta', async () => {
    const imageId = ids[0]!;
    const result = await call('generative.decomposition', { modelId, imageId });
    const part = (role: string) => result.parts.find((p) => p.role === role)!;
    const [image, distinct, agnostic] = [part('image'), part('distinct'), part('agnostic')];
    expect(image.pixels).toHaveLength(784);
    const stored = ws.project.images.stored(imageId)!.pixels!;
    image.pixels.forEach((value, i) => expect(value).toBeCloseTo(stored[i]! / 255, 5));
    distinct.pixels.forEach((value, i) => expect(value + agnostic.pixels[i]!).toBeCloseTo(image.pixels[i]!, 5));
    expect(result.parts.filter((p) => p.role === 'branch')).toHaveLength(5);
    expect(result.parts.find((p) => p.branch === 0)!.side).toBe('distinct');
    for (const p of result.parts) expect(sum(p.probabilities)).toBeCloseTo(1, 4);
    // The distinct part is the classifier's predicted class unless asked otherwise.
    expect(result.target).toBe(result.predicted);
    expect(result.predicted).toBe(image.probabilities.indexOf(Math.max(...image.probabilities)));
    expect(result.beta.betas).toHaveLength(21);
    result.beta.probabilities[0]!.forEach((p, c) => expect(p).toBeCloseTo(image.probabilities[c]!, 4));
    result.beta.probabilities[20]!.forEach((p, c) => expect(p).toBeCloseTo(agnostic.probabilities[c]!, 4));
    expect(result.reconstructionError.mae).toBeGreaterThan(0);
    expect(result.reconstructionError.mae).toBeLessThan(0.3);
    expect(result.cached).toBe(false);
    expect((await call('generative.decomposition', { modelId, imageId })).cached).toBe(true);
    const other = await call('generative.decomposition', { modelId, imageId, target: (result.predicted + 1) % 10 });
    expect(other.target).toBe((result.predicted + 1) % 10);
    expect(other.parts[1]!.pixels).not.toEqual(distinct.pixels);
    await expect(call('generative.decomposition', { modelId, imageId, target: 10 })).rejects.toThrow(
      /Class 10 is not one of the bundle's 10 classes/,
    );
    await expect(call('generative.decomposition', { modelId, imageId: 999_999 })).rejects.toMatchObject({
      code: 'image_not_found',
    });
  });
});

describe('CAE counterfactual path', () => {
  it('walks to the nearest other class and marks the flip', async () => {
    const imageId = ids[1]!;
    const path = await call('generative.counterfactual', { modelId, imageId, steps: 8 });
    expect(path.images).toHaveLength(9);
    expect(path.alphas).toEqual([0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1]);
    expect(path.via).toBe('prototype');
    expect(path.target).not.toBe(path.predicted);
    for (const row of path.probabilities) expect(sum(row)).toBeCloseTo(1, 4);
    path.predictions.forEach((p, k) =>
      expect(p).toBe(path.probabilities[k]!.indexOf(Math.max(...path.probabilities[k]!))),
    );
    const firstChange = path.predictions.findIndex((p, k) => k > 0 && p !== path.predicted);
    expect(path.flipStep).toBe(firstChange < 0 ? null : firstChange);
    const shown = path.images[path.flipStep ?? 8]!;
    path.difference.forEach((d, i) => expect(d).toBeCloseTo(Math.abs(shown[i]! - path.original[i]!), 5));
    // The codes walk a straight line.
    const [first, last, middle] = [path.codes[0]!, path.codes[8]!, path.codes[4]!];
    middle.forEach((v, j) => expect(v).toBeCloseTo((first[j]! + last[j]!) / 2, 4));
  });

  it('walks to a chosen class or to a reference image', async () => {
    const imageId = ids[2]!;
    const toClass = await call('generative.counterfactual', { modelId, imageId, target: 8 });
    expect(toClass.target).toBe(8);
    expect(toClass.targetClass).toBe('Bag');
    const reference = ids[3]!;
    const toImage = await call('generative.counterfactual', {
      modelId,
      imageId,
      target: 8,
      referenceImageId: reference,
    });
    expect(toImage.via).toBe('reference');
    expect(toImage.referenceImageId).toBe(reference);
    expect(toImage.codes.at(-1)).not.toEqual(toClass.codes.at(-1));
  });
});

describe('InfoDisent components', () => {
  it('gives contributions that add up to the logit', async () => {
    const imageId = ids[4]!;
    const result = await call('generative.components', { modelId, imageId, top: 5 });
    expect(result.channels).toHaveLength(64);
    expect(result.mapShape).toEqual([7, 7]);
    expect(Math.abs(sum(result.channels.map((c) => c.contribution)) + result.bias - result.logit)).toBeLessThan(1e-4);
    expect(Math.abs(result.logit - result.logits[result.target]!)).toBeLessThan(1e-4);
    expect(result.target).toBe(result.predicted);
    const magnitudes = result.channels.map((c) => Math.abs(c.contribution));
    expect(magnitudes).toEqual([...magnitudes].sort((a, b) => b - a));
    for (const c of result.channels) expect(c.contribution).toBeCloseTo(c.weight * c.evidence, 5);
    expect(result.prototypeSource).toBe('bundle');
    expect(result.channels[0]!.prototypes).toHaveLength(8);
    expect(result.channels[0]!.prototypes[0]).toMatchObject({ imageId: null, size: 16 });
    expect(result.channels[0]!.prototypes[0]!.pixels).toHaveLength(256);
    expect(result.channels[5]!.prototypes).toHaveLength(0);
    for (let target = 0; target < 10; target++) {
      const other = await call('generative.components', { modelId, imageId, target, top: 1 });
      expect(
        Math.abs(sum(other.channels.map((c) => c.contribution)) + other.bias - other.logits[target]!),
      ).toBeLessThan(1e-4);
    }
  });
});

describe('dataset jobs', () => {
  it('indexes a dataset: class-code map with a path on it, prototypes from the project', async () => {
    await expect(call('generative.codeMap', { modelId, datasetId })).rejects.toMatchObject({ code: 'index_missing' });
    const { jobId } = await call('generative.index', { modelId, datasetId, projection: 'pca' });
    const job = await ws.jobs.wait(jobId);
    expect(job.status).toBe('done');
    expect(job.result).toMatchObject({ images: 40, prototypeChannels: 64, projection: 'pca' });
    const path = await call('generative.counterfactual', { modelId, imageId: ids[1]!, steps: 8 });
    const map = await call('generative.codeMap', { modelId, datasetId, codes: path.codes });
    expect(map.imageIds).toEqual(ids);
    expect(map.x).toHaveLength(40);
    expect(new Set(map.labels).size).toBeGreaterThan(5);
    expect(map.path).toHaveLength(9);
    // The path's first code is the image's own: it lands on the image's point.
    const at = map.imageIds.indexOf(ids[1]!);
    expect(map.path[0]!.x).toBeCloseTo(map.x[at]!, 2);
    expect(map.path[0]!.y).toBeCloseTo(map.y[at]!, 2);
    const components = await call('generative.components', { modelId, imageId: ids[4]!, top: 2 });
    expect(components.prototypeSource).toBe('project');
    const prototypes = components.channels[0]!.prototypes;
    expect(prototypes).toHaveLength(8);
    for (const p of prototypes) expect(ids).toContain(p.imageId);
    expect(prototypes.map((p) => p.value)).toEqual([...prototypes.map((p) => p.value)].sort((a, b) => b - a));
  });

  it('lays the codes out with UMAP too', async () => {
    const job = await ws.jobs.wait((await call('generative.index', { modelId, datasetId, projection: 'umap' })).jobId);
    expect(job.status).toBe('done');
    const map = await call('generative.codeMap', {
      modelId,
      datasetId,
      projection: 'umap',
      codes: [[0, 0, 0, 0, 0, 0, 0, 0]],
    });
    expect(map.projection).toBe('umap');
    expect(map.x.every(Number.isFinite)).toBe(true);
    expect(map.path).toHaveLength(1);
  });

  it('runs all three over a filtered selection as one job, reuses the cache, and offers the maps as grid overlays', async () => {
    const query = { datasetId, modelId, trueClass: 'Trouser' };
    const expected = ws.project.images.matchingIds({
      ...query,
      correctness: 'all',
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'id',
    }).length;
    expect(expected).toBeGreaterThan(0);
    const kinds = ['decomposition', 'counterfactual', 'components'] as const;
    const first = await ws.jobs.wait((await call('generative.selection', { modelId, kinds: [...kinds], query })).jobId);
    expect(first.status).toBe('done');
    expect(first.result).toMatchObject({ images: expected, computed: expected * 3, cached: 0 });
    const again = await ws.jobs.wait((await call('generative.selection', { modelId, kinds: [...kinds], query })).jobId);
    expect(again.result).toMatchObject({ computed: 0, cached: expected * 3 });
    const choices = await call('overlays.choices', { modelId });
    for (const kind of kinds) expect(choices.some((c) => c.source.kind === kind && c.count >= expected)).toBe(true);
    const selected = Array.from(
      ws.project.images.matchingIds({ ...query, correctness: 'all', confidenceMin: 0, confidenceMax: 1, sort: 'id' }),
    );
    const distinct = choices.find((c) => c.source.kind === 'decomposition')!;
    const maps = await call('overlays.maps', { modelId, source: distinct.source, imageIds: selected });
    expect(maps.map((m) => m.imageId)).toEqual(selected);
    expect(maps[0]).toMatchObject({ width: 28, height: 28 });
    const evidence = choices.find((c) => c.source.kind === 'components')!;
    expect(
      (await call('overlays.maps', { modelId, source: evidence.source, imageIds: selected.slice(0, 1) }))[0],
    ).toMatchObject({ width: 7, height: 7 });
  });

  it('cancels a selection job between batches and keeps what it finished', async () => {
    const query = { datasetId, modelId };
    const { jobId } = await call('generative.selection', { modelId, kinds: ['decomposition'], query, target: 3 });
    ws.jobs.cancel(jobId);
    const job = await ws.jobs.wait(jobId);
    expect(job.status).toBe('cancelled');
  });
});

describe('bundle problems reach the caller as clear errors', () => {
  async function modelIn(folder: string) {
    return (
      await addModel(ws, {
        path: join(folder, 'classifier.onnx'),
        manifestPath: join(folder, 'classifier.manifest.json'),
      })
    ).id;
  }

  it('names a missing file, a changed file, and a model without a bundle', async () => {
    const missing = join(dir, 'missing-dxai');
    cpSync(BUNDLE, missing, { recursive: true });
    rmSync(join(missing, 'dxai.onnx'));
    const brokenId = await modelIn(missing);
    await expect(call('generative.decomposition', { modelId: brokenId, imageId: ids[0]! })).rejects.toMatchObject({
      code: 'bundle_file_missing',
      message: expect.stringMatching(/lists dxai\.onnx but there is no such file/),
    });

    const changed = join(dir, 'changed-prototypes');
    cpSync(BUNDLE, changed, { recursive: true });
    appendFileSync(join(changed, 'cae-prototypes.json'), ' ');
    const changedId = await modelIn(changed);
    await expect(call('generative.counterfactual', { modelId: changedId, imageId: ids[0]! })).rejects.toMatchObject({
      code: 'bundle_hash_mismatch',
      message: expect.stringMatching(/cae-prototypes\.json has sha256/),
    });

    const alone = join(dir, 'alone');
    cpSync(join(BUNDLE, 'classifier.onnx'), join(alone, 'classifier.onnx'), { recursive: true });
    cpSync(join(BUNDLE, 'classifier.manifest.json'), join(alone, 'classifier.manifest.json'));
    const aloneId = await modelIn(alone);
    await expect(call('generative.components', { modelId: aloneId, imageId: ids[0]! })).rejects.toMatchObject({
      code: 'bundle_not_found',
      message: expect.stringMatching(/has no explainer bundle/),
    });
    // CAM overlays of such a model are still offered.
    expect(await call('overlays.choices', { modelId: aloneId })).toEqual([]);
    writeFileSync(join(alone, 'bundle.json'), '{ not json');
    await expect(call('generative.components', { modelId: aloneId, imageId: ids[0]! })).rejects.toMatchObject({
      code: 'bundle_invalid',
    });
  });
});
