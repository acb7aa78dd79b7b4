/**
 * Pixel-space arrays (channel planes, values in [0, 1] or signed) to RGBA for a canvas. 'image' clamps
 * to [0, 1]; 'signed' maps negative values to blue and positive to red around white at 0, scaled by the
 * largest magnitude (or `limit`), so a part that can be negative shows its sign; 'heat' min-max scales
 * through a colour map.
 */
import { colormapTable, type Colormap } from './colormaps.ts';

export type PixelMode = 'image' | 'signed' | 'heat';

export function toRgba(
  pixels: ArrayLike<number>,
  shape: readonly [number, number, number],
  mode: PixelMode,
  options: { limit?: number; colormap?: Colormap } = {},
): Uint8ClampedArray<ArrayBuffer> {
  const [channels, height, width] = shape;
  const plane = height * width;
  const out = new Uint8ClampedArray(plane * 4);
  const value = (c: number, p: number) => pixels[Math.min(c, channels - 1) * plane + p]!;
  if (mode === 'image') {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[p * 4 + c] = Math.round(value(c, p) * 255);
      out[p * 4 + 3] = 255;
    }
    return out;
  }
  // Signed and heat work on one value per pixel: the mean over channels.
  const single = new Float32Array(plane);
  for (let p = 0; p < plane; p++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += pixels[c * plane + p]!;
    single[p] = sum / channels;
  }
  if (mode === 'signed') {
    let limit = options.limit ?? 0;
    if (!limit) for (const v of single) limit = Math.max(limit, Math.abs(v));
    for (let p = 0; p < plane; p++) {
      const t = limit > 0 ? Math.max(-1, Math.min(1, single[p]! / limit)) : 0;
      const fade = Math.round(255 * (1 - Math.abs(t)));
      out.set(t >= 0 ? [255, fade, fade, 255] : [fade, fade, 255, 255], p * 4);
    }
    return out;
  }
  let [low, high] = [Infinity, -Infinity];
  for (const v of single) [low, high] = [Math.min(low, v), Math.max(high, v)];
  const table = colormapTable(options.colormap ?? 'inferno');
  const scale = high > low ? 255 / (high - low) : 0;
  for (let p = 0; p < plane; p++) {
    const level = Math.round((single[p]! - low) * scale);
    out.set([table[level * 3]!, table[level * 3 + 1]!, table[level * 3 + 2]!, 255], p * 4);
  }
  return out;
}

export function paintCanvas(
  canvas: HTMLCanvasElement,
  pixels: ArrayLike<number>,
  shape: readonly [number, number, number],
  mode: PixelMode,
  options: { limit?: number; colormap?: Colormap } = {},
): void {
  const [, height, width] = shape;
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')!.putImageData(new ImageData(toRgba(pixels, shape, mode, options), width, height), 0, 0);
}

export const percent = (p: number) => `${(p * 100).toFixed(1)}%`;
