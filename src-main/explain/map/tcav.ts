/**
 * Testing with concept activation vectors (TCAV, Kim et al. 2018) on concepts people named. A
 * concept's examples are the regions people labelled with it: a layer's activations averaged over the
 * region's positions, a vector in the layer's channel space. Its concept activation vector (CAV) at the
 * layer is the unit normal of a linear classifier (L2-regularised logistic regression) separating them
 * from regions of random images. The TCAV score of class k is the share of class-k images whose class
 * score rises along the CAV: the gradient of the class logit with respect to the layer, averaged over
 * positions, dotted with the CAV, above zero. Repeated against R random sets, the scores are compared by
 * a two-sided Welch t-test with those of CAVs of one random set against another; a concept passes
 * where p < 0.05 (Kim et al.'s test).
 */

export interface CavFit {
  /** Unit normal in the raw activation space, pointing towards the concept. */
  cav: Float32Array;
  /** Training accuracy of the linear classifier. */
  accuracy: number;
}

export const REGION_FRACTION = 0.3;
export const SIGNIFICANCE = 0.05;
const ITERATIONS = 300;
const LEARNING_RATE = 0.5;
const L2 = 1e-3;

/** The positions of the top `fraction` of a map's values (the region shown), as a 0/1 mask. */
export function regionMask(map: ArrayLike<number>, fraction = REGION_FRACTION): Uint8Array {
  const n = map.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => map[b]! - map[a]! || a - b);
  const mask = new Uint8Array(n);
  for (let i = 0; i < Math.max(1, Math.round(n * fraction)); i++) mask[order[i]!] = 1;
  return mask;
}

/** A mask resampled to another grid (nearest cell). */
export function resampleMask(mask: Uint8Array, from: [number, number], to: [number, number]): Uint8Array {
  const out = new Uint8Array(to[0] * to[1]);
  for (let y = 0; y < to[0]; y++)
    for (let x = 0; x < to[1]; x++)
      out[y * to[1] + x] =
        mask[Math.floor(((y + 0.5) * from[0]) / to[0]) * from[1] + Math.floor(((x + 0.5) * from[1]) / to[1])]!;
  if (!out.some((v) => v === 1)) out.fill(1); // a region smaller than one cell of a coarse layer: the whole map
  return out;
}

/** One image's [channels, positions] activations averaged over the mask's positions (all, without one). */
export function poolRegion(
  values: Float32Array,
  channels: number,
  positions: number,
  mask: Uint8Array | null,
): Float32Array {
  const out = new Float32Array(channels);
  let count = 0;
  for (let p = 0; p < positions; p++) {
    if (mask && !mask[p]) continue;
    count++;
    for (let c = 0; c < channels; c++) out[c]! += values[c * positions + p]!;
  }
  for (let c = 0; c < channels; c++) out[c]! /= Math.max(1, count);
  return out;
}

/** The CAV separating `positive` from `negative` vectors: logistic regression on standardised features. */
export function fitCav(positive: Float32Array[], negative: Float32Array[]): CavFit {
  const rows = [...positive, ...negative];
  const labels = rows.map((_, i) => (i < positive.length ? 1 : 0));
  const dims = rows[0]!.length;
  const mean = new Float64Array(dims);
  const scale = new Float64Array(dims);
  for (const r of rows) for (let d = 0; d < dims; d++) mean[d]! += r[d]! / rows.length;
  for (const r of rows) for (let d = 0; d < dims; d++) scale[d]! += (r[d]! - mean[d]!) ** 2 / rows.length;
  for (let d = 0; d < dims; d++) scale[d] = Math.sqrt(scale[d]!) || 1;
  const x = rows.map((r) => Float64Array.from(r, (v, d) => (v - mean[d]!) / scale[d]!));
  const w = new Float64Array(dims);
  let bias = 0;
  const n = rows.length;
  for (let it = 0; it < ITERATIONS; it++) {
    const grad = new Float64Array(dims);
    let gradBias = 0;
    for (let i = 0; i < n; i++) {
      let z = bias;
      for (let d = 0; d < dims; d++) z += w[d]! * x[i]![d]!;
      const error = 1 / (1 + Math.exp(-z)) - labels[i]!;
      for (let d = 0; d < dims; d++) grad[d]! += (error * x[i]![d]!) / n;
      gradBias += error / n;
    }
    for (let d = 0; d < dims; d++) w[d]! -= LEARNING_RATE * (grad[d]! + L2 * w[d]!);
    bias -= LEARNING_RATE * gradBias;
  }
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let z = bias;
    for (let d = 0; d < dims; d++) z += w[d]! * x[i]![d]!;
    if (z > 0 === (labels[i] === 1)) correct++;
  }
  // Back to the raw space: w_std . (a - mean) / scale = (w_std / scale) . a + const.
  const cav = Float32Array.from(w, (v, d) => v / scale[d]!);
  const norm = Math.hypot(...cav) || 1;
  for (let d = 0; d < dims; d++) cav[d]! /= norm;
  return { cav, accuracy: correct / n };
}

