/**
 * Thumbnail batches made into ImageBitmaps: plain PNGs from their pixels (png-pixels.ts, about a
 * quarter of what createImageBitmap of a PNG blob costs), anything else through the browser's decoder.
 * Runs in the thumbnail worker (thumbnail.worker.ts), or on the main thread where no worker starts.
 */
import { pngPixels, toRgba } from './png-pixels.ts';
import { parseThumbnailBatch } from './thumbnail-batch.ts';

export type DecodedBatch = Array<readonly [number, ImageBitmap]>;

/** One thumbnail as a bitmap, or null when neither reader can read it (the grid keeps its placeholder). */
export async function bitmapOf(png: Uint8Array): Promise<ImageBitmap | null> {
  try {
    const pixels = pngPixels(png);
    if (pixels) return await createImageBitmap(new ImageData(toRgba(pixels) as ImageDataArray, pixels.width));
    return await createImageBitmap(new Blob([png as BlobPart], { type: 'image/png' }));
  } catch {
    return null;
  }
}

export async function decodeBatch(buffer: ArrayBuffer): Promise<DecodedBatch> {
  const entries = parseThumbnailBatch(buffer);
  const decoded = await Promise.all(entries.map(async ({ id, png }) => [id, await bitmapOf(png)] as const));
  return decoded.filter((entry): entry is readonly [number, ImageBitmap] => entry[1] !== null);
}
