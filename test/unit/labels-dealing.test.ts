import { describe, expect, it } from 'vitest';
import { deal, goldCount, type DealItem } from '../../src-main/labels/dealing.ts';
import { goldCorrect, levelOf, pointsFor, reliability, revealScore, streakOf } from '../../src-main/labels/scoring.ts';

/** `real` items of their own images followed by `gold` items, none of them reveal games. */
const plain = (real: number, gold: number): DealItem[] =>
  Array.from({ length: real + gold }, (_, i) => ({ image: i, reveal: false, gold: i >= real }));

describe('dealing', () => {
  it('gives every real item to exactly `overlap` different seats, every gold item to all, evenly', () => {
    for (const [realItems, goldItems, seats, overlap] of [
      [37, 4, 5, 3],
      [10, 0, 2, 2],
      [100, 7, 30, 1],
      [9, 2, 3, 3],
    ] as const) {
      const queues = deal({ items: plain(realItems, goldItems), seats, overlap, seed: 3 });
      expect(queues).toHaveLength(seats);
      const holders = new Map<number, number>();
      for (const queue of queues) {
        expect(new Set(queue).size).toBe(queue.length); // nobody gets an item twice
        for (const item of queue) holders.set(item, (holders.get(item) ?? 0) + 1);
      }
      for (let item = 0; item < realItems; item++) expect(holders.get(item)).toBe(overlap);
      for (let gold = realItems; gold < realItems + goldItems; gold++) expect(holders.get(gold)).toBe(seats);
      const sizes = queues.map((q) => q.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('mixes gold items in and repeats with the same seed', () => {
    const a = deal({ items: plain(40, 5), seats: 2, overlap: 2, seed: 9 });
    expect(deal({ items: plain(40, 5), seats: 2, overlap: 2, seed: 9 })).toEqual(a);
    expect(deal({ items: plain(40, 5), seats: 2, overlap: 2, seed: 10 })).not.toEqual(a);
    const goldPositions = a[0]!.flatMap((item, position) => (item >= 40 ? [position] : []));
    expect(goldPositions).not.toEqual([40, 41, 42, 43, 44]); // not all at the end
  });

  it('refuses an overlap larger than the seats, by number', () => {
    expect(() => deal({ items: plain(3, 0), seats: 2, overlap: 3, seed: 1 })).toThrow(
      /overlap of 3 .* this session has 2/,
    );
    expect(() => deal({ items: plain(3, 0), seats: 0, overlap: 1, seed: 1 })).toThrow(/at least one/);
  });

  it('puts a reveal game of an image before every task that shows the image in full, at full overlap', () => {
    // Per image: a rating, a pairwise and two reveal items (two sources); gold decoys and a gold reveal.
    for (const [seats, overlap, seed] of [
      [6, 2, 7],
      [4, 2, 1],
      [2, 2, 3],
      [3, 3, 5],
      [2, 1, 9],
    ] as const) {
      const items: DealItem[] = [];
      for (let image = 0; image < 12; image++)
        items.push(
          { image, reveal: false, gold: false },
          { image, reveal: false, gold: false },
          { image, reveal: true, gold: false },
          { image, reveal: true, gold: false },
        );
      items.push({ image: 3, reveal: false, gold: true }, { image: 5, reveal: true, gold: true });
      const queues = deal({ items, seats, overlap, seed });
      const holders = new Map<number, number>();
      for (const queue of queues) {
        const seenInFull = new Set<number>();
        for (const i of queue) {
          holders.set(i, (holders.get(i) ?? 0) + 1);
          if (items[i]!.reveal)
            expect(seenInFull.has(items[i]!.image), `seat plays image ${items[i]!.image} after seeing it`).toBe(false);
          else seenInFull.add(items[i]!.image);
        }
      }
      items.forEach((item, i) => expect(holders.get(i), `item ${i}`).toBe(item.gold ? seats : overlap));
      // Two reveal items of an image go to different seats whenever there are seats enough.
      if (seats >= 2 * overlap) {
        for (const queue of queues) {
          const played = queue.filter((i) => items[i]!.reveal && !items[i]!.gold).map((i) => items[i]!.image);
          expect(new Set(played).size).toBe(played.length);
        }
      }
    }
  });

  it('sizes the gold share of a queue', () => {
    // 40 items x overlap 2 over 4 seats = 20 real tasks each; 20 % gold -> 5 gold of 25.
    expect(goldCount(40, 4, 2, 0.2, 100)).toBe(5);
    expect(goldCount(40, 4, 2, 0, 100)).toBe(0);
    expect(goldCount(40, 4, 2, 0.2, 3)).toBe(3);
    expect(goldCount(2, 4, 1, 0.01, 10)).toBe(1);
  });
});

describe('scoring', () => {
  it('scores the reveal game as the paper does', () => {
    expect(revealScore(0, true, false)).toBeCloseTo(0.9);
    expect(revealScore(5, true, false)).toBeCloseTo(0.4);
    expect(revealScore(2, false, false)).toBeCloseTo(0.7 / 4);
    expect(revealScore(1, true, true)).toBe(0);
  });

  it('checks gold answers', () => {
    const rating = { type: 'rating', maxJustifies: 2, reason: '' } as const;
    expect(goldCorrect(rating, { type: 'rating', scores: { justifies: 2, predictable: 5 }, comment: '' })).toBe(true);
    expect(goldCorrect(rating, { type: 'rating', scores: { justifies: 3, predictable: 1 }, comment: '' })).toBe(false);
    expect(goldCorrect({ type: 'pairwise', choice: 'b', reason: '' }, { type: 'pairwise', choice: 'b' })).toBe(true);
    expect(goldCorrect({ type: 'pairwise', choice: 'b', reason: '' }, { type: 'pairwise', choice: 'neither' })).toBe(
      false,
    );
    const reveal = { type: 'reveal', classIndex: 4, reason: '' } as const;
    expect(goldCorrect(reveal, { type: 'reveal', guess: 4, resigned: false, text: '' })).toBe(true);
    expect(goldCorrect(reveal, { type: 'reveal', guess: 4, resigned: true, text: '' })).toBe(false);
  });

  it('weights points by reliability and counts streaks and levels', () => {
    expect(reliability(0, 0)).toBe(0.5);
    expect(reliability(4, 4)).toBeCloseTo(5 / 6);
    expect(reliability(0, 4)).toBeCloseTo(1 / 6);
    expect(pointsFor(reliability(4, 4), 3, null)).toBeGreaterThan(pointsFor(reliability(0, 4), 3, null));
    expect(pointsFor(1, 50, null)).toBe(20); // streak bonus capped at 10
    expect(pointsFor(0.5, 0, 0.9)).toBe(14);
    expect(streakOf([null, 1, null, 0, null, null])).toBe(2);
    expect(streakOf([])).toBe(0);
    expect(levelOf(0)).toEqual({ level: 1, toNextLevel: 100 });
    expect(levelOf(250)).toEqual({ level: 3, toNextLevel: 50 });
  });
});
