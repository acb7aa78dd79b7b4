/**
 * Exports of a counterfactual path: a PNG strip of every step side by side, and an animated GIF that
 * plays the path (gifenc: palette quantisation and LZW in the browser). Steps are enlarged without
 * smoothing so 28x28 images stay crisp.
 */
import { applyPalette, GIFEncoder, quantize } from 'gifenc';
import { toRgba } from './pixels.ts';

const SCALE = 4;

function enlarged(
  pixels: ArrayLike<number>,
  shape: readonly [number, number, number],
): { rgba: Uint8ClampedArray<ArrayBuffer>; width: number; height: number } {
  const [, h, w] = shape;
  const small = toRgba(pixels, shape, 'image');
  const [width, height] = [w * SCALE, h * SCALE];
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++)
      rgba.set(
        small.subarray(
          (Math.floor(y / SCALE) * w + Math.floor(x / SCALE)) * 4,
          (Math.floor(y / SCALE) * w + Math.floor(x / SCALE)) * 4 + 4,
        ),
        (y * width + x) * 4,
      );
  }
  return { rgba, width, height };
}

export async function pathStripPng(
  images: ArrayLike<number>[],
  shape: readonly [number, number, number],
): Promise<Blob> {
  const frames = images.map((image) => enlarged(image, shape));
  const { width, height } = frames[0]!;
  const gap = 4;
  const canvas = new OffscreenCanvas(frames.length * (width + gap) - gap, height);
  const context = canvas.getContext('2d')!;
  context.fillStyle = '#ffffff';
  context.fillRect(0, 0, canvas.width, canvas.height);
  frames.forEach((frame, k) => context.putImageData(new ImageData(frame.rgba, width, height), k * (width + gap), 0));
  return canvas.convertToBlob({ type: 'image/png' });
}

export function pathGif(images: ArrayLike<number>[], shape: readonly [number, number, number], delay = 250): Blob {
  const gif = GIFEncoder();
  images.forEach((image, k) => {
    const { rgba, width, height } = enlarged(image, shape);
    const palette = quantize(rgba, 256);
    // Hold the first and last frames longer so the start and the end can be seen.
    gif.writeFrame(applyPalette(rgba, palette), width, height, {
      palette,
      delay: k === 0 || k === images.length - 1 ? delay * 3 : delay,
    });
  });
  gif.finish();
  return new Blob([gif.bytes() as BlobPart], { type: 'image/gif' });
}

export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
