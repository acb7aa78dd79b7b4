/**
 * Aggregation on hand-made label sets whose answers are worked out by hand: term normalisation,
 * cluster membership (hand-made vectors, the built-in word vectors and a Sentence-BERT-shaped ONNX
 * model), edits, concept scores per class and layer, intervals, Bradley-Terry, rank correlations,
 * disagreement and the "label next" order.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAtlas, slope, type ConceptIndex } from '../../src-main/aggregate/atlas.ts';
import {
  centralWord,
  clusterVectors,
  cosine,
  replayEdits,
  silhouette,
  cosineDistances,
} from '../../src-main/aggregate/embedding/cluster.ts';
import type { LabelRecord } from '../../src-main/aggregate/collect.ts';
import { embed, WORDS_EMBEDDER } from '../../src-main/aggregate/embed.ts';
import { classWords, normaliseTerm, termsOf } from '../../src-main/aggregate/embedding/text.ts';
import { WordPiece } from '../../src-main/aggregate/embedding/tokenizer.ts';
import { ROOT } from '../support/host.ts';
import { record } from '../support/label-records.ts';

/**
 * Aggregation on hand-made label sets whose answers are worked out by hand: term normalisation,
 * cluster membership (hand-made vectors, the built-in word vectors and a Sentence-BERT-shaped ONNX
 * model), edits, concept scores per class and layer, intervals, Bradley-Terry, rank correlations,
 * disagreement and the "label next" order.
 */

/**
 * Aggregation on hand-made label sets whose answers are worked out by hand: term normalisation,
 * cluster membership (hand-made vectors, the built-in word vectors and a Sentence-BERT-shaped ONNX
 * model), edits, concept scores per class and layer, intervals, Bradley-Terry, rank correlations,
 * disagreement and the "label next" order.
 */

const CACHE = process.env.XAIWS_CACHE ?? join(ROOT, 'node_modules', '.cache', 'xaiws');
const SENTENCE = join(ROOT, 'test/fixtures/sentence-model');

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
    const terms = ['red', 'crimson', 'scarlet', 'heel', 'high heel', 'toe', 'zipper', 'pocket', 'qwzxv'];
    const result = await embed(WORDS_EMBEDDER, terms, CACHE, terms.length);
    expect(result.dimensions).toBe(100);
    expect(result.known).toEqual([true, true, true, true, true, true, true, true, false]);
    const a = result.clustering!.assignment;
    // One concept a thing: shades of red together, a heel and a high heel together; the heel, the toe, the
    // zipper and the pocket each a concept of its own, however alike their contexts.
    expect(new Set(a.slice(0, 3)).size).toBe(1);
    expect(a[3]).toBe(a[4]);
    expect(new Set([a[0], a[3], a[5], a[6], a[7], a[8]]).size).toBe(6);
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
    // The fixture's vectors pair them up; WordNet knows each pair as two different things.
    for (const [i, j] of [
      [0, 1],
      [2, 3],
      [4, 5],
    ] as const)
      expect(cosine(result.vectors[i]!, result.vectors[j]!)).toBeGreaterThan(0.9);
    expect(result.clustering!.assignment).toEqual([0, 1, 2, 3, 4, 5]);
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
