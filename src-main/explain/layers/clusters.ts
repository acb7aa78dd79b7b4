/**
 * Layer-wise clustered feature maps, the local explanation of Bianchi et al. (IJCAI 2024; see
 * ../shared/METHODS.md, section 4), for one image, one class and one conv layer:
 * 1. weight each feature map by the spatial mean of its guided gradient G * [A > 0] * [G > 0] of the
 *    class logit, as a percentage of the layer's total;
 * 2. drop maps under the paper's size-dependent threshold (0.175% for 512 maps, 0.35% for 256, 0.7%
 *    for 128, 1.4% for 64: 89.6% / maps);
 * 3. min-max normalise and flatten the rest, PCA to at most 50 components (ml-pca), t-SNE to 2-D
 *    (druidjs, seeded), Ward agglomerative clustering (ml-hclust) for k = 3..8, k by silhouette;
 * 4. cluster weight = sum of its maps' weights; clusters under max(max / 3, mean / 2) are marked
 *    dropped; cluster map = the weight-averaged normalised maps of the cluster.
 * The same input always gives the same clusters (fixed seed, deterministic libraries).
 */
import * as druid from '@saehrimnir/druidjs';
import { agnes } from 'ml-hclust';
import { PCA } from 'ml-pca';

export interface LayerActivity {
  channels: number;
  height: number;
  width: number;
  /** [K * h * w] activations and gradients of one image. */
  activations: Float32Array;
  gradients: Float32Array;
}

export interface FeatureCluster {
  index: number;
  channels: number[];
  /** Sum of its maps' weights, % of the layer total. */
  weight: number;
  kept: boolean;
  /** [h * w], in [0, 1]. */
  map: Float32Array;
}

export interface LayerClusters {
  mapsTotal: number;
  /** Weight of every map, % of the layer total (0 where the guided gradient is 0). */
  weights: Float64Array;
  /** Channels above the threshold, in channel order. */
  keptChannels: number[];
  thresholdPercent: number;
  /** t-SNE position of every kept map (same order as keptChannels), and its cluster. */
  points: { channel: number; x: number; y: number; cluster: number }[];
  k: number;
  silhouette: number | null;
  clusters: FeatureCluster[];
}

export const TSNE_SEED = 1212;
export const TSNE_ITERATIONS = 500;
export const PCA_COMPONENTS = 50;
export const K_RANGE = [3, 8] as const;

export function guidedWeights(layer: LayerActivity): Float64Array {
  const plane = layer.height * layer.width;
  const weights = new Float64Array(layer.channels);
  for (let k = 0; k < layer.channels; k++) {
    let sum = 0;
    for (let p = k * plane; p < (k + 1) * plane; p++) {
      const g = layer.gradients[p]!;
      if (g > 0 && layer.activations[p]! > 0) sum += g;
    }
    weights[k] = sum / plane;
  }
  return weights;
}

/** The paper's thresholds are 89.6% divided by the number of maps (0.175% x 512 = 1.4% x 64). */
export function thresholdPercent(maps: number): number {
  return 89.6 / maps;
}

