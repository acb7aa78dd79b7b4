/**
 * A model input as the pixel attributions and perturbation methods see it: its geometry in either
 * layout, channel folding, and batched model runs on many variants of one image.
 */
import { throwIfCancelled } from './cancel.ts';
import { softmax64 } from './maps.ts';
import type { InputSpec, PixelSource } from './types.ts';

/** An input's geometry and where channel c of pixel p lies in its layout. */
export interface InputGeometry {
  channels: number;
  height: number;
  width: number;
  at: (c: number, p: number) => number;
}

export function geometry(input: InputSpec): InputGeometry {
  const nchw = input.layout === 'NCHW';
  const [channels, height, width] = (nchw ? input.dims : [input.dims[2]!, input.dims[0]!, input.dims[1]!]) as [
    number,
    number,
    number,
  ];
  const pixels = height * width;
  return { channels, height, width, at: nchw ? (c, p) => c * pixels + p : (c, p) => p * channels + c };
}

/** Model runs per batch: about 400k input pixels for gradient graphs, 3M input values for forward runs. */
export function batchSize(shape: InputGeometry, gradient: boolean): number {
  const per = gradient ? shape.height * shape.width : shape.channels * shape.height * shape.width;
  return Math.max(1, Math.min(64, Math.floor((gradient ? 4e5 : 3e6) / per)));
}

/** max_c |values_c| per pixel. */
export function maxAbsOverChannels(values: ArrayLike<number>, shape: InputGeometry): Float32Array {
  const pixels = shape.height * shape.width;
  const out = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++) {
    let best = 0;
    for (let c = 0; c < shape.channels; c++) best = Math.max(best, Math.abs(values[shape.at(c, p)]!));
    out[p] = best;
  }
  return out;
}

/** ReLU(sum_c values_c) per pixel. */
export function positiveChannelSum(values: ArrayLike<number>, shape: InputGeometry): Float32Array {
  const pixels = shape.height * shape.width;
  const out = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++) {
    let sum = 0;
    for (let c = 0; c < shape.channels; c++) sum += values[shape.at(c, p)]!;
    out[p] = sum > 0 ? sum : 0;
  }
  return out;
}

/** The gradients of `targets` at the `count` inputs of `inputs`, run in batches. */
export async function gradientsAt(
  source: PixelSource,
  inputs: Float32Array,
  count: number,
  target: number,
  guided: boolean,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const shape = geometry(source.input);
  const size = shape.channels * shape.height * shape.width;
  const out = new Float32Array(count * size);
  const batch = batchSize(shape, true);
  for (let start = 0; start < count; start += batch) {
    throwIfCancelled(signal);
    const n = Math.min(batch, count - start);
    const { gradients } = await source.inputGradients(
      inputs.subarray(start * size, (start + n) * size),
      n,
      new Array(n).fill(target),
      guided,
    );
    out.set(gradients, start * size);
  }
  return out;
}

/** The scores of class `target` for `count` inputs (probabilities when `probabilities`), run in batches. */
export async function scoresOf(
  source: PixelSource,
  inputs: Float32Array,
  count: number,
  target: number,
  probabilities: boolean,
  signal?: AbortSignal,
): Promise<Float64Array> {
  const shape = geometry(source.input);
  const size = shape.channels * shape.height * shape.width;
  const out = new Float64Array(count);
  const batch = batchSize(shape, false);
  for (let start = 0; start < count; start += batch) {
    throwIfCancelled(signal);
    const n = Math.min(batch, count - start);
    const logits = await source.logits(inputs.subarray(start * size, (start + n) * size), n);
    for (let b = 0; b < n; b++) {
      const row = logits.subarray(b * source.classes, (b + 1) * source.classes);
      out[start + b] = probabilities && source.outputKind === 'logits' ? softmax64(row)[target]! : row[target]!;
    }
  }
  return out;
}
