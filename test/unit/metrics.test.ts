/**
 * Explanation-quality metrics on hand-made cases with known answers: deletion and insertion areas,
 * ROAD's linear imputation and its sign, Spearman's rho, and the cascading weight re-initialisation
 * of the sanity check on the demo classifier.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { CamEngine } from '../../src-main/explain/cam/engine.ts';
import { imputeLinear } from '../../src-main/explain/metrics/imputation.ts';
import {
  perturbationCurve,
  rankPixels,
  road,
  trapezoid,
  type ImageLayout,
} from '../../src-main/explain/metrics/perturbation.ts';
import { ranks, spearman } from '../../src-main/explain/metrics/sanity.ts';
import { OnnxModel, tensorValues } from '../../src-main/models/onnx/model.ts';
import { parameterLayers, randomiseTop } from '../../src-main/models/onnx/randomise.ts';
import { readIdx } from '../../src-main/datasets/read/idx.ts';
import { writeNormalised } from '../../src-main/inference/runtime/tensor.ts';
import { parseManifest } from '../../src-main/models/manifest.ts';

const line: ImageLayout = { channels: 1, height: 1, width: 4, layout: 'NCHW' };
/** Score: the mean of pixels 0 and 1, per image of the batch. */
const firstTwo = async (batch: Float32Array, count: number) =>
  Float64Array.from({ length: count }, (_, i) => (batch[i * 4]! + batch[i * 4 + 1]!) / 2);

describe('deletion and insertion', () => {
  it('ranks pixels by saliency, ties by position', () => {
    expect(Array.from(rankPixels([0.1, 0.5, 0.5, 0.9]))).toEqual([3, 1, 2, 0]);
    expect(trapezoid([0, 0.5, 1], [1, 1, 0])).toBeCloseTo(0.75, 12);
  });

  it('gives the exact areas of a toy model: a good map deletes fast and inserts fast', async () => {
    const image = new Float32Array([1, 1, 1, 1]);
    const black = new Float32Array(4);
    const good = [4, 3, 2, 1];
    const bad = [1, 2, 3, 4];
    const deletionGood = await perturbationCurve('deletion', image, black, good, line, 4, firstTwo);
    expect(deletionGood.y).toEqual([1, 0.5, 0, 0, 0]);
    expect(deletionGood.auc).toBeCloseTo(0.25, 12);
    expect((await perturbationCurve('deletion', image, black, bad, line, 4, firstTwo)).auc).toBeCloseTo(0.75, 12);
    const insertionGood = await perturbationCurve('insertion', image, black, good, line, 4, firstTwo, 2); // batches of 2
    expect(insertionGood.y).toEqual([0, 0.5, 1, 1, 1]);
    expect(insertionGood.auc).toBeCloseTo(0.75, 12);
    expect((await perturbationCurve('insertion', image, black, bad, line, 4, firstTwo)).auc).toBeCloseTo(0.25, 12);
  });
});

