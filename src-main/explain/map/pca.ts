/**
 * Principal components of a dataset's embeddings: the covariance by onnxruntime (graphs.ts), then its
 * leading eigenvectors. Up to 512 dimensions the symmetric eigendecomposition is exact (ml-matrix);
 * above (ResNet-50's 2,048), subspace iteration on the covariance with 16 extra vectors and a
 * Rayleigh-Ritz step gives the leading components without the cubic cost.
 */
import { EigenvalueDecomposition, Matrix, QrDecomposition } from 'ml-matrix';
import { seededGaussian } from '../../../src-shared/random.ts';
import { covariance, type RunHooks, type SessionFactory } from './graphs.ts';

export interface PcaModel {
  dims: number;
  mean: Float32Array;
  /** [components, dims], row-major, unit rows, by decreasing variance. */
  components: Float32Array;
  /** The variance along each component. */
  variances: Float64Array;
  /** The total variance (the covariance's trace). */
  total: number;
}

export const EXACT_LIMIT = 512;
const EXTRA = 16;
const ITERATIONS = 12;

function symmetric(values: Float64Array, dims: number): Matrix {
  const m = new Matrix(dims, dims);
  for (let i = 0; i < dims; i++) for (let j = 0; j < dims; j++) m.set(i, j, values[i * dims + j]!);
  return m;
}

/** Leading eigenpairs of a symmetric positive semi-definite matrix, largest first. */
export function leadingEigen(c: Matrix, count: number): { vectors: Matrix; values: number[] } {
  const dims = c.rows;
  let basis: Matrix;
  let small: Matrix;
  if (dims <= EXACT_LIMIT) {
    basis = Matrix.eye(dims);
    small = c;
  } else {
    const width = Math.min(dims, count + EXTRA);
    const gaussian = seededGaussian(11);
    const start = Matrix.from1DArray(dims, width, Array.from({ length: dims * width }, gaussian));
    let q = new QrDecomposition(start).orthogonalMatrix;
    for (let it = 0; it < ITERATIONS; it++) q = new QrDecomposition(c.mmul(q)).orthogonalMatrix;
    basis = q;
    small = q.transpose().mmul(c).mmul(q);
  }
  const evd = new EigenvalueDecomposition(small, { assumeSymmetric: true });
  const order = evd.realEigenvalues.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const kept = order.slice(0, count);
  const vectors = new Matrix(dims, kept.length);
  const ritz = evd.eigenvectorMatrix;
  kept.forEach(([, index], column) => {
    const v = basis.mmul(ritz.getColumnVector(index));
    for (let i = 0; i < dims; i++) vectors.set(i, column, v.get(i, 0));
  });
  return { vectors, values: kept.map(([v]) => Math.max(0, v)) };
}

/** The first `count` principal components of [n, dims] rows. Signs are fixed: each component's largest entry is positive. */
export async function fitPca(
  create: SessionFactory,
  data: Float32Array,
  dims: number,
  count: number,
  hooks: RunHooks = {},
): Promise<PcaModel> {
  const n = data.length / dims;
  const mean = new Float64Array(dims);
  for (let i = 0; i < n; i++) for (let j = 0; j < dims; j++) mean[j]! += data[i * dims + j]!;
  for (let j = 0; j < dims; j++) mean[j]! /= n;
  const centred = new Float32Array(data.length);
  for (let i = 0; i < n; i++) for (let j = 0; j < dims; j++) centred[i * dims + j] = data[i * dims + j]! - mean[j]!;
  const cov = await covariance(create, centred, dims, hooks);
  let total = 0;
  for (let j = 0; j < dims; j++) total += cov[j * dims + j]!;
  const kept = Math.min(count, dims);
  const { vectors, values } = leadingEigen(symmetric(cov, dims), kept);
  const components = new Float32Array(kept * dims);
  for (let c = 0; c < kept; c++) {
    let largest = 0;
    for (let j = 0; j < dims; j++) if (Math.abs(vectors.get(j, c)) > Math.abs(largest)) largest = vectors.get(j, c);
    const sign = largest < 0 ? -1 : 1;
    for (let j = 0; j < dims; j++) components[c * dims + j] = sign * vectors.get(j, c);
  }
  return { dims, mean: Float32Array.from(mean), components, variances: Float64Array.from(values), total };
}

/** Rows projected on the model's components: [n, components]. */
export function projectPca(model: PcaModel, data: Float32Array): Float32Array {
  const { dims, mean, components } = model;
  const count = components.length / dims;
  const n = data.length / dims;
  const out = new Float32Array(n * count);
  const row = new Float32Array(dims);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dims; j++) row[j] = data[i * dims + j]! - mean[j]!;
    for (let c = 0; c < count; c++) {
      let s = 0;
      for (let j = 0; j < dims; j++) s += row[j]! * components[c * dims + j]!;
      out[i * count + c] = s;
    }
  }
  return out;
}
