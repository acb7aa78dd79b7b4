/**
 * A dataset map from embeddings: principal components (50 kept), exact 15 nearest neighbours in that
 * space, UMAP's 2-D layout started from the first two components, and the per-image scores
 * (scores.ts). `extendMap` adds images to a map without moving the others: the new ones are placed
 * among their nearest mapped neighbours, and every neighbour list and score is brought up to date.
 */
import { nearestNeighbours, type Neighbours, type RunHooks, type SessionFactory } from './graphs.ts';
import { fitPca, projectPca, type PcaModel } from './pca.ts';
import { entropyHardness, mistakenness, nearDuplicates, uniqueness } from './scores.ts';
import { fuzzyUnion, optimiseLayout, placeByNeighbours, scaledStart } from './umap.ts';

export const MAP_COMPONENTS = 50;
export const MAP_NEIGHBOURS = 15;

/** What the model said about each image, beside its embedding. */
export interface MapInputs {
  /** [n, dims] row-major. */
  embedding: Float32Array;
  dims: number;
  /** [n, classes] row-major. */
  probabilities: Float32Array;
  classes: number;
  /** Class index of each image's label among the model's classes, or -1. */
  labels: Int32Array;
  splits: (string | null)[];
}

export interface MapData {
  pca: PcaModel;
  /** [n, components]: the space the neighbours are measured in. */
  reduced: Float32Array;
  /** [n, 2]. */
  layout: Float32Array;
  neighbours: Neighbours;
  predicted: Int32Array;
  confidence: Float32Array;
  labels: Int32Array;
  splits: (string | null)[];
  hardness: Float32Array;
  mistakenness: Float32Array;
  uniqueness: Float32Array;
  duplicate: Int32Array;
  leak: Uint8Array;
  duplicateThreshold: number;
  duplicatePairs: number;
}

export type MapPhase = 'components' | 'neighbours' | 'layout';
export type MapHooks = Omit<RunHooks, 'progress'> & {
  progress?: (phase: MapPhase, done: number, total: number) => void;
};

function predictions(probabilities: Float32Array, classes: number) {
  const n = probabilities.length / classes;
  const predicted = new Int32Array(n);
  const confidence = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++)
      if (probabilities[i * classes + c]! > probabilities[i * classes + best]!) best = c;
    predicted[i] = best;
    confidence[i] = probabilities[i * classes + best]!;
  }
  return { predicted, confidence };
}

function scored(
  base: Omit<
    MapData,
    'hardness' | 'mistakenness' | 'uniqueness' | 'duplicate' | 'leak' | 'duplicateThreshold' | 'duplicatePairs'
  >,
  hardness: Float32Array,
): MapData {
  const duplicates = nearDuplicates(base.neighbours, base.splits);
  return {
    ...base,
    hardness,
    mistakenness: mistakenness(hardness, base.predicted, base.labels),
    uniqueness: uniqueness(base.neighbours),
    duplicate: duplicates.nearest,
    leak: duplicates.leak,
    duplicateThreshold: duplicates.threshold,
    duplicatePairs: duplicates.pairs,
  };
}

const phase =
  (hooks: MapHooks, name: MapPhase): RunHooks['progress'] =>
  (done, total) =>
    hooks.progress?.(name, done, total);

export async function buildMap(
  create: SessionFactory,
  inputs: MapInputs,
  hooks: MapHooks = {},
  seed = 42,
): Promise<MapData> {
  const { embedding, dims, probabilities, classes } = inputs;
  const n = embedding.length / dims;
  hooks.progress?.('components', 0, 1);
  const pca = await fitPca(create, embedding, dims, MAP_COMPONENTS, { signal: hooks.signal });
  const reduced = projectPca(pca, embedding);
  const components = pca.components.length / dims;
  hooks.progress?.('components', 1, 1);
  const neighbours = await nearestNeighbours(create, reduced, 'self', components, MAP_NEIGHBOURS, {
    signal: hooks.signal,
    progress: phase(hooks, 'neighbours'),
  });
  const x = Float32Array.from({ length: n }, (_, i) => reduced[i * components]!);
  const y = Float32Array.from({ length: n }, (_, i) => (components > 1 ? reduced[i * components + 1]! : 0));
  const layout = await optimiseLayout(fuzzyUnion(neighbours, n), scaledStart(x, y), {
    seed,
    signal: hooks.signal,
    progress: phase(hooks, 'layout'),
  });
  return scored(
    {
      pca,
      reduced,
      layout,
      neighbours,
      ...predictions(probabilities, classes),
      labels: inputs.labels,
      splits: inputs.splits,
    },
    entropyHardness(probabilities, classes),
  );
}

