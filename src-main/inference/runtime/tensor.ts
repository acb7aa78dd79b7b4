/**
 * A batch's tensor from images already sized for the model: its length, the manifest's normalisation
 * into NCHW or NHWC, and the softmax of logits. No decoding here (preprocess.ts decodes, in workers).
 */
import type { Manifest } from '../../../src-shared/contract.ts';

export function tensorSize(manifest: Manifest): number {
  return manifest.input.channels * manifest.input.height * manifest.input.width;
}

/** Writes one image's normalised values into `batch` at position `index`. */
export function writeNormalised(pixels: Uint8Array, manifest: Manifest, batch: Float32Array, index: number): void {
  const { width, height, channels, layout } = manifest.input;
  const { scale, mean, std, channelOrder } = manifest.preprocessing;
  const plane = width * height;
  const base = index * plane * channels;
  for (let c = 0; c < channels; c++) {
    // Input channel c reads colour channel c of the RGB pixels, or 2 - c for BGR models; mean and std are
    // given in the input's order.
    const from = channelOrder === 'bgr' && channels === 3 ? 2 - c : c;
    const m = mean[Math.min(c, mean.length - 1)]!;
    const s = std[Math.min(c, std.length - 1)]!;
    const a = 1 / (scale * s);
    const b = -m / s;
    for (let p = 0; p < plane; p++) {
      const value = pixels[p * channels + from]! * a + b;
      batch[layout === 'NCHW' ? base + c * plane + p : base + p * channels + c] = value;
    }
  }
}

export function softmax(logits: Float32Array, offset: number, count: number, out: Float32Array): void {
  let max = -Infinity;
  for (let i = 0; i < count; i++) max = Math.max(max, logits[offset + i]!);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const e = Math.exp(logits[offset + i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < count; i++) out[i]! /= sum;
}
