/**
 * Pixel attributions (../shared/METHODS.md, Captum's definitions): maps at input resolution from input
 * gradients (saliency, input x gradient, integrated gradients, SmoothGrad, guided backpropagation,
 * guided Grad-CAM, and pytorch-grad-cam's FullGrad) or from the scores of perturbed inputs (occlusion,
 * RISE).
 *
 * Channels are folded into one map per image in two ways. Gradient images (saliency, SmoothGrad, guided
 * backpropagation, guided Grad-CAM) take the largest |value| over channels, as Simonyan et al. do;
 * attributions that sum to a score difference (input x gradient, integrated gradients) take the sum
 * over channels and keep its positive part, the evidence for the class, like every CAM map here.
 * Sampled methods draw from a seeded generator, so a map is reproducible.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { resizeBilinearAligned } from '../../../src-shared/saliency.ts';
import { throwIfCancelled } from './cancel.ts';
import {
  batchSize,
  geometry,
  gradientsAt,
  maxAbsOverChannels,
  positiveChannelSum,
  scoresOf,
  type InputGeometry,
} from './input.ts';
import { minMaxScaled } from './smoothing.ts';
import { gaussian, seededRandom } from './maps.ts';
import type { CamRequest, CamResult, InputGradients, PixelSource, RunHooks } from './types.ts';

export const INTEGRATED_GRADIENT_STEPS = 32;
export const SMOOTHGRAD_SAMPLES = 25;
/** SmoothGrad's noise level: sigma = 0.15 x (max - min) of the image (Smilkov et al. 2017). */
export const SMOOTHGRAD_NOISE = 0.15;
export const RISE_MASKS = 1000;
export const RISE_CELLS = 7;
export const RISE_KEEP = 0.5;
const SEED = 0x5eed;

/** Integrated gradients (right Riemann sum from a black baseline): (x - x') * mean_m grad at x' + m/M (x - x'). */
export async function integratedGradients(
  source: PixelSource,
  image: Float32Array,
  target: number,
  steps = INTEGRATED_GRADIENT_STEPS,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const size = image.length;
  const scaled = new Float32Array(steps * size);
  for (let m = 1; m <= steps; m++) {
    const alpha = m / steps;
    for (let i = 0; i < size; i++) scaled[(m - 1) * size + i] = alpha * image[i]!;
  }
  const gradients = await gradientsAt(source, scaled, steps, target, false, signal);
  const attribution = new Float32Array(size);
  for (let m = 0; m < steps; m++) for (let i = 0; i < size; i++) attribution[i]! += gradients[m * size + i]!;
  for (let i = 0; i < size; i++) attribution[i] = (attribution[i]! / steps) * image[i]!;
  return attribution;
}

/** SmoothGrad's noisy copies: `samples` draws of N(0, sigma^2), sigma = 0.15 (max - min) of the image. */
export function smoothGradNoise(image: Float32Array, samples = SMOOTHGRAD_SAMPLES, seed = SEED): Float32Array {
  let low = Infinity;
  let high = -Infinity;
  for (const v of image) ((low = Math.min(low, v)), (high = Math.max(high, v)));
  const sigma = SMOOTHGRAD_NOISE * (high - low);
  const normal = gaussian(seededRandom(seed));
  return Float32Array.from({ length: samples * image.length }, () => sigma * normal());
}

/** SmoothGrad: the mean over noisy copies x + noise_n of |d y_c / d x| (per channel). */
export async function smoothGrad(
  source: PixelSource,
  image: Float32Array,
  target: number,
  noise: Float32Array,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const size = image.length;
  const samples = noise.length / size;
  const noisy = Float32Array.from(noise, (n, i) => image[i % size]! + n);
  const gradients = await gradientsAt(source, noisy, samples, target, false, signal);
  const mean = new Float32Array(size);
  for (let s = 0; s < samples; s++) for (let i = 0; i < size; i++) mean[i]! += Math.abs(gradients[s * size + i]!);
  for (let i = 0; i < size; i++) mean[i]! /= samples;
  return mean;
}

/**
 * Occlusion windows along one axis of `size` pixels: patches of 2 s (s = size / 28, at least 1) every s
 * pixels, the last one flush with the far edge so that every pixel is covered.
 */
