/**
 * The statistics of the aggregate: means with their intervals, the method ranking (ratings, Bradley-Terry, correlations with the metrics) and disagreement, on records built by hand.
 */
import { describe, expect, it } from 'vitest';
import type { LabelRecord } from '../../src-main/aggregate/collect.ts';
import { disagreements, labelNext } from '../../src-main/aggregate/disagreement.ts';
import { rankMethods } from '../../src-main/aggregate/ranking.ts';
import {
  bradleyTerry,
  meanCi,
  normalisedEntropy,
  ranksDescending,
  smoothedEntropy,
} from '../../src-main/aggregate/stats.ts';
import { rating, pair } from '../support/label-records.ts';

describe('statistics', () => {
  it('gives the t interval of a mean, and the weighted mean with its effective size', () => {
    const ci = meanCi([1, 2, 3, 4, 5]);
    expect(ci.mean).toBe(3);
    // s = 1.5811, se = 0.7071, t(4) = 2.776: 3 +- 1.963
    expect(ci.low).toBeCloseTo(1.0371, 3);
    expect(ci.high).toBeCloseTo(4.9629, 3);
    expect(meanCi([1, 2, 3, 4, 5], [2, 2, 2, 2, 2])).toEqual(ci);
    expect(meanCi([1, 5], [3, 1]).mean).toBe(2);
    expect(meanCi([4]).low).toBeNull();
    expect(meanCi([]).mean).toBeNull();
  });

  it('defines every figure for small samples, or says it is absent, and keeps intervals on the scale', () => {
    // Two ratings weighted by two reliabilities: an effective size under 2 has no interval (it was NaN).
    for (const weights of [
      [0.5, 0.75],
      [5 / 6, 1 / 6],
      [0.5, 0.5000001],
    ]) {
      const ci = meanCi([3, 4], weights);
      expect(ci.mean).not.toBeNull();
      for (const value of [ci.mean, ci.low, ci.high]) expect(value === null || Number.isFinite(value)).toBe(true);
    }
    expect(meanCi([3, 4], [0.5, 0.75])).toMatchObject({ n: 2, low: null, high: null });
    expect(meanCi([3, 4])).toMatchObject({ low: expect.any(Number), high: expect.any(Number) }); // two equal weights: one degree of freedom
    // A 1-5 scale: the interval is clipped to it.
    const clipped = meanCi([1, 5, 1], undefined, [1, 5]);
    expect(clipped.low).toBe(1);
    expect(clipped.high).toBe(5);
    expect(meanCi([1, Number.NaN]).mean).toBeNull();
    expect(meanCi([2, 3], [1, -1]).mean).toBeNull();
  });

  it('fits Bradley-Terry to its maximum-likelihood answer', () => {
    // Two items: a beats b 3 times of 4, so p_a / p_b = 3.
    const two = bradleyTerry(
      ['a', 'b'],
      [1, 1, 1, 0].map((outcome) => ({ a: 'a', b: 'b', outcome })),
    );
    expect(two.get('a')! - two.get('b')!).toBeCloseTo(Math.log(3), 8);
    expect(two.get('a')! + two.get('b')!).toBeCloseTo(0, 12);
    // Three items: at the MLE every item's wins equal sum_j n_ij p_i / (p_i + p_j).
    const games: { a: string; b: string; outcome: number }[] = [];
    const add = (a: string, b: string, aWins: number, bWins: number) => {
      for (let i = 0; i < aWins; i++) games.push({ a, b, outcome: 1 });
      for (let i = 0; i < bWins; i++) games.push({ a, b, outcome: 0 });
    };
    add('x', 'y', 7, 3);
    add('y', 'z', 6, 4);
    add('x', 'z', 8, 2);
    const bt = bradleyTerry(['x', 'y', 'z'], games);
    const p = (k: string) => Math.exp(bt.get(k)!);
    const expected = (i: string, others: [string, number][]) =>
      others.reduce((sum, [j, n]) => sum + (n * p(i)) / (p(i) + p(j)), 0);
    expect(
      expected('x', [
        ['y', 10],
        ['z', 10],
      ]),
    ).toBeCloseTo(15, 6);
    expect(
      expected('y', [
        ['x', 10],
        ['z', 10],
      ]),
    ).toBeCloseTo(9, 6);
    expect(
      expected('z', [
        ['x', 10],
        ['y', 10],
      ]),
    ).toBeCloseTo(6, 6);
    expect([...bt.values()].reduce((a, b) => a + b, 0)).toBeCloseTo(0, 10);
    // A tie is half a win to each side; weights scale comparisons.
    const tie = bradleyTerry(
      ['a', 'b'],
      [
        { a: 'a', b: 'b', outcome: 1 },
        { a: 'a', b: 'b', outcome: 0.5 },
      ],
    );
    expect(tie.get('a')! - tie.get('b')!).toBeCloseTo(Math.log(3), 8);
    const weighted = bradleyTerry(
      ['a', 'b'],
      [
        { a: 'a', b: 'b', outcome: 1, weight: 3 },
        { a: 'a', b: 'b', outcome: 0, weight: 1 },
      ],
    );
    expect(weighted.get('a')! - weighted.get('b')!).toBeCloseTo(Math.log(3), 8);
    // With the prior an item that never won stays finite.
    const never = bradleyTerry(
      ['a', 'b'],
      [
        { a: 'a', b: 'b', outcome: 1 },
        { a: 'a', b: 'b', outcome: 1 },
      ],
      0.5,
    );
    expect(Number.isFinite(never.get('b')!)).toBe(true);
    expect(never.get('a')!).toBeGreaterThan(never.get('b')!);
  });

  it('ranks, and measures spread by entropy', () => {
    expect(ranksDescending([3, 1, 3, 2])).toEqual([1.5, 4, 1.5, 3]);
    expect(normalisedEntropy([2, 1], 3)).toBeCloseTo(
      (-(2 / 3) * Math.log(2 / 3) - (1 / 3) * Math.log(1 / 3)) / Math.log(3),
      12,
    );
    expect(normalisedEntropy([1, 1])).toBe(1);
    expect(normalisedEntropy([4])).toBe(0);
    expect(smoothedEntropy([], 5)).toBe(1);
    expect(smoothedEntropy([6], 3)).toBeLessThan(smoothedEntropy([1], 3));
  });
});

