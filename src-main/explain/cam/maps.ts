/**
 * The CAM family's arithmetic on one image's activations A [K, h, w] and gradients G (same shape), as
 * jacobgil/pytorch-grad-cam defines it (../shared/METHODS.md). Sums run in float64. Every map is
 * ReLU-ed and returned at layer resolution; upsampling and scaling are the viewer's business.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import {
  CAM_METHOD_NAMES,
  PIXEL_METHOD_NAMES,
  smoothingApplies,
  type Smoothing,
} from '../../../src-shared/contract.ts';
import { ApiError } from '../../../src-shared/errors.ts';
export { resizeBilinearAligned } from '../../../src-shared/saliency.ts';

export const CAM_METHODS = CAM_METHOD_NAMES;
export type CamMethod = (typeof CAM_METHODS)[number];
/** Methods that read the gradient of the class score at the layer (one gradient-graph run). */
export const GRADIENT_METHODS: ReadonlySet<CamMethod> = new Set([
  'gradcam',
  'hirescam',
  'xgradcam',
  'gradcam++',
  'layercam',
  'gradcam-elementwise',
  'eigengradcam',
]);

/** Methods whose map is at input resolution and which need no layer (guided Grad-CAM reads one too). */
export const PIXEL_METHODS: ReadonlySet<CamMethod> = new Set(PIXEL_METHOD_NAMES);

export { smoothingApplies };
export type { Smoothing };

export interface FeatureMaps {
  channels: number;
  height: number;
  width: number;
  /** [K * h * w] for one image. */
  values: Float32Array;
}