export function occlusionWindows(size: number): { starts: number[]; window: number } {
  const stride = Math.max(1, Math.round(size / 28));
  const window = Math.min(size, 2 * stride);
  const starts: number[] = [];
  for (let s = 0; s + window <= size; s += stride) starts.push(s);
  if (starts.at(-1)! + window < size) starts.push(size - window);
  return { starts, window };
}

/** Occlusion: per pixel, the mean drop of the class score over the baseline (0) patches covering it. */
export async function occlusion(
  source: PixelSource,
  image: Float32Array,
  target: number,
  hooks: RunHooks = {},
): Promise<Float32Array> {
  const shape = geometry(source.input);
  const { height, width, channels } = shape;
  const size = image.length;
  const rows = occlusionWindows(height);
  const columns = occlusionWindows(width);
  const patches = rows.starts.flatMap((y) => columns.starts.map((x) => ({ y, x })));
  const [original] = await scoresOf(source, image, 1, target, false, hooks.signal);
  const sum = new Float64Array(height * width);
  const covered = new Float64Array(height * width);
  const batch = batchSize(shape, false);
  for (let start = 0; start < patches.length; start += batch) {
    const chunk = patches.slice(start, start + batch);
    const occluded = new Float32Array(chunk.length * size);
    chunk.forEach(({ y, x }, b) => {
      const copy = occluded.subarray(b * size, (b + 1) * size);
      copy.set(image);
      for (let yy = y; yy < y + rows.window; yy++)
        for (let xx = x; xx < x + columns.window; xx++)
          for (let c = 0; c < channels; c++) copy[shape.at(c, yy * width + xx)] = 0;
    });
    const scores = await scoresOf(source, occluded, chunk.length, target, false, hooks.signal);
    chunk.forEach(({ y, x }, b) => {
      const drop = original! - scores[b]!;
      for (let yy = y; yy < y + rows.window; yy++)
        for (let xx = x; xx < x + columns.window; xx++) {
          sum[yy * width + xx]! += drop;
          covered[yy * width + xx]! += 1;
        }
    });
    hooks.progress?.(Math.min(start + batch, patches.length), patches.length);
  }
  return Float32Array.from(sum, (v, p) => Math.max(v / covered[p]!, 0));
}

/**
 * RISE's masks (Petsiuk et al. 2018): a cells x cells grid of cells kept with probability p, upsampled
 * bilinearly to (cells + 1) x cell size and cut at a random shift of up to one cell. [count, H * W].
 */
export function riseMasks(
  height: number,
  width: number,
  count = RISE_MASKS,
  seed = SEED,
  cells = RISE_CELLS,
  keep = RISE_KEEP,
): Float32Array {
  const random = seededRandom(seed);
  const cellHeight = Math.ceil(height / cells);
  const cellWidth = Math.ceil(width / cells);
  const upHeight = (cells + 1) * cellHeight;
  const upWidth = (cells + 1) * cellWidth;
  const grid = new Float32Array(cells * cells);
  const up = new Float32Array(upHeight * upWidth);
  const masks = new Float32Array(count * height * width);
  for (let m = 0; m < count; m++) {
    for (let i = 0; i < grid.length; i++) grid[i] = random() < keep ? 1 : 0;
    resizeBilinearAligned(grid, cells, cells, upHeight, upWidth, up);
    const dy = Math.floor(random() * cellHeight);
    const dx = Math.floor(random() * cellWidth);
    for (let y = 0; y < height; y++)
      masks.set(up.subarray((y + dy) * upWidth + dx, (y + dy) * upWidth + dx + width), (m * height + y) * width);
  }
  return masks;
}

