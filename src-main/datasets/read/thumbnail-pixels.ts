/**
 * A stored thumbnail (PNG) as raw pixels for the grid. Chromium's createImageBitmap costs about 0.5 ms
 * per PNG blob whatever its size, and a colour 64-px thumbnail about 0.3 ms through pngjs; this reads
 * the PNGs the importer writes (8-bit grey, grey + alpha, RGB or RGBA, not interlaced) with Node's
 * native inflate and one pass over the rows (about 0.05 ms), and hands anything else to pngjs.
 * Thumbnails come from project files that may have been shared, so a PNG is checked before any
 * allocation: its sides are bounded, its inflated size is capped, and a thumbnail that cannot be read
 * is null (the grid shows its placeholder).
 */
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';

export interface ThumbnailPixels {
  width: number;
  height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA: interleaved, 8 bits each, rows without padding. */
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

/** Thumbnails are at most 64 px a side; a stored image above this is refused rather than decoded. */
export const MAX_THUMBNAIL_SIDE = 512;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, 1 | 2 | 3 | 4> = { 0: 1, 4: 2, 2: 3, 6: 4 };

export function thumbnailPixels(png: Uint8Array): ThumbnailPixels | null {
  if (png.length < 33 || SIGNATURE.some((byte, index) => png[index] !== byte)) return null;
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (view.getUint32(12) !== 0x49484452) return null; // IHDR first, as the format requires
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width < 1 || height < 1 || width > MAX_THUMBNAIL_SIDE || height > MAX_THUMBNAIL_SIDE) return null;
  const depth = png[24]!;
  const channels = CHANNELS[png[25]!];
  const interlaced = png[28] !== 0;
  try {
    if (depth !== 8 || channels === undefined || interlaced) return throughPngjs(png);
    return readPlain(png, view, width, height, channels);
  } catch {
    return null;
  }
}

function readPlain(
  png: Uint8Array,
  view: DataView,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
): ThumbnailPixels | null {
  const parts: Uint8Array[] = [];
  for (let offset = 8; offset + 12 <= png.length;) {
    const length = view.getUint32(offset);
    const type = view.getUint32(offset + 4);
    if (offset + 12 + length > png.length) return null;
    if (type === 0x49444154) parts.push(png.subarray(offset + 8, offset + 8 + length)); // IDAT
    if (type === 0x49454e44) break; // IEND
    offset += 12 + length;
  }
  const stride = width * channels;
  const expected = height * (stride + 1);
  const filtered = inflateSync(parts.length === 1 ? parts[0]! : Buffer.concat(parts), { maxOutputLength: expected });
  if (filtered.length !== expected) return null;
  const data = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    if (!unfilterRow(filtered, y * (stride + 1), data, y * stride, stride, channels)) return null;
  }
  return { width, height, channels, data };
}

/** Undoes one row's PNG filter (None, Sub, Up, Average, Paeth) into `out`; false for an unknown filter. */
function unfilterRow(source: Uint8Array, at: number, out: Uint8Array, row: number, stride: number, bpp: number) {
  const filter = source[at]!;
  const from = at + 1;
  const up = row - stride; // the row above in `out`; the first row has none (zeros)
  if (filter === 0 || (filter === 2 && row === 0)) {
    out.set(source.subarray(from, from + stride), row);
  } else if (filter === 1 || (filter === 4 && row === 0)) {
    // Sub; and Paeth on the first row, where b = c = 0 leaves a
    for (let i = 0; i < stride; i++) out[row + i] = source[from + i]! + (i >= bpp ? out[row + i - bpp]! : 0);
  } else if (filter === 2) {
    for (let i = 0; i < stride; i++) out[row + i] = source[from + i]! + out[up + i]!;
  } else if (filter === 3) {
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? out[row + i - bpp]! : 0;
      const b = row === 0 ? 0 : out[up + i]!;
      out[row + i] = source[from + i]! + ((a + b) >> 1);
    }
  } else if (filter === 4) {
    for (let i = 0; i < bpp; i++) out[row + i] = source[from + i]! + out[up + i]!;
    for (let i = bpp; i < stride; i++) {
      const a = out[row + i - bpp]!;
      const b = out[up + i]!;
      const c = out[up + i - bpp]!;
      const pa = Math.abs(b - c);
      const pb = Math.abs(a - c);
      const pc = Math.abs(a + b - 2 * c);
      out[row + i] = source[from + i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
    }
  } else {
    return false;
  }
  return true;
}

/** Palette, 16-bit and interlaced PNGs (none of which the importer writes), as RGBA through pngjs. */
function throughPngjs(png: Uint8Array): ThumbnailPixels {
  const image = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
  return { width: image.width, height: image.height, channels: 4, data: new Uint8Array(image.data) };
}

/** Four bytes a pixel, as canvas ImageData wants them (opaque where the thumbnail has no alpha). */
export function toRgba({ width, height, channels, data }: ThumbnailPixels): Uint8Array {
  if (channels === 4) return data;
  const pixels = width * height;
  const rgba = new Uint8Array(pixels * 4);
  for (let p = 0, q = 0, o = 0; p < pixels; p++, q += channels, o += 4) {
    const grey = data[q]!;
    rgba[o] = grey;
    rgba[o + 1] = channels === 3 ? data[q + 1]! : grey;
    rgba[o + 2] = channels === 3 ? data[q + 2]! : grey;
    rgba[o + 3] = channels === 2 ? data[q + 1]! : 255;
  }
  return rgba;
}
