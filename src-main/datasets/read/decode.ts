/**
 * Reading one image for import: checks, content hash, size, and the grid thumbnail. Every way an
 * image can be bad ends in an ImportProblem with a stable code and a message naming the file, so the
 * importer can skip it, record why, and go on with the rest.
 */
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { PNG } from 'pngjs';
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
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new ImportProblem('not_an_image', `${filePath}: not a readable image (${(error as Error).message})`);
  }
  const width = metadata.width ?? 0;
  const height = metadata.height ?? 0;
  if (width * height > maxPixels) {
    throw new ImportProblem(
      'too_large',
      `${filePath}: ${width}x${height} = ${width * height} pixels is over the limit of ${maxPixels}`,
    );
  }
  let png: Buffer;
  try {
    png = await sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels })
      .rotate()
      .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
      .png({ compressionLevel: 6 })
      .toBuffer();
  } catch (error) {
    throw new ImportProblem(
      'truncated',
      `${filePath}: the image data is damaged or cut short (${(error as Error).message})`,
    );
  }
  const channels = metadata.channels === 2 || metadata.channels === 1 ? 1 : 3;
  return {
    width,
    height,
    channels,
    contentHash: createHash('sha256').update(bytes).digest('hex'),
    byteSize: bytes.length,
    thumbnail: { size: THUMBNAIL_SIZE, png },
  };
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
      { colorType: channels === 1 ? 0 : 2, inputColorType: channels === 1 ? 0 : 2, inputHasAlpha: false },
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
