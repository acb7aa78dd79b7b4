/**
 * Dealing items to seats. Policy:
 * - Every real item goes to exactly `overlap` different seats, always to the seats with the fewest
 *   tasks so far (ties broken by a seeded draw), so the load stays even; every gold item goes to every
 *   seat, so gold accuracies are comparable; no seat gets an item twice; each seat's queue is shuffled
 *   (seeded), which mixes the gold items in unseen.
 * - The reveal game is played only on images a seat has not yet seen in full: in a seat's queue, its
 *   reveal tasks of an image come before every other task showing that image (the shuffle only picks
 *   which of the image's places they take). A reveal item prefers seats that do not play that image
 *   already, so a seat plays an image twice only when there are fewer seats than its reveal items need.
 */
import { ApiError } from '../../src-shared/errors.ts';
import { seededUniform } from '../../src-shared/random.ts';

export interface DealItem {
  /** The project image the item shows. */
  image: number;
  /** A reveal-game item (it shows the image a step at a time, never in full). */
  reveal: boolean;
  /** A gold item: dealt to every seat, after the real items. */
  gold: boolean;
}

export interface DealInput {
  items: readonly DealItem[];
  seats: number;
  overlap: number;
  seed: number;
}

/** Per seat, the item indices in the order they are shown. */
export function deal({ items, seats, overlap, seed }: DealInput): number[][] {
  if (seats < 1) throw new ApiError('invalid_request', 'A session needs at least one annotator or open seat');
  if (overlap > seats) {
    throw new ApiError(
      'invalid_request',
      `An overlap of ${overlap} annotators per item needs at least ${overlap} annotators or seats; this session has ${seats}`,
    );
  }
  const random = seededUniform(seed);
  const queues: number[][] = Array.from({ length: seats }, () => []);
  const plays = new Map<number, Set<number>>(); // image -> seats with a reveal task of it
  const order = Array.from({ length: seats }, (_, seat) => seat);
  items.forEach((item, index) => {
    if (item.gold) return;
    shuffle(order, random);
    const playing = plays.get(item.image);
    // Fewest tasks first (stable: the shuffle breaks ties); for a reveal item, seats new to the image first.
    order.sort(
      (a, b) =>
        (item.reveal && playing ? Number(playing.has(a)) - Number(playing.has(b)) : 0) ||
        queues[a]!.length - queues[b]!.length,
    );
    for (const seat of order.slice(0, overlap)) {
      queues[seat]!.push(index);
      if (item.reveal) (plays.get(item.image) ?? plays.set(item.image, new Set()).get(item.image)!).add(seat);
    }
  });
  items.forEach((item, index) => {
    if (item.gold) for (const queue of queues) queue.push(index);
  });
  for (const queue of queues) revealFirst(shuffle(queue, random), items);
  return queues;
}

/** Within each image's places in the queue, its reveal tasks take the first ones; other order is kept. */
export function revealFirst(queue: number[], items: readonly DealItem[]): number[] {
  const places = new Map<number, number[]>();
  queue.forEach((item, place) =>
    (places.get(items[item]!.image) ?? places.set(items[item]!.image, []).get(items[item]!.image)!).push(place),
  );
  for (const spots of places.values()) {
    const held = spots.map((place) => queue[place]!);
    const ordered = [...held.filter((item) => items[item]!.reveal), ...held.filter((item) => !items[item]!.reveal)];
    spots.forEach((place, i) => (queue[place] = ordered[i]!));
  }
  return queue;
}

/** How many gold items make `share` of a seat's queue, given its real tasks. */
export function goldCount(realItems: number, seats: number, overlap: number, share: number, available: number): number {
  if (share <= 0 || available === 0 || realItems === 0) return 0;
  const realPerSeat = (realItems * overlap) / Math.max(1, seats);
  return Math.min(available, Math.max(1, Math.round((share / (1 - share)) * realPerSeat)));
}

export function shuffle<T>(list: T[], random: () => number): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}
