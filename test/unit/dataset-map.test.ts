/**
 * The dataset map's engines on hand-made embeddings with known answers: exact neighbours (against a
 * brute force in JavaScript), principal components (against a known covariance), the UMAP layout
 * keeping planted clusters apart, the scores, and a map extended with new images.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { seededGaussian } from '../../src-shared/random.ts';
import { buildMap, extendMap, type MapInputs } from '../../src-main/explain/map/build.ts';
import { nearestNeighbours } from '../../src-main/explain/map/graphs.ts';
import { fitPca, leadingEigen } from '../../src-main/explain/map/pca.ts';
import { entropyHardness, mistakenness, nearDuplicates, uniqueness } from '../../src-main/explain/map/scores.ts';
import { Matrix } from 'ml-matrix';

const create = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });

function clusters(perCluster: number, centres: number[][], spread: number, seed = 1): Float32Array {
  const g = seededGaussian(seed);
  const dims = centres[0]!.length;
  const out = new Float32Array(perCluster * centres.length * dims);
  centres.forEach((c, ci) => {
    for (let i = 0; i < perCluster; i++)
      for (let d = 0; d < dims; d++) out[(ci * perCluster + i) * dims + d] = c[d]! + spread * g();
  });
  return out;
}

function bruteForce(points: Float32Array, dims: number, k: number) {
  const n = points.length / dims;
  return Array.from({ length: n }, (_, i) => {
    const d = Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let x = 0; x < dims; x++) s += (points[i * dims + x]! - points[j * dims + x]!) ** 2;
      return { j, d: Math.sqrt(s) };
    });
    return d
      .filter((e) => e.j !== i)
      .sort((a, b) => a.d - b.d)
      .slice(0, k);
  });
}

describe('nearest neighbours', () => {
  it('finds the same k neighbours and distances as a brute force, leaving each point out of its own list', async () => {
    const dims = 7;
    const g = seededGaussian(3);
    const points = Float32Array.from({ length: 600 * dims }, g);
    const found = await nearestNeighbours(create, points, 'self', dims, 5);
    const expected = bruteForce(points, dims, 5);
    expect(found.k).toBe(5);
    for (let i = 0; i < 600; i++) {
      expect(Array.from(found.indices.subarray(i * 5, i * 5 + 5))).toEqual(expected[i]!.map((e) => e.j));
      for (let c = 0; c < 5; c++) expect(found.distances[i * 5 + c]).toBeCloseTo(expected[i]![c]!.d, 3);
    }
  });

  it('answers queries that are not in the base, over several query blocks', async () => {
    const base = Float32Array.from([0, 0, 10, 0, 0, 10, 10, 10]);
    const queries = Float32Array.from({ length: 2 * 700 }, (_, i) => (i % 2 === 0 ? 9 : 9.5));
    const found = await nearestNeighbours(create, base, queries, 2, 2);
    expect(found.indices[0]).toBe(3);
    expect(found.indices[699 * 2]).toBe(3);
    expect(found.distances[0]).toBeCloseTo(Math.hypot(1, 0.5), 5);
  });

  it('keeps an exact duplicate as a neighbour at distance 0', async () => {
    const points = Float32Array.from([0, 0, 5, 5, 0, 0, 9, 1]);
    const found = await nearestNeighbours(create, points, 'self', 2, 1);
    expect(Array.from(found.indices)).toEqual([2, 3, 0, 1]);
    expect(found.distances[0]).toBe(0);
  });

  it('refuses a single point', async () => {
    await expect(nearestNeighbours(create, new Float32Array([1, 2]), 'self', 2, 3)).rejects.toThrow(
      /at least 2 points/,
    );
  });
});

describe('principal components', () => {
  it('recovers the axes and variances of stretched data, signs fixed', async () => {
    const g = seededGaussian(5);
    const n = 4000;
    const data = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      const [a, b, c] = [5 * g(), 2 * g(), 0.5 * g()];
      // Rotated 45 degrees in the first two axes, offset by (1, 2, 3).
      data[i * 3] = (a - b) / Math.SQRT2 + 1;
      data[i * 3 + 1] = (a + b) / Math.SQRT2 + 2;
      data[i * 3 + 2] = c + 3;
    }
    const pca = await fitPca(create, data, 3, 2);
    [1, 2, 3].forEach((m, i) => expect(pca.mean[i]).toBeCloseTo(m, 0));
    expect(pca.variances[0]).toBeCloseTo(25, 0);
    expect(pca.variances[1]).toBeCloseTo(4, 0);
    expect(pca.total).toBeCloseTo(25 + 4 + 0.25, 0);
    expect(pca.components[0]).toBeCloseTo(Math.SQRT1_2, 1);
    expect(pca.components[1]).toBeCloseTo(Math.SQRT1_2, 1);
    expect(Math.abs(pca.components[2]!)).toBeLessThan(0.05);
  });

  it('finds the leading eigenvectors of a large matrix by subspace iteration as the exact decomposition does', () => {
    const dims = 600;
    const g = seededGaussian(9);
    const basis = Matrix.from1DArray(dims, 8, Array.from({ length: dims * 8 }, g));
    const spectrum = Matrix.diag([64, 32, 16, 8, 4, 2, 1, 0.5]);
    const c = basis.mmul(spectrum).mmul(basis.transpose()).add(Matrix.eye(dims).mul(0.01));
    const { values, vectors } = leadingEigen(c, 3);
    const exact = c.mmul(vectors);
    for (let col = 0; col < 3; col++)
      for (let i = 0; i < dims; i += 50) expect(exact.get(i, col)).toBeCloseTo(values[col]! * vectors.get(i, col), 3);
    expect(values[0]).toBeGreaterThan(values[1]!);
  });
});

describe('scores', () => {
  it('scores hardness by normalised entropy and mistakenness by confident disagreement', () => {
    const probabilities = Float32Array.from([1, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0.01, 0.98, 0.01, 1, 0, 0]);
    const hardness = entropyHardness(probabilities, 3);
    expect(hardness[0]).toBe(0);
    expect(hardness[1]).toBeCloseTo(1, 6);
    expect(hardness[2]).toBeGreaterThan(0);
    expect(hardness[2]).toBeLessThan(0.15);
    const predicted = Int32Array.from([0, 0, 1, 0]);
    const labels = Int32Array.from([0, 1, 2, -1]);
    const m = mistakenness(hardness, predicted, labels);
    expect(m[0]).toBe(0); // sure and right
    expect(m[1]).toBeCloseTo(0.5, 5); // unsure: as likely a mistake as not
    expect(m[2]).toBeGreaterThan(0.9); // sure and wrong
    expect(Number.isNaN(m[3])).toBe(true); // no label
  });

  it('ranks isolated points as unique and finds near-duplicates, flagging those across splits', async () => {
    const points = Float32Array.from([0, 0, 1, 0, 0, 1, 1, 1, 0.5, 0.5, 30, 30, 0.5, 0.5001]);
    const found = await nearestNeighbours(create, points, 'self', 2, 3);
    const u = uniqueness(found);
    expect(u.indexOf(Math.max(...u))).toBe(5);
    expect(u[5]).toBe(1);
    const duplicates = nearDuplicates(found, ['train', 'train', 'train', 'train', 'train', 'train', 'test']);
    expect(duplicates.pairs).toBe(1);
    expect(duplicates.nearest[4]).toBe(6);
    expect(duplicates.nearest[6]).toBe(4);
    expect(Array.from(duplicates.leak)).toEqual([0, 0, 0, 0, 1, 0, 1]);
  });
});

function inputs(embedding: Float32Array, dims: number, labels: number[]): MapInputs {
  const classes = 3;
  const n = embedding.length / dims;
  const probabilities = new Float32Array(n * classes);
  labels.forEach((l, i) => (probabilities[i * classes + Math.max(0, l)] = 1));
  return {
    embedding,
    dims,
    probabilities,
    classes,
    labels: Int32Array.from(labels),
    splits: labels.map(() => 'train'),
  };
}

describe('the map', () => {
  const centres = [
    [8, 0, 0, 0, 0, 0],
    [0, 8, 0, 0, 0, 0],
    [0, 0, 8, 0, 0, 0],
  ];
  const per = 150;
  const labels = centres.flatMap((_, c) => new Array<number>(per).fill(c));

  it('lays planted clusters out apart, each point nearer its own cluster, the same for the same seed', async () => {
    const data = clusters(per, centres, 1, 2);
    const map = await buildMap(create, inputs(data, 6, labels));
    expect(map.layout.length).toBe(3 * per * 2);
    const centroid = (c: number) => {
      let [x, y] = [0, 0];
      for (let i = c * per; i < (c + 1) * per; i++) [x, y] = [x + map.layout[2 * i]!, y + map.layout[2 * i + 1]!];
      return [x / per, y / per];
    };
    const cs = [0, 1, 2].map(centroid);
    let nearestOwn = 0;
    for (let i = 0; i < 3 * per; i++) {
      const d = cs.map(([x, y]) => Math.hypot(map.layout[2 * i]! - x!, map.layout[2 * i + 1]! - y!));
      if (d.indexOf(Math.min(...d)) === labels[i]) nearestOwn++;
    }
    expect(nearestOwn).toBe(3 * per);
    // Every neighbour of a point is in its cluster.
    for (let i = 0; i < 3 * per; i++)
      for (let c = 0; c < map.neighbours.k; c++)
        expect(labels[map.neighbours.indices[i * map.neighbours.k + c]!]).toBe(labels[i]);
    const again = await buildMap(create, inputs(data, 6, labels));
    expect(Array.from(again.layout)).toEqual(Array.from(map.layout));
  });

  it('adds images without moving the mapped ones, near their own cluster, with neighbour lists brought up to date', async () => {
    const data = clusters(per, centres, 1, 4);
    const map = await buildMap(create, inputs(data, 6, labels));
    const before = Float32Array.from(map.layout);
    const added = clusters(4, centres, 1, 8);
    const addedLabels = centres.flatMap((_, c) => new Array<number>(4).fill(c));
    // One of them an exact copy of the first mapped image.
    added.set(data.subarray(0, 6), 0);
    const next = await extendMap(create, map, inputs(added, 6, addedLabels));
    const n = 3 * per;
    expect(next.layout.length).toBe((n + 12) * 2);
    expect(Array.from(next.layout.subarray(0, n * 2))).toEqual(Array.from(before));
    for (let r = 0; r < 12; r++)
      for (let c = 0; c < next.neighbours.k; c++) {
        const other = next.neighbours.indices[(n + r) * next.neighbours.k + c]!;
        expect(other).not.toBe(n + r);
        expect(other < n ? labels[other] : addedLabels[other - n]).toBe(addedLabels[r]);
      }
    // The copy is the first image's nearest neighbour now, and a near-duplicate of it.
    expect(next.neighbours.indices[0]).toBe(n);
    expect(next.neighbours.distances[0]).toBe(0);
    expect(next.duplicate[0]).toBe(n);
    expect(next.hardness.length).toBe(n + 12);
  });
});
