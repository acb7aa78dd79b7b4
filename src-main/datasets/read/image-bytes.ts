/**
 * Thumbnails for the grid, in batches: the ids a batch may name and the layout it is sent in. Full
 * images are decoded in the image worker (imaging/display.ts, datasets/images.ts).
 */
import type { Project } from '../../store/project.ts';
import { thumbnailPixels, toRgba } from './thumbnail-pixels.ts';

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
 * image, as RGBA pixels ready for canvas ImageData (decoding a PNG blob in Chromium cost about 0.5 ms
 * per thumbnail, on the cores that also scroll the grid). Layout (little-endian): u32 count; count x
 * (u32 id, u16 width, u16 height); then width x height x 4 bytes of each in that order. An id without a
 * readable thumbnail has width and height 0.
 */
export function thumbnailBatch(project: Project, ids: readonly number[]): Buffer {
  const pngs = project.images.thumbnails(ids);
  const header = Buffer.alloc(4 + 8 * ids.length);
  header.writeUInt32LE(ids.length, 0);
  const bodies = ids.map((id, index) => {
    const png = pngs.get(id);
    const pixels = png ? thumbnailPixels(png) : null;
    header.writeUInt32LE(id, 4 + 8 * index);
    header.writeUInt16LE(pixels?.width ?? 0, 8 + 8 * index);
    header.writeUInt16LE(pixels?.height ?? 0, 10 + 8 * index);
    return pixels ? toRgba(pixels) : new Uint8Array(0);
  });
  return Buffer.concat([header, ...bodies]);
}
