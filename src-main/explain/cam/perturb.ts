/**
 * The perturbed inputs of the gradient-free CAM methods, built for one batch of channels: Score-CAM
 * masks the image with each upsampled, min-max normalised channel; Ablation-CAM sets one channel of
 * the layer to its fill value and feeds the tail of the model, the other inputs of the tail repeated.
 */
import * as ort from 'onnxruntime-node';
import { resizeBilinearAligned } from '../../../src-shared/saliency.ts';
import { throwIfCancelled } from './cancel.ts';
import { softmax64, type FeatureMaps } from './maps.ts';
import { geometry } from './input.ts';
import type { PixelSource } from './types.ts';

export const SCORE_CAM_BATCH = 64;
export const ABLATION_BATCH = 64;

export interface ImageShape {
  channels: number;
  height: number;
  width: number;
  nchw: boolean;
}

/**
 * Copies of `image`, copy b masked by channel `picked[b]` of `a` (an all-zero channel gives zeros),
 * written into `into` where it is large enough.
 */
export function maskedByChannels(
  image: Float32Array,
  a: FeatureMaps,
  shape: ImageShape,
  picked: readonly number[],
  into?: Float32Array,
): Float32Array {
  const { channels, height, width, nchw } = shape;
  const size = channels * height * width;
  const plane = a.height * a.width;
  const pixels = height * width;
  const mask = new Float32Array(pixels);
  const scaled = new Float64Array(pixels);
  const batch = picked.length;
  const masked = into && into.length >= batch * size ? into.subarray(0, batch * size) : new Float32Array(batch * size);
  for (let b = 0; b < batch; b++) {
    resizeBilinearAligned(
      a.values.subarray(picked[b]! * plane, (picked[b]! + 1) * plane),
      a.height,
      a.width,
      height,
      width,
      mask,
    );
    let low = mask[0]!;
    let high = low;
    for (let p = 1; p < pixels; p++) {
      const v = mask[p]!;
      if (v < low) low = v;
      else if (v > high) high = v;
    }
    const scale = 1 / (high - low + 1e-8);
    for (let p = 0; p < pixels; p++) scaled[p] = (mask[p]! - low) * scale;
    const out = masked.subarray(b * size, (b + 1) * size);
    // Plane by plane (NCHW) or pixel by pixel (NHWC): one pass over the image either way.
    if (nchw) {
      for (let c = 0; c < channels; c++) {
        const base = c * pixels;
        for (let p = 0; p < pixels; p++) out[base + p] = image[base + p]! * scaled[p]!;
      }
    } else {
      for (let p = 0, at = 0; p < pixels; p++) {
        const m = scaled[p]!;
        for (let c = 0; c < channels; c++, at++) out[at] = image[at]! * m;
      }
    }
  }
  return masked;
}

/** One image's activations at the layer as the layer holds them (NCHW planes, channels last or tokens). */
export interface HeldLayer {
  name: string;
  values: Float32Array;
  /** Without the batch axis: [C, H, W], or [H, W, C] / [T, C] when `channelsLast`. */
  dims: number[];
  channelsLast: boolean;
}

/**
 * The tail's feeds for `batch` ablations: channel `start + b` of copy b set to `fill` everywhere it
 * occurs (a plane, or every position and token of a channels-last or token layer, class tokens
 * included as the library's AblationLayerVit does), and every other tensor the tail reads
 * (`frontier`, computed for the whole batch of images) cut to image `index`.
 */
