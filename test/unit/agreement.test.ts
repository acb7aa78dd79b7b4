import { describe, expect, it } from 'vitest';
import {
  agreement,
  fleissKappa,
  krippendorffAlpha,
  leaveOneOut,
  percentAgreement,
  type Rating,
} from '../../src-main/labels/agreement.ts';

/** Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the worked example C: 4 observers, 12 units. */
const KRIPPENDORFF: (number | null)[][] = [
  [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
  [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
  [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
  [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
];
const krippendorffRatings: Rating[] = KRIPPENDORFF.flatMap((row, coder) =>
  row.flatMap((value, unit) => (value === null ? [] : [{ item: `u${unit}`, annotator: `c${coder}`, value }])),
);

/** Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters, 5 categories. */
const FLEISS: number[][] = [
  [0, 0, 0, 0, 14],
  [0, 2, 6, 4, 2],
  [0, 0, 3, 5, 6],
  [0, 3, 9, 2, 0],
  [2, 2, 8, 1, 1],
  [7, 7, 0, 0, 0],
  [3, 2, 6, 3, 0],
  [2, 5, 3, 2, 2],
  [6, 5, 2, 1, 0],
  [0, 2, 2, 3, 7],
];
const fleissRatings: Rating[] = FLEISS.flatMap((counts, subject) => {
  let rater = 0;
  return counts.flatMap((count, category) =>
    Array.from({ length: count }, () => ({ item: `s${subject}`, annotator: `r${rater++}`, value: category + 1 })),
  );
});

describe('Krippendorff alpha', () => {
  it('matches the published worked example at every level', () => {
    expect(krippendorffAlpha(krippendorffRatings, 'nominal')).toBeCloseTo(0.743, 3);
    expect(krippendorffAlpha(krippendorffRatings, 'ordinal')).toBeCloseTo(0.815, 3);
    expect(krippendorffAlpha(krippendorffRatings, 'interval')).toBeCloseTo(0.849, 3);
  });

  it('matches a small table worked by hand', () => {
    // Two coders, three units: (a,a) (a,b) (b,b). Coincidences: o_aa = 2, o_ab = o_ba = 1, o_bb = 2;
    // n_a = n_b = 3, n = 6. Do = 2/6; De = 2*3*3/(6*5) = 0.6; alpha = 1 - (1/3)/0.6 = 4/9.
    const table: Rating[] = [
      { item: '1', annotator: 'x', value: 'a' },
      { item: '1', annotator: 'y', value: 'a' },
      { item: '2', annotator: 'x', value: 'a' },
      { item: '2', annotator: 'y', value: 'b' },
      { item: '3', annotator: 'x', value: 'b' },
      { item: '3', annotator: 'y', value: 'b' },
    ];
    expect(krippendorffAlpha(table, 'nominal')).toBeCloseTo(4 / 9, 10);
    // Interval with values 1,1 / 1,3 / 3,3: Do = 2*4/6, De = 2*3*3*4/30 -> alpha = 1 - 5*(8/6)/(72/6)... = 4/9 too.
    const numeric = table.map((r) => ({ ...r, value: r.value === 'a' ? 1 : 3 }));
    expect(krippendorffAlpha(numeric, 'interval')).toBeCloseTo(4 / 9, 10);
    // Kappa by hand: P_i = 1, 0, 1 -> P = 2/3; p_a = p_b = 1/2 -> Pe = 1/2; kappa = (2/3 - 1/2)/(1/2) = 1/3.
    expect(fleissKappa(table)).toBeCloseTo(1 / 3, 10);
    expect(percentAgreement(table)).toBeCloseTo(2 / 3, 10);
  });

  it('is 1 for perfect agreement, undefined for a single value, and ignores unpairable items', () => {
    const perfect: Rating[] = ['a', 'b', 'c'].flatMap((value, i) => [
      { item: `${i}`, annotator: 'x', value },
      { item: `${i}`, annotator: 'y', value },
    ]);
    expect(krippendorffAlpha(perfect, 'nominal')).toBe(1);
    expect(
      krippendorffAlpha(
        perfect.map((r) => ({ ...r, value: 'same' })),
        'nominal',
      ),
    ).toBeNull();
    expect(krippendorffAlpha([...perfect, { item: 'lonely', annotator: 'x', value: 'z' }], 'nominal')).toBe(1);
  });

  it('refuses text at the ordinal and interval levels by name', () => {
    expect(() =>
      krippendorffAlpha(
        [
          { item: '1', annotator: 'x', value: 'high' },
          { item: '1', annotator: 'y', value: 2 },
        ],
        'ordinal',
      ),
    ).toThrow(/"high"/);
  });
});

describe('Fleiss kappa', () => {
  it('matches the published worked example', () => {
    expect(fleissKappa(fleissRatings)).toBeCloseTo(0.21, 2);
    expect(fleissKappa(fleissRatings)).toBeCloseTo(0.2099, 4);
  });
});

describe('bootstrap intervals and leave-one-out', () => {
  it('brackets the estimate and repeats with the same seed', () => {
    const figures = agreement(krippendorffRatings, 'ordinal', { samples: 400, seed: 7 });
    expect(figures.items).toBe(11); // unit 12 has one value only
    expect(figures.annotators).toBe(4);
    expect(figures.alphaInterval.low!).toBeLessThan(figures.alpha!);
    expect(figures.alphaInterval.high!).toBeGreaterThan(figures.alpha! - 0.05);
    expect(figures.alphaInterval.high!).toBeLessThanOrEqual(1);
    expect(agreement(krippendorffRatings, 'ordinal', { samples: 400, seed: 7 })).toEqual(figures);
    expect(figures.kappaInterval.low).not.toBeNull();
  });

  it('shows who lowers agreement', () => {
    const ratings: Rating[] = [];
    for (let i = 0; i < 20; i++) {
      const truth = (i % 5) + 1;
      ratings.push(
        { item: `${i}`, annotator: 'careful-1', value: truth },
        { item: `${i}`, annotator: 'careful-2', value: truth },
      );
      ratings.push({ item: `${i}`, annotator: 'random', value: ((i * 7) % 5) + 1 });
    }
    const rows = leaveOneOut(ratings, 'ordinal');
    const random = rows.find((r) => r.annotator === 'random')!;
    expect(random.alphaWithout).toBe(1);
    expect(random.delta!).toBeGreaterThan(0.2);
    expect(rows.find((r) => r.annotator === 'careful-1')!.delta!).toBeLessThan(0);
  });
});
