/**
 * Spectral clustering for SpRAy (Lapuschkin et al. 2019) on explanation maps: the symmetric k-nearest
 * neighbour graph of the maps (connectivity, as scikit-learn's affinity="nearest_neighbors": W = (C + C') / 2),
 * the leading eigenvectors of its normalised adjacency D^-1/2 W D^-1/2 (the smallest of the normalised
 * Laplacian) by subspace iteration on sparse products, the number of clusters k >= 2 at the largest
 * eigengap among the first `maxClusters` + 1 Laplacian eigenvalues, then k-means (ml-kmeans, k-means++, seeded)
 * on the row-normalised eigenvectors (Ng, Jordan and Weiss 2002).
 */
import { kmeans } from 'ml-kmeans';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { ApiError } from '../../../src-shared/errors.ts';
import { seededGaussian, seededUniform } from '../../../src-shared/random.ts';
import { nearestNeighbours, type RunHooks, type SessionFactory } from './graphs.ts';

export interface SpectralOptions {
  /** Neighbours of each map in the affinity graph (scikit-learn's default is 10). */
  neighbours?: number;
  /** The most clusters the eigengap may choose. */
  maxClusters?: number;
  /** Force this many clusters instead of the eigengap's choice. */
  clusters?: number;
  seed?: number;
}

export interface SpectralResult {
  assignment: Int32Array;
  k: number;
  /** The smallest eigenvalues of the normalised Laplacian, ascending. */
  eigenvalues: number[];
  /** The gap after the k-th of them. */
  eigengap: number;
}

const EXTRA_VECTORS = 8;
const MAX_ITERATIONS = 600;
const TOLERANCE = 1e-6;

/** The symmetric kNN graph (C + C') / 2 as adjacency lists: 1 where both list each other, 0.5 where one does. */
function affinity(indices: Int32Array, n: number, k: number): { rows: Int32Array[]; weights: Float64Array[] } {
  const maps = Array.from({ length: n }, () => new Map<number, number>());
  for (let i = 0; i < n; i++)
    for (let j = 0; j < k; j++) {
      const other = indices[i * k + j]!;
      maps[i]!.set(other, (maps[i]!.get(other) ?? 0) + 0.5);
      maps[other]!.set(i, (maps[other]!.get(i) ?? 0) + 0.5);
    }
  return {
    rows: maps.map((m) => Int32Array.from(m.keys())),
    weights: maps.map((m) => Float64Array.from(m.values())),
  };
}

/** Orthonormal columns of a row-major [n, width] block, in place: modified Gram-Schmidt, twice for accuracy. */
export function gramSchmidt(x: Float64Array, n: number, width: number): Float64Array {
  for (let pass = 0; pass < 2; pass++)
    for (let c = 0; c < width; c++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += x[i * width + c]! * x[i * width + p]!;
        for (let i = 0; i < n; i++) x[i * width + c]! -= dot * x[i * width + p]!;
      }
      let norm = 0;
      for (let i = 0; i < n; i++) norm += x[i * width + c]! ** 2;
      norm = Math.sqrt(norm) || 1;
      for (let i = 0; i < n; i++) x[i * width + c]! /= norm;
    }
  return x;
}

