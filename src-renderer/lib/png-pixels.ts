/**
 * A grid thumbnail (PNG) as raw pixels, read in the renderer's thumbnail worker. Chromium's
 * createImageBitmap costs about 0.5 ms per PNG blob whatever its size; the PNGs the importer writes
 * (8-bit grey, grey + alpha, RGB or RGBA, not interlaced) are read here with fflate's inflate and one
 * pass over the rows instead, and anything else is null (the caller hands
 * it to createImageBitmap). Thumbnails come from project files that may have been shared, so a PNG is
 * checked before any allocation: its sides are bounded, and inflating stops at the size its header
 * declares.
 */
import { unzlibSync } from 'fflate';

export interface PngPixels {
  width: number;
  height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA: interleaved, 8 bits each, rows without padding. */
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

/** Thumbnails are at most 64 px a side; a stored image above this is left to the browser's decoder. */
export const MAX_THUMBNAIL_SIDE = 512;

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, 1 | 2 | 3 | 4> = { 0: 1, 4: 2, 2: 3, 6: 4 };
const IDAT = 0x49444154;
const IEND = 0x49454e44;

/** The pixels of a plain 8-bit PNG; null for any other PNG, and for bytes that are not a sound one. */
export function pngPixels(png: Uint8Array): PngPixels | null {
  if (png.length < 33 || SIGNATURE.some((byte, index) => png[index] !== byte)) return null;
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (view.getUint32(12) !== 0x49484452) return null; // IHDR first, as the format requires
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width < 1 || height < 1 || width > MAX_THUMBNAIL_SIDE || height > MAX_THUMBNAIL_SIDE) return null;
  const channels = CHANNELS[png[25]!];
  if (png[24] !== 8 || channels === undefined || png[28] !== 0) return null;
  const parts: Uint8Array[] = [];
  for (let offset = 8; offset + 12 <= png.length;) {
    const length = view.getUint32(offset);
    const type = view.getUint32(offset + 4);
    if (offset + 12 + length > png.length) return null;
    if (type === IDAT) parts.push(png.subarray(offset + 8, offset + 8 + length));
    if (type === IEND) break;
    offset += 12 + length;
  }
  const stride = width * channels;
  const filtered = inflate(parts, height * (stride + 1));
  if (!filtered) return null;
  const data = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    if (!unfilterRow(filtered, y * (stride + 1), data, y * stride, stride, channels)) return null;
  }
  return { width, height, channels, data };
}

/** The zlib stream of `parts` inflated, or null unless it holds exactly `expected` bytes. */
function inflate(parts: Uint8Array[], expected: number): Uint8Array | null {
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  try {
    // One byte of room past the declared size: inflating stops there, and a longer stream shows.
    const out = unzlibSync(joined, { out: new Uint8Array(expected + 1) });
    return out.length === expected ? out : null;
  } catch {
    return null; // not a zlib stream, or a damaged one
  }
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

/** Four bytes a pixel, as canvas ImageData wants them (opaque where the thumbnail has no alpha). */
export function toRgba({ width, height, channels, data }: PngPixels): Uint8ClampedArray {
  const pixels = width * height;
  if (channels === 4) return new Uint8ClampedArray(data.buffer, data.byteOffset, pixels * 4);
  const rgba = new Uint8ClampedArray(pixels * 4);
  for (let p = 0, q = 0, o = 0; p < pixels; p++, q += channels, o += 4) {
    const grey = data[q]!;
    rgba[o] = grey;
    rgba[o + 1] = channels === 3 ? data[q + 1]! : grey;
    rgba[o + 2] = channels === 3 ? data[q + 2]! : grey;
    rgba[o + 3] = channels === 2 ? data[q + 1]! : 255;
  }
  return rgba;
}
