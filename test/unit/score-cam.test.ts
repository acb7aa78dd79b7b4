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

  it('masks as written out plainly, in either layout, into a reused buffer as into a fresh one', () => {
    const [height, width] = [9, 11];
    const pixels = height * width;
    const a = featureMaps(6, 3, 4, new Set([2]));
    const nchw = Float32Array.from({ length: 3 * pixels }, (_, i) => Math.cos(i * 0.61));
    const nhwc = new Float32Array(3 * pixels);
    for (let c = 0; c < 3; c++) for (let p = 0; p < pixels; p++) nhwc[p * 3 + c] = nchw[c * pixels + p]!;
    const picked = [0, 2, 5, 3];
    const shape = { channels: 3, height, width, nchw: true };
    const planar = maskedByChannels(nchw, a, shape, picked);
    const buffer = new Float32Array(8 * 3 * pixels).fill(7);
    const interleaved = maskedByChannels(nhwc, a, { ...shape, nchw: false }, picked, buffer);
    expect(interleaved.buffer).toBe(buffer.buffer);
    for (const [b, k] of picked.entries()) {
      // The channel upsampled with aligned corners, min-max normalised over the image, times each pixel.
      const up = (y: number, x: number) => {
        const [fy, fx] = [(y * 2) / (height - 1), (x * 3) / (width - 1)];
        const [y0, x0] = [Math.floor(fy), Math.floor(fx)];
        const [y1, x1] = [Math.min(y0 + 1, 2), Math.min(x0 + 1, 3)];
        const at = (yy: number, xx: number) => a.values[k * 12 + yy * 4 + xx]!;
        const top = at(y0, x0) * (1 - (fx - x0)) + at(y0, x1) * (fx - x0);
        const bottom = at(y1, x0) * (1 - (fx - x0)) + at(y1, x1) * (fx - x0);
        return top * (1 - (fy - y0)) + bottom * (fy - y0);
      };
      const mask = Array.from({ length: pixels }, (_, p) => up(Math.floor(p / width), p % width));
      const [low, high] = [Math.min(...mask), Math.max(...mask)];
      for (let c = 0; c < 3; c++)
        for (let p = 0; p < pixels; p++) {
          const expected = nchw[c * pixels + p]! * ((mask[p]! - low) / (high - low + 1e-8));
          expect(planar[b * 3 * pixels + c * pixels + p]).toBeCloseTo(expected, 5);
          expect(interleaved[b * 3 * pixels + p * 3 + c]).toBe(planar[b * 3 * pixels + c * pixels + p]);
        }
    }
  });

  it('runs no zero-image pass when no channel is all zero', async () => {
    const { fake, seen } = source('NCHW', [1, 6, 6]);
    const a = { channels: 10, height: 2, width: 2, values: Float32Array.from({ length: 40 }, (_, i) => (i % 3) * 0.5) };
    await scoreCamWeights(fake, new Float32Array(36).fill(0.5), 0, a, 0);
    expect(seen).toEqual([10]);
  });
});
