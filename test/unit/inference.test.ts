import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPredictions } from '../../src-main/inference/inference-job.ts';
import { writeNormalised } from '../../src-main/inference/runtime/tensor.ts';
import { parseManifest } from '../../src-main/models/manifest.ts';
import { Workstation } from '../../src-main/workstation.ts';
import type { Manifest } from '../../src-shared/contract.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { addModel } from '../../src-main/models/service.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { startInference } from '../../src-main/inference/service.ts';

const DEMO_MODEL = join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx');
const DEMO_MANIFEST = JSON.parse(
  readFileSync(join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.manifest.json'), 'utf8'),
);
const FIXTURE = join(ROOT, 'test/fixtures/models/rgb-nhwc.onnx');

let workstation: Workstation;
let dir: string;
beforeAll(async () => {
  dir = tempDir();
  workstation = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  await workstation.createProject(join(dir, 'infer.xaiws'));
});
afterAll(() => workstation.shutdown());

function manifestFile(patch: (manifest: Record<string, any>) => void): string {
  const manifest = structuredClone(DEMO_MANIFEST);
  patch(manifest);
  const path = join(tempDir(), 'manifest.json');
  writeFileSync(path, JSON.stringify(manifest));
  return path;
}

describe('manifest validation', () => {
  it('names the wrong field and the value it got', () => {
    expect(() => parseManifest({ ...DEMO_MANIFEST, input: { ...DEMO_MANIFEST.input, channels: 2 } }, 'm.json')).toThrow(
      /field "input.channels" is wrong.*got 2/,
    );
    expect(() => parseManifest({ ...DEMO_MANIFEST, classes: ['only-one'] }, 'm.json')).toThrow(
      /field "classes" is wrong/,
    );
    const { format: _format, ...withoutFormat } = DEMO_MANIFEST;
    expect(() => parseManifest(withoutFormat, 'm.json')).toThrow(/field "format" is wrong.*missing/);
    expect(() => parseManifest({ ...DEMO_MANIFEST, preprocessing: { mean: [0.1, 0.2], std: [1] } }, 'm.json')).toThrow(
      /preprocessing.mean has 2 values for 1 input channel/,
    );
    expect(() => parseManifest({ ...DEMO_MANIFEST, layers: { tokens: { skip: 2, grid: [0, 6] } } }, 'm.json')).toThrow(
      /field "layers.tokens.grid.0" is wrong.*got 0/,
    );
    expect(() => parseManifest({ ...DEMO_MANIFEST, layers: { token: { skip: 1 } } }, 'm.json')).toThrow(
      /field "layers" is wrong.*token/,
    );
    const given = parseManifest({ ...DEMO_MANIFEST, layers: { tokens: { skip: 2, grid: [14, 20] } } }, 'm.json');
    expect(given.layers).toEqual({ tokens: { skip: 2, grid: [14, 20] } });
  });
});

describe('model registration', () => {
  it('registers the demo classifier and checks its shapes', async () => {
    const model = await addModel(workstation, { path: DEMO_MODEL });
    expect(model).toMatchObject({ name: 'Fashion-MNIST demo CNN', manifest: { classes: DEMO_MANIFEST.classes } });
    expect(model.fileHash).toMatch(/^[0-9a-f]{64}$/);
    const again = await addModel(workstation, { path: DEMO_MODEL });
    expect(again.id).toBe(model.id);
  });

  it('refuses a manifest whose input shape does not match the model, naming both shapes', async () => {
    const manifest = manifestFile((m) => (m.input.channels = 3));
    await expect(addModel(workstation, { path: DEMO_MODEL, manifestPath: manifest })).rejects.toMatchObject({
      code: 'model_shape_mismatch',
      message: expect.stringMatching(/shape \[-1, 1, 28, 28\].*\[N, 3, 28, 28\]/),
    });
  });

  it('refuses a manifest with the wrong number of classes', async () => {
    const manifest = manifestFile((m) => m.classes.push('Hat'));
    await expect(addModel(workstation, { path: DEMO_MODEL, manifestPath: manifest })).rejects.toMatchObject({
      code: 'model_shape_mismatch',
      message: expect.stringMatching(/11 classes/),
    });
  });

  it('refuses a file that is not an ONNX model', async () => {
    const folder = tempDir();
    writeFileSync(join(folder, 'broken.onnx'), 'not a protobuf');
    copyFileSync(
      join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.manifest.json'),
      join(folder, 'broken.manifest.json'),
    );
    await expect(addModel(workstation, { path: join(folder, 'broken.onnx') })).rejects.toMatchObject({
      code: 'model_invalid',
    });
    await expect(addModel(workstation, { path: join(folder, 'absent.onnx') })).rejects.toMatchObject({
      code: 'model_not_found',
    });
  });
});

describe('inference', () => {
  it('classifies the Fashion-MNIST test set with the accuracy PyTorch measured at training', async () => {
    const model = workstation.project.models.list().find((m) => m.name === 'Fashion-MNIST demo CNN')!;
    const importJob = startImport(workstation, { source: join(ROOT, 'resources/datasets/fashion-mnist') });
    const datasetId = (await workstation.jobs.wait(importJob.id)).result!.datasetId as number;
    const job = await workstation.jobs.wait(
      startInference(workstation, { modelId: model.id, datasetId: datasetId }).id,
    );
    expect(job.status).toBe('done');
    expect(job.result).toMatchObject({ images: 10_000, provider: 'cpu' });
    expect(job.result!.accuracy).toBeCloseTo(DEMO_MANIFEST.training.testAccuracy, 3);
    const confusion = workstation.project.predictions.confusion(
      model.id,
      datasetId,
      model.manifest.classes,
      workstation.project.datasets.classes(datasetId),
    );
    expect(confusion.total).toBe(10_000);
    expect(confusion.matrix.flat().reduce((a, b) => a + b, 0)).toBe(10_000);
  });

  it('runs any classifier its manifest describes: RGB, NHWC, probabilities, resized input', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'colours'));
    const colours: Array<[string, number[]]> = [
      ['red', [220, 30, 40]],
      ['green', [20, 200, 60]],
      ['blue', [30, 40, 210]],
    ];
    for (const [name, rgb] of colours) {
      await sharp({
        create: { width: 32, height: 32, channels: 3, background: { r: rgb[0]!, g: rgb[1]!, b: rgb[2]! } },
      })
        .png()
        .toFile(join(root, 'colours', `${name}.png`));
    }
    await sharp({ create: { width: 50, height: 20, channels: 3, background: { r: 220, g: 30, b: 40 } } })
      .jpeg({ quality: 100 })
      .toFile(join(root, 'colours', 'wide-red.jpg'));
    const model = await addModel(workstation, { path: FIXTURE });
    const datasetId = (await workstation.jobs.wait(startImport(workstation, { source: root }).id)).result!
      .datasetId as number;
    const job = await workstation.jobs.wait(
      startInference(workstation, { modelId: model.id, datasetId: datasetId, batchSize: 2 }).id,
    );
    expect(job.status).toBe('done');
    const { weights, bias } = model.manifest.training as { weights: number[][]; bias: number[] };
    const { mean, std } = model.manifest.preprocessing;
    const rows = workstation.project.db
      .prepare(
        'SELECT i.source, p.probabilities FROM predictions p JOIN images i ON i.id = p.image_id WHERE p.model_id = ?',
      )
      .all(model.id) as Array<{ source: string; probabilities: Buffer }>;
    expect(rows).toHaveLength(4);
    const argmax = (blob: Buffer) => {
      const p = new Float32Array(new Uint8Array(blob).buffer);
      return p.indexOf(Math.max(...p));
    };
    // The 50x20 JPEG is resized to 32x32 and still reads as the red class.
    expect(argmax(rows.find((r) => r.source.includes('wide'))!.probabilities)).toBe(
      argmax(rows.find((r) => r.source.endsWith('red.png'))!.probabilities),
    );
    for (const row of rows.filter((r) => !r.source.includes('wide'))) {
      const rgb = colours.find(([name]) => row.source.endsWith(`${name}.png`))![1];
      const v = rgb.map((value, c) => (value / 255 - mean[c]!) / std[c]!);
      const logits = weights.map((w, k) => w[0]! * v[0]! + w[1]! * v[1]! + w[2]! * v[2]! + bias[k]!);
      const max = Math.max(...logits);
      const exp = logits.map((l) => Math.exp(l - max));
      const expected = exp.map((e) => e / exp.reduce((a, b) => a + b, 0));
      const actual = Array.from(new Float32Array(new Uint8Array(row.probabilities).buffer));
      actual.forEach((p, k) => expect(p).toBeCloseTo(expected[k]!, 4));
    }
  });

  it('can be cancelled between batches, keeping the batches already stored', async () => {
    const model = workstation.project.models.list().find((m) => m.name === 'Fashion-MNIST demo CNN')!;
    const datasetId = workstation.project.datasets.list().find((d) => d.kind === 'idx')!.id;
    workstation.project.db.prepare('DELETE FROM predictions WHERE model_id = ?').run(model.id);
    const job = startInference(workstation, { modelId: model.id, datasetId: datasetId, batchSize: 64 });
    const off = workstation.onEvent((event, payload) => {
      if (event === 'job.updated' && payload && 'done' in payload && payload.id === job.id && payload.done >= 512)
        workstation.jobs.cancel(job.id);
    });
    const final = await workstation.jobs.wait(job.id);
    off();
    expect(final.status).toBe('cancelled');
    const stored = workstation.project.predictions.count(model.id, datasetId);
    expect(stored).toBeGreaterThanOrEqual(512);
    expect(stored).toBeLessThan(10_000);
  });
});

