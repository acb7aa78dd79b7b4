/**
 * UMAP's 2-D layout (McInnes et al. 2018) from a k-nearest-neighbour graph, on typed arrays: umap-js
 * took 27 s for 10,000 points here (its sparse matrices are maps keyed by strings), about 3 minutes
 * for 70,000. The steps and constants are umap-learn's: smooth k-NN distances (binary search for each
 * point's sigma so the weights sum to log2(k)), the fuzzy union W + W' - W o W', edges sampled in
 * proportion to their weight over 200 epochs (500 under 10,000 points), five negative samples an
 * edge, gradients clipped at 4, a learning rate falling linearly to 0; min_dist 0.1 and spread 1 give
 * a = 1.5769, b = 0.8951. The start is the data's first two principal components scaled to +-10
 * (umap-learn's init="pca"), so a seed fixes the result.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import type { Neighbours, RunHooks } from './graphs.ts';

export const UMAP_A = 1.576943460405378;
export const UMAP_B = 0.8950608781227859;
const NEGATIVE_RATE = 5;
const SMOOTH_ITERATIONS = 64;
const SMOOTH_TOLERANCE = 1e-5;
const MIN_SCALE = 1e-3;

export interface Graph {
  head: Int32Array;
  tail: Int32Array;
  weight: Float32Array;
}

/** Membership strengths of each point's k neighbours (umap-learn's smooth_knn_dist and compute_membership_strengths). */
export function memberships({ distances, k }: Neighbours, n: number): Float32Array {
  const target = Math.log2(k + 1); // umap-learn counts the point itself among its n_neighbors
  let globalMean = 0;
  for (const d of distances) globalMean += d;
  globalMean /= Math.max(1, distances.length);
  const weights = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const row = distances.subarray(i * k, (i + 1) * k);
    let rho = 0;
    for (const d of row)
      if (d > 0) {
        rho = d;
        break;
      }
    let lo = 0;
    let hi = Infinity;
    let mid = 1;
    for (let it = 0; it < SMOOTH_ITERATIONS; it++) {
      let sum = 0;
      for (const d of row) sum += d - rho > 0 ? Math.exp(-(d - rho) / mid) : 1;
      if (Math.abs(sum - target) < SMOOTH_TOLERANCE) break;
      if (sum > target) {
        hi = mid;
        mid = (lo + hi) / 2;
      } else {
        lo = mid;
        mid = hi === Infinity ? mid * 2 : (lo + hi) / 2;
      }
    }
    let mean = 0;
    for (const d of row) mean += d;
    mean /= k;
    const sigma = Math.max(mid, MIN_SCALE * (rho > 0 ? mean : globalMean));
    for (let j = 0; j < k; j++) {
      const d = row[j]! - rho;
      weights[i * k + j] = d <= 0 ? 1 : Math.exp(-d / sigma);
    }
  }
  return weights;
}

/** The fuzzy union of the directed k-NN graph: both directions of every edge, weight a + b - ab. */
export function fuzzyUnion(neighbours: Neighbours, n: number): Graph {
  const { indices, k } = neighbours;
  const weights = memberships(neighbours, n);
  // Directed edges sorted by (from, to), so the reverse of an edge is found by binary search (a Map keyed
  // by from * n + to took 2.5 s for 70,000 points).
  const keys = new Float64Array(n * k);
  let count = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < k; j++) {
      const to = indices[i * k + j]!;
      if (to !== i && to >= 0) keys[count++] = i * n + to;
    }
  const order = Uint32Array.from({ length: count }, (_, e) => e);
  const edgeOf = new Uint32Array(count);
  {
    let e = 0;
    for (let i = 0; i < n * k; i++) if (indices[i] !== Math.floor(i / k) && indices[i]! >= 0) edgeOf[e++] = i;
  }
  const sortedKeys = keys.subarray(0, count);
  order.sort((a, b) => sortedKeys[a]! - sortedKeys[b]!);
  const sorted = Float64Array.from(order, (e) => sortedKeys[e]!);
  const weightOf = Float32Array.from(order, (e) => weights[edgeOf[e]!]!);
  const find = (key: number) => {
    let lo = 0;
    let hi = count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! < key) lo = mid + 1;
      else if (sorted[mid]! > key) hi = mid - 1;
      else return mid;
    }
    return -1;
  };
  const head: number[] = [];
  const tail: number[] = [];
  const weight: number[] = [];
  for (let e = 0; e < count; e++) {
    if (e > 0 && sorted[e] === sorted[e - 1]) continue; // a neighbour listed twice
    const key = sorted[e]!;
    const i = Math.floor(key / n);
    const j = key - i * n;
    const a = weightOf[e]!;
    const reverse = find(j * n + i);
    const b = reverse >= 0 ? weightOf[reverse]! : 0;
    const w = a + b - a * b;
    head.push(i);
    tail.push(j);
    weight.push(w);
    if (reverse < 0) {
      // The reverse edge is not in the directed graph: add it here, once.
      head.push(j);
      tail.push(i);
      weight.push(w);
    }
  }
  return { head: Int32Array.from(head), tail: Int32Array.from(tail), weight: Float32Array.from(weight) };
}