/** RISE: sum_i P(c | x * M_i) M_i / (N p). */
export async function rise(
  source: PixelSource,
  image: Float32Array,
  target: number,
  masks: Float32Array,
  hooks: RunHooks = {},
  keep = RISE_KEEP,
): Promise<Float32Array> {
  const shape = geometry(source.input);
  const pixels = shape.height * shape.width;
  const size = image.length;
  const count = masks.length / pixels;
  const sum = new Float64Array(pixels);
  const batch = batchSize(shape, false);
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const masked = new Float32Array(n * size);
    for (let b = 0; b < n; b++) {
      const mask = masks.subarray((start + b) * pixels, (start + b + 1) * pixels);
      for (let p = 0; p < pixels; p++)
        for (let c = 0; c < shape.channels; c++) {
          const at = shape.at(c, p);
          masked[b * size + at] = image[at]! * mask[p]!;
        }
    }
    const scores = await scoresOf(source, masked, n, target, true, hooks.signal);
    for (let b = 0; b < n; b++) {
      const mask = masks.subarray((start + b) * pixels, (start + b + 1) * pixels);
      for (let p = 0; p < pixels; p++) sum[p]! += scores[b]! * mask[p]!;
    }
    hooks.progress?.(start + n, count);
  }
  return Float32Array.from(sum, (v) => v / (count * keep));
}

/** cv2.resize with INTER_LINEAR: bilinear with half-pixel centres, edges clamped (the library's resize). */
export function resizeBilinearHalfPixel(
  source: ArrayLike<number>,
  height: number,
  width: number,
  outHeight: number,
  outWidth: number,
): Float32Array {
  const out = new Float32Array(outHeight * outWidth);
  const axis = (to: number, size: number, outSize: number) => {
    const at = Math.min(Math.max(((to + 0.5) * size) / outSize - 0.5, 0), size - 1);
    const low = Math.floor(at);
    return { low, high: Math.min(low + 1, size - 1), t: at - low };
  };
  const columns = Array.from({ length: outWidth }, (_, x) => axis(x, width, outWidth));
  for (let y = 0; y < outHeight; y++) {
    const row = axis(y, height, outHeight);
    for (let x = 0; x < outWidth; x++) {
      const { low, high, t } = columns[x]!;
      const top = source[row.low * width + low]! * (1 - t) + source[row.low * width + high]! * t;
      const bottom = source[row.high * width + low]! * (1 - t) + source[row.high * width + high]! * t;
      out[y * outWidth + x] = top * (1 - row.t) + bottom * row.t;
    }
  }
  return out;
}

/**
 * FullGrad (Srinivas and Fleuret 2019, as pytorch-grad-cam computes it): the sum of |x * dy/dx| per
 * channel and, for every layer with a bias, of |b_k * dy/dA_k| per channel, each channel min-max scaled
 * and resized to the input; the total min-max scaled. A layer's channels are summed before its one resize,
 * which is the same since resizing is linear.
 */
export function fullGradMap(gradients: InputGradients, index: number, image: Float32Array, shape: InputGeometry) {
  const { channels, height, width } = shape;
  const pixels = height * width;
  const size = channels * pixels;
  const total = new Float64Array(pixels);
  const plane = new Float32Array(pixels);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < pixels; p++) {
      const at = shape.at(c, p);
      plane[p] = Math.abs(gradients.gradients[index * size + at]! * image[at]!);
    }
    minMaxScaled(plane).forEach((v, p) => (total[p]! += v));
  }
  for (const layer of gradients.biasLayers) {
    const [layerChannels, layerHeight, layerWidth] = layer.shape as [number, number, number];
    const layerPlane = layerHeight * layerWidth;
    const sum = new Float64Array(layerPlane);
    const term = new Float32Array(layerPlane);
    const base = index * layerChannels * layerPlane;
    for (let k = 0; k < layerChannels; k++) {
      const b = layer.bias[k]!;
      for (let p = 0; p < layerPlane; p++) term[p] = Math.abs(b * layer.gradients[base + k * layerPlane + p]!);
      minMaxScaled(term).forEach((v, p) => (sum[p]! += v));
    }
    resizeBilinearHalfPixel(sum, layerHeight, layerWidth, height, width).forEach((v, p) => (total[p]! += v));
  }
  return minMaxScaled(Float32Array.from(total));
}

