/**
 * pytorch-grad-cam's aug_smooth (ttach's horizontal flip x multiply by 0.9, 1, 1.1): the mean of the
 * min-max scaled maps of the six augmented inputs, each flipped back. The class is fixed first (the
 * prediction on the plain input), so every augmentation explains the same one. It is done at layer
 * resolution, which equals the library's mean at input resolution after its bilinear resize, since
 * resizing is linear and keeps a scaled map's 0 and 1. (eigen_smooth lives in maps.ts.)
 */
import { throwIfCancelled } from './cancel.ts';
import { geometry } from './input.ts';
import type { CamRequest, CamResult, InputSpec, PixelSource, RunHooks } from './types.ts';

export const AUGMENTATIONS = [false, true].flatMap((flip) => [0.9, 1, 1.1].map((factor) => ({ flip, factor })));

export async function augmentedMaps(
  source: PixelSource,
  data: Float32Array,
  count: number,
  request: CamRequest,
  hooks: RunHooks = {},
): Promise<CamResult[]> {
  const classes = source.classes;
  const plain = await source.logits(data, count);
  const targets = request.targets.map((t, i) =>
    t >= 0 ? t : argmaxOf(plain.subarray(i * classes, (i + 1) * classes)),
  );
  let results: CamResult[] = [];
  const sums: Float64Array[] = [];
  for (const [step, { flip, factor }] of AUGMENTATIONS.entries()) {
    throwIfCancelled(hooks.signal);
    const augmented = augmentInput(data, count, source.input, flip, factor);
    const maps = await source.layerMaps(
      augmented,
      count,
      { ...request, smoothing: 'none', targets },
      { signal: hooks.signal },
    );
    if (step === 0) results = maps;
    maps.forEach(({ map, layerShape: [height, width] }, i) => {
      const scaled = minMaxScaled(map);
      const back = flip ? flipRows(scaled, height, width) : scaled;
      const sum = (sums[i] ??= new Float64Array(map.length));
      for (let p = 0; p < map.length; p++) sum[p]! += back[p]!;
    });
    hooks.progress?.(step + 1, AUGMENTATIONS.length);
  }
  return results.map((result, i) => ({
    ...result,
    logits: plain.slice(i * classes, (i + 1) * classes),
    map: Float32Array.from(sums[i]!, (v) => v / AUGMENTATIONS.length),
  }));
}

function argmaxOf(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** One of aug_smooth's inputs: every image flipped left-right (when `flip`) and multiplied by `factor`. */
export function augmentInput(
  data: Float32Array,
  count: number,
  input: InputSpec,
  flip: boolean,
  factor: number,
): Float32Array {
  const shape = geometry(input);
  const size = shape.channels * shape.height * shape.width;
  const out = new Float32Array(count * size);
  for (let i = 0; i < count; i++)
    for (let y = 0; y < shape.height; y++)
      for (let x = 0; x < shape.width; x++) {
        const from = y * shape.width + (flip ? shape.width - 1 - x : x);
        const to = y * shape.width + x;
        for (let c = 0; c < shape.channels; c++)
          out[i * size + shape.at(c, to)] = data[i * size + shape.at(c, from)]! * factor;
      }
  return out;
}

/** A [height, width] map mirrored left-right. */
export function flipRows(map: Float32Array, height: number, width: number): Float32Array {
  const out = new Float32Array(map.length);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = map[y * width + width - 1 - x]!;
  return out;
}

/** pytorch-grad-cam's scale_cam_image: (m - min) / (max(m - min) + 1e-7). */
export function minMaxScaled(map: Float32Array): Float32Array {
  let low = Infinity;
  for (const v of map) low = Math.min(low, v);
  let high = 0;
  for (const v of map) high = Math.max(high, v - low);
  return Float32Array.from(map, (v) => (v - low) / (high + 1e-7));
}
