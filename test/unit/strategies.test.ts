/**
 * SpRAy's parts on maps with a known answer: spectral clustering recovers planted clusters of maps
 * (three kinds of "heatmap" blobs at different places, with noise) with k chosen by the eigengap, agrees
 * with scikit-learn's SpectralClustering on the same maps, forced k works, and the report ranks the
 * small cluster whose maps look unlike the class's as the most unusual.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { seededGaussian, seededUniform } from '../../src-shared/random.ts';
import { gramSchmidt, spectralClusters } from '../../src-main/explain/map/spectral.ts';
import { describeClusters, normalisedMap } from '../../src-main/explain/strategies.ts';
import { tempDir } from '../support/fixtures.ts';
import { adjustedRand } from '../support/stats.ts';

const create = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });

/** `count` 16 x 16 maps with a Gaussian blob near (cy, cx), jittered, plus noise; sum-normalised. */
function blobs(count: number, cy: number, cx: number, seed: number): Float32Array[] {
  const g = seededGaussian(seed);
  return Array.from({ length: count }, () => {
    const [y0, x0] = [cy + g(), cx + g()];
    const map = new Float32Array(256);
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 16; x++)
        map[y * 16 + x] = Math.exp(-((y - y0) ** 2 + (x - x0) ** 2) / 8) + 0.05 * Math.abs(g());
    return normalisedMap(map, 16, 16).map;
  });
}

function planted() {
  const groups = [blobs(120, 4, 4, 1), blobs(90, 11, 11, 2), blobs(30, 3, 12, 3)];
  const maps = new Float32Array(240 * 256);
  const truth: number[] = [];
  // Shuffled, so the clusters are not runs of rows.
  const order = Array.from({ length: 240 }, (_, i) => i);
  const random = seededUniform(4);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const flat = groups.flatMap((g, c) => g.map((m) => ({ m, c })));
  order.forEach((from, to) => {
    maps.set(flat[from]!.m, to * 256);
    truth.push(flat[from]!.c);
  });
  return { maps, truth };
}

describe('spectral clustering of maps', () => {
  it('orthonormalises a block', () => {
    const g = seededGaussian(2);
    const x = gramSchmidt(Float64Array.from({ length: 50 * 4 }, g), 50, 4);
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 4; b++) {
        let dot = 0;
        for (let i = 0; i < 50; i++) dot += x[i * 4 + a]! * x[i * 4 + b]!;
        expect(dot).toBeCloseTo(a === b ? 1 : 0, 10);
      }
  });

  it('recovers three planted clusters, k chosen by the eigengap', async () => {
    const { maps, truth } = planted();
    const result = await spectralClusters(create, maps, 256);
    expect(result.k).toBe(3);
    // One jittered map of 240 lies between two blobs; scikit-learn places it the same way (next test).
    expect(adjustedRand(result.assignment, truth)).toBeGreaterThan(0.98);
    expect(result.eigenvalues[0]).toBeCloseTo(0, 4);
    expect(result.eigengap).toBeCloseTo(result.eigenvalues[3]! - result.eigenvalues[2]!, 5);
    expect(result.eigenvalues[2]).toBeLessThan(0.01); // three nearly separate components
    // Largest cluster first.
    const sizes = [0, 1, 2].map((c) => result.assignment.filter((a) => a === c).length);
    [120, 90, 30].forEach((size, c) => expect(Math.abs(sizes[c]! - size)).toBeLessThanOrEqual(1));
  });

  it("agrees with scikit-learn's SpectralClustering on the same maps", async () => {
    const { maps } = planted();
    const dir = tempDir();
    writeFileSync(join(dir, 'maps.f32'), Buffer.from(maps.buffer));
    const script = `
import sys, json, numpy as np
from sklearn.cluster import SpectralClustering
x = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, 256)
labels = SpectralClustering(n_clusters=3, affinity="nearest_neighbors", n_neighbors=10, random_state=0).fit_predict(x)
print(json.dumps(labels.tolist()))`;
    const theirs = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script, join(dir, 'maps.f32')], { encoding: 'utf8' }),
    );
    const ours = await spectralClusters(create, maps, 256, { clusters: 3 });
    expect(adjustedRand(ours.assignment, theirs)).toBe(1);
  });

  it('ranks the small cluster unlike the class as the most unusual, members most typical first', async () => {
    const { maps, truth } = planted();
    const ids = truth.map((_, i) => 1000 + i);
    const result = await spectralClusters(create, maps, 256);
    const { clusters, classMean } = describeClusters(
      maps,
      256,
      result.assignment,
      result.k,
      ids,
      truth.map((c) => c !== 2),
    );
    expect(classMean.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    expect(Math.abs(clusters[0]!.size - 30)).toBeLessThanOrEqual(1);
    expect(clusters[0]!.predictedAsClass).toBeLessThan(0.05);
    expect(clusters[0]!.members.filter((id) => truth[id - 1000] === 2).length).toBeGreaterThanOrEqual(29);
    expect(truth[clusters[0]!.members[0]! - 1000]).toBe(2); // the most typical member is one of them
    expect(clusters.map((c) => c.rank)).toEqual([0, 1, 2]);
    expect(clusters[0]!.meanMap.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
  });

  it('normalises a map to at most 32 x 32 summing to 1, negative values dropped', () => {
    const map = Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 64 < 32 ? 1 : -1));
    const { map: small, shape } = normalisedMap(map, 64, 64);
    expect(shape).toEqual([32, 32]);
    expect(small.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(small[31]).toBe(0);
    expect(small[0]).toBeCloseTo(1 / 512, 6);
    expect(normalisedMap(new Float32Array(49), 7, 7).map[0]).toBeCloseTo(1 / 49, 6);
  });
});
