/**
 * Turning a stored image into the model's input pixels, as the manifest says: resize to the input
 * size, convert to the input's channels (tensor.ts then scales and normalises them into a batch). Runs
 * in worker processes only: it decodes the image's file. An image file is read like any file
 * from outside (regular, bounded) and, when its imported hash is known, must still be that file.
 */
import { createHash } from 'node:crypto';
import sharp, { type Sharp } from 'sharp';
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
  let input: Sharp;
  let shown = { width: image.width, height: image.height };
  if (image.pixels) {
    input = sharp(image.pixels, {
      raw: { width: image.width, height: image.height, channels: image.channels as 1 | 3 },
    });
  } else {
    const bytes = await imageFile(image);
    // The size as shown: EXIF orientations 5 to 8 turn the stored image by a quarter.
    const { width: w = 0, height: h = 0, orientation = 1 } = await sharp(bytes).metadata();
    shown = orientation >= 5 ? { width: h, height: w } : { width: w, height: h };
    input = sharp(bytes).rotate();
  }
  let pipeline = resized(input, shown, manifest);
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

/**
 * The resize (and centre crop) of the manifest, as torchvision does it: `cover` scales the image so that
 * it covers the input size / crop (the shorter side exactly, the longer one truncated, as Resize(256)
 * does), then cuts the input size from the centre (CenterCrop's offsets, Python's rounding);
 * `stretch` and `contain` resize to the input size / crop and cut the centre when there is a crop.
 */
function resized(input: Sharp, image: Pick<ModelImage, 'width' | 'height'>, manifest: Manifest): Sharp {
  const { width, height } = manifest.input;
  const { resize, crop } = manifest.preprocessing;
  const outerWidth = crop < 1 ? Math.round(width / crop) : width;
  const outerHeight = crop < 1 ? Math.round(height / crop) : height;
  let scaledWidth = outerWidth;
  let scaledHeight = outerHeight;
  let pipeline: Sharp;
  if (resize === 'cover' && image.width > 0 && image.height > 0) {
    const scale = Math.max(outerWidth / image.width, outerHeight / image.height);
    scaledWidth = Math.max(outerWidth, Math.floor(image.width * scale + 1e-6));
    scaledHeight = Math.max(outerHeight, Math.floor(image.height * scale + 1e-6));
    pipeline = input.resize(scaledWidth, scaledHeight, { fit: 'fill' });
  } else {
    const fit = { stretch: 'fill', contain: 'contain', cover: 'cover' } as const;
    pipeline = input.resize(outerWidth, outerHeight, { fit: fit[resize], background: { r: 0, g: 0, b: 0 } });
  }
  if (scaledWidth === width && scaledHeight === height) return pipeline;
  const left = pythonRound((scaledWidth - width) / 2);
  const top = pythonRound((scaledHeight - height) / 2);
  return pipeline.extract({ left, top, width, height }); // after resize(): cut from the resized image
}

/** Python's round(): halves go to the even neighbour (torchvision's CenterCrop rounds its offsets so). */
function pythonRound(value: number): number {
  const rounded = Math.round(value);
  return Math.abs(value % 1) === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
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
