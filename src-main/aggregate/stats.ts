/**
 * Small statistics of the aggregation: means with t intervals (plain and reliability-weighted),
 * Bradley-Terry strengths from pairwise choices (Hunter's MM algorithm), Spearman's rank correlation
 * and normalised entropy.
 */
export { spearman } from '../explain/metrics/sanity.ts';

/** Two-sided 97.5 % quantiles of Student's t for 1..30 degrees of freedom; beyond, the values at 40, 60, 120 and the normal one. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function tQuantile975(df: number): number {
  if (df < 1) return NaN;
  const d = Math.floor(df);
  if (d <= 30) return T975[d - 1]!;
  if (d <= 40) return 2.021;
  if (d <= 60) return 2.0;
  if (d <= 120) return 1.98;
  return 1.96;
}

export interface MeanCi {
  n: number;
  mean: number | null;
  low: number | null;
  high: number | null;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * Weighted mean with a 95 % t interval. With unit weights it is the usual mean +- t * s / sqrt(n);
 * with weights the spread is the weighted variance and n the effective size (sum w)^2 / sum w^2 (Kish).
 * Every figure is defined or explicitly absent (null): no interval below an effective size of 2 (one
 * degree of freedom), none for non-finite input; `range` clips the interval to the scale's ends.
 */
export function meanCi(
  values: readonly number[],
  weights?: readonly number[],
  range?: readonly [number, number],
): MeanCi {
  const n = values.length;
  const w = weights ?? values.map(() => 1);
  if (n === 0 || w.length !== n || ![...values, ...w].every(Number.isFinite) || w.some((x) => x < 0))
    return { n, mean: null, low: null, high: null };
  const sw = w.reduce((a, b) => a + b, 0);
  if (sw <= 0) return { n, mean: null, low: null, high: null };
  const mean = values.reduce((a, v, i) => a + w[i]! * v, 0) / sw;
  const sw2 = w.reduce((a, b) => a + b * b, 0);
  const effective = (sw * sw) / sw2;
  if (n < 2 || !(effective >= 2)) return { n, mean: round(mean), low: null, high: null };
  // Unbiased weighted variance for reliability weights; equals the sample variance with unit weights.
  const variance = values.reduce((a, v, i) => a + w[i]! * (v - mean) ** 2, 0) / (sw - sw2 / sw);
  const half = tQuantile975(effective - 1) * Math.sqrt(Math.max(0, variance) / effective);
  if (!Number.isFinite(half)) return { n, mean: round(mean), low: null, high: null };
  const [lowest, highest] = range ?? [-Infinity, Infinity];
  return {
    n,
    mean: round(mean),
    low: round(Math.max(lowest, mean - half)),
    high: round(Math.min(highest, mean + half)),
  };
}

export interface Comparison {
  a: string;
  b: string;
  /** 1 when a won, 0 when b won, 0.5 for a tie. */
  outcome: number;
  weight?: number;
}

/**
 * Bradley-Terry strengths by Hunter's (2004) MM iterations: p_i <- W_i / sum_j n_ij / (p_i + p_j), where
 * W_i is i's (weighted) wins, a tie counting half to each side. `prior` adds that many virtual ties of
 * every item with a reference item of strength 1, which keeps an item that never won finite and links
 * items never compared with each other; 0 gives the plain maximum-likelihood estimate. Returns log
 * strengths centred on their mean, so 0 is an average item and a difference of d means the odds
 * exp(d) : 1 of winning.
 */
export function bradleyTerry(
  items: readonly string[],
  comparisons: readonly Comparison[],
  prior = 0,
  iterations = 10_000,
): Map<string, number> {
  const index = new Map(items.map((item, i) => [item, i]));
  const k = items.length;
  const wins = new Float64Array(k);
  const pairs = Array.from({ length: k }, () => new Float64Array(k));
  for (const c of comparisons) {
    const i = index.get(c.a);
    const j = index.get(c.b);
    if (i === undefined || j === undefined || i === j) continue;
    const w = c.weight ?? 1;
    wins[i]! += w * c.outcome;
    wins[j]! += w * (1 - c.outcome);
    pairs[i]![j]! += w;
    pairs[j]![i]! += w;
  }
  let p = new Float64Array(k).fill(1);
  for (let iter = 0; iter < iterations; iter++) {
    const next = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      let denominator = prior / (p[i]! + 1);
      for (let j = 0; j < k; j++) if (j !== i && pairs[i]![j]! > 0) denominator += pairs[i]![j]! / (p[i]! + p[j]!);
      next[i] = denominator > 0 ? (wins[i]! + prior / 2) / denominator : p[i]!;
    }
    if (prior === 0) {
      // Without the reference item the scale is free: fix the geometric mean at 1.
      const logMean = next.reduce((a, v) => a + Math.log(Math.max(v, 1e-300)), 0) / k;
      for (let i = 0; i < k; i++) next[i]! /= Math.exp(logMean);
    }
    const change = next.reduce((a, v, i) => Math.max(a, Math.abs(v - p[i]!)), 0);
    p = next;
    if (change < 1e-12) break;
  }
  const logs = Array.from(p, (v) => Math.log(Math.max(v, 1e-300)));
  const centre = logs.reduce((a, b) => a + b, 0) / k;
  return new Map(items.map((item, i) => [item, logs[i]! - centre]));
}

/** Shannon entropy of counts divided by its largest possible value, log(min(categories, total)); 0 for one answer. */
export function normalisedEntropy(counts: readonly number[], categories = counts.length): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const cap = Math.min(categories, total);
  if (total <= 0 || cap < 2) return 0;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / total) * Math.log(c / total);
  return h / Math.log(cap);
}

/** Entropy of the counts plus one pseudo-count per category (a uniform Dirichlet prior), over log(categories): 1 for no answers. */
export function smoothedEntropy(counts: readonly number[], categories: number): number {
  const full = Array.from({ length: Math.max(categories, counts.length) }, (_, i) => (counts[i] ?? 0) + 1);
  const total = full.reduce((a, b) => a + b, 0);
  let h = 0;
  for (const c of full) h -= (c / total) * Math.log(c / total);
  return full.length > 1 ? Math.min(1, h / Math.log(full.length)) : 0;
}

/** Ranks 1..n (1 = highest value), ties sharing their mean rank. */
export function ranksDescending(values: readonly number[]): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((x, y) => y.v - x.v);
  const ranks = new Array<number>(values.length);
  for (let s = 0; s < order.length;) {
    let e = s;
    while (e + 1 < order.length && order[e + 1]!.v === order[s]!.v) e++;
    for (let t = s; t <= e; t++) ranks[order[t]!.i] = (s + e) / 2 + 1;
    s = e + 1;
  }
  return ranks;
}
