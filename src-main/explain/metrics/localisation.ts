/**
 * How well a map points at the evidence a ground-truth mask marks (issue 18, point 6), as Quantus
 * defines its localisation metrics (Hedström et al. 2023, "Quantus: an explainable AI toolkit for
 * responsible evaluation of neural network explanations and beyond", JMLR 24(34)):
 * - pointing game (Zhang et al. 2018, "Top-down neural attention by excitation backprop", IJCV 126):
 *   whether a pixel of maximal attribution lies in the mask (ties: any of them, as Quantus);
 * - relevance mass accuracy (Arras et al. 2022, "CLEVR-XAI: a benchmark dataset for the ground truth
 *   evaluation of neural network explanations", Information Fusion 81): the share of the positive
 *   attribution that falls in the mask. Negative attributions count as zero, as Arras et al. define it;
 *   Quantus's current default sums the signed values after scaling positives and negatives apart, which
 *   gives the same for maps without negative values (every CAM);
 * - relevance rank accuracy (Arras et al. 2022): of the K pixels with the highest attribution, K the
 *   mask's size, the share inside the mask. Ties are ranked by position (Quantus leaves their order to
 *   numpy's sort).
 * The map and the mask are the same size (maps at layer resolution are upsampled to the image first).
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { rankPixels } from '../../../src-shared/saliency.ts';

export interface Localisation {
  pointingGame: boolean;
  /** Null where the map has no positive attribution. */
  relevanceMass: number | null;
  relevanceRank: number;
}

function inside(mask: ArrayLike<number | boolean>, length: number): Uint8Array {
  if (mask.length !== length)
    throw new ApiError('invalid_request', `The mask has ${mask.length} pixels and the map ${length}: they must match`);
  const within = Uint8Array.from({ length }, (_, i) => (mask[i] ? 1 : 0));
  if (!within.includes(1)) throw new ApiError('invalid_request', 'The ground-truth mask is empty');
  return within;
}

export function pointingGame(map: ArrayLike<number>, mask: ArrayLike<number | boolean>): boolean {
  const within = inside(mask, map.length);
  let best = -Infinity;
  for (let i = 0; i < map.length; i++) best = Math.max(best, map[i]!);
  for (let i = 0; i < map.length; i++) if (map[i] === best && within[i]) return true;
  return false;
}

export function relevanceMass(map: ArrayLike<number>, mask: ArrayLike<number | boolean>): number | null {
  const within = inside(mask, map.length);
  let total = 0;
  let hit = 0;
  for (let i = 0; i < map.length; i++) {
    const v = map[i]!;
    if (!(v > 0)) continue;
    total += v;
    if (within[i]) hit += v;
  }
  return total > 0 ? hit / total : null;
}

export function relevanceRank(map: ArrayLike<number>, mask: ArrayLike<number | boolean>): number {
  const within = inside(mask, map.length);
  const size = within.reduce((n, v) => n + v, 0);
  const order = rankPixels(map);
  let hits = 0;
  for (let r = 0; r < size; r++) hits += within[order[r]!]!;
  return hits / size;
}

export function localisation(map: ArrayLike<number>, mask: ArrayLike<number | boolean>): Localisation {
  for (let i = 0; i < map.length; i++)
    if (!Number.isFinite(map[i]))
      throw new ApiError('invalid_request', `The map has a non-finite value (${map[i]}) at pixel ${i}`);
  return {
    pointingGame: pointingGame(map, mask),
    relevanceMass: relevanceMass(map, mask),
    relevanceRank: relevanceRank(map, mask),
  };
}
