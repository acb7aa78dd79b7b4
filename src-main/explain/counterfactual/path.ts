/**
 * CAE counterfactual paths (METHODS.md 2): with the image's codes (c_A, s_A) and a class code s_B of the
 * target class, decode (c_A, s_A + k/K (s_B - s_A)) for k = 0..K and classify each step. The target code
 * is the nearest prototype of the target class (or a chosen reference image's code); by default the
 * target class is the one whose nearest prototype lies closest, other than the predicted class, as the
 * toolkit's evaluation does. The flip step is the first k >= 1 whose prediction differs from the
 * prediction on the original image.
 */
export interface PrototypeSet {
  /** Flattened [classes x perClass x dim]. */
  codes: Float32Array;
  classes: number;
  perClass: number;
  dim: number;
}

export function squaredDistance(
  a: ArrayLike<number>,
  aOffset: number,
  b: ArrayLike<number>,
  bOffset: number,
  dim: number,
): number {
  let sum = 0;
  for (let i = 0; i < dim; i++) {
    const d = a[aOffset + i]! - b[bOffset + i]!;
    sum += d * d;
  }
  return sum;
}

/** The prototype nearest to `code` among the classes `allowed` accepts. */
export function nearestPrototype(
  code: ArrayLike<number>,
  prototypes: PrototypeSet,
  allowed: (cls: number) => boolean,
): { cls: number; code: Float32Array; distance: number } {
  const { classes, perClass, dim, codes } = prototypes;
  let best = { cls: -1, index: -1, distance: Infinity };
  for (let cls = 0; cls < classes; cls++) {
    if (!allowed(cls)) continue;
    for (let p = 0; p < perClass; p++) {
      const index = cls * perClass + p;
      const distance = squaredDistance(code, 0, codes, index * dim, dim);
      if (distance < best.distance) best = { cls, index, distance };
    }
  }
  if (best.index < 0) throw new Error('no class is allowed as a target');
  return {
    cls: best.cls,
    code: codes.slice(best.index * dim, (best.index + 1) * dim),
    distance: Math.sqrt(best.distance),
  };
}

/** The codes along the straight line from `from` to `to`, `steps` + 1 of them, back to back. */
export function interpolate(from: ArrayLike<number>, to: ArrayLike<number>, steps: number): Float32Array {
  const dim = from.length;
  const out = new Float32Array((steps + 1) * dim);
  for (let k = 0; k <= steps; k++) {
    const alpha = k / steps;
    for (let i = 0; i < dim; i++) out[k * dim + i] = from[i]! + alpha * (to[i]! - from[i]!);
  }
  return out;
}

/** The first step k >= 1 whose prediction is not `original`; null when the whole path keeps it. */
export function flipStep(predictions: readonly number[], original: number): number | null {
  for (let k = 1; k < predictions.length; k++) if (predictions[k] !== original) return k;
  return null;
}

export function absoluteDifference(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.abs(a[i]! - b[i]!);
  return out;
}

export function argmax(values: ArrayLike<number>, offset = 0, count = values.length - offset): number {
  let best = 0;
  for (let i = 1; i < count; i++) if (values[offset + i]! > values[offset + best]!) best = i;
  return best;
}