export function ablatedFeeds(
  layer: HeldLayer,
  fill: number,
  frontier: { name: string; tensor: ort.Tensor }[],
  index: number,
  start: number,
  batch: number,
): Record<string, ort.Tensor> {
  const size = layer.values.length;
  const channels = layer.channelsLast ? layer.dims.at(-1)! : layer.dims[0]!;
  const plane = size / channels;
  const ablated = new Float32Array(batch * size);
  for (let b = 0; b < batch; b++) {
    ablated.set(layer.values, b * size);
    const channel = start + b;
    if (layer.channelsLast) for (let p = channel; p < size; p += channels) ablated[b * size + p] = fill;
    else ablated.fill(fill, b * size + channel * plane, b * size + (channel + 1) * plane);
  }
  const feeds: Record<string, ort.Tensor> = {
    [layer.name]: new ort.Tensor('float32', ablated, [batch, ...layer.dims]),
  };
  for (const { name, tensor } of frontier) {
    const dims = tensor.dims as number[];
    const one = dims.slice(1).reduce((x, y) => x * y, 1);
    const source = (tensor.data as Float32Array).subarray(index * one, (index + 1) * one);
    const repeated = new Float32Array(batch * one);
    for (let b = 0; b < batch; b++) repeated.set(source, b * one);
    feeds[name] = new ort.Tensor('float32', repeated, [batch, ...dims.slice(1)]);
  }
  return feeds;
}

/**
 * Score-CAM: softmax over channels of the class score on the input masked by each upsampled channel.
 * Every channel that is zero everywhere (common after a ReLU) masks the whole image to zeros, so those
 * share one forward pass of a zero image instead of one each: the same scores with fewer passes.
 */
export async function scoreCamWeights(
  source: PixelSource,
  data: Float32Array,
  index: number,
  a: FeatureMaps,
  target: number,
  signal?: AbortSignal,
): Promise<Float64Array> {
  const { channels, height, width } = geometry(source.input);
  const size = channels * height * width;
  const image = data.subarray(index * size, (index + 1) * size);
  const shape = { channels, height, width, nchw: source.input.layout === 'NCHW' };
  const plane = a.height * a.width;
  const scores = new Float64Array(a.channels);
  const zero: number[] = [];
  const live: number[] = [];
  for (let k = 0; k < a.channels; k++) {
    const values = a.values.subarray(k * plane, (k + 1) * plane);
    (values.every((v) => v === 0) ? zero : live).push(k);
  }
  if (zero.length > 0) {
    const score = (await source.logits(new Float32Array(size), 1))[target]!;
    for (const k of zero) scores[k] = score;
  }
  // One buffer for every batch: a fresh 38 MB a batch costs its page faults each time.
  const buffer = new Float32Array(Math.min(live.length, SCORE_CAM_BATCH) * size);
  for (let start = 0; start < live.length; start += SCORE_CAM_BATCH) {
    throwIfCancelled(signal);
    const picked = live.slice(start, start + SCORE_CAM_BATCH);
    const logits = await source.logits(maskedByChannels(image, a, shape, picked, buffer), picked.length);
    const classes = logits.length / picked.length;
    picked.forEach((k, b) => (scores[k] = logits[b * classes + target]!));
  }
  return softmax64(scores);
}

/**
 * Ablation-CAM: (y_c - y_c with channel k ablated) / y_c, re-running only the tail after the layer
 * (`run` returns its scores). An ablated channel is 0 where the layer's smallest activation is 0, else
 * that minimum - 1e7. A class score of exactly 0 (a ReLU before the logits, as SqueezeNet's) leaves the
 * drop undivided, where the library divides by zero and returns NaN.
 */
export async function ablationCamWeights(
  run: (feeds: Record<string, ort.Tensor>) => Promise<Float32Array>,
  cut: { layer: HeldLayer; frontier: { name: string; tensor: ort.Tensor }[]; index: number },
  original: number,
  target: number,
  signal?: AbortSignal,
): Promise<Float64Array> {
  let min = Infinity;
  for (const v of cut.layer.values) min = Math.min(min, v);
  const fill = min === 0 ? 0 : min - 1e7;
  const channels = cut.layer.channelsLast ? cut.layer.dims.at(-1)! : cut.layer.dims[0]!;
  const weights = new Float64Array(channels);
  const scale = original === 0 ? 1 : original;
  for (let start = 0; start < channels; start += ABLATION_BATCH) {
    throwIfCancelled(signal);
    const batch = Math.min(ABLATION_BATCH, channels - start);
    const logits = await run(ablatedFeeds(cut.layer, fill, cut.frontier, cut.index, start, batch));
    const classes = logits.length / batch;
    for (let b = 0; b < batch; b++) weights[start + b] = (original - logits[b * classes + target]!) / scale;
  }
  return weights;
}