/** ReLU(sum_k w_k A_k), or with eigen smoothing the first principal component of w_k A_k. */
export function weightedSum(activations: FeatureMaps, weights: ArrayLike<number>, eigen = false): Float32Array {
  const { channels, height, width, values } = activations;
  const plane = height * width;
  if (eigen) {
    const weighted = new Float32Array(values.length);
    for (let k = 0; k < channels; k++)
      for (let p = 0; p < plane; p++) weighted[k * plane + p] = weights[k]! * values[k * plane + p]!;
    return eigenMap({ ...activations, values: weighted });
  }
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

/** ReLU(sum_k E_k) for per-element products E [K, h, w], or their first principal component. */
function elementSum(a: FeatureMaps, elements: Float32Array, eigen: boolean): Float32Array {
  if (eigen) return eigenMap({ ...a, values: elements });
  const plane = a.height * a.width;
  const sum = new Float64Array(plane);
  for (let i = 0; i < elements.length; i++) sum[i % plane]! += elements[i]!;
  return relu(sum);
}

/**
 * The map of a gradient method from the layer's activations A and the gradients G of the class score
 * (for FinerCAM, of its weighted comparison target). Random-CAM takes its weights from `random`.
 */
export function gradientMap(
  method: CamMethod,
  a: FeatureMaps,
  gradients: Float32Array,
  options: { eigen?: boolean; random?: () => number } = {},
): Float32Array {
  const { channels, height, width, values } = a;
  const eigen = options.eigen ?? false;
  const plane = height * width;
  const weights = new Float64Array(channels);
  switch (method) {
    case 'gradcam':
    case 'finercam':
      for (let k = 0; k < channels; k++) {
        let s = 0;
        for (let p = 0; p < plane; p++) s += gradients[k * plane + p]!;
        weights[k] = s / plane;
      }
      return weightedSum(a, weights, eigen);
    case 'hirescam':
    case 'layercam':
    case 'gradcam-elementwise':
    case 'eigengradcam': {
      const elements = new Float32Array(channels * plane);
      for (let i = 0; i < elements.length; i++) {
        const g = gradients[i]!;
        if (method === 'layercam') elements[i] = (g > 0 ? g : 0) * values[i]!;
        else if (method === 'gradcam-elementwise') elements[i] = Math.max(g * values[i]!, 0);
        else elements[i] = g * values[i]!;
      }
      return elementSum(a, elements, eigen || method === 'eigengradcam');
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
      return weightedSum(a, weights, eigen);
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
      return weightedSum(a, weights, eigen);
    case 'randomcam': {
      const random = options.random ?? seededRandom(RANDOM_CAM_SEED);
      for (let k = 0; k < channels; k++) weights[k] = random() * 2 - 1;
      return weightedSum(a, weights, eigen);
    }
    default:
      throw new Error(`${method} is not a gradient method`);
  }
}

/** Random-CAM's seed: every image gets the same channel weights, so maps are reproducible. */
export const RANDOM_CAM_SEED = 0x5eed;

/** mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal numbers from `random` (Box-Muller). */
export function gaussian(random: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/**
 * FEM (Fuad et al. 2020, the library's k = 2): a channel's weight is the share of its positions above
 * its mean + k standard deviations; map = ReLU(sum_k w_k A_k).
 */
export function femMap(a: FeatureMaps, k = 2): Float32Array {
  const { channels, height, width, values } = a;
  const plane = height * width;
  const weights = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    let mean = 0;
    for (let p = 0; p < plane; p++) mean += values[c * plane + p]!;
    mean /= plane;
    let variance = 0;
    for (let p = 0; p < plane; p++) variance += (values[c * plane + p]! - mean) ** 2;
    const threshold = mean + k * Math.sqrt(variance / plane);
    let above = 0;
    for (let p = 0; p < plane; p++) if (values[c * plane + p]! > threshold) above++;
    weights[c] = above / plane;
  }
  return weightedSum(a, weights);
}

/** A centred [positions, channels] matrix of A (each channel's mean over positions subtracted). */
function centredPositions(a: FeatureMaps): Matrix {
  const { channels, height, width, values } = a;
  const plane = height * width;
  const centred = new Matrix(plane, channels);
  for (let k = 0; k < channels; k++) {
    let mean = 0;
    for (let p = 0; p < plane; p++) mean += Number.isNaN(values[k * plane + p]!) ? 0 : values[k * plane + p]!;
    mean /= plane;
    for (let p = 0; p < plane; p++) {
      const v = values[k * plane + p]!;
      centred.set(p, k, (Number.isNaN(v) ? 0 : v) - mean);
    }
  }
  return centred;
}

/**
 * Eigen-CAM: centre A (pixels as rows, channels as columns), project on the first right singular
 * vector. The decomposition runs on the smaller Gram matrix. The vector's sign is arbitrary; it is
 * chosen so that the projection correlates positively with the channel sum of A.
 */
export function eigenMap(a: FeatureMaps): Float32Array {
  const { channels, height, width, values } = a;
  const plane = height * width;
  const centred = centredPositions(a);
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

/** Positions beyond which KPCA-CAM's kernel matrix ([positions, positions]) would not fit in time. */
export const KPCA_MAX_POSITIONS = 1024;

/**
 * KPCA-CAM: kernel PCA of the centred A (positions as samples) with the library's defaults, scikit-learn's
 * sigmoid kernel tanh(gamma <x, y> + 1) with gamma = 1 / channels; the map is the first component's
 * scores (eigenvector x sqrt(eigenvalue) of the centred kernel matrix), signed as scikit-learn signs
 * them (the entry of largest magnitude positive), then ReLU.
 */
export function kpcaMap(a: FeatureMaps): Float32Array {
  const { channels, height, width } = a;
  const plane = height * width;
  if (plane > KPCA_MAX_POSITIONS)
    throw new ApiError(
      'invalid_request',
      `KPCA-CAM needs a ${plane} x ${plane} kernel matrix at this ${height}x${width} layer; choose a layer of at most ${KPCA_MAX_POSITIONS} positions`,
    );
  const x = centredPositions(a);
  const gamma = 1 / channels;
  const kernel = x.mmul(x.transpose());
  for (let i = 0; i < plane; i++)
    for (let j = 0; j < plane; j++) kernel.set(i, j, Math.tanh(gamma * kernel.get(i, j) + 1));
  // Centre in feature space: K - 1K - K1 + 1K1.
  const rowMeans = Float64Array.from({ length: plane }, (_, i) => kernel.getRow(i).reduce((s, v) => s + v, 0) / plane);
  const total = rowMeans.reduce((s, v) => s + v, 0) / plane;
  for (let i = 0; i < plane; i++)
    for (let j = 0; j < plane; j++) kernel.set(i, j, kernel.get(i, j) - rowMeans[i]! - rowMeans[j]! + total);
  const { vector, value } = topEigen(kernel);
  let largest = 0;
  for (let p = 1; p < plane; p++) if (Math.abs(vector[p]!) > Math.abs(vector[largest]!)) largest = p;
  const sign = vector[largest]! < 0 ? -1 : 1;
  const scale = sign * Math.sqrt(Math.max(value, 0));
  return relu(Float64Array.from(vector, (v) => v * scale));
}

/**
 * FinerCAM's seed d L / d y for one image: L = sum_j p_j (y_c - alpha y_j) / (sum_j p_j + 1e-9) over the
 * comparison classes j, the classes whose scores lie nearest to y_c (the library's
 * comparison_categories [1, 2, 3] of the classes sorted by |y - y_c|), p = softmax(y), alpha = 1.
 * Returns the seed and the main class.
 */
export function finerSeed(logits: ArrayLike<number>, target: number, alpha = 1): { seed: Float32Array; main: number } {
  const classes = logits.length;
  let main = target;
  if (main < 0) {
    main = 0;
    for (let k = 1; k < classes; k++) if (logits[k]! > logits[main]!) main = k;
  }
  const reference = logits[main]!;
  const order = Array.from({ length: classes }, (_, k) => k).sort(
    (i, j) => Math.abs(logits[i]! - reference) - Math.abs(logits[j]! - reference) || i - j,
  );
  const first = order[0]!; // the main class itself, or a class tied with it (as numpy's argsort picks)
  const comparison = [1, 2, 3].filter((i) => i < classes).map((i) => order[i]!);
  const p = softmax64(logits);
  const y = (k: number) => logits[k]!;
  let numerator = 0;
  let denominator = 1e-9;
  for (const j of comparison) {
    numerator += p[j]! * (y(first) - alpha * y(j));
    denominator += p[j]!;
  }
  const seed = new Float32Array(classes);
  for (let k = 0; k < classes; k++) {
    let dNumerator = 0;
    let dDenominator = 0;
    for (const j of comparison) {
      const dp = p[j]! * ((j === k ? 1 : 0) - p[k]!);
      dNumerator += dp * (y(first) - alpha * y(j)) + p[j]! * ((k === first ? 1 : 0) - alpha * (k === j ? 1 : 0));
      dDenominator += dp;
    }
    seed[k] = (dNumerator * denominator - numerator * dDenominator) / (denominator * denominator);
  }
  return { seed, main: first };
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