describe('preprocessing and outputs', () => {
  const manifest = (layout: 'NCHW' | 'NHWC'): Manifest =>
    parseManifest(
      {
        format: 'xaiws.classifier/1',
        name: 'm',
        input: { layout, channels: 3, height: 1, width: 2 },
        output: {},
        preprocessing: { scale: 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 0.5] },
        classes: ['a', 'b'],
      },
      'test',
    );

  it('normalises per channel and writes NCHW or NHWC order', () => {
    const pixels = new Uint8Array([255, 0, 51, 0, 255, 102]);
    const nchw = new Float32Array(6);
    writeNormalised(pixels, manifest('NCHW'), nchw, 0);
    expect(Array.from(nchw).map((v) => +v.toFixed(3))).toEqual([1, -1, -2, 2, -0.6, -0.2]);
    const nhwc = new Float32Array(6);
    writeNormalised(pixels, manifest('NHWC'), nhwc, 0);
    expect(Array.from(nhwc).map((v) => +v.toFixed(3))).toEqual([1, -2, -0.6, -1, 2, -0.2]);
  });

  it('turns logits into probabilities that sum to 1 and picks the arg-max', () => {
    const [first, second] = toPredictions([7, 8], new Float32Array([1, 3, 0, 2, 0, -1]), 3, 'logits');
    expect(first).toMatchObject({ imageId: 7, predictedIndex: 1 });
    expect(second).toMatchObject({ imageId: 8, predictedIndex: 0 });
    for (const prediction of [first!, second!])
      expect(prediction.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(first!.confidence).toBeCloseTo(Math.exp(3) / (Math.exp(1) + Math.exp(3) + 1), 6);
  });
});
