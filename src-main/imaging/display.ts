/**
 * A project image as a browser shows it: the file itself for jpg, png, webp and gif, PNG for raw
 * pixels (IDX, CSV) and every other format (TIFF, ...), with its size. Policy: a file is served only
 * when it is still the file that was imported (its sha256), read like any file from outside (a regular
 * file, bounded); a changed or replaced file is `image_changed`, named. Runs in the image worker
 * (workers/image.ts): the file may have been replaced by anything since the import.
 */
import { extname } from 'node:path';
import sharp from 'sharp';
import { ApiError } from '../../src-shared/errors.ts';
import { readBounded } from '../io/files.ts';
import { DEFAULT_MAX_BYTES, hashBytes } from '../datasets/read/decode.ts';

const PASS_THROUGH: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

/** Where a stored image's pixels are: in the project (raw, 1 or 3 channels) or in the imported file. */
export type DisplaySource =
  | { kind: 'pixels'; imageId: number; pixels: Uint8Array; width: number; height: number; channels: number }
  | { kind: 'file'; imageId: number; path: string; contentHash: string };

export interface Displayable {
  bytes: Uint8Array;
  mime: string;
  width: number;
  height: number;
}

export async function displayable(source: DisplaySource): Promise<Displayable> {
  if (source.kind === 'pixels') {
    const { width, height } = source;
    const bytes = await sharp(source.pixels, { raw: { width, height, channels: source.channels as 1 | 3 } })
      .png()
      .toBuffer();
    return { bytes, mime: 'image/png', width, height };
  }
  const { imageId, path } = source;
  let bytes: Buffer;
  try {
    bytes = await readBounded(path, DEFAULT_MAX_BYTES);
  } catch (error) {
    throw new ApiError(
      'image_not_found',
      `The file of image ${imageId} cannot be read any more: ${(error as Error).message}`,
    );
  }
  if (hashBytes(bytes) !== source.contentHash)
    throw new ApiError(
      'image_changed',
      `The file of image ${imageId} changed since it was imported: ${path}. Import the dataset again to use the new file.`,
    );
  try {
    const mime = PASS_THROUGH[extname(path).toLowerCase()];
    if (mime) {
      const { width = 0, height = 0, orientation = 1 } = await sharp(bytes).metadata();
      return orientation >= 5 ? { bytes, mime, width: height, height: width } : { bytes, mime, width, height };
    }
    const { data, info } = await sharp(bytes).rotate().png().toBuffer({ resolveWithObject: true });
    return { bytes: data, mime: 'image/png', width: info.width, height: info.height };
  } catch (error) {
    throw new ApiError(
      'image_not_found',
      `The file of image ${imageId} cannot be decoded: ${path} (${(error as Error).message})`,
    );
  }
}

/** Decoded pixels, interleaved, `channels` a pixel. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** The largest image `rawImage` decodes, in pixels (a 16k x 16k atlas). */
const MAX_RAW_PIXELS = 2 ** 28;

/** An image file decoded to raw pixels (an explainer bundle's prototype atlas), bounded in bytes and pixels. */
export async function rawImage(path: string, maxBytes: number): Promise<RawImage> {
  const bytes = await readBounded(path, maxBytes);
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: MAX_RAW_PIXELS })
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (error) {
    throw new ApiError('bundle_invalid', `${path} cannot be decoded as an image: ${(error as Error).message}`);
  }
}
