/**
 * Dealing items to seats. Policy: every real item goes to exactly `overlap` different seats, always
 * to the seats with the fewest tasks so far (ties broken by a seeded draw), so the load stays even;
 * every gold item goes to every seat, so gold accuracies are comparable; no seat gets an item twice;
 * each seat's queue is shuffled (seeded), which mixes the gold items in unseen.
 */
import { ApiError } from '../../src-shared/errors.ts';
import { seededUniform } from '../../src-shared/random.ts';

export interface DealInput {
  realItems: number;
  goldItems: number;
  seats: number;
  overlap: number;
  seed: number;
}

/** Per seat, the item indices in the order they are shown (gold items follow the real ones). */
export function deal({ realItems, goldItems, seats, overlap, seed }: DealInput): number[][] {
  if (seats < 1) throw new ApiError('invalid_request', 'A session needs at least one annotator or open seat');
  if (overlap > seats) {
    throw new ApiError('invalid_request', `An overlap of ${overlap} annotators per item needs at least ${overlap} annotators or seats; this session has ${seats}`);
  }
  const random = seededUniform(seed);
  const queues: number[][] = Array.from({ length: seats }, () => []);
  const order = Array.from({ length: seats }, (_, seat) => seat);
  for (let item = 0; item < realItems; item++) {
    shuffle(order, random);
    order.sort((a, b) => queues[a]!.length - queues[b]!.length); // stable: the shuffle breaks ties
    for (const seat of order.slice(0, overlap)) queues[seat]!.push(item);
  }
  for (let gold = 0; gold < goldItems; gold++) for (const queue of queues) queue.push(realItems + gold);
  for (const queue of queues) shuffle(queue, random);
  return queues;
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
