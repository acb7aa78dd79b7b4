/**
 * Images drawn from an image and an explanation map, for people to look at: the map over the image in
 * jet colours (the atlas and the report's examples) and Deep Reveal's masked steps (only the pixels
 * where the map is in its top percent). They decode images, so they run in the image worker
 * (workers/image.ts), never in the main process.
 */
import sharp from 'sharp';
import { resizeBilinearAligned } from '../../src-shared/saliency.ts';

/** A map on its own grid, row-major. */
export interface MapGrid {
  width: number;
  height: number;
  map: Float32Array;
}

function jet(t: number): [number, number, number] {
  const channel = (offset: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - offset))));
  return [channel(3), channel(2), channel(1)];
}

export async function overlayPng(bytes: Uint8Array, map: MapGrid | undefined, size: number): Promise<Buffer> {
  const { data } = await sharp(bytes)
    .removeAlpha()
    .toColourspace('srgb')
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rgb =
    data.length === size * size * 3
      ? data
      : Buffer.from(Array.from({ length: size * size * 3 }, (_, i) => data[Math.floor(i / 3)]!));
  if (map) {
    const scaled = resizeBilinearAligned(map.map, map.height, map.width, size, size);
    let low = Infinity;
    let high = -Infinity;
    for (const v of scaled) {
      low = Math.min(low, v);
      high = Math.max(high, v);
    }
    const range = high - low || 1;
    for (let p = 0; p < size * size; p++) {
      const t = (scaled[p]! - low) / range;
      const alpha = 0.6 * t;
      const colour = jet(t);
      for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.round(rgb[p * 3 + c]! * (1 - alpha) + colour[c]! * alpha);
    }
  }
  return sharp(rgb, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
}

/** Keeps the pixels whose bilinearly upsampled map value is in the top `percent` %; the rest is grey. */
export async function maskedImage(bytes: Uint8Array, map: MapGrid, percent: number): Promise<Buffer> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const keep = revealMask(map, info.width, info.height, percent);
  const out = Buffer.from(data);
  for (let p = 0; p < keep.length; p++)
    if (!keep[p]) for (let c = 0; c < info.channels; c++) out[p * info.channels + c] = 128;
  return sharp(out, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .png()
    .toBuffer();
}

export function revealMask(map: MapGrid, width: number, height: number, percent: number): Uint8Array {
  const values = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.max(((y + 0.5) * map.height) / height - 0.5, 0), map.height - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, map.height - 1);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(Math.max(((x + 0.5) * map.width) / width - 0.5, 0), map.width - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, map.width - 1);
      const fx = sx - x0;
      const m = map.map;
      const top = m[y0 * map.width + x0]! * (1 - fx) + m[y0 * map.width + x1]! * fx;
      const bottom = m[y1 * map.width + x0]! * (1 - fx) + m[y1 * map.width + x1]! * fx;
      values[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  const count = Math.max(1, Math.round((percent / 100) * values.length));
  const order = Array.from(values.keys()).sort((a, b) => values[b]! - values[a]! || a - b);
  const keep = new Uint8Array(values.length);
  for (let i = 0; i < count; i++) keep[order[i]!] = 1;
  return keep;
}
