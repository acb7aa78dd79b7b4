/**
 * What identifies a model: its ONNX file and every external weight file it names. Policy:
 * - The model file must be a regular file that decodes as an ONNX ModelProto with a graph; anything
 *   else is refused as "not an ONNX model" before any manifest is read.
 * - External data (tensors stored in files beside the model, ONNX's `location`) must lie inside the
 *   model's folder (links resolved) and be regular files; each is hashed with the model, so a changed
 *   weights file changes the model's identity exactly as a changed .onnx does.
 * - The identity is the sha256 of the .onnx file when it has no external data (so bundles, which list
 *   their classifier's sha256, keep matching), else the sha256 of that hash and each external file's
 *   name and hash.
 * - `verifiedModel` re-checks a registered model before use, re-hashing only when a file's size or
 *   modification time changed.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Manifest, Model } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { FileProblem, GiB, hashBounded, inside, readBounded } from '../io/files.ts';
import type { ModelRef } from '../workers/protocols.ts';
import { OnnxModel, externalLocations } from './onnx/model.ts';

/** Protobuf's limit: a larger .onnx cannot be read without external data. */
export const MAX_ONNX_BYTES = 2 * GiB;
export const MAX_WEIGHTS_BYTES = 64 * GiB;

export interface ModelIdentity {
  hash: string;
  /** Absolute paths of the external data files, in a stable order. */
  external: string[];
}

function refused(error: unknown, label: string, what: string): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof FileProblem) {
    if (error.kind === 'missing')
      return new ApiError('model_not_found', `${what} of ${label} is missing: ${error.message}`);
    return new ApiError('model_invalid', `${what} of ${label} cannot be used: ${error.message}`);
  }
  return new ApiError('model_invalid', `${what} of ${label} cannot be read: ${(error as Error).message}`);
}

/**
 * Checks that `path` is an ONNX model and computes its identity (see the policy above). With `check`
 * false (re-checking a registered model) the model is decoded only when it may name external data
 * (its bytes contain "location"), so that a large model costs a hash, not a parse.
 */
export async function modelIdentity(path: string, label = path, check = true): Promise<ModelIdentity> {
  let bytes: Buffer;
  try {
    bytes = await readBounded(path, MAX_ONNX_BYTES);
  } catch (error) {
    throw refused(error, label, 'The model file');
  }
  const onnxHash = createHash('sha256').update(bytes).digest('hex');
  if (!check && !bytes.includes('location')) return remember(path, { hash: onnxHash, external: [] });
  const model = OnnxModel.read(bytes, label); // "… is not an ONNX model" for anything else
  if (model.proto.opsetImport.length === 0)
    throw new ApiError('model_invalid', `${label} is not an ONNX model: it imports no operator set`);
  const locations = [...externalLocations(model.graph)].sort();
  if (locations.length === 0) return remember(path, { hash: onnxHash, external: [] });
  const folder = dirname(resolve(path));
  const lines: string[] = [];
  const external: string[] = [];
  for (const location of locations) {
    try {
      const file = await inside(folder, join(folder, location));
      const { sha256 } = await hashBounded(file, MAX_WEIGHTS_BYTES);
      lines.push(`${location}\t${sha256}`);
      external.push(file);
    } catch (error) {
      throw refused(error, label, `The external weights file "${location}"`);
    }
  }
  const hash = createHash('sha256')
    .update(`xaiws.model/1\n${onnxHash}\n${lines.join('\n')}`)
    .digest('hex');
  return remember(path, { hash, external });
}

/** Identities worked out in this process, by model path, with the sizes and times of their files then. */
const verified = new Map<string, { files: string[]; stamp: string; hash: string }>();

/**
 * Keeps an identity just worked out, so that the next use of the model (the image panel's, right after
 * registering it) checks its files' sizes and times instead of hashing them again (0.5 s for a ViT-B).
 */
function remember(path: string, identity: ModelIdentity): ModelIdentity {
  const files = [resolve(path), ...identity.external];
  try {
    verified.set(resolve(path), { files, stamp: stampOf(files), hash: identity.hash });
  } catch {
    // a file gone since it was hashed: the next use hashes again and says so
  }
  return identity;
}

/**
 * The files' sizes and times. Synchronous on purpose: a stat of a local file takes microseconds, and
 * every single-image call checks its model first; a trip through libuv's thread pool cost 0.1 ms of
 * a 2-ms Grad-CAM call.
 */
function stampOf(paths: string[]): string {
  return paths
    .map((p) => statSync(p))
    .map((s) => `${s.size}:${s.mtimeMs}`)
    .join('|');
}

/** The model as the workers load it, after checking that its files are still the registered ones. */
export async function verifiedModel(model: Model): Promise<ModelRef> {
  const known = verified.get(resolve(model.path));
  let hash: string | null = null;
  if (known) {
    try {
      hash = stampOf(known.files) === known.stamp ? known.hash : null;
    } catch {
      hash = null; // a file gone: hashing again says which
    }
  }
  if (hash === null) {
    let identity: ModelIdentity;
    try {
      identity = await modelIdentity(model.path, `model "${model.name}"`, false);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'model_not_found')
        throw new ApiError('model_not_found', `The file of model "${model.name}" is gone: ${model.path}`);
      throw new ApiError(
        'model_changed',
        `The files of model "${model.name}" (${model.path}) changed since it was registered and cannot be used: ${(error as Error).message}`,
      );
    }
    hash = identity.hash;
  }
  if (hash !== model.fileHash) {
    throw new ApiError(
      'model_changed',
      `The files of model "${model.name}" (${model.path}) changed since it was registered (sha256 ${model.fileHash.slice(0, 12)}… now ${hash.slice(0, 12)}…); add it again to use the new files`,
    );
  }
  return { key: model.fileHash, path: model.path, manifest: model.manifest };
}
