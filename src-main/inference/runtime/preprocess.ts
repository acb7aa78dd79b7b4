/**
 * Turning a stored image into the model's input tensor, as the manifest says: resize to the input
 * size, convert to the input's channels, scale to [0, 1] by `scale`, then (x - mean) / std per
 * channel, written in NCHW or NHWC order into a batch buffer. An image file is read like any file
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

export function tensorSize(manifest: Manifest): number {
  return manifest.input.channels * manifest.input.height * manifest.input.width;
}

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

/** Writes one image's normalised values into `batch` at position `index`. */
export function writeNormalised(pixels: Uint8Array, manifest: Manifest, batch: Float32Array, index: number): void {
  const { width, height, channels, layout } = manifest.input;
  const { scale, mean, std } = manifest.preprocessing;
  const plane = width * height;
  const base = index * plane * channels;
  for (let c = 0; c < channels; c++) {
    const m = mean[Math.min(c, mean.length - 1)]!;
    const s = std[Math.min(c, std.length - 1)]!;
    const a = 1 / (scale * s);
    const b = -m / s;
    for (let p = 0; p < plane; p++) {
      const value = pixels[p * channels + c]! * a + b;
      batch[layout === 'NCHW' ? base + c * plane + p : base + p * channels + c] = value;
    }
  }
}

export function softmax(logits: Float32Array, offset: number, count: number, out: Float32Array): void {
  let max = -Infinity;
  for (let i = 0; i < count; i++) max = Math.max(max, logits[offset + i]!);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const e = Math.exp(logits[offset + i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < count; i++) out[i]! /= sum;
}