describe('method ranking', () => {
  const none = () => ({ images: 0, deletion: null, insertion: null, road: null, sanity: null });

  it('weights ratings by reliability and keeps the unweighted figures beside them', () => {
    const records = [
      rating(5, { methods: ['gradcam'], annotator: 'good', reliability: 0.9 }),
      rating(1, { methods: ['gradcam'], annotator: 'poor', reliability: 0.1 }),
      rating(2, { methods: ['eigencam'], annotator: 'good', reliability: 0.9 }),
      rating(4, { methods: ['eigencam'], annotator: 'poor', reliability: 0.1 }),
    ];
    const [overall] = rankMethods(records, none);
    const grad = overall!.rows.find((r) => r.method === 'gradcam')!;
    expect(grad.ratings['justifies']!.unweighted.mean).toBe(3);
    expect(grad.ratings['justifies']!.weighted.mean).toBeCloseTo(4.6, 10);
    expect(overall!.rows.map((r) => [r.method, r.humanRank])).toEqual([
      ['gradcam', 1],
      ['eigencam', 2],
    ]);
  });

  it('counts wins, ties and Bradley-Terry from pairwise choices, per class and overall', () => {
    const records = [
      pair('gradcam', 'layercam', 'a'),
      pair('layercam', 'gradcam', 'b'),
      pair('gradcam', 'layercam', 'neither'),
      pair('gradcam', 'layercam', 'b', { classIndex: 3, className: 'Dress' }),
    ];
    const ranking = rankMethods(records, none);
    expect(ranking.map((r) => r.scope)).toEqual(['all classes', 'Shirt', 'Dress']);
    const grad = ranking[0]!.rows.find((r) => r.method === 'gradcam')!.pairwise;
    expect(grad).toMatchObject({ comparisons: 4, wins: 2, losses: 1, ties: 1, winRate: 0.625 });
    expect(grad.bradleyTerry!).toBeGreaterThan(0);
    expect(ranking[2]!.rows.find((r) => r.method === 'gradcam')!.pairwise.winRate).toBe(0);
  });

  it('correlates the human ranking with each metric, larger-is-better', () => {
    const metrics: Record<string, { deletion: number; insertion: number; road: number; sanity: number }> = {
      a: { deletion: 0.1, insertion: 0.2, road: 0.3, sanity: 0.9 },
      b: { deletion: 0.2, insertion: 0.5, road: 0.2, sanity: 0.5 },
      c: { deletion: 0.3, insertion: 0.9, road: 0.1, sanity: 0.1 },
    };
    const records = [rating(5, { methods: ['a'] }), rating(3, { methods: ['b'] }), rating(1, { methods: ['c'] })];
    const [overall] = rankMethods(records, (method) => ({ images: 1, ...metrics[method]! }));
    const rho = Object.fromEntries(overall!.correlations.filter((c) => c.weighted).map((c) => [c.metric, c.spearman]));
    expect(rho).toEqual({ deletion: 1, insertion: -1, road: 1, sanity: -1 });
    expect(overall!.correlations.every((c) => c.methods === 3)).toBe(true);
  });
});

