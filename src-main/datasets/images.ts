/**
 * A project image for people to see, by id: the stored thumbnail (read here, it is the project's own
 * PNG), or the full image, decoded in the image worker (imaging/display.ts says what it serves).
 */
import { ApiError } from '../../src-shared/errors.ts';
import type { Context } from '../runtime/context.ts';

export interface ImageBytes {
  bytes: Buffer;
  mime: string;
}

const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export async function fullImage(
  ctx: Pick<Context, 'project' | 'images'>,
  imageId: number,
): Promise<ImageBytes & { width: number; height: number }> {
  const image = ctx.project.images.stored(imageId);
  if (!image) throw new ApiError('image_not_found', `No image with id ${imageId} in this project`);
  const shown = await ctx.images.call(
    'display',
    image.pixels
      ? {
          kind: 'pixels',
          imageId,
          pixels: image.pixels,
          width: image.width,
          height: image.height,
          channels: image.channels,
        }
      : { kind: 'file', imageId, path: image.filePath!, contentHash: image.contentHash },
    { subject: image.filePath ? `showing the image ${image.filePath}` : `showing image ${imageId}` },
  );
  return { ...shown, bytes: asBuffer(shown.bytes) };
}

export async function imageBytes(
  ctx: Pick<Context, 'project' | 'images'>,
  imageId: number,
  variant: 'thumb' | 'full',
): Promise<ImageBytes> {
  if (variant === 'full') {
    const { bytes, mime } = await fullImage(ctx, imageId);
    return { bytes, mime };
  }
  const png = ctx.project.images.thumbnail(imageId);
  if (!png) throw new ApiError('image_not_found', `No image with id ${imageId} in this project`);
  return { bytes: png, mime: 'image/png' };
}