describe('ROAD', () => {
  const square: ImageLayout = { channels: 1, height: 9, width: 9, layout: 'NCHW' };

  it('imputes a plane exactly inside the image (noise off)', () => {
    const plane = Float32Array.from({ length: 81 }, (_, p) => 0.3 * Math.floor(p / 9) - 0.2 * (p % 9) + 1);
    const removed = new Uint8Array(81);
    for (const p of [30, 31, 32, 39, 40, 41, 48, 49, 50]) removed[p] = 1;
    const damaged = Float32Array.from(plane, (v, p) => (removed[p] ? 99 : v));
    const filled = imputeLinear(damaged, removed, square, { noise: 0, seed: 1 });
    for (let p = 0; p < 81; p++) expect(filled[p]!).toBeCloseTo(plane[p]!, 5);
    const noisy = imputeLinear(damaged, removed, square, { noise: 0.01, seed: 1 });
    expect(Math.max(...Array.from(noisy, (v, p) => Math.abs(v - plane[p]!)))).toBeGreaterThan(0);
    expect(Math.max(...Array.from(noisy, (v, p) => Math.abs(v - plane[p]!)))).toBeLessThan(0.06);
  });

  it('spreads a single kept pixel over everything else, and fills an image with nothing kept with zeros', () => {
    const values = Float32Array.from({ length: 81 }, (_, p) => (p === 0 ? 8 : 1));
    const removed = new Uint8Array(81).fill(1);
    removed[0] = 0;
    const filled = imputeLinear(values, removed, square, { noise: 0, seed: 1 });
    for (let p = 1; p < 81; p++) expect(filled[p]!).toBeCloseTo(8, 5);
    const empty = imputeLinear(values, new Uint8Array(81).fill(1), square, { noise: 0, seed: 1 });
    expect(Array.from(empty).every((v) => v === 0)).toBe(true);
  });

  it('scores a map that points at the evidence positive, and its reverse negative', async () => {
    // The class score is the mean of the left three columns, which are bright; the rest is dark.
    const image = Float32Array.from({ length: 81 }, (_, p) => (p % 9 < 3 ? 1 : 0));
    const score = async (batch: Float32Array, count: number) =>
      Float64Array.from({ length: count }, (_, i) => {
        let sum = 0;
        for (let p = 0; p < 81; p++) if (p % 9 < 3) sum += batch[i * 81 + p]!;
        return sum / 27;
      });
    const good = Array.from({ length: 81 }, (_, p) => (p % 9 < 3 ? 1 : 0) + 0.01 * (p % 7));
    const reverse = good.map((v) => -v);
    const right = await road(image, good, square, score, { noise: 0 });
    const wrong = await road(image, reverse, square, score, { noise: 0 });
    expect(right.original).toBeCloseTo(1, 12);
    expect(right.combined).toBeGreaterThan(0.1);
    expect(wrong.combined).toBeLessThan(-0.1);
    expect(right.lerf[0]).toBeCloseTo(1, 6); // the least relevant 10% are dark pixels away from the evidence
    expect(right.morf.at(-1)!).toBeLessThan(0.5);
  });
});

describe('model-randomisation sanity check', () => {
  it('computes Spearman with tied ranks', () => {
    expect(Array.from(ranks([1, 1, 2]))).toEqual([1.5, 1.5, 3]);
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 41])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1, 2, 3], [5, 5, 5])).toBe(0);
  });

  it('re-initialises parameter layers from the top down, and Grad-CAM notices', async () => {
    const dir = 'resources/models/fashion-mnist-cnn';
    const model = OnnxModel.read(readFileSync(`${dir}/classifier.onnx`));
    const layers = parameterLayers(model);
    expect(layers.map((l) => l.op)).toEqual(['Conv', 'Conv', 'Conv', 'Gemm', 'Gemm']);
    const top = randomiseTop(model, 1);
    const changed = (a: OnnxModel, b: OnnxModel, name: string) => {
      const x = tensorValues(a.initializer(name)!);
      const y = tensorValues(b.initializer(name)!);
      return x.some((v, i) => v !== y[i]);
    };
    for (const name of layers[4]!.initializers) expect(changed(model, top, name)).toBe(true);
    for (const name of layers[0]!.initializers) expect(changed(model, top, name)).toBe(false);

    const manifest = parseManifest(JSON.parse(readFileSync(`${dir}/classifier.manifest.json`, 'utf8')), 'manifest');
    const images = readIdx('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz');
    const input = new Float32Array(784);
    writeNormalised(images.data.subarray(0, 784), manifest, input, 0);
    const mapOf = async (m: OnnxModel) => {
      const engine = await CamEngine.create(m.encode(), { dims: [1, 28, 28], layout: 'NCHW' }, (bytes) =>
        ort.InferenceSession.create(bytes),
      );
      const [result] = await engine.explain(input, 1, {
        method: 'gradcam',
        layer: '/features/features.6/Relu_output_0',
        targets: [9],
      });
      await engine.release();
      return result!;
    };
    const original = await mapOf(model);
    expect(spearman(original.map, (await mapOf(model)).map)).toBeCloseTo(1, 12);
    const destroyed = await mapOf(randomiseTop(model, layers.length));
    expect(Array.from(destroyed.logits)).not.toEqual(Array.from(original.logits));
    expect(Math.abs(spearman(original.map, destroyed.map))).toBeLessThan(0.9);
  });
});