export function epochsFor(n: number): number {
  return n > 10_000 ? 200 : 500;
}

/** Two columns scaled so the largest coordinate is 10 (umap-learn's PCA start). */
export function scaledStart(x: ArrayLike<number>, y: ArrayLike<number>): Float32Array {
  const n = x.length;
  let largest = 0;
  for (let i = 0; i < n; i++) largest = Math.max(largest, Math.abs(x[i]!), Math.abs(y[i]!));
  const scale = largest > 0 ? 10 / largest : 1;
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    out[2 * i] = x[i]! * scale;
    out[2 * i + 1] = y[i]! * scale;
  }
  return out;
}

const clip = (v: number) => (v > 4 ? 4 : v < -4 ? -4 : v);

/** UMAP's stochastic gradient descent on `start` ([n, 2], changed in place); yields between epochs for cancellation. */
export async function optimiseLayout(
  graph: Graph,
  start: Float32Array,
  options: { epochs?: number; seed?: number } & RunHooks = {},
): Promise<Float32Array> {
  const n = start.length / 2;
  const epochs = options.epochs ?? epochsFor(n);
  let max = 0;
  for (const w of graph.weight) max = Math.max(max, w);
  // Edges too weak to be sampled once in all epochs are dropped, as umap-learn does.
  const kept: number[] = [];
  for (let e = 0; e < graph.weight.length; e++) if (graph.weight[e]! >= max / epochs) kept.push(e);
  // Points renumbered along a Z-order curve of the start, edges sorted by their first point: neighbours
  // sit near each other in memory, so an edge's two points are mostly in the cache already.
  const { order, rank } = zOrder(start);
  kept.sort((e, f) => rank[graph.head[e]!]! - rank[graph.head[f]!]! || rank[graph.tail[e]!]! - rank[graph.tail[f]!]!);
  const edges = kept.length;
  const head = Int32Array.from(kept, (e) => rank[graph.head[e]!]!);
  const tail = Int32Array.from(kept, (e) => rank[graph.tail[e]!]!);
  const perSample = Float64Array.from(kept, (e) => max / graph.weight[e]!);
  const perNegative = Float64Array.from(perSample, (p) => p / NEGATIVE_RATE);
  const nextSample = Float64Array.from(perSample);
  const nextNegative = Float64Array.from(perNegative);
  // Float32: the negative samples read random points, and 70,000 x 2 positions in float32 (560 KB) stay
  // nearer the core's cache than in float64.
  const emb = new Float32Array(n * 2);
  for (let r = 0; r < n; r++) {
    emb[2 * r] = start[2 * order[r]!]!;
    emb[2 * r + 1] = start[2 * order[r]! + 1]!;
  }
  const a = UMAP_A;
  const b = UMAP_B;
  let state = (options.seed ?? 42) >>> 0 || 1; // xorshift32, inlined: this loop draws a billion numbers
  for (let epoch = 0; epoch < epochs; epoch++) {
    if (options.signal?.aborted) throw new ApiError('cancelled', 'The map layout was stopped');
    const alpha = 1 - epoch / epochs;
    for (let e = 0; e < edges; e++) {
      if (nextSample[e]! > epoch) continue;
      const j = head[e]! * 2;
      const k = tail[e]! * 2;
      const xj = emb[j]!;
      const yj = emb[j + 1]!;
      let dx = xj - emb[k]!;
      let dy = yj - emb[k + 1]!;
      let d2 = dx * dx + dy * dy;
      let nx = xj;
      let ny = yj;
      if (d2 > 0) {
        const pb = Math.exp(b * Math.log(d2));
        // -2ab d^(2(b-1)) / (1 + a d^(2b)) with d2 the squared distance, d^(2(b-1)) = pb / d2.
        const coeff = (-2 * a * b * (pb / d2)) / (a * pb + 1);
        const gx = clip(coeff * dx) * alpha;
        const gy = clip(coeff * dy) * alpha;
        nx += gx;
        ny += gy;
        emb[k]! -= gx;
        emb[k + 1]! -= gy;
      }
      nextSample[e]! += perSample[e]!;
      const negatives = Math.floor((epoch - nextNegative[e]!) / perNegative[e]!);
      for (let p = 0; p < negatives; p++) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        const o = (((state >>> 0) % n) * 2) | 0;
        if (o === j) continue;
        dx = nx - emb[o]!;
        dy = ny - emb[o + 1]!;
        d2 = dx * dx + dy * dy;
        if (d2 > 0) {
          const coeff = (2 * b) / ((0.001 + d2) * (a * Math.exp(b * Math.log(d2)) + 1));
          nx += clip(coeff * dx) * alpha;
          ny += clip(coeff * dy) * alpha;
        } else {
          nx += 4 * alpha;
          ny += 4 * alpha;
        }
      }
      emb[j] = nx;
      emb[j + 1] = ny;
      nextNegative[e]! += negatives * perNegative[e]!;
    }
    if (epoch % 5 === 4 || epoch === epochs - 1) options.progress?.(epoch + 1, epochs);
    if (epoch % 4 === 3) await new Promise((resolve) => setImmediate(resolve));
  }
  for (let r = 0; r < n; r++) {
    start[2 * order[r]!] = emb[2 * r]!;
    start[2 * order[r]! + 1] = emb[2 * r + 1]!;
  }
  return start;
}

