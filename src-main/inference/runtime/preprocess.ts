/**
 * Turning a stored image into the model's input pixels, as the manifest says: resize to the input
 * size, convert to the input's channels (tensor.ts then scales and normalises them into a batch). Runs
 * in worker processes only: it decodes the image's file. An image file is read like any file
 * from outside (regular, bounded) and, when its imported hash is known, must still be that file.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { Manifest } from '../../../src-shared/contract.ts';
import { ApiError } from '../../../src-shared/errors.ts';
import { readBounded } from '../../io/files.ts';
import type { StoredImage } from '../../store/images.ts';

/** The most bytes an image file may have (as the importer's limit). */
const MAX_IMAGE_BYTES = 512 * 1024 * 1024;

export type ModelImage = Pick<StoredImage, 'width' | 'height' | 'channels' | 'filePath' | 'pixels'> & {
  id?: number;
  contentHash?: string;
};

/** Pixels of the image at the model's size and channel count, 8-bit, interleaved. */
export async function pixelsForModel(image: ModelImage, manifest: Manifest): Promise<Uint8Array> {
  const { width, height, channels } = manifest.input;
  if (image.pixels && image.width === width && image.height === height && image.channels === channels) {
    return image.pixels;
  }
  const input = image.pixels
    ? sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: image.channels as 1 | 3 } })
    : sharp(await imageFile(image)).rotate();
  const fit = { stretch: 'fill', contain: 'contain', cover: 'cover' } as const;
  let pipeline = input.resize(width, height, {
    fit: fit[manifest.preprocessing.resize],
    background: { r: 0, g: 0, b: 0 },
  });
  pipeline = channels === 1 ? pipeline.grayscale() : pipeline.removeAlpha().toColourspace('srgb');
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels) {
    // sharp keeps three channels for some grey inputs; take the first.
    const out = new Uint8Array(width * height * channels);
    for (let p = 0; p < width * height; p++)
      for (let c = 0; c < channels; c++)
        out[p * channels + c] = data[p * info.channels + Math.min(c, info.channels - 1)]!;
    return out;
  }
  return data;
}

async function imageFile(image: ModelImage): Promise<Buffer> {
  const bytes = await readBounded(image.filePath!, MAX_IMAGE_BYTES);
  if (image.contentHash && createHash('sha256').update(bytes).digest('hex') !== image.contentHash) {
    throw new ApiError(
      'image_changed',
      `The file of image ${image.id ?? ''} changed since it was imported: ${image.filePath}. Import the dataset again to use the new file.`,
    );
  }
  return bytes;
}
