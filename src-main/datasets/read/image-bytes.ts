/**
 * Bytes of an image for display, by id: the cached thumbnail, or the full image as a format every
 * browser shows (PNG for raw pixels and TIFF; the file itself for jpg, png, webp and gif). Policy: a
 * file is served only when it is still the file that was imported (its sha256), read like any file
 * from outside (a regular file, bounded); a changed or replaced file is `image_changed`, named.
 */
import { extname } from 'node:path';
import sharp from 'sharp';
import { ApiError } from '../../../src-shared/errors.ts';
import { readBounded } from '../../io/files.ts';
import type { Project } from '../../store/project.ts';
import { DEFAULT_MAX_BYTES, hashBytes } from './decode.ts';

const PASS_THROUGH: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

export async function imageBytes(
  project: Project,
  imageId: number,
  variant: 'thumb' | 'full',
): Promise<{ bytes: Buffer; mime: string }> {
  if (variant === 'thumb') {
    const png = project.images.thumbnail(imageId);
    if (!png) throw new ApiError('image_not_found', `No image with id ${imageId} in this project`);
    return { bytes: png, mime: 'image/png' };
  }
  const image = project.images.stored(imageId);
  if (!image) throw new ApiError('image_not_found', `No image with id ${imageId} in this project`);
  if (image.pixels) {
    const bytes = await sharp(image.pixels, {
      raw: { width: image.width, height: image.height, channels: image.channels as 1 | 3 },
    })
      .png()
      .toBuffer();
    return { bytes, mime: 'image/png' };
  }
  const path = image.filePath!;
  const mime = PASS_THROUGH[extname(path).toLowerCase()];
  let bytes: Buffer;
  try {
    bytes = await readBounded(path, DEFAULT_MAX_BYTES);
  } catch (error) {
    throw new ApiError(
      'image_not_found',
      `The file of image ${imageId} cannot be read any more: ${(error as Error).message}`,
    );
  }
  if (hashBytes(bytes) !== image.contentHash)
    throw new ApiError(
      'image_changed',
      `The file of image ${imageId} changed since it was imported: ${path}. Import the dataset again to use the new file.`,
    );
  if (mime) return { bytes, mime };
  try {
    return { bytes: await sharp(bytes).rotate().png().toBuffer(), mime: 'image/png' };
  } catch (error) {
    throw new ApiError(
      'image_not_found',
      `The file of image ${imageId} cannot be decoded: ${path} (${(error as Error).message})`,
    );
  }
}

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