/** Merges two sorted neighbour rows (indices already in the combined numbering), keeping the k nearest. */
function mergeRows(
  a: { indices: ArrayLike<number>; distances: ArrayLike<number> },
  b: { indices: ArrayLike<number>; distances: ArrayLike<number> },
  k: number,
  intoIndices: Int32Array,
  intoDistances: Float32Array,
  at: number,
) {
  let i = 0;
  let j = 0;
  for (let w = 0; w < k; w++) {
    const takeA = j >= b.indices.length || (i < a.indices.length && a.distances[i]! <= b.distances[j]!);
    intoIndices[at + w] = takeA ? a.indices[i]! : b.indices[j]!;
    intoDistances[at + w] = takeA ? a.distances[i++]! : b.distances[j++]!;
  }
}

/** `map` with the images of `added` appended, in order; nothing of the mapped images moves on the map. */
export async function extendMap(
  create: SessionFactory,
  map: MapData,
  added: MapInputs,
  hooks: MapHooks = {},
): Promise<MapData> {
  const { pca } = map;
  const components = pca.components.length / pca.dims;
  const old = map.reduced.length / components;
  const reducedNew = projectPca(pca, added.embedding);
  const fresh = reducedNew.length / components;
  const reduced = new Float32Array((old + fresh) * components);
  reduced.set(map.reduced);
  reduced.set(reducedNew, old * components);
  const k = map.neighbours.k;
  const progress = phase(hooks, 'neighbours');
  // New images against everything (themselves included, their own row left out), then the old ones against the new.
  const newToAll = await nearestNeighbours(create, reduced, reducedNew, components, k + 1, { signal: hooks.signal });
  const oldToNew =
    fresh > 0
      ? await nearestNeighbours(create, reducedNew, map.reduced, components, Math.min(k, fresh), {
          signal: hooks.signal,
        })
      : null;
  progress?.(1, 1);
  const total = old + fresh;
  const indices = new Int32Array(total * k);
  const distances = new Float32Array(total * k);
  for (let i = 0; i < old; i++) {
    const own = {
      indices: map.neighbours.indices.subarray(i * k, (i + 1) * k),
      distances: map.neighbours.distances.subarray(i * k, (i + 1) * k),
    };
    if (!oldToNew) {
      indices.set(own.indices, i * k);
      distances.set(own.distances, i * k);
      continue;
    }
    const kn = oldToNew.k;
    const other = {
      indices: Array.from(oldToNew.indices.subarray(i * kn, (i + 1) * kn), (x) => x + old),
      distances: oldToNew.distances.subarray(i * kn, (i + 1) * kn),
    };
    mergeRows(own, other, k, indices, distances, i * k);
  }
  const kk = newToAll.k;
  for (let r = 0; r < fresh; r++) {
    let w = 0;
    for (let c = 0; c < kk && w < k; c++) {
      const index = newToAll.indices[r * kk + c]!;
      if (index === old + r) continue;
      indices[(old + r) * k + w] = index;
      distances[(old + r) * k + w] = newToAll.distances[r * kk + c]!;
      w++;
    }
  }
  // Placed among the images already on the map: the new ones have no position yet.
  const placedBy = await nearestNeighbours(create, map.reduced, reducedNew, components, k, { signal: hooks.signal });
  const placed = placeByNeighbours(map.layout, placedBy);
  const layout = new Float32Array(total * 2);
  layout.set(map.layout);
  layout.set(placed, old * 2);
  const next = predictions(added.probabilities, added.classes);
  const concat = <T extends Float32Array | Int32Array>(a: T, b: T): T => {
    const out = new (a.constructor as new (length: number) => T)(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  return scored(
    {
      pca,
      reduced,
      layout,
      neighbours: { indices, distances, k },
      predicted: concat(map.predicted, next.predicted),
      confidence: concat(map.confidence, next.confidence),
      labels: concat(map.labels, added.labels),
      splits: [...map.splits, ...added.splits],
    },
    concat(map.hardness, entropyHardness(added.probabilities, added.classes)),
  );
}
