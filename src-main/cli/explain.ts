/**
 * `xaiws explain` and `xaiws layers`: CAM maps of any ONNX classifier for image files, without a
 * project, as JSON Lines on stdout (one object per image or layer), for automation and for checking the
 * workstation against other tools. Images are preprocessed as the manifest says; an image that cannot
 * be read gets a line with its error and the exit code becomes 1, the others are still explained.
 */
import { resolve } from 'node:path';
import { ApiError, toApiError } from '../../src-shared/errors.ts';
import { CAM_METHODS, type CamMethod } from '../explain/cam/maps.ts';
import { SMOOTHINGS, type Smoothing } from '../../src-shared/contract.ts';
import type { InferencePool } from '../workers/inference-pool.ts';
import type { ModelRef } from '../workers/protocols.ts';
import { tensorSize, writeNormalised } from '../inference/runtime/tensor.ts';
import type { ImageWorker } from '../runtime/context.ts';
import { readManifest } from '../models/manifest.ts';
import { modelIdentity } from '../models/identity.ts';

export const EXPLAIN_BATCH = 32;

type Write = (line: unknown) => void;

export async function modelRef(modelPath: string | undefined, manifestPath: string | undefined): Promise<ModelRef> {
  if (!modelPath) throw new ApiError('invalid_request', 'Missing --model M.onnx');
  const path = resolve(modelPath);
  const { hash } = await modelIdentity(path, modelPath); // "not an ONNX model" before any manifest is read
  const { manifest } = readManifest(path, manifestPath && resolve(manifestPath));
  return { key: hash, path, manifest };
}

export async function listLayers(pool: InferencePool, model: ModelRef, write: Write): Promise<number> {
  for (const layer of await pool.call('camLayers', { model })) write(layer);
  return 0;
}

export function parseTarget(value: string | undefined, classes: number): number {
  if (value === undefined || value === 'pred') return -1;
  const index = Number(value);
  if (!Number.isInteger(index) || index < 0 || index >= classes) {
    throw new ApiError(
      'invalid_request',
      `--target must be "pred" or a class index in 0..${classes - 1} (got "${value}")`,
    );
  }
  return index;
}

export function parseMethod(value: string | undefined): CamMethod {
  if (!CAM_METHODS.includes(value as CamMethod)) {
    throw new ApiError('invalid_request', `--method must be one of ${CAM_METHODS.join(', ')} (got "${value ?? ''}")`);
  }
  return value as CamMethod;
}

export function parseSmoothing(value: string | undefined): Smoothing {
  if (value === undefined) return 'none';
  if (!(SMOOTHINGS as readonly string[]).includes(value))
    throw new ApiError('invalid_request', `--smoothing must be one of ${SMOOTHINGS.join(', ')} (got "${value}")`);
  return value as Smoothing;
}

export async function explainImages(
  pool: InferencePool,
  decoder: ImageWorker,
  model: ModelRef,
  options: { method: CamMethod; layer: string; target: number; smoothing?: Smoothing },
  images: string[],
  write: Write,
): Promise<number> {
  if (images.length === 0) throw new ApiError('invalid_request', 'Give at least one IMAGE to explain');
  // The worker reads and measures the model while the images decode; a model it cannot load fails the
  // first `cam` call below with the same error.
  const loading = pool.call('camLoad', { model }).catch(() => undefined);
  try {
    return await explainLoaded(pool, decoder, model, options, images, write);
  } finally {
    await loading;
  }
}

async function explainLoaded(
  pool: InferencePool,
  decoder: ImageWorker,
  model: ModelRef,
  options: { method: CamMethod; layer: string; target: number; smoothing?: Smoothing },
  images: string[],
  write: Write,
): Promise<number> {
  let failures = 0;
  const size = tensorSize(model.manifest);
  for (let start = 0; start < images.length; start += EXPLAIN_BATCH) {
    const paths = images.slice(start, start + EXPLAIN_BATCH);
    const readable: string[] = [];
    const lines = new Map<string, unknown>();
    const pixels: Uint8Array[] = [];
    for (const path of paths) {
      try {
        const { manifest } = model;
        const image = { width: 0, height: 0, channels: 0, filePath: resolve(path), pixels: null };
        pixels.push(await decoder.call('forModel', { image, manifest }, { subject: `reading the image ${path}` }));
        readable.push(path);
      } catch (error) {
        failures++;
        lines.set(path, {
          image: path,
          error: {
            code: 'source_unsupported',
            message: `${path} cannot be read as an image: ${toApiError(error).message}`,
          },
        });
      }
    }
    if (readable.length > 0) {
      const tensor = new Float32Array(size * readable.length);
      pixels.forEach((values, index) => writeNormalised(values, model.manifest, tensor, index));
      const results = (
        await pool.call('cam', {
          model,
          source: { tensor, count: readable.length },
          request: {
            method: options.method,
            layer: options.layer,
            smoothing: options.smoothing,
            targets: readable.map(() => options.target),
          },
        })
      ).results;
      results.forEach((result, i) => {
        lines.set(readable[i]!, {
          image: readable[i],
          target: result.target,
          logits: Array.from(result.logits, round),
          layer_shape: result.layerShape,
          map: Array.from(result.map, round),
        });
      });
    }
    for (const path of paths) write(lines.get(path));
  }
  return failures > 0 ? 1 : 0;
}

const round = (value: number) => Number(value.toPrecision(8));
