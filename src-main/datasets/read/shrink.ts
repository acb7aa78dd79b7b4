/**
 * Area-average downscaling of raw 8-bit pixels, for thumbnails of small images. libvips's resize
 * pipeline costs about 0.4 ms a call here whatever the size, more than decoding a 256-px JPEG in full
 * (0.6 ms), so images up to SHRINK_IN_JS_PIXELS are decoded in full and averaged here; larger ones
 * still go through sharp, whose JPEG shrink-on-load decodes them at a fraction of their size.
 */

/** Images of at most this many pixels are decoded in full and shrunk by `shrinkToFit`. */
export const SHRINK_IN_JS_PIXELS = 512 * 512;

/** The size that fits `width` x `height` inside `box` x `box` keeping the aspect ratio, never enlarged. */
export function fitInside(width: number, height: number, box: number): { width: number; height: number } {
  const scale = Math.min(1, box / Math.max(width, height));
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

/**
 * For each output position along one axis of `from` source pixels into `to` (to <= from): the first
 * source pixel it covers and the share of each covered pixel (the shares of one output sum to 1).
 */
function coverage(from: number, to: number): { first: Int32Array; weights: Float32Array[] } {
  const step = from / to;
  const first = new Int32Array(to);
  const weights: Float32Array[] = [];
  for (let o = 0; o < to; o++) {
    const start = o * step;
    const end = Math.min(from, (o + 1) * step);
    const lo = Math.floor(start);
    const hi = Math.min(from, Math.ceil(end));
    const w = new Float32Array(hi - lo);
    for (let s = lo; s < hi; s++) w[s - lo] = (Math.min(end, s + 1) - Math.max(start, s)) / step;
    first[o] = lo;
    weights.push(w);
  }
  return { first, weights };
}

/**
 * Interleaved pixels of `channels` channels shrunk to fit inside `box` x `box`: each output pixel is
 * the area-weighted mean of the source pixels it covers (a box filter; exact block means when the
 * sizes divide). An image already inside the box comes back as it is.
 */
export function shrinkToFit(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  box: number,
): { data: Uint8Array; width: number; height: number } {
  const out = fitInside(width, height, box);
  if (out.width === width && out.height === height) return { data: pixels, width, height };
  if (width % out.width === 0 && height % out.height === 0)
    return { data: blockMeans(pixels, width, channels, width / out.width, height / out.height, out), ...out };
  const columns = coverage(width, out.width);
  const rows = coverage(height, out.height);
  // Rows first (each output row a weighted sum of source rows), then columns within the row.
  const row = new Float32Array(width * channels);
  const data = new Uint8Array(out.width * out.height * channels);
  for (let oy = 0; oy < out.height; oy++) {
    row.fill(0);
    const rowWeights = rows.weights[oy]!;
    for (let k = 0; k < rowWeights.length; k++) {
      const weight = rowWeights[k]!;
      const offset = (rows.first[oy]! + k) * width * channels;
      for (let i = 0; i < row.length; i++) row[i] = row[i]! + weight * pixels[offset + i]!;
    }
    for (let ox = 0; ox < out.width; ox++) {
      const columnWeights = columns.weights[ox]!;
      const start = columns.first[ox]! * channels;
      const target = (oy * out.width + ox) * channels;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let k = 0; k < columnWeights.length; k++) sum += columnWeights[k]! * row[start + k * channels + c]!;
        data[target + c] = Math.min(255, Math.round(sum));
      }
    }
  }
  return { data, ...out };
}

/** The means of `fx` x `fy` blocks, in integers (the sizes divide: 256 px into 64, the common case). */
function blockMeans(
  pixels: Uint8Array,
  width: number,
  channels: number,
  fx: number,
  fy: number,
  out: { width: number; height: number },
): Uint8Array {
  const data = new Uint8Array(out.width * out.height * channels);
  const sums = new Uint32Array(out.width * channels);
  const count = fx * fy;
  const rowLength = width * channels;
  const blockLength = fx * channels;
  for (let oy = 0; oy < out.height; oy++) {
    sums.fill(0);
    for (let y = oy * fy; y < (oy + 1) * fy; y++) {
      let source = y * rowLength;
      if (channels === 3) {
        // Colour, the common case, with the three sums in locals.
        for (let ox = 0, target = 0; ox < out.width; ox++, target += 3) {
          let r = 0;
          let g = 0;
          let b = 0;
          for (let k = 0; k < fx; k++, source += 3) {
            r += pixels[source]!;
            g += pixels[source + 1]!;
            b += pixels[source + 2]!;
          }
          sums[target] = sums[target]! + r;
          sums[target + 1] = sums[target + 1]! + g;
          sums[target + 2] = sums[target + 2]! + b;
        }
        continue;
      }
      for (let ox = 0; ox < out.width; ox++) {
        for (let c = 0; c < channels; c++) {
          let sum = 0;
          for (let k = c; k < blockLength; k += channels) sum += pixels[source + k]!;
          sums[ox * channels + c] = sums[ox * channels + c]! + sum;
        }
        source += blockLength;
      }
    }
    const base = oy * out.width * channels;
    for (let i = 0; i < sums.length; i++) data[base + i] = Math.floor((sums[i]! + (count >> 1)) / count);
  }
  return data;
}
