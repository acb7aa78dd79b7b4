/**
 * Saliency-map geometry shared by the main process (metrics) and the renderer (the metric scrubber
 * redraws the perturbed image it measured): corner-aligned bilinear resizing and the pixel order.
 */

/** Bilinear resize with corners aligned (torch.nn.UpsamplingBilinear2d), one plane. */
export function resizeBilinearAligned(
  source: ArrayLike<number>,
  height: number,
  width: number,
  outHeight: number,
  outWidth: number,
  out = new Float32Array(outHeight * outWidth),
): Float32Array {
  const sy = outHeight > 1 ? (height - 1) / (outHeight - 1) : 0;
  const sx = outWidth > 1 ? (width - 1) / (outWidth - 1) : 0;
  for (let y = 0; y < outHeight; y++) {
    const fy = y * sy;
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, height - 1);
    const dy = fy - y0;
    for (let x = 0; x < outWidth; x++) {
      const fx = x * sx;
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, width - 1);
      const dx = fx - x0;
      const top = source[y0 * width + x0]! * (1 - dx) + source[y0 * width + x1]! * dx;
      const bottom = source[y1 * width + x0]! * (1 - dx) + source[y1 * width + x1]! * dx;
      out[y * outWidth + x] = top * (1 - dy) + bottom * dy;
    }
  }
  return out;
}

/** Pixel indices, most salient first (ties by position, so the order is reproducible). */
export function rankPixels(saliency: ArrayLike<number>): Int32Array {
  const order = Int32Array.from({ length: saliency.length }, (_, i) => i);
  return order.sort((a, b) => saliency[b]! - saliency[a]! || a - b);
}

/** How many of `pixels` pixels step `step` of `steps` changes. */
export function pixelsAtStep(step: number, steps: number, pixels: number): number {
  return Math.round((step / steps) * pixels);
}
