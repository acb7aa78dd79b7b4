/**
 * Reading one image for import: checks, content hash, size, and the grid thumbnail. Every way an
 * image can be bad ends in an ImportProblem with a stable code and a message naming the file, so the
 * importer can skip it, record why, and go on with the rest.
 */
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { imageSize } from 'image-size';
import { PNG } from 'pngjs';
import { SHRINK_IN_JS_PIXELS, shrinkToFit } from './shrink.ts';
import sharp, { type Metadata } from 'sharp';
import { FileProblem, MiB, readBounded } from '../../io/files.ts';
import { IMAGE_EXTENSIONS } from './sources.ts';

export const THUMBNAIL_SIZE = 64;
export const DEFAULT_MAX_PIXELS = 64_000_000;
/** The most bytes one image file may have (an uncompressed 64-megapixel RGB TIFF is 192 MB). */
export const DEFAULT_MAX_BYTES = 512 * MiB;

export type ProblemCode =
  | 'empty_file'
  | 'unsupported_type'
  | 'not_a_file'
  | 'not_an_image'
  | 'truncated'
  | 'too_large'
  | 'unreadable'
  | 'unlabelled';

export class ImportProblem extends Error {
  constructor(
    readonly code: ProblemCode,
    message: string,
  ) {
    super(message);
  }
}

export interface DecodedFile {
  width: number;
  height: number;
  channels: number;
  contentHash: string;
  byteSize: number;
  thumbnail: { size: number; png: Uint8Array };
}

export async function decodeFile(
  filePath: string,
  maxPixels = DEFAULT_MAX_PIXELS,
  maxBytes = DEFAULT_MAX_BYTES,
): Promise<DecodedFile> {
  const extension = extname(filePath).toLowerCase();
  if (!IMAGE_EXTENSIONS.has(extension)) {
    throw new ImportProblem(
      'unsupported_type',
      `${filePath}: file type "${extension || '(none)'}" is not an image type the workstation reads (jpg, png, webp, tiff, gif)`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = await readBounded(filePath, maxBytes);
  } catch (error) {
    if (!(error instanceof FileProblem)) throw error;
    throw new ImportProblem(
      error.kind === 'not_a_file' || error.kind === 'too_large' ? error.kind : 'unreadable',
      error.message,
    );
  }
  if (bytes.length === 0) throw new ImportProblem('empty_file', `${filePath}: the file is empty (0 bytes)`);
  const { width, height } = await dimensions(filePath, bytes);
  if (width * height > maxPixels) {
    throw new ImportProblem(
      'too_large',
      `${filePath}: ${width}x${height} = ${width * height} pixels is over the limit of ${maxPixels}`,
    );
  }
  let thumbnail: Uint8Array;
  let channels: 1 | 3;
  try {
    const { data, info } = await thumbnailPixels(bytes, width * height, maxPixels);
    // sharp hands out sRGB; only a thumbnail with R = G = B everywhere can be a grey image, and then
    // the header says whether it is (so colour photographs never pay for a second libvips call).
    channels = info.channels === 3 && isGrey(data) && (await storedChannels(bytes)) <= 2 ? 1 : 3;
    if (info.channels === 3 && channels === 1) {
      thumbnail = await rawThumbnail(
        data.filter((_, i) => i % 3 === 0),
        info.width,
        info.height,
        1,
      );
    } else if (info.channels === 3) {
      thumbnail = await rawThumbnail(data, info.width, info.height, 3);
    } else {
      channels = info.channels <= 2 ? 1 : 3;
      thumbnail = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
        .png()
        .toBuffer(); // with its alpha channel
    }
  } catch (error) {
    throw new ImportProblem(
      'truncated',
      `${filePath}: the image data is damaged or cut short (${(error as Error).message})`,
    );
  }
  return {
    width,
    height,
    channels,
    contentHash: createHash('sha256').update(bytes).digest('hex'),
    byteSize: bytes.length,
    thumbnail: { size: THUMBNAIL_SIZE, png: thumbnail },
  };
}

/**
 * The thumbnail's raw pixels, upright. A small image is decoded in full and shrunk in JS (cheaper than
 * libvips's resize pipeline); JPEG and WebP photos shrink on load, so they are decoded at about the
 * thumbnail's size, not their own.
 */
async function thumbnailPixels(bytes: Buffer, pixels: number, maxPixels: number) {
  const image = sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels }).rotate();
  if (pixels <= SHRINK_IN_JS_PIXELS) {
    const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
    const shrunk = shrinkToFit(data, info.width, info.height, info.channels, THUMBNAIL_SIZE);
    return { data: shrunk.data, info: { width: shrunk.width, height: shrunk.height, channels: info.channels } };
  }
  return image
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true, kernel: 'linear' })
    .raw()
    .toBuffer({ resolveWithObject: true });
}

function isGrey(rgb: Uint8Array): boolean {
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i] !== rgb[i + 1] || rgb[i] !== rgb[i + 2]) return false;
  return true;
}

async function storedChannels(bytes: Buffer): Promise<number> {
  return (await sharp(bytes, { limitInputPixels: false }).metadata()).channels ?? 3;
}

/**
 * An image's stored size, from its header (image-size reads it in microseconds; a second libvips call
 * per image cost a fifth of an import of small JPEGs). A header that library cannot read goes to sharp,
 * which reads more formats and says why it cannot.
 */
async function dimensions(filePath: string, bytes: Buffer): Promise<{ width: number; height: number }> {
  try {
    const { width, height } = imageSize(bytes);
    if (width > 0 && height > 0) return { width, height };
  } catch {
    // fall through to sharp
  }
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new ImportProblem('not_an_image', `${filePath}: not a readable image (${(error as Error).message})`);
  }
  return { width: metadata.width ?? 0, height: metadata.height ?? 0 };
}

/**
 * Thumbnail of raw 8-bit pixels (IDX sources). Small images need no resizing, only PNG encoding, and
 * sharp's per-call cost (about 0.8 ms here) would dominate, so pngjs encodes those; larger ones go
 * through sharp.
 */
export async function rawThumbnail(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Promise<Uint8Array> {
  if (width <= THUMBNAIL_SIZE && height <= THUMBNAIL_SIZE) {
    return PNG.sync.write(
      { width, height, data: Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength) } as PNG,
      // Paeth on every row instead of pngjs's per-row search over the five filters: half the time, within 1 % of its bytes.
      {
        colorType: channels === 1 ? 0 : 2,
        inputColorType: channels === 1 ? 0 : 2,
        inputHasAlpha: false,
        filterType: 4,
      },
    );
  }
  return sharp(pixels, { raw: { width, height, channels } })
    .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside' })
    .png()
    .toBuffer();
}

export function hashBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
