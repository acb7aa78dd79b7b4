/**
 * Registering a classifier: check that the file is an ONNX model and compute its identity (with its
 * external weights), validate the manifest, load the model in an inference worker, and check its
 * input and output shapes against the manifest before anything is stored. The same model file is
 * registered once per project: again with the same manifest it is the same registration (at the new
 * path); with another manifest it is refused, naming the registration it would have overwritten.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Manifest, Model } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { InferencePool } from '../workers/inference-pool.ts';
import type { TensorInfo } from '../workers/protocols.ts';
import type { Project } from '../store/project.ts';
import { GiB, hashBounded } from '../io/files.ts';
import { modelIdentity } from './identity.ts';
import { readManifest } from './manifest.ts';

/** sha256 of a regular file of at most 64 GiB (a bundle's files, a model file). */
export async function hashFile(path: string): Promise<string> {
  return (await hashBounded(path, 64 * GiB)).sha256;
}

export async function registerModel(
  project: Project,
  pool: InferencePool,
  modelPath: string,
  manifestPath?: string,
): Promise<Model> {
  const path = resolve(modelPath);
  if (!existsSync(path)) throw new ApiError('model_not_found', `No model file at ${modelPath}`);
  const { hash: fileHash } = await modelIdentity(path, modelPath);
  const { manifest } = readManifest(path, manifestPath && resolve(manifestPath));
  let description;
  try {
    description = await pool.call('inspect', { key: fileHash, path });
  } catch (error) {
    throw new ApiError('model_invalid', `${modelPath} cannot be loaded by onnxruntime: ${(error as Error).message}`);
  }
  checkShapes(manifest, description.inputs, description.outputs, modelPath);
  return project.models.add(path, fileHash, manifest);
}

/** Symbolic (-1) dimensions match anything; fixed ones must equal the manifest's. */
export function checkShapes(manifest: Manifest, inputs: TensorInfo[], outputs: TensorInfo[], label: string): void {
  const input = manifest.input.name ? inputs.find((info) => info.name === manifest.input.name) : inputs[0];
  if (!input) {
    throw new ApiError(
      'model_shape_mismatch',
      `${label}: no input named "${manifest.input.name}" (the model's inputs: ${inputs.map((i) => i.name).join(', ')})`,
    );
  }
  const { channels, height, width, layout } = manifest.input;
  const expected = layout === 'NCHW' ? [-1, channels, height, width] : [-1, height, width, channels];
  if (input.type !== 'float32') {
    throw new ApiError(
      'model_shape_mismatch',
      `${label}: input "${input.name}" is ${input.type}; the workstation feeds float32`,
    );
  }
  if (!shapeMatches(input.shape, expected)) {
    throw new ApiError(
      'model_shape_mismatch',
      `${label}: input "${input.name}" has shape [${input.shape.join(', ')}] but the manifest describes [N, ${expected.slice(1).join(', ')}] (${layout})`,
    );
  }
  const output = manifest.output.name ? outputs.find((info) => info.name === manifest.output.name) : outputs[0];
  if (!output) {
    throw new ApiError(
      'model_shape_mismatch',
      `${label}: no output named "${manifest.output.name}" (the model's outputs: ${outputs.map((o) => o.name).join(', ')})`,
    );
  }
  const classes = manifest.classes.length;
  if (!shapeMatches(output.shape, [-1, classes])) {
    throw new ApiError(
      'model_shape_mismatch',
      `${label}: output "${output.name}" has shape [${output.shape.join(', ')}] but the manifest lists ${classes} classes, so [N, ${classes}] was expected`,
    );
  }
}

function shapeMatches(actual: number[], expected: number[]): boolean {
  return (
    actual.length === expected.length && actual.every((dim, i) => dim < 0 || expected[i]! < 0 || dim === expected[i])
  );
}
