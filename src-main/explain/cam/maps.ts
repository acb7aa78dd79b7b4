/**
 * The CAM family's arithmetic on one image's activations A [K, h, w] and gradients G (same shape), as
 * jacobgil/pytorch-grad-cam defines it (../shared/METHODS.md). Sums run in float64. Every map is
 * ReLU-ed and returned at layer resolution; upsampling and scaling are the viewer's business.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { CAM_METHOD_NAMES } from '../../../src-shared/contract.ts';
export { resizeBilinearAligned } from '../../../src-shared/saliency.ts';

export const CAM_METHODS = CAM_METHOD_NAMES;
export type CamMethod = (typeof CAM_METHODS)[number];
export const GRADIENT_METHODS: ReadonlySet<CamMethod> = new Set([
  'gradcam',
  'hirescam',
  'xgradcam',
  'gradcam++',
  'layercam',
]);

export interface FeatureMaps {
  channels: number;
  height: number;
  width: number;
  /** [K * h * w] for one image. */
  values: Float32Array;
}

/** ReLU(sum_k w_k A_k). */
export function weightedSum(activations: FeatureMaps, weights: ArrayLike<number>): Float32Array {
  const { channels, height, width, values } = activations;
  const plane = height * width;
  const sum = new Float64Array(plane);
  for (let k = 0; k < channels; k++) {
    const w = weights[k]!;
    if (w === 0) continue;
    const base = k * plane;
    for (let p = 0; p < plane; p++) sum[p]! += w * values[base + p]!;
  }
  return relu(sum);
}

function relu(values: Float64Array): Float32Array {
  return Float32Array.from(values, (v) => (v > 0 ? v : 0));
}

export function gradientMap(method: CamMethod, a: FeatureMaps, gradients: Float32Array): Float32Array {
  const { channels, height, width, values } = a;
  const plane = height * width;
  const weights = new Float64Array(channels);
  switch (method) {
    case 'gradcam':
      for (let k = 0; k < channels; k++) {
        let s = 0;
        for (let p = 0; p < plane; p++) s += gradients[k * plane + p]!;
        weights[k] = s / plane;
      }
      return weightedSum(a, weights);
    case 'hirescam':
    case 'layercam': {
      const sum = new Float64Array(plane);
      for (let i = 0; i < channels * plane; i++) {
        const g = gradients[i]!;
        sum[i % plane]! += (method === 'layercam' && g < 0 ? 0 : g) * values[i]!;
      }
      return relu(sum);
    }
    case 'xgradcam':
      for (let k = 0; k < channels; k++) {
        let ga = 0;
        let total = 0;
        for (let p = 0; p < plane; p++) {
          ga += gradients[k * plane + p]! * values[k * plane + p]!;
          total += values[k * plane + p]!;
        }
        weights[k] = ga / (total + 1e-7);
      }
      return weightedSum(a, weights);
    case 'gradcam++':
      for (let k = 0; k < channels; k++) {
        let total = 0;
        for (let p = 0; p < plane; p++) total += values[k * plane + p]!;
        let w = 0;
        for (let p = 0; p < plane; p++) {
          const g = gradients[k * plane + p]!;
          if (g <= 0) continue; // ReLU(G) is zero there, and a = 0 where G = 0
          const g2 = g * g;
          w += g * (g2 / (2 * g2 + total * g2 * g + 1e-6));
        }
        weights[k] = w;
      }
      return weightedSum(a, weights);
    default:
      throw new Error(`${method} is not a gradient method`);
  }
}

/**
 * Eigen-CAM: centre A (pixels as rows, channels as columns), project on the first right singular
 * vector. The decomposition runs on the smaller Gram matrix. The vector's sign is arbitrary; it is
 * chosen so that the projection correlates positively with the channel sum of A.
 */
export function eigenMap(a: FeatureMaps): Float32Array {
  const { channels, height, width, values } = a;
  const plane = height * width;
  const centred = new Matrix(plane, channels);
  for (let k = 0; k < channels; k++) {
    let mean = 0;
    for (let p = 0; p < plane; p++) mean += values[k * plane + p]!;
    mean /= plane;
    for (let p = 0; p < plane; p++) centred.set(p, k, values[k * plane + p]! - mean);
  }
  let projection: Float64Array;
  if (plane <= channels) {
    const gram = centred.mmul(centred.transpose());
    const { vector, value } = topEigen(gram);
    projection = Float64Array.from(vector, (u) => u * Math.sqrt(Math.max(value, 0)));
  } else {
    const gram = centred.transpose().mmul(centred);
    const { vector } = topEigen(gram);
    projection = Float64Array.from(centred.mmul(Matrix.columnVector(vector)).getColumn(0));
  }
  let agreement = 0;
  for (let p = 0; p < plane; p++) {
    let total = 0;
    for (let k = 0; k < channels; k++) total += values[k * plane + p]!;
    agreement += projection[p]! * total;
  }
  if (agreement < 0) for (let p = 0; p < plane; p++) projection[p] = -projection[p]!;
  return relu(projection);
}

function topEigen(symmetric: Matrix): { vector: number[]; value: number } {
  const decomposition = new EigenvalueDecomposition(symmetric, { assumeSymmetric: true });
  const values = decomposition.realEigenvalues;
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return { vector: decomposition.eigenvectorMatrix.getColumn(best), value: values[best]! };
}

export function softmax64(values: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]!);
  const out = Float64Array.from(values, (v) => Math.exp(v - max));
  const sum = out.reduce((a, b) => a + b, 0);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}