/** Points ordered along a Z-order (Morton) curve of their positions: `order[r]` is the point at rank r. */
export function zOrder(positions: Float32Array): { order: Int32Array; rank: Int32Array } {
  const n = positions.length / 2;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    [x0, x1] = [Math.min(x0, positions[2 * i]!), Math.max(x1, positions[2 * i]!)];
    [y0, y1] = [Math.min(y0, positions[2 * i + 1]!), Math.max(y1, positions[2 * i + 1]!)];
  }
  const spread = (v: number) => {
    v &= 0xffff;
    v = (v | (v << 8)) & 0x00ff00ff;
    v = (v | (v << 4)) & 0x0f0f0f0f;
    v = (v | (v << 2)) & 0x33333333;
    return (v | (v << 1)) & 0x55555555;
  };
  const cell = (v: number, lo: number, hi: number) =>
    Math.min(0xffff, Math.floor(((v - lo) / (hi - lo || 1)) * 0x10000));
  const keys = Float64Array.from(
    { length: n },
    (_, i) => (spread(cell(positions[2 * i]!, x0, x1)) | (spread(cell(positions[2 * i + 1]!, y0, y1)) << 1)) >>> 0,
  );
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a]! - keys[b]! || a - b);
  const rank = new Int32Array(n);
  order.forEach((point, r) => (rank[point] = r));
  return { order, rank };
}

/** Positions of new points at the inverse-distance mean of their neighbours' positions in a layout. */
export function placeByNeighbours(layout: Float32Array, neighbours: Neighbours): Float32Array {
  const { indices, distances, k } = neighbours;
  const m = indices.length / k;
  const out = new Float32Array(m * 2);
  for (let i = 0; i < m; i++) {
    let [x, y, total] = [0, 0, 0];
    for (let j = 0; j < k; j++) {
      const w = 1 / (distances[i * k + j]! + 1e-6);
      const p = indices[i * k + j]! * 2;
      x += w * layout[p]!;
      y += w * layout[p + 1]!;
      total += w;
    }
    out[2 * i] = x / total;
    out[2 * i + 1] = y / total;
  }
  return out;
}