describe('disagreement', () => {
  const concept = (t: string) => t;
  const label = (_: LabelRecord, c: string) => c;

  it('ranks items from split to unanimous answers and summarises classes', () => {
    const records = [
      rating(1, { itemUuid: 'split', annotator: 'a' }),
      rating(5, { itemUuid: 'split', annotator: 'b' }),
      rating(3, { itemUuid: 'same', annotator: 'a' }),
      rating(3, { itemUuid: 'same', annotator: 'b' }),
      pair('x', 'y', 'a', { itemUuid: 'pair', annotator: 'a' }),
      pair('x', 'y', 'a', { itemUuid: 'pair', annotator: 'b' }),
      pair('x', 'y', 'b', { itemUuid: 'pair', annotator: 'c' }),
      rating(4, { itemUuid: 'alone' }),
    ];
    const { items, classes } = disagreements(records, concept, label);
    expect(items.map((i) => [i.itemUuid, i.disagreement])).toEqual([
      ['split', 1],
      ['pair', Number(normalisedEntropy([2, 1], 3).toFixed(4))],
      ['same', 0],
    ]);
    expect(items[0]!.summary).toBe('justifies: 1 1, 5 1');
    expect(classes).toEqual([
      {
        className: 'Shirt',
        items: 3,
        meanDisagreement: Number(((1 + items[1]!.disagreement) / 3).toFixed(4)),
        alpha: expect.any(Number),
      },
    ]);
  });

  it('orders what to label next: unanswered and split items first, settled items last', () => {
    const records = [
      rating(5, { itemUuid: 'settled', annotator: 'a' }),
      rating(5, { itemUuid: 'settled', annotator: 'b' }),
      rating(5, { itemUuid: 'settled', annotator: 'c' }),
      rating(1, { itemUuid: 'split', annotator: 'a' }),
      rating(5, { itemUuid: 'split', annotator: 'b' }),
    ];
    const items = ['settled', 'split', 'new'].map((itemUuid) => ({
      itemUuid,
      imageId: 1,
      taskType: 'rating',
      method: 'gradcam',
      className: 'Shirt',
    }));
    const order = labelNext(items, records, concept);
    expect(order.map((i) => i.itemUuid)).toEqual(['new', 'split', 'settled']);
    expect(order[0]!.uncertainty).toBe(1);
  });
});