/** Leading eigenpairs of the normalised adjacency, largest first. */
async function leadingVectors(
  rows: Int32Array[],
  weights: Float64Array[],
  count: number,
  hooks: RunHooks,
): Promise<{ values: number[]; vectors: Matrix }> {
  const n = rows.length;
  const degree = Float64Array.from(weights, (w) => w.reduce((a, b) => a + b, 0));
  const scale = Float64Array.from(degree, (d) => (d > 0 ? 1 / Math.sqrt(d) : 0));
  const width = Math.min(n, count + EXTRA_VECTORS);
  // (S + I) / 2 has S's eigenvectors and eigenvalues in [0, 1], so the power iteration finds the largest.
  const apply = (x: Float64Array): Float64Array => {
    const y = new Float64Array(n * width);
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      const w = weights[i]!;
      for (let e = 0; e < r.length; e++) {
        const j = r[e]!;
        const f = 0.5 * scale[i]! * w[e]! * scale[j]!;
        for (let c = 0; c < width; c++) y[i * width + c]! += f * x[j * width + c]!;
      }
      for (let c = 0; c < width; c++) y[i * width + c]! += 0.5 * x[i * width + c]!;
    }
    return y;
  };
  const orthonormal = (x: Float64Array) => gramSchmidt(x, n, width);
  const gaussian = seededGaussian(5);
  let q = orthonormal(Float64Array.from({ length: n * width }, gaussian));
  let previous: number[] = [];
  let values: number[] = [];
  let ritz = Matrix.eye(width);
  for (let it = 0; it < MAX_ITERATIONS; it++) {
    if (hooks.signal?.aborted) throw new ApiError('cancelled', 'The clustering was stopped');
    const z = apply(q);
    if (it % 10 === 9 || it === MAX_ITERATIONS - 1) {
      // Rayleigh-Ritz: the small problem's eigenpairs, and a stop once the wanted values settle.
      const qm = Matrix.from1DArray(n, width, q);
      const small = qm.transpose().mmul(Matrix.from1DArray(n, width, z));
      const evd = new EigenvalueDecomposition(small.add(small.transpose()).mul(0.5), { assumeSymmetric: true });
      const order = evd.realEigenvalues.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
      values = order.map(([v]) => v);
      ritz = new Matrix(width, width);
      order.forEach(([, index], column) => ritz.setColumn(column, evd.eigenvectorMatrix.getColumn(index)));
      const settled =
        previous.length > 0 && values.slice(0, count).every((v, i) => Math.abs(v - previous[i]!) < TOLERANCE);
      previous = values;
      hooks.progress?.(it + 1, MAX_ITERATIONS);
      await new Promise((resolve) => setImmediate(resolve));
      if (settled) break;
    }
    q = orthonormal(z);
  }
  const vectors = Matrix.from1DArray(n, width, q)
    .mmul(ritz)
    .subMatrix(0, n - 1, 0, count - 1);
  // Back from (S + I) / 2 to S.
  return { values: values.slice(0, count).map((v) => 2 * v - 1), vectors };
}

/** Clusters of [n, dims] rows (explanation maps, each flattened). */
export async function spectralClusters(
  create: SessionFactory,
  rows: Float32Array,
  dims: number,
  options: SpectralOptions = {},
  hooks: RunHooks = {},
): Promise<SpectralResult> {
  const n = rows.length / dims;
  const maxClusters = Math.max(1, Math.min(options.maxClusters ?? 10, n - 1));
  if (n < 3) throw new ApiError('invalid_request', `Clustering needs at least 3 maps (got ${n})`);
  const k = Math.min(options.neighbours ?? 10, n - 1);
  const found = await nearestNeighbours(create, rows, 'self', dims, k, { signal: hooks.signal });
  const graph = affinity(found.indices, n, found.k);
  const wanted = Math.min(n - 1, maxClusters + 1);
  const { values, vectors } = await leadingVectors(graph.rows, graph.weights, wanted, hooks);
  const laplacian = values.map((v) => Math.max(0, 1 - v));
  let clusters = options.clusters ?? 1;
  let gap = 0;
  if (options.clusters === undefined)
    // From 2 on: the gap after the first eigenvalue (0) only measures how well the graph holds together.
    for (let i = Math.min(2, maxClusters); i < Math.min(laplacian.length, maxClusters + 1); i++) {
      const g = laplacian[i]! - laplacian[i - 1]!;
      if (g > gap) [gap, clusters] = [g, i];
    }
  else gap = (laplacian[clusters] ?? laplacian.at(-1)!) - laplacian[clusters - 1]!;
  let assignment = new Int32Array(n);
  if (clusters > 1) {
    const embedded: number[][] = [];
    for (let i = 0; i < n; i++) {
      const row = Array.from({ length: clusters }, (_, c) => vectors.get(i, c));
      const norm = Math.hypot(...row) || 1;
      embedded.push(row.map((v) => v / norm));
    }
    const random = seededUniform(options.seed ?? 0);
    let best: { clusters: number[]; inertia: number } | null = null;
    for (let restart = 0; restart < 10; restart++) {
      const result = kmeans(embedded, clusters, { initialization: 'kmeans++', seed: Math.floor(random() * 2 ** 31) });
      const inertia = result.computeInformation(embedded).reduce((a, c) => a + c.error, 0);
      if (!best || inertia < best.inertia) best = { clusters: result.clusters, inertia };
    }
    assignment = Int32Array.from(best!.clusters);
  }
  // Cluster numbers by size, largest first, so the same input always reads the same.
  const sizes = new Array<number>(clusters).fill(0);
  for (const a of assignment) sizes[a]!++;
  const rank = sizes
    .map((size, c) => [size, c] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .map(([, c]) => c);
  const renumber = new Int32Array(clusters);
  rank.forEach((c, r) => (renumber[c] = r));
  return {
    assignment: assignment.map((a) => renumber[a]!),
    k: clusters,
    eigenvalues: laplacian.map((v) => Number(v.toFixed(6))),
    eigengap: Number(gap.toFixed(6)),
  };
}
