/**
 * ROAD's noisy linear imputation (Rong et al. 2022): every removed pixel becomes the weighted mean of
 * its 8 neighbours (1/6 for edge neighbours, 1/12 for diagonal ones, weights of neighbours outside the
 * image dropped), all removed pixels solved together as one sparse linear system per channel, plus
 * Gaussian noise. The system (sum of weights) x_i - sum over removed j of w_ij x_j = sum over kept k
 * of w_ik v_k is symmetric and positive definite when every region of removed pixels touches a kept
 * one, so conjugate gradients solve it. A region with no kept pixel around it (only possible when
 * almost everything is removed) is filled with the mean of the kept pixels first.
 */
import { seededGaussian } from '../../../src-shared/random.ts';

const NEIGHBOURS: [number, number, number][] = [
  [1, 1, 1 / 12],
  [0, 1, 1 / 6],
  [-1, 1, 1 / 12],
  [1, -1, 1 / 12],
  [0, -1, 1 / 6],
  [-1, -1, 1 / 12],
  [1, 0, 1 / 6],
  [-1, 0, 1 / 6],
];

export interface ImputationOptions {
  noise: number;
  seed: number;
}

export function imputeLinear(
  input: Float32Array,
  removed: Uint8Array,
  image: { channels: number; height: number; width: number; layout: 'NCHW' | 'NHWC' },
  options: ImputationOptions,
): Float32Array {
  const { channels, height, width, layout } = image;
  const plane = height * width;
  const at = (c: number, p: number) => (layout === 'NCHW' ? c * plane + p : p * channels + c);
  const noise = seededGaussian(options.seed);
  const isolated = isolatedPixels(removed, height, width);
  if (isolated.length > 0) {
    const filled = Float32Array.from(input);
    const rest = Uint8Array.from(removed);
    for (let c = 0; c < channels; c++) {
      let mean = 0;
      let kept = 0;
      for (let p = 0; p < plane; p++) if (!removed[p]) ((mean += input[at(c, p)]!), kept++);
      for (const p of isolated) filled[at(c, p)] = (kept > 0 ? mean / kept : 0) + options.noise * noise();
    }
    for (const p of isolated) rest[p] = 0;
    return imputeLinear(filled, rest, image, { ...options, seed: options.seed + 1 });
  }
  const unknown = [...removed.keys()].filter((p) => removed[p] === 1);
  const index = new Int32Array(plane).fill(-1);
  unknown.forEach((p, i) => (index[p] = i));
  const n = unknown.length;
  const out = Float32Array.from(input);
  if (n === 0) return out;

  // Sparse rows: diagonal = sum of in-image weights; off-diagonal = -w for removed neighbours.
  const diagonal = new Float64Array(n);
  const columns: number[][] = unknown.map(() => []);
  const weights: number[][] = unknown.map(() => []);
  const knownNeighbours: { pixel: number; weight: number }[][] = unknown.map(() => []);
  unknown.forEach((p, i) => {
    const y = Math.floor(p / width);
    const x = p % width;
    for (const [dy, dx, w] of NEIGHBOURS) {
      const ny = y + dy;
      const nx = x + dx;
      if (ny < 0 || nx < 0 || ny >= height || nx >= width) continue;
      diagonal[i]! += w;
      const q = ny * width + nx;
      if (index[q]! >= 0) {
        columns[i]!.push(index[q]!);
        weights[i]!.push(w);
      } else knownNeighbours[i]!.push({ pixel: q, weight: w });
    }
  });
  for (let c = 0; c < channels; c++) {
    const rhs = new Float64Array(n);
    unknown.forEach((_, i) => {
      for (const { pixel, weight } of knownNeighbours[i]!) rhs[i]! += weight * input[at(c, pixel)]!;
    });
    const solution = conjugateGradient(diagonal, columns, weights, rhs);
    unknown.forEach((p, i) => (out[at(c, p)] = solution[i]! + options.noise * noise()));
  }
  return out;
}

/** Removed pixels whose 8-connected region of removed pixels has no kept pixel next to it. */
function isolatedPixels(removed: Uint8Array, height: number, width: number): number[] {
  const seen = new Uint8Array(removed.length);
  const isolated: number[] = [];
  for (let start = 0; start < removed.length; start++) {
    if (!removed[start] || seen[start]) continue;
    const region = [start];
    seen[start] = 1;
    let touchesKept = false;
    for (let head = 0; head < region.length; head++) {
      const p = region[head]!;
      const y = Math.floor(p / width);
      const x = p % width;
      for (const [dy, dx] of NEIGHBOURS) {
        const ny = y + dy;
        const nx = x + dx;
        if (ny < 0 || nx < 0 || ny >= height || nx >= width) continue;
        const q = ny * width + nx;
        if (!removed[q]) touchesKept = true;
        else if (!seen[q]) {
          seen[q] = 1;
          region.push(q);
        }
      }
    }
    if (!touchesKept) isolated.push(...region);
  }
  return isolated;
}

function conjugateGradient(
  diagonal: Float64Array,
  columns: number[][],
  weights: number[][],
  rhs: Float64Array,
): Float64Array {
  const n = rhs.length;
  const multiply = (v: Float64Array, out: Float64Array) => {
    for (let i = 0; i < n; i++) {
      let s = diagonal[i]! * v[i]!;
      const cols = columns[i]!;
      const ws = weights[i]!;
      for (let k = 0; k < cols.length; k++) s -= ws[k]! * v[cols[k]!]!;
      out[i] = s;
    }
  };
  const x = new Float64Array(n);
  // Jacobi-preconditioned CG.
  const r = Float64Array.from(rhs);
  const z = Float64Array.from(r, (v, i) => v / diagonal[i]!);
  const p = Float64Array.from(z);
  const q = new Float64Array(n);
  let rz = r.reduce((s, v, i) => s + v * z[i]!, 0);
  const norm0 = Math.sqrt(rhs.reduce((s, v) => s + v * v, 0)) || 1;
  for (let iteration = 0; iteration < 10 * n + 100; iteration++) {
    if (Math.sqrt(r.reduce((s, v) => s + v * v, 0)) <= 1e-10 * norm0) return x;
    multiply(p, q);
    const pq = p.reduce((s, v, i) => s + v * q[i]!, 0);
    if (!(pq > 0)) return x;
    const alpha = rz / pq;
    for (let i = 0; i < n; i++) {
      x[i]! += alpha * p[i]!;
      r[i]! -= alpha * q[i]!;
      z[i] = r[i]! / diagonal[i]!;
    }
    const next = r.reduce((s, v, i) => s + v * z[i]!, 0);
    const beta = next / rz;
    rz = next;
    for (let i = 0; i < n; i++) p[i] = z[i]! + beta * p[i]!;
  }
  return x;
}
