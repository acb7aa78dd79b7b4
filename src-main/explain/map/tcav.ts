/**
 * Testing with concept activation vectors (TCAV, Kim et al. 2018) on concepts people named. A
 * concept's examples are the regions people labelled with it: a layer's activations averaged over the
 * region's positions, a vector in the layer's channel space. Its concept activation vector (CAV) at the
 * layer is the unit normal of a linear classifier (L2-regularised logistic regression) separating them
 * from regions of random images. The TCAV score of class k is the share of class-k images whose class
 * score rises along the CAV: the gradient of the class logit with respect to the layer, averaged over
 * positions, dotted with the CAV, above zero. Repeated against R random sets, the scores are compared by
 * a two-sided Welch t-test with those of CAVs of one random set against another; a concept passes where
 * p < 0.05 (Kim et al.'s test).
 */

export interface CavFit {
  /** Unit normal in the raw activation space, pointing towards the concept. */
  cav: Float32Array;
  /** Training accuracy of the linear classifier. */
  accuracy: number;
}

export const REGION_FRACTION = 0.3;
export const SIGNIFICANCE = 0.05;
const NEWTON_STEPS = 30;

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

/** An orthonormal basis of the rows' span ([count, dims] row-major), dependent rows dropped. */
function rowBasis(x: Float64Array, n: number, dims: number): Float64Array[] {
  const basis: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = x.slice(i * dims, (i + 1) * dims);
    for (let pass = 0; pass < 2; pass++)
      for (const b of basis) {
        let dot = 0;
        for (let d = 0; d < dims; d++) dot += v[d]! * b[d]!;
        for (let d = 0; d < dims; d++) v[d]! -= dot * b[d]!;
      }
    let norm = 0;
    for (let d = 0; d < dims; d++) norm += v[d]! ** 2;
    if (norm < 1e-18) continue;
    norm = Math.sqrt(norm);
    for (let d = 0; d < dims; d++) v[d]! /= norm;
    basis.push(v);
  }
  return basis;
}

/**
 * L2-regularised logistic regression by Newton's method: `x` is [n, width] row-major whose last column
 * is the intercept's ones; the penalty ||w||^2 / 2 (not on the intercept) against the summed log-loss.
 */
function newtonLogistic(x: Float64Array, y: Float64Array, n: number, width: number): Float64Array {
  const w = new Float64Array(width);
  const p = new Float64Array(n);
  for (let it = 0; it < NEWTON_STEPS; it++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let d = 0; d < width; d++) s += w[d]! * x[i * width + d]!;
      p[i] = 1 / (1 + Math.exp(-s));
    }
    const g = new Float64Array(width);
    const h = new Float64Array(width * width);
    for (let i = 0; i < n; i++) {
      const e = p[i]! - y[i]!;
      const v = p[i]! * (1 - p[i]!);
      for (let a = 0; a < width; a++) {
        const xa = x[i * width + a]!;
        g[a]! += e * xa;
        const vxa = v * xa;
        for (let b = a; b < width; b++) h[a * width + b]! += vxa * x[i * width + b]!;
      }
    }
    for (let a = 0; a < width; a++) {
      if (a < width - 1) {
        g[a]! += w[a]!;
        h[a * width + a]! += 1;
      }
      h[a * width + a]! += 1e-9;
    }
    // Cholesky of the upper triangle, then the two triangular solves.
    const l = new Float64Array(width * width);
    for (let a = 0; a < width; a++)
      for (let b = 0; b <= a; b++) {
        let s = h[b * width + a]!;
        for (let k = 0; k < b; k++) s -= l[a * width + k]! * l[b * width + k]!;
        l[a * width + b] = a === b ? Math.sqrt(Math.max(s, 1e-300)) : s / l[b * width + b]!;
      }
    const t = new Float64Array(width);
    for (let a = 0; a < width; a++) {
      let s = g[a]!;
      for (let k = 0; k < a; k++) s -= l[a * width + k]! * t[k]!;
      t[a] = s / l[a * width + a]!;
    }
    let size = 0;
    for (let a = width - 1; a >= 0; a--) {
      let s = t[a]!;
      for (let k = a + 1; k < width; k++) s -= l[k * width + a]! * t[k]!;
      t[a] = s / l[a * width + a]!;
      w[a]! -= t[a]!;
      size = Math.max(size, Math.abs(t[a]!));
    }
    if (size < 1e-8) break;
  }
  return w;
}