export function clusterLayer(layer: LayerActivity, seed = TSNE_SEED): LayerClusters {
  const plane = layer.height * layer.width;
  const raw = guidedWeights(layer);
  const total = raw.reduce((a, b) => a + b, 0);
  const weights = Float64Array.from(raw, (w) => (total > 0 ? (100 * w) / total : 0));
  const threshold = thresholdPercent(layer.channels);
  const keptChannels = [...weights.keys()].filter((k) => weights[k]! > 0 && weights[k]! >= threshold);
  const normalised = keptChannels.map((k) => minMax(layer.activations.subarray(k * plane, (k + 1) * plane)));

  let assignment: number[];
  let positions: number[][];
  let silhouette: number | null = null;
  if (keptChannels.length < 4) {
    // Too few maps to cluster (k starts at 3): every map is its own cluster.
    assignment = keptChannels.map((_, i) => i);
    positions = keptChannels.map((_, i) => [i, 0]);
  } else {
    positions = embed(normalised, seed);
    const best = bestClustering(positions);
    assignment = best.assignment;
    silhouette = best.silhouette;
  }

  const k = keptChannels.length === 0 ? 0 : Math.max(...assignment) + 1;
  const clusters: FeatureCluster[] = Array.from({ length: k }, (_, index) => {
    const members = assignment.flatMap((c, i) => (c === index ? [i] : []));
    const weight = members.reduce((sum, i) => sum + weights[keptChannels[i]!]!, 0);
    const map = new Float32Array(plane);
    for (const i of members) {
      const w = weights[keptChannels[i]!]! / weight;
      for (let p = 0; p < plane; p++) map[p]! += w * normalised[i]![p]!;
    }
    return { index, channels: members.map((i) => keptChannels[i]!), weight, kept: true, map };
  });
  // Order clusters by weight (largest first) so cluster 0 is the strongest, then mark the weak ones.
  clusters.sort((a, b) => b.weight - a.weight || a.channels[0]! - b.channels[0]!);
  const renumber = new Map(clusters.map((c, i) => [c.index, i]));
  clusters.forEach((c, i) => (c.index = i));
  if (clusters.length > 0) {
    const max = clusters[0]!.weight;
    const mean = clusters.reduce((s, c) => s + c.weight, 0) / clusters.length;
    const floor = Math.max(max / 3, mean / 2);
    for (const c of clusters) c.kept = c.weight >= floor;
  }
  return {
    mapsTotal: layer.channels,
    weights,
    keptChannels,
    thresholdPercent: threshold,
    points: keptChannels.map((channel, i) => ({
      channel,
      x: positions[i]![0]!,
      y: positions[i]![1]!,
      cluster: renumber.get(assignment[i]!)!,
    })),
    k,
    silhouette,
    clusters,
  };
}

function minMax(values: Float32Array): Float64Array {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    low = Math.min(low, v);
    high = Math.max(high, v);
  }
  const scale = high > low ? 1 / (high - low) : 0;
  return Float64Array.from(values, (v) => (v - low) * scale);
}

/** PCA to at most 50 components, then t-SNE to 2-D. */
function embed(rows: Float64Array[], seed: number): number[][] {
  const data = rows.map((r) => Array.from(r));
  const components = Math.min(PCA_COMPONENTS, rows.length - 1, rows[0]!.length);
  const pca = new PCA(data, { center: true, scale: false });
  const reduced = pca.predict(data, { nComponents: components }).to2DArray();
  const perplexity = Math.max(2, Math.min(30, Math.floor((rows.length - 1) / 3)));
  const tsne = new druid.TSNE(reduced, { perplexity, epsilon: 10, d: 2, seed });
  return Array.from(tsne.transform(TSNE_ITERATIONS) as ArrayLike<ArrayLike<number>>, (row) => [row[0]!, row[1]!]);
}

function bestClustering(points: number[][]): { assignment: number[]; silhouette: number } {
  const tree = agnes(points, { method: 'ward' });
  let best: { assignment: number[]; silhouette: number } | null = null;
  for (let k = K_RANGE[0]; k <= Math.min(K_RANGE[1], points.length - 1); k++) {
    const assignment = new Array<number>(points.length).fill(0);
    tree.group(k).children.forEach((child, cluster) => {
      for (const i of child.indices()) assignment[i] = cluster;
    });
    const score = silhouetteScore(points, assignment);
    if (!best || score > best.silhouette) best = { assignment, silhouette: score };
  }
  return best!;
}

/** Mean silhouette coefficient (Euclidean); points alone in their cluster score 0, as in scikit-learn. */
export function silhouetteScore(points: number[][], assignment: number[]): number {
  const n = points.length;
  const k = Math.max(...assignment) + 1;
  const sizes = new Array<number>(k).fill(0);
  for (const c of assignment) sizes[c]!++;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const sums = new Array<number>(k).fill(0);
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      sums[assignment[j]!]! += Math.hypot(points[i]![0]! - points[j]![0]!, points[i]![1]! - points[j]![1]!);
    }
    const own = assignment[i]!;
    if (sizes[own]! <= 1) continue;
    const a = sums[own]! / (sizes[own]! - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && sizes[c]! > 0) b = Math.min(b, sums[c]! / sizes[c]!);
    total += (b - a) / Math.max(a, b);
  }
  return total / n;
}