/** Nearest-neighbour upsampling (Captum's LayerAttribution.interpolate default). */
export function resizeNearest(
  source: ArrayLike<number>,
  height: number,
  width: number,
  outHeight: number,
  outWidth: number,
) {
  const out = new Float32Array(outHeight * outWidth);
  for (let y = 0; y < outHeight; y++) {
    const sy = Math.min(height - 1, Math.floor((y * height) / outHeight));
    for (let x = 0; x < outWidth; x++)
      out[y * outWidth + x] = source[sy * width + Math.min(width - 1, Math.floor((x * width) / outWidth))]!;
  }
  return out;
}

/** The maps of a pixel attribution for a batch of preprocessed images. */
export async function pixelMaps(
  source: PixelSource,
  data: Float32Array,
  count: number,
  request: CamRequest,
  hooks: RunHooks = {},
): Promise<CamResult[]> {
  const shape = geometry(source.input);
  const { height, width } = shape;
  const size = shape.channels * height * width;
  const classes = source.classes;
  const layerShape: [number, number] = [height, width];
  const method = request.method;

  if (method === 'saliency' || method === 'inputxgradient' || method === 'guidedbackprop') {
    const { chosen, logits, gradients } = await source.inputGradients(
      data.subarray(0, count * size),
      count,
      request.targets,
      method === 'guidedbackprop',
    );
    hooks.progress?.(count, count);
    return chosen.map((target, i) => {
      const g = gradients.subarray(i * size, (i + 1) * size);
      const x = data.subarray(i * size, (i + 1) * size);
      return {
        target,
        logits: logits.slice(i * classes, (i + 1) * classes),
        layerShape,
        map:
          method === 'inputxgradient'
            ? positiveChannelSum(
                Float32Array.from(g, (v, k) => v * x[k]!),
                shape,
              )
            : maxAbsOverChannels(g, shape),
      };
    });
  }

  if (method === 'fullgrad') {
    const gradients = await source.inputGradients(data.subarray(0, count * size), count, request.targets, false, true);
    hooks.progress?.(count, count);
    return gradients.chosen.map((target, i) => ({
      target,
      logits: gradients.logits.slice(i * classes, (i + 1) * classes),
      layerShape,
      map: fullGradMap(gradients, i, data.subarray(i * size, (i + 1) * size), shape),
    }));
  }

  if (method === 'guidedgradcam') {
    const cams = await source.layerMaps(data, count, { ...request, method: 'gradcam', smoothing: 'none' });
    const { gradients } = await source.inputGradients(
      data.subarray(0, count * size),
      count,
      cams.map((c) => c.target),
      true,
    );
    hooks.progress?.(count, count);
    return cams.map((cam, i) => {
      const up = resizeNearest(cam.map, cam.layerShape[0], cam.layerShape[1], height, width);
      const guided = maxAbsOverChannels(gradients.subarray(i * size, (i + 1) * size), shape);
      return {
        target: cam.target,
        logits: cam.logits,
        layerShape,
        map: Float32Array.from(guided, (v, p) => v * up[p]!),
      };
    });
  }

  // The per-image methods explain one fixed class: the requested one, or the prediction.
  const logits = await source.logits(data.subarray(0, count * size), count);
  const results: CamResult[] = [];
  const masks = method === 'rise' ? riseMasks(height, width) : undefined;
  for (let i = 0; i < count; i++) {
    throwIfCancelled(hooks.signal);
    const own = logits.slice(i * classes, (i + 1) * classes);
    const target = request.targets[i]! >= 0 ? request.targets[i]! : argmaxOf(own);
    const image = data.subarray(i * size, (i + 1) * size);
    let map: Float32Array;
    if (method === 'integratedgradients')
      map = positiveChannelSum(await integratedGradients(source, image, target, undefined, hooks.signal), shape);
    else if (method === 'smoothgrad')
      map = maxAbsOverChannels(await smoothGrad(source, image, target, smoothGradNoise(image), hooks.signal), shape);
    else if (method === 'occlusion') map = await occlusion(source, image, target, { signal: hooks.signal });
    else if (method === 'rise') map = await rise(source, image, target, masks!, { signal: hooks.signal });
    else throw new ApiError('invalid_request', `${method} is not a pixel attribution`);
    results.push({ target, logits: own, layerShape, map });
    hooks.progress?.(i + 1, count);
  }
  return results;
}

function argmaxOf(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
