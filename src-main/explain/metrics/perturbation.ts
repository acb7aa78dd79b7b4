/**
 * Perturbation metrics of a saliency map (../shared/METHODS.md, "Metrics of explanation quality"):
 * deletion and insertion curves with their areas (trapezoidal rule over the fraction of pixels), and
 * ROAD: the most (MoRF) or least (LeRF) relevant p% of pixels removed and filled by noisy linear
 * imputation, the class probability after each; combined = mean over p of (LeRF change - MoRF change) / 2.
 * The model is a callback that scores a batch of inputs, so the arithmetic is testable on its own.
 */
import { pixelsAtStep, rankPixels } from '../../../src-shared/saliency.ts';
import { imputeLinear } from './imputation.ts';

export { rankPixels };

/** Scores the class of interest for `count` inputs laid out back to back. */
export type Scorer = (batch: Float32Array, count: number) => Promise<Float64Array>;

export interface ImageLayout {
  channels: number;
  height: number;
  width: number;
  layout: 'NCHW' | 'NHWC';
}

export interface Curve {
  /** Fraction of pixels removed (deletion) or revealed (insertion), 0..1. */
  x: number[];
  /** Class score after each step. */
  y: number[];
  auc: number;
}

export function trapezoid(x: number[], y: number[]): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2;
  return area;
}

function setPixel(target: Float32Array, source: Float32Array, pixel: number, image: ImageLayout): void {
  const plane = image.height * image.width;
  for (let c = 0; c < image.channels; c++) {
    const at = image.layout === 'NCHW' ? c * plane + pixel : pixel * image.channels + c;
    target[at] = source[at]!;
  }
}

/**
 * Deletion (from the image towards `baseline`) or insertion (from `baseline` towards the image) in
 * `steps` equal steps of the ranked pixels; `steps + 1` scores, batched.
 */
export async function perturbationCurve(
  kind: 'deletion' | 'insertion',
  input: Float32Array,
  baseline: Float32Array,
  saliency: ArrayLike<number>,
  image: ImageLayout,
  steps: number,
  score: Scorer,
  batchSize = 64,
): Promise<Curve> {
  const order = rankPixels(saliency);
  const pixels = order.length;
  const size = input.length;
  const [from, to] = kind === 'deletion' ? [input, baseline] : [baseline, input];
  const x: number[] = [];
  const y: number[] = [];
  const current = Float32Array.from(from);
  let changed = 0;
  for (let start = 0; start <= steps; start += batchSize) {
    const count = Math.min(batchSize, steps + 1 - start);
    const batch = new Float32Array(count * size);
    for (let b = 0; b < count; b++) {
      const step = start + b;
      const target = pixelsAtStep(step, steps, pixels);
      while (changed < target) setPixel(current, to, order[changed++]!, image);
      batch.set(current, b * size);
      x.push(step / steps);
    }
    y.push(...(await score(batch, count)));
  }
  return { x, y, auc: trapezoid(x, y) };
}

export const ROAD_PERCENTILES = [10, 20, 30, 40, 50, 60, 70, 80, 90];

export interface RoadResult {
  percentiles: number[];
  original: number;
  /** Class score with the most relevant p% imputed, per percentile. */
  morf: number[];
  /** Class score with the least relevant p% imputed, per percentile. */
  lerf: number[];
  /** Mean over p of ((lerf - original) - (morf - original)) / 2: higher is better. */
  combined: number;
}

export async function road(
  input: Float32Array,
  saliency: ArrayLike<number>,
  image: ImageLayout,
  score: Scorer,
  options: { percentiles?: number[]; noise?: number; seed?: number } = {},
): Promise<RoadResult> {
  const percentiles = options.percentiles ?? ROAD_PERCENTILES;
  const order = rankPixels(saliency);
  const pixels = order.length;
  const size = input.length;
  const variants: Float32Array[] = [];
  let seed = options.seed ?? 7;
  for (const mostFirst of [true, false]) {
    for (const p of percentiles) {
      const removed = new Uint8Array(pixels);
      const count = Math.round((p / 100) * pixels);
      for (let i = 0; i < count; i++) removed[order[mostFirst ? i : pixels - 1 - i]!] = 1;
      variants.push(imputeLinear(input, removed, image, { noise: options.noise ?? 0.01, seed: seed++ }));
    }
  }
  const batch = new Float32Array((variants.length + 1) * size);
  batch.set(input, 0);
  variants.forEach((v, i) => batch.set(v, (i + 1) * size));
  const scores = await score(batch, variants.length + 1);
  const original = scores[0]!;
  const morf = Array.from(scores.subarray(1, 1 + percentiles.length));
  const lerf = Array.from(scores.subarray(1 + percentiles.length));
  const combined =
    percentiles.reduce((sum, _, i) => sum + (lerf[i]! - original - (morf[i]! - original)) / 2, 0) / percentiles.length;
  return { percentiles, original, morf, lerf, combined };
}
