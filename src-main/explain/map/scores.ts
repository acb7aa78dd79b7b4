/**
 * Per-image scores of the dataset map, after FiftyOne's Brain:
 * - hardness: the entropy of the model's class probabilities over log(classes), 0 (sure) .. 1 (uniform);
 * - mistakenness: with c = 1 - hardness the confidence, (1 + c) / 2 where the prediction disagrees with
 *   the label and (1 - c) / 2 where it agrees: above 0.5 exactly when wrong, highest when confidently
 *   wrong; NaN for an image without a label the model knows;
 * - uniqueness: 0.6, 0.3 and 0.1 of the distances to the three nearest other images, over the largest
 *   such value in the dataset (1 = the most isolated image);
 * - near-duplicates: neighbours closer than a fraction (5 % by default) of the median nearest-neighbour
 *   distance; a pair whose images are in different splits leaks between them.
 */
import type { Neighbours } from './graphs.ts';

export const UNIQUENESS_WEIGHTS = [0.6, 0.3, 0.1];
export const DUPLICATE_FRACTION = 0.05;

export function entropyHardness(probabilities: Float32Array, classes: number): Float32Array {
  const n = probabilities.length / classes;
  const out = new Float32Array(n);
  const norm = Math.log(classes);
  for (let i = 0; i < n; i++) {
    let h = 0;
    for (let c = 0; c < classes; c++) {
      const p = probabilities[i * classes + c]!;
      if (p > 0) h -= p * Math.log(p);
    }
    out[i] = norm > 0 ? Math.min(1, Math.max(0, h / norm)) : 0;
  }
  return out;
}

/** `labels[i]` is the index of image i's class among the model's classes, or -1. */
export function mistakenness(hardness: Float32Array, predicted: Int32Array, labels: Int32Array): Float32Array {
  return Float32Array.from(hardness, (h, i) => {
    if (labels[i]! < 0) return NaN;
    const c = 1 - h;
    return predicted[i] === labels[i] ? (1 - c) / 2 : (1 + c) / 2;
  });
}

export function uniqueness({ distances, k }: Neighbours): Float32Array {
  const n = distances.length / k;
  const raw = new Float32Array(n);
  let max = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    let total = 0;
    for (let j = 0; j < Math.min(k, UNIQUENESS_WEIGHTS.length); j++) {
      s += UNIQUENESS_WEIGHTS[j]! * distances[i * k + j]!;
      total += UNIQUENESS_WEIGHTS[j]!;
    }
    raw[i] = s / total;
    max = Math.max(max, raw[i]!);
  }
  return max > 0 ? raw.map((v) => v / max) : raw;
}

export function median(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return 0;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Duplicates {
  /** Per image, the index of its nearest near-duplicate, or -1. */
  nearest: Int32Array;
  /** Per image, whether a near-duplicate of it is in another split. */
  leak: Uint8Array;
  /** The distance under which two images count as near-duplicates. */
  threshold: number;
  pairs: number;
}

export function nearDuplicates(
  neighbours: Neighbours,
  splits: readonly (string | null)[],
  fraction = DUPLICATE_FRACTION,
): Duplicates {
  const { indices, distances, k } = neighbours;
  const n = indices.length / k;
  const firsts = Float32Array.from({ length: n }, (_, i) => distances[i * k]!);
  // Exact copies would pull the median to 0 in a dataset full of them: the median of the non-zero distances.
  const positive = firsts.filter((d) => d > 0);
  const threshold = fraction * (positive.length ? median(positive) : 0);
  const nearest = new Int32Array(n).fill(-1);
  const leak = new Uint8Array(n);
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const d = distances[i * k + j]!;
      if (d > threshold) break;
      const other = indices[i * k + j]!;
      if (nearest[i] === -1) nearest[i] = other;
      seen.add(Math.min(i, other) * n + Math.max(i, other));
      if ((splits[i] ?? null) !== (splits[other] ?? null)) leak[i] = leak[other] = 1;
      if (nearest[other] === -1) nearest[other] = i;
    }
  }
  return { nearest, leak, threshold, pairs: seen.size };
}
