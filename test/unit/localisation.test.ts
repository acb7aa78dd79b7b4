/**
 * The localisation metrics against a ground-truth mask: small cases worked out by hand, the edge cases
 * named, and random maps against the same definitions written in numpy after Quantus's
 * `evaluate_instance` (PointingGame, RelevanceMassAccuracy on positive relevance, RelevanceRankAccuracy).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  localisation,
  pointingGame,
  relevanceMass,
  relevanceRank,
} from '../../src-main/explain/metrics/localisation.ts';

describe('localisation metrics', () => {
  // 4 x 4, the mask the top-left 2 x 2 block.
  const mask = [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

  it('score a map by hand', () => {
    const map = [4, 1, 0, 0, 2, 0, 3, 0, 0, 0, 0, -5, 0, 0, 0, 0];
    expect(pointingGame(map, mask)).toBe(true);
    // positive mass 4 + 1 + 2 + 3 = 10, of which 7 inside; the -5 counts as nothing
    expect(relevanceMass(map, mask)).toBeCloseTo(0.7, 12);
    // the top 4: 4, 3, 2, 1 -> three inside
    expect(relevanceRank(map, mask)).toBe(0.75);
    const moved = [0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    // The top 4 are 9, 1 and two of the zeros, ranked by position: pixels 0 and 1, both inside.
    expect(localisation(moved, mask)).toEqual({ pointingGame: false, relevanceMass: 0, relevanceRank: 0.5 });
  });

  it('treat ties and empty maps as Quantus does, and refuse what cannot be scored', () => {
    // Two maxima, one inside: a hit.
    expect(pointingGame([5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0], mask)).toBe(true);
    // A map without positive attribution has no mass to share out.
    expect(relevanceMass(new Array(16).fill(0), mask)).toBeNull();
    expect(relevanceMass([-1, ...new Array(15).fill(-2)], mask)).toBeNull();
    expect(() => pointingGame([1, 2, 3], mask)).toThrow('The mask has 16 pixels and the map 3');
    expect(() => relevanceRank(new Array(16).fill(1), new Array(16).fill(0))).toThrow('mask is empty');
    expect(() => localisation([Number.NaN, ...new Array(15).fill(0)], mask)).toThrow(
      'non-finite value (NaN) at pixel 0',
    );
  });

  it('agree with the definitions written in numpy on random maps', () => {
    const cases = Array.from({ length: 40 }, (_, c) => {
      const size = 64 + c * 7;
      const map = Array.from({ length: size }, (_, i) => (Math.sin(i * 12.9898 + c * 78.233) * 43758.5453) % 1);
      const centre = (c * 13) % size;
      const mask = map.map((_, i) => (Math.abs(i - centre) < 5 + (c % 9) ? 1 : 0));
      return { map, mask };
    });
    const script = `
import json, sys
import numpy as np
out = []
for case in json.load(sys.stdin):
    a = np.array(case["map"], dtype=np.float64); s = np.array(case["mask"]).astype(bool)
    hit = bool(np.any(s[np.argwhere(a == np.max(a))]))
    positive = np.where(a > 0, a, 0)
    mass = float(np.sum(positive[s]) / np.sum(positive))
    k = int(np.sum(s)); top = np.argsort(a)[-k:]
    rank = len(np.intersect1d(np.where(s)[0], top)) / float(k)
    out.append({"pointingGame": hit, "relevanceMass": mass, "relevanceRank": rank})
print(json.dumps(out))
`;
    const expected = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(cases) }).toString(),
    ) as { pointingGame: boolean; relevanceMass: number; relevanceRank: number }[];
    for (const [i, { map, mask: m }] of cases.entries()) {
      const got = localisation(map, m);
      expect(got.pointingGame).toBe(expected[i]!.pointingGame);
      expect(got.relevanceMass).toBeCloseTo(expected[i]!.relevanceMass, 12);
      expect(got.relevanceRank).toBeCloseTo(expected[i]!.relevanceRank, 12);
    }
    expect(new Set(expected.map((e) => e.pointingGame)).size).toBe(2); // both outcomes occur
  });
});