/** Share of the gradients (one per image, in the same space) with a positive directional derivative along the CAV. */
export function tcavScore(gradients: Float32Array[], cav: Float32Array): number {
  if (gradients.length === 0) return NaN;
  let positive = 0;
  for (const g of gradients) {
    let s = 0;
    for (let d = 0; d < cav.length; d++) s += g[d]! * cav[d]!;
    if (s > 0) positive++;
  }
  return positive / gradients.length;
}

/** ln Gamma by Lanczos's approximation (g = 7, n = 9). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularised incomplete beta function I_x(a, b), by its continued fraction (Lentz's method). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  let f = 1;
  let c = 1;
  let d = 0;
  for (let i = 0; i <= 300; i++) {
    const m = i >> 1;
    const numerator =
      i === 0
        ? 1
        : i % 2 === 0
          ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m))
          : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + numerator * d;
    d = Math.abs(d) < 1e-30 ? 1e-30 : 1 / d;
    c = 1 + numerator / c;
    if (Math.abs(c) < 1e-30) c = 1e-30;
    f *= c * d;
    if (Math.abs(1 - c * d) < 1e-12) break;
  }
  return front * (f - 1);
}

export interface TTest {
  t: number;
  df: number;
  p: number;
}

/** Welch's two-sided t-test of two samples' means (p = 1 when both are constant and equal). */
export function welchTTest(a: readonly number[], b: readonly number[]): TTest {
  const mean = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const variance = (v: readonly number[], m: number) => v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1);
  const [ma, mb] = [mean(a), mean(b)];
  const [va, vb] = [variance(a, ma) / a.length, variance(b, mb) / b.length];
  const se = Math.sqrt(va + vb);
  if (se === 0) return { t: ma === mb ? 0 : Infinity, df: a.length + b.length - 2, p: ma === mb ? 1 : 0 };
  const t = (ma - mb) / se;
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { t, df, p: incompleteBeta(df / (df + t * t), df / 2, 0.5) };
}

export interface ConceptTest {
  /** The concept's TCAV score against each random set. */
  scores: number[];
  /** Random-against-random scores, the null. */
  randomScores: number[];
  mean: number;
  std: number;
  p: number;
  significant: boolean;
  /** Mean accuracy of the concept's linear classifiers. */
  accuracy: number;
}

const meanOf = (v: readonly number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const stdOf = (v: readonly number[]) => {
  const m = meanOf(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / Math.max(1, v.length - 1));
};

/**
 * A concept tested at one layer for one class: CAVs of `concept` against each random set, and of each
 * random set against the next (the null), scored on `gradients` (one per image of the class).
 */
export function testConcept(
  concept: Float32Array[],
  randomSets: Float32Array[][],
  gradients: Float32Array[],
): ConceptTest {
  const fits = randomSets.map((random) => fitCav(concept, random));
  const scores = fits.map((fit) => tcavScore(gradients, fit.cav));
  const randomScores = randomSets.map((random, r) =>
    tcavScore(gradients, fitCav(randomSets[(r + 1) % randomSets.length]!, random).cav),
  );
  const { p } = welchTTest(scores, randomScores);
  return {
    scores,
    randomScores,
    mean: meanOf(scores),
    std: stdOf(scores),
    p,
    significant: p < SIGNIFICANCE,
    accuracy: meanOf(fits.map((f) => f.accuracy)),
  };
}