/**
 * The CAV separating `positive` from `negative` vectors: L2-regularised logistic regression on
 * standardised features with scikit-learn's default strength (C = 1), by Newton's method. With more
 * features than examples the solution lies in the span of the examples (the representer theorem), so
 * it is solved there: a Newton step costs the examples' count cubed, not the layer's channels'.
 */
export function fitCav(positive: Float32Array[], negative: Float32Array[]): CavFit {
  const rows = [...positive, ...negative];
  const n = rows.length;
  const dims = rows[0]!.length;
  const y = Float64Array.from(rows, (_, i) => (i < positive.length ? 1 : 0));
  const mean = new Float64Array(dims);
  const scale = new Float64Array(dims);
  for (const r of rows) for (let d = 0; d < dims; d++) mean[d]! += r[d]! / n;
  for (const r of rows) for (let d = 0; d < dims; d++) scale[d]! += (r[d]! - mean[d]!) ** 2 / n;
  for (let d = 0; d < dims; d++) scale[d] = Math.sqrt(scale[d]!) || 1;
  const standard = new Float64Array(n * dims);
  rows.forEach((r, i) => {
    for (let d = 0; d < dims; d++) standard[i * dims + d] = (r[d]! - mean[d]!) / scale[d]!;
  });
  const basis = dims >= n ? rowBasis(standard, n, dims) : null;
  const features = basis ? basis.length : dims;
  const width = features + 1;
  const x = new Float64Array(n * width);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < features; f++) {
      if (!basis) x[i * width + f] = standard[i * dims + f]!;
      else {
        let s = 0;
        for (let d = 0; d < dims; d++) s += standard[i * dims + d]! * basis[f]![d]!;
        x[i * width + f] = s;
      }
    }
    x[i * width + features] = 1;
  }
  const u = newtonLogistic(x, y, n, width);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let z = 0;
    for (let d = 0; d < width; d++) z += u[d]! * x[i * width + d]!;
    if (z > 0 === (y[i] === 1)) correct++;
  }
  const wStandard = new Float64Array(dims);
  if (!basis) wStandard.set(u.subarray(0, dims));
  else
    basis.forEach((b, f) => {
      for (let d = 0; d < dims; d++) wStandard[d]! += u[f]! * b[d]!;
    });
  // Back to the raw space: w_std . (a - mean) / scale = (w_std / scale) . a + const.
  const cav = Float32Array.from(wStandard, (v, d) => v / scale[d]!);
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
 * The null: CAVs of one random set against another (set r + 1 against set r), as many as the random
 * sets; shared by every concept at a layer. Each pair differs, so no one set's chance bias repeats in
 * every null CAV.
 */
export function randomCavs(randomSets: Float32Array[][]): Float32Array[] {
  return randomSets.map((random, r) => fitCav(randomSets[(r + 1) % randomSets.length]!, random).cav);
}

/** A concept's scores against each random set, compared with the null's, on one class's gradients. */
export function scoreConcept(fits: CavFit[], nullCavs: Float32Array[], gradients: Float32Array[]): ConceptTest {
  const scores = fits.map((fit) => tcavScore(gradients, fit.cav));
  const randomScores = nullCavs.map((cav) => tcavScore(gradients, cav));
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

/**
 * A concept tested at one layer for one class: CAVs of `concept` against each random set, and of each
 * random set against the next (the null), scored on `gradients` (one per image of the class).
 */
export function testConcept(
  concept: Float32Array[],
  randomSets: Float32Array[][],
  gradients: Float32Array[],
): ConceptTest {
  return scoreConcept(
    randomSets.map((random) => fitCav(concept, random)),
    randomCavs(randomSets),
    gradients,
  );
}
