/**
 * Aggregation on hand-made label sets whose answers are worked out by hand: term normalisation,
 * cluster membership (hand-made vectors, the built-in word vectors and a Sentence-BERT-shaped ONNX
 * model), edits, concept scores per class and layer, intervals, Bradley-Terry, rank correlations,
 * disagreement and the "label next" order.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Answer } from '../../src-shared/schemas/labels.ts';
import { buildAtlas, slope, type ConceptIndex } from '../../src-main/aggregate/atlas.ts';
import {
  centralWord,
  clusterVectors,
  replayEdits,
  silhouette,
  cosineDistances,
} from '../../src-main/aggregate/embedding/cluster.ts';
import type { LabelRecord } from '../../src-main/aggregate/collect.ts';
import { disagreements, labelNext } from '../../src-main/aggregate/disagreement.ts';
import { embed, WORDS_EMBEDDER } from '../../src-main/aggregate/embed.ts';
import { rankMethods } from '../../src-main/aggregate/ranking.ts';
import {
  bradleyTerry,
  meanCi,
  normalisedEntropy,
  ranksDescending,
  smoothedEntropy,
} from '../../src-main/aggregate/stats.ts';
import { classWords, normaliseTerm, termsOf } from '../../src-main/aggregate/embedding/text.ts';
import { WordPiece } from '../../src-main/aggregate/embedding/tokenizer.ts';
import { ROOT } from '../support/host.ts';

const CACHE = process.env.XAIWS_CACHE ?? join(ROOT, 'node_modules', '.cache', 'xaiws');
const SENTENCE = join(ROOT, 'test/fixtures/sentence-model');

let counter = 0;
function record(fields: Partial<LabelRecord> & { answer: Answer }): LabelRecord {
  counter++;
  return {
    sessionId: 1,
    itemUuid: `item-${counter}`,
    taskType: fields.answer.type,
    imageId: counter,
    methods: ['gradcam'],
    kinds: ['cam'],
    layers: ['conv1'],
    layer: 'conv1',
    modelHash: 'h',
    classIndex: 0,
    className: 'Shirt',
    annotator: 'a1',
    annotatorName: 'Ana',
    reliability: 1,
    correct: null,
    revealScore: null,
    terms: [],
    text: '',
    ...fields,
  };
}
const rating = (justifies: number, extra: Partial<LabelRecord> = {}) =>
  record({ answer: { type: 'rating', scores: { justifies, predictable: justifies }, comment: '' }, ...extra });
const pair = (a: string, b: string, choice: 'a' | 'b' | 'neither', extra: Partial<LabelRecord> = {}) =>
  record({
    answer: { type: 'pairwise', choice },
    methods: [a, b],
    kinds: ['cam', 'cam'],
    layers: ['conv1', 'conv1'],
    ...extra,
  });

describe('label terms', () => {
  const classes = classWords(['T-shirt/top', 'Trouser', 'Shirt', 'Sneaker', 'Ankle boot']);

  it('are lower-cased, lemmatised with WordNet, and lose stop words and class names', () => {
    expect(termsOf('Long Sleeves, the collar and dark stripes; a shirt', ['Buttons'], classes)).toEqual([
      'long sleeve',
      'collar',
      'dark stripe',
      'button',
    ]);
    expect(normaliseTerm('Sneakers', classes)).toBeNull();
    expect(normaliseTerm('laces of the boots', classes)).toBe('lace');
    expect(normaliseTerm('darker heels', classes)).toBe('dark heel');
  });
});

describe('concept clusters', () => {
  it('groups vectors by direction with k chosen by silhouette', () => {
    const at = (deg: number) => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180), 0];
    const vectors = [at(0), at(5), at(-4), [0, 0, 1], [0.05, 0, 1], at(90), at(95)];
    const { assignment, k, silhouette: s } = clusterVectors(vectors);
    expect(k).toBe(3);
    expect(assignment).toEqual([0, 0, 0, 1, 1, 2, 2]);
    expect(s).toBeCloseTo(silhouette(cosineDistances(vectors), assignment), 12);
    expect(s!).toBeGreaterThan(0.9);
  });

  it('keeps two terms together only when they are close', () => {
    expect(
      clusterVectors([
        [1, 0],
        [0.99, 0.1],
      ]).assignment,
    ).toEqual([0, 0]);
    expect(
      clusterVectors([
        [1, 0],
        [0, 1],
      ]).assignment,
    ).toEqual([0, 1]);
  });

  it('names a cluster by the word nearest its count-weighted centroid', () => {
    const vectors: Record<string, number[]> = {
      collar: [1, 0],
      neck: [0.8, 0.6],
      line: [0, 1],
      'neck line': [0.5, 0.87],
    };
    const terms = [
      { term: 'collar', count: 5, vector: vectors['collar']! },
      { term: 'neck line', count: 1, vector: vectors['neck line']! },
    ];
    expect(centralWord(terms, (w) => vectors[w])).toBe('collar');
    expect(centralWord([{ term: 'neck line', count: 1, vector: vectors['neck line']! }], (w) => vectors[w])).toBe(
      'neck',
    );
  });

  it('replays rename, merge and split over new clusterings by term, and counts stale edits', () => {
    const automatic = [
      { terms: ['collar', 'neckline'], autoName: 'collar' },
      { terms: ['sole', 'heel', 'strap'], autoName: 'sole' },
      { terms: ['stripe'], autoName: 'stripe' },
    ];
    const nameOf = (terms: string[]) => terms[0]!;
    const { clusters, stale } = replayEdits(
      automatic,
      [
        { op: 'rename', term: 'neckline', name: 'neck area' },
        { op: 'split', terms: ['strap'], name: 'straps' },
        { op: 'merge', terms: ['stripe', 'collar'] },
        { op: 'rename', term: 'gone', name: 'x' },
      ],
      nameOf,
    );
    expect(stale).toBe(1);
    expect(clusters.map((c) => [c.name, [...c.terms].sort()])).toEqual([
      ['neck area', ['collar', 'neckline', 'stripe']],
      ['sole', ['heel', 'sole']],
      ['straps', ['strap']],
    ]);
    expect(clusters.every((c) => c.edited)).toBe(true);
  });

  it('clusters real terms with the built-in word vectors', async () => {
    const terms = ['red', 'blue', 'dark yellow', 'heel', 'toe', 'ankle', 'zipper', 'pocket', 'qwzxv'];
    const result = await embed(WORDS_EMBEDDER, terms, CACHE, terms.length);
    expect(result.dimensions).toBe(100);
    expect(result.known).toEqual([true, true, true, true, true, true, true, true, false]);
    const a = result.clustering!.assignment;
    // Colours together, parts of a foot together, and the two apart.
    expect(new Set(a.slice(0, 3)).size).toBe(1);
    expect(new Set(a.slice(3, 6)).size).toBe(1);
    expect(a[0]).not.toBe(a[3]);
    expect(a[6]).not.toBe(a[0]);
    expect(a[6]).not.toBe(a[3]);
  }, 600_000);

  it('clusters with a Sentence-BERT ONNX model and its WordPiece tokenizer', async () => {
    const tokenizer = WordPiece.load(join(SENTENCE, 'tokenizer.json'));
    expect(tokenizer.encode('Necklines, stripes!').ids).toEqual([2, 5, 6, 11, 1, 10, 11, 1, 3]);
    expect(tokenizer.encode('zebra').ids).toEqual([2, 1, 3]);
    const spec = {
      kind: 'sentence' as const,
      name: 'tiny',
      hash: 'x',
      model: join(SENTENCE, 'model.onnx'),
      tokenizer: join(SENTENCE, 'tokenizer.json'),
    };
    const terms = ['collar', 'neckline', 'sole', 'shoe heel', 'stripe', 'line'];
    const result = await embed(spec, terms, CACHE, terms.length);
    expect(result.dimensions).toBe(4);
    expect(result.clustering!.assignment).toEqual([0, 0, 1, 1, 2, 2]);
  }, 600_000);

  it('refuses a tokenizer that is not WordPiece by name', () => {
    expect(() => new WordPiece({ model: { type: 'BPE', vocab: {} } }, 'bad/tokenizer.json')).toThrow(
      /WordPiece tokenizer is expected.*"BPE"/,
    );
  });
});

describe('the concept atlas', () => {
  const index: ConceptIndex = {
    of: new Map([
      ['collar', 'c'],
      ['neckline', 'c'],
      ['sole', 's'],
    ]),
    name: new Map([
      ['c', 'collar'],
      ['s', 'sole'],
    ]),
  };
  const reveal = (step: number, correct: boolean, terms: string[], extra: Partial<LabelRecord> = {}) =>
    record({
      answer: { type: 'reveal', guess: 0, resigned: false, text: terms.join(', ') },
      revealScore: (1 - 0.1 * (step + 1)) / (correct ? 1 : 4),
      terms,
      ...extra,
    });

  it("scores a concept by the paper's rule and counts its people and images", () => {
    const records = [
      reveal(0, true, ['collar'], { annotator: 'a1', imageId: 1 }), // 0.9
      reveal(1, false, ['neckline', 'collar'], { annotator: 'a2', imageId: 1 }), // 0.8 / 4 = 0.2, one concept once
      record({ answer: { type: 'concept', text: 'sole', concepts: [] }, terms: ['sole'], annotator: 'a2', imageId: 2 }), // 1
      reveal(5, true, ['sole'], { annotator: 'a3', imageId: 3 }), // 0.4
    ];
    const [shirt] = buildAtlas(records, index, () => 0);
    expect(shirt!.answers).toBe(4);
    const collar = shirt!.concepts.find((c) => c.concept === 'c')!;
    const sole = shirt!.concepts.find((c) => c.concept === 's')!;
    expect(collar.score).toBeCloseTo(1.1, 10);
    expect(collar).toMatchObject({ labels: 2, people: 2, images: 1, share: 0.275 });
    expect(sole.score).toBeCloseTo(1.4, 10);
    expect(sole).toMatchObject({ labels: 2, people: 2, images: 2 });
    expect(shirt!.concepts[0]!.concept).toBe('s');
    expect(sole.examples.map((e) => e.imageId)).toEqual([2, 3]);
  });

  it('gives each layer its own scores, in model order, and finds rising and falling concepts', () => {
    const depth = (layer: string) => ({ early: 0, middle: 1, late: 2 })[layer] ?? 9;
    const at = (layer: string, terms: string[]) =>
      record({
        answer: { type: 'concept', text: terms.join(','), concepts: [] },
        terms,
        layer,
        layers: [layer],
        className: 'Coat',
        classIndex: 4,
      });
    const records = [
      at('late', ['collar']),
      at('late', ['collar']),
      at('early', ['sole']),
      at('early', ['sole']),
      at('middle', ['sole']),
      at('middle', ['collar']),
    ];
    const [coat] = buildAtlas(records, index, depth);
    expect(coat!.layers.map((l) => l.layer)).toEqual(['early', 'middle', 'late']);
    expect(coat!.layers.map((l) => l.concepts.find((c) => c.concept === 'c')?.share ?? 0)).toEqual([0, 0.5, 1]);
    expect(coat!.trends).toEqual([
      { concept: 'c', name: 'collar', slope: 0.5, first: 0, last: 1, direction: 'rising' },
      { concept: 's', name: 'sole', slope: -0.5, first: 1, last: 0, direction: 'falling' },
    ]);
    expect(slope([1, 2, 4])).toBeCloseTo(1.5, 12);
  });
});

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
