/**
 * The arithmetic under the generative views, on hand-made numbers: the DXAI parts and beta sweep,
 * the CAE path search (nearest prototype, the straight line, the flip step), and the InfoDisent
 * contributions read from a real ONNX head (they must add up to the logit within 1e-4).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  absoluteDifference,
  flipStep,
  interpolate,
  nearestPrototype,
} from '../../src-main/explain/counterfactual/path.ts';
import { betaImages, normalisedArea, splitBranches } from '../../src-main/explain/dxai/decompose.ts';
import { contributions, linearHead, patchOrigin, rankChannels } from '../../src-main/explain/infodisent/components.ts';
import { normalise } from '../../src-main/explain/generative/engine.ts';
import { ROOT } from '../support/host.ts';

describe('DXAI parts', () => {
  it('takes the distinct branches as distinct and image - distinct as agnostic', () => {
    const image = Float32Array.from([1, 0.5]);
    // three branches of two pixels: branch 0 distinct, 1-2 agnostic
    const branches = Float32Array.from([0.25, -0.5, 0.5, 0.5, 0.125, 0.25]);
    const parts = splitBranches(image, branches, { distinct: [0], agnostic: [1, 2] }, 2);
    expect(Array.from(parts.distinct)).toEqual([0.25, -0.5]);
    expect(Array.from(parts.agnostic)).toEqual([0.75, 1]);
    expect(Array.from(parts.reconstruction)).toEqual([0.875, 0.25]);
    expect(parts.error.mae).toBeCloseTo((0.125 + 0.25) / 2, 10);
    expect(parts.error.max).toBeCloseTo(0.25, 10);
    expect(() => splitBranches(image, branches.subarray(0, 4), { distinct: [0], agnostic: [1, 2] }, 2)).toThrow(
      /expected 3 branches of 2 values/,
    );
  });

  it('subtracts beta x distinct and normalises the area by the value at beta 0', () => {
    const out = betaImages(Float32Array.from([1, 1]), Float32Array.from([0.5, -1]), [0, 0.5, 1]);
    expect(Array.from(out)).toEqual([1, 1, 0.75, 1.5, 0.5, 2]);
    expect(normalisedArea([0, 0.5, 1], [0.8, 0.6, 0.4])).toBeCloseTo(0.6 / 0.8, 10);
    expect(normalisedArea([0, 1], [0, 0])).toBe(0);
  });
});

describe('CAE path search', () => {
  // 3 classes x 2 prototypes in 2-D
  const prototypes = {
    codes: Float32Array.from([0, 0, 1, 0, 5, 5, 6, 5, -3, 0, -4, 0]),
    classes: 3,
    perClass: 2,
    dim: 2,
  };

  it('finds the nearest prototype among the allowed classes', () => {
    expect(nearestPrototype([0.9, 0], prototypes, () => true)).toMatchObject({
      cls: 0,
      code: Float32Array.from([1, 0]),
    });
    const other = nearestPrototype([0.9, 0], prototypes, (cls) => cls !== 0);
    expect(other.cls).toBe(2); // (-3,0) is 3.9 away, (5,5) is 6.4
    expect(other.distance).toBeCloseTo(3.9, 6);
    expect(nearestPrototype([0.9, 0], prototypes, (cls) => cls === 1).code).toEqual(Float32Array.from([5, 5]));
    expect(() => nearestPrototype([0, 0], prototypes, () => false)).toThrow(/no class is allowed/);
  });

  it('walks a straight line including both ends', () => {
    const line = interpolate([0, 2], [4, 0], 4);
    expect(Array.from(line)).toEqual([0, 2, 1, 1.5, 2, 1, 3, 0.5, 4, 0]);
  });

  it('flips at the first step after the start whose prediction differs from the original', () => {
    expect(flipStep([3, 3, 3, 5, 3, 5], 3)).toBe(3);
    expect(flipStep([3, 3, 3], 3)).toBeNull();
    // step 0 is the reconstruction; it does not count even when the classifier disagrees there
    expect(flipStep([4, 3, 4], 3)).toBe(2);
    expect(flipStep([3, 7], 3)).toBe(1);
  });

  it('takes the absolute difference per pixel', () => {
    expect(Array.from(absoluteDifference([1, 0.25, 0], [0.5, 0.75, 0]))).toEqual([0.5, 0.5, 0]);
  });
});

describe('InfoDisent contributions', () => {
  const path = join(ROOT, 'resources/models/fashion-mnist-cnn/infodisent.onnx');

  it('reads W and b from the head and adds the shares up to the logit the model computes', async () => {
    const head = linearHead(readFileSync(path), path);
    expect(head).toMatchObject({ classes: 10, channels: 64 });
    const session = await ort.InferenceSession.create(path);
    const pixels = new Float32Array(3 * 784).map((_, i) => ((i * 7919) % 256) / 255);
    const input = normalise(pixels, { shape: [1, 28, 28], preprocessing: { scale: 255, mean: [0.286], std: [0.353] } });
    const out = await session.run({ input: new ort.Tensor('float32', input, [3, 1, 28, 28]) });
    const logits = out.logits!.data as Float32Array;
    const evidence = out.evidence!.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < 3; i++) {
      for (let c = 0; c < 10; c++) {
        const shares = contributions(head, evidence.subarray(i * 64, (i + 1) * 64), c);
        const total = shares.contributions.reduce((a, b) => a + b, 0) + shares.bias;
        expect(Math.abs(total - shares.logit)).toBeLessThan(1e-9);
        worst = Math.max(worst, Math.abs(shares.logit - logits[i * 10 + c]!));
      }
    }
    expect(worst).toBeLessThan(1e-4);
    await session.release();
  });

  it('refuses a graph whose logits do not come from a linear layer over the evidence', () => {
    const classifier = join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx');
    expect(() => linearHead(readFileSync(classifier), classifier)).toThrow(
      /no node produces "logits"|expected Gemm|reads/,
    );
  });

  it('ranks channels by magnitude and places patches as the toolkit does', () => {
    expect(rankChannels([0.5, -2, 1, 0])).toEqual([1, 2, 0, 3]);
    expect(patchOrigin(0, 0, [7, 7], [28, 28], 16)).toEqual({ y: 0, x: 0 });
    expect(patchOrigin(3, 6, [7, 7], [28, 28], 16)).toEqual({ y: 6, x: 12 });
  });
});
