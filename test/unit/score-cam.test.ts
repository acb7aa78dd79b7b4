/**
 * Score-CAM's channel scores: channels that are zero everywhere share one pass of a zero image, and the
 * weights are those of one masked pass per channel (the library's way), with fewer passes. The maps
 * against pytorch-grad-cam itself are in cam-library.test.ts and cam-families.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { maskedByChannels, scoreCamWeights } from '../../src-main/explain/cam/perturb.ts';
import { softmax64, type FeatureMaps } from '../../src-main/explain/cam/maps.ts';
import type { PixelSource } from '../../src-main/explain/cam/types.ts';

const CLASSES = 3;

/** A classifier stand-in: class c scores a fixed nonlinear function of the input; it counts the inputs it sees. */
function source(layout: 'NCHW' | 'NHWC', dims: number[]) {
  const size = dims.reduce((x, y) => x * y, 1);
  const seen: number[] = [];
  const fake = {
    input: { dims, layout },
    classes: CLASSES,
    outputKind: 'logits',
    async logits(data: Float32Array, count: number) {
      seen.push(count);
      const out = new Float32Array(count * CLASSES);
      for (let b = 0; b < count; b++)
        for (let i = 0; i < size; i++) {
          const x = data[b * size + i]!;
          out[b * CLASSES + (i % CLASSES)]! += Math.tanh(x * ((i % 7) - 3)) + 0.1;
        }
      return out;
    },
  } as unknown as PixelSource;
  return { fake, seen };
}

function featureMaps(channels: number, height: number, width: number, zero: Set<number>): FeatureMaps {
  const values = new Float32Array(channels * height * width);
  for (let k = 0; k < channels; k++) {
    if (zero.has(k)) continue;
    for (let p = 0; p < height * width; p++) values[k * height * width + p] = Math.max(0, Math.sin(k * 13 + p * 0.7));
  }
  return { channels, height, width, values };
}

describe('Score-CAM channel scores', () => {
  for (const layout of ['NCHW', 'NHWC'] as const) {
    it(`scores all-zero channels with one zero-image pass and the rest as one pass each (${layout})`, async () => {
      const dims = layout === 'NCHW' ? [3, 12, 10] : [12, 10, 3];
      const zero = new Set([0, 5, 6, 70, 129]);
      const a = featureMaps(130, 3, 4, zero);
      const image = Float32Array.from({ length: 2 * 360 }, (_, i) => Math.cos(i * 0.37));
      const { fake, seen } = source(layout, dims);
      const weights = await scoreCamWeights(fake, image, 1, a, 2);
      // one zero image, then the 125 other channels in batches of at most 64
      expect(seen).toEqual([1, 64, 61]);

      // The library's way: every channel's own masked image, one at a time.
      const { fake: plain } = source(layout, dims);
      const shape = { channels: 3, height: 12, width: 10, nchw: layout === 'NCHW' };
      const scores = new Float64Array(a.channels);
      for (let k = 0; k < a.channels; k++) {
        const masked = maskedByChannels(image.subarray(360), a, shape, [k]);
        if (zero.has(k)) expect(masked.every((v) => v === 0)).toBe(true);
        scores[k] = (await plain.logits(masked, 1))[2]!;
      }
      const expected = softmax64(scores);
      for (let k = 0; k < a.channels; k++) expect(weights[k]).toBeCloseTo(expected[k]!, 12);
    });
  }

  it('runs no zero-image pass when no channel is all zero', async () => {
    const { fake, seen } = source('NCHW', [1, 6, 6]);
    const a = { channels: 10, height: 2, width: 2, values: Float32Array.from({ length: 40 }, (_, i) => (i % 3) * 0.5) };
    await scoreCamWeights(fake, new Float32Array(36).fill(0.5), 0, a, 0);
    expect(seen).toEqual([10]);
  });
});
