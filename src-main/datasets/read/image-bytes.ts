/**
 * Thumbnails for the grid, in batches: the ids a batch may name and the layout it is sent in. Full
 * images are decoded in the image worker (imaging/display.ts, datasets/images.ts).
 */
import type { Project } from '../../store/project.ts';

export const MAX_BATCH = 1000;

/** The largest id a thumbnail batch can name (its layout holds ids as u32). */
export const MAX_BATCH_ID = 0xffff_ffff;

/** The ids of a batch request ("1,2,3"), or null when the list is empty, too long or not all ids. */
export function parseIdList(text: string | null): number[] | null {
  if (!text) return null;
  const parts = text.split(',');
  if (parts.length > MAX_BATCH || !parts.every((part) => /^[1-9]\d{0,9}$/.test(part))) return null;
  const ids = parts.map(Number);
  return ids.every((id) => id <= MAX_BATCH_ID) ? ids : null;
}

/**
 * Many thumbnails in one response, so a scrolling grid makes one request per batch instead of one per
 * image. Layout (little-endian): u32 count; count x (u32 id, u32 byte length); then the PNGs in that
 * order. An id without a thumbnail has length 0.
 */
export function thumbnailBatch(project: Project, ids: readonly number[]): Buffer {
  const pngs = project.images.thumbnails(ids);
  const header = Buffer.alloc(4 + 8 * ids.length);
  header.writeUInt32LE(ids.length, 0);
  const bodies = ids.map((id, index) => {
    const png = pngs.get(id) ?? Buffer.alloc(0);
    header.writeUInt32LE(id, 4 + 8 * index);
    header.writeUInt32LE(png.length, 8 + 8 * index);
    return png;
  });
  return Buffer.concat([header, ...bodies]);
}
