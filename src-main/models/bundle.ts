/**
 * Loading a model bundle: parse bundle.json, check every listed file against its sha256, check each
 * ONNX model's inputs and outputs against the declared tensors, and check the data files against
 * the models (prototype sizes). A bundle that fails any check is refused with an error that names the
 * file, the tensor or the field, and the expected and actual values. Every file must be a regular
 * file whose real location (links resolved) is inside the bundle folder: a link to a device hangs
 * nothing, and a link to a file elsewhere is refused before it is read, so no other file's hash or
 * content can leak through an error.
 */
import { existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { z } from 'zod';
import {
  BUNDLE_FORMAT,
  Bundle,
  BUNDLE_ROLES,
  CaePrototypes,
  InfoDisentPrototypes,
  type BundleModel,
  type BundleRole,
  type TensorSpec,
} from '../../src-shared/schemas/bundle.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { TensorInfo } from '../workers/protocols.ts';
import { describeIssue } from './manifest.ts';
import { FileProblem, GiB, MiB, hashBounded, insideSync, readBoundedSync } from '../io/files.ts';

const MAX_BUNDLE_FILE_BYTES = 64 * GiB;
const MAX_JSON_BYTES = 256 * MiB;

export type Inspect = (path: string, sha256: string) => Promise<{ inputs: TensorInfo[]; outputs: TensorInfo[] }>;

export interface LoadedBundle {
  dir: string;
  bundle: Bundle;
  /** Absolute paths of the models present, by role. */
  models: Partial<Record<BundleRole, { path: string; sha256: string; spec: BundleModel }>>;
  caePrototypes?: CaePrototypes;
  infodisentPrototypes?: InfoDisentPrototypes;
}

export async function loadBundle(dir: string, inspect: Inspect): Promise<LoadedBundle> {
  const root = resolve(dir);
  const bundle = readBundleJson(root);
  const hashes = new Map<string, string>();
  for (const file of bundle.files) {
    const path = within(root, file.path);
    if (!existsSync(path))
      throw new ApiError('bundle_file_missing', `${root}: bundle.json lists ${file.path} but there is no such file`);
    let actual: string;
    try {
      actual = (await hashBounded(insideSync(root, path), MAX_BUNDLE_FILE_BYTES)).sha256;
    } catch (error) {
      throw bundleFileError(root, file.path, error);
    }
    if (actual !== file.sha256) {
      throw new ApiError(
        'bundle_hash_mismatch',
        `${root}: ${file.path} has sha256 ${actual} but bundle.json says ${file.sha256}; the file was changed or replaced after the bundle was written`,
      );
    }
    hashes.set(file.path, actual);
  }
  const models: LoadedBundle['models'] = {};
  for (const role of BUNDLE_ROLES) {
    const spec = bundle.models[role];
    if (!spec) continue;
    const sha256 = hashes.get(spec.file);
    if (!sha256)
      throw new ApiError(
        'bundle_invalid',
        `${root}: models.${role}.file is ${spec.file}, which is not listed in "files" with a sha256`,
      );
    const path = within(root, spec.file);
    let described;
    try {
      described = await inspect(path, sha256);
    } catch (error) {
      throw new ApiError(
        'model_invalid',
        `${root}: ${spec.file} (${role}) cannot be loaded by onnxruntime: ${(error as Error).message}`,
      );
    }
    checkTensors(`${spec.file} (${role})`, 'input', spec.inputs, described.inputs);
    checkTensors(`${spec.file} (${role})`, 'output', spec.outputs, described.outputs);
    models[role] = { path, sha256, spec };
  }
  const loaded: LoadedBundle = { dir: root, bundle, models };
  checkModelsAgree(loaded);
  if (bundle.data.caePrototypes) loaded.caePrototypes = readData(root, bundle, 'caePrototypes', CaePrototypes);
  if (bundle.data.infodisentPrototypes)
    loaded.infodisentPrototypes = readData(root, bundle, 'infodisentPrototypes', InfoDisentPrototypes);
  checkPrototypes(loaded);
  return loaded;
}

export function readBundleJson(root: string): Bundle {
  const path = join(root, 'bundle.json');
  if (!existsSync(path))
    throw new ApiError('bundle_file_missing', `${root} is not a model bundle: it has no bundle.json`);
  const value = readJson(root, path);
  const format = (value as { format?: unknown } | null)?.format;
  if (typeof format === 'string' && /^xaiws\.bundle\/\d+$/.test(format) && format !== BUNDLE_FORMAT) {
    const version = Number(format.split('/')[1]);
    if (version > Number(BUNDLE_FORMAT.split('/')[1])) {
      throw new ApiError(
        'bundle_too_new',
        `${path} has format ${format}, newer than this workstation reads (${BUNDLE_FORMAT}); update the workstation`,
      );
    }
  }
  const parsed = Bundle.safeParse(value);
  if (!parsed.success) throw new ApiError('bundle_invalid', describeIssue(value, parsed.error, path));
  if (parsed.data.format !== BUNDLE_FORMAT)
    throw new ApiError('bundle_invalid', `${path}: format ${parsed.data.format} is not ${BUNDLE_FORMAT}`);
  return parsed.data;
}

function readJson(root: string, path: string): unknown {
  let text: string;
  try {
    text = readBoundedSync(insideSync(root, path), MAX_JSON_BYTES).toString('utf8');
  } catch (error) {
    throw bundleFileError(root, path.slice(root.length + 1), error);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError('bundle_invalid', `${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function bundleFileError(root: string, relative: string, error: unknown): ApiError {
  if (!(error instanceof FileProblem))
    return new ApiError('bundle_invalid', `${root}: ${relative} cannot be read: ${(error as Error).message}`);
  if (error.kind === 'missing')
    return new ApiError('bundle_file_missing', `${root}: bundle.json lists ${relative} but there is no such file`);
  if (error.kind === 'outside')
    return new ApiError(
      'bundle_invalid',
      `${root}: ${relative} is a link to a file outside the bundle folder; a bundle holds its own files`,
    );
  return new ApiError('bundle_invalid', `${root}: ${relative} cannot be used: ${error.message}`);
}

/** A path from bundle.json, refused if it climbs out of the bundle folder. */
function within(root: string, relative: string): string {
  const path = resolve(root, relative);
  if (!path.startsWith(root + sep))
    throw new ApiError('bundle_invalid', `${root}: the path ${relative} leaves the bundle folder`);
  return path;
}

function formatShape(shape: (number | string)[]): string {
  return `[${shape.map((d) => (typeof d === 'number' && d < 0 ? '?' : d)).join(', ')}]`;
}

/** Named dims ("N") must be dynamic in the model (-1); numbers must be equal. */
function checkTensors(label: string, kind: 'input' | 'output', declared: TensorSpec[], actual: TensorInfo[]): void {
  const names = actual.map((tensor) => tensor.name);
  const undeclared = kind === 'input' ? names.filter((name) => !declared.some((spec) => spec.name === name)) : [];
  if (undeclared.length > 0) {
    throw new ApiError(
      'model_shape_mismatch',
      `${label}: the model has ${kind} "${undeclared[0]}", which bundle.json does not declare (declared: ${declared.map((d) => d.name).join(', ')})`,
    );
  }
  for (const spec of declared) {
    const tensor = actual.find((candidate) => candidate.name === spec.name);
    if (!tensor) {
      throw new ApiError(
        'model_shape_mismatch',
        `${label}: bundle.json declares ${kind} "${spec.name}" but the model's ${kind}s are ${names.join(', ')}`,
      );
    }
    if (tensor.type !== spec.type) {
      throw new ApiError(
        'model_shape_mismatch',
        `${label}: ${kind} "${spec.name}" is ${tensor.type} but bundle.json declares ${spec.type}`,
      );
    }
    const fits =
      tensor.shape.length === spec.shape.length &&
      spec.shape.every((dim, i) => (typeof dim === 'string' ? tensor.shape[i]! < 0 : tensor.shape[i] === dim));
    if (!fits) {
      throw new ApiError(
        'model_shape_mismatch',
        `${label}: ${kind} "${spec.name}" has shape ${formatShape(tensor.shape)} but bundle.json declares ${formatShape(spec.shape)}`,
      );
    }
  }
}

/** Sizes that several models must share: classes, image size, the CAE codes between encoder and decoder. */
function checkModelsAgree({ bundle, dir }: LoadedBundle): void {
  const { classes, dataset } = bundle;
  const image = [dataset.channels, dataset.height, dataset.width];
  const mismatch = (message: string) => new ApiError('model_shape_mismatch', `${dir}: ${message}`);
  for (const role of ['classifier', 'infodisent'] as const) {
    const logits =
      bundle.models[role]?.outputs.find((o) => o.name === 'logits') ??
      (role === 'classifier' ? bundle.models.classifier.outputs[0] : undefined);
    if (logits && logits.shape.at(-1) !== classes.length)
      throw mismatch(
        `${role} output "${logits.name}" ends in ${logits.shape.at(-1)} but the bundle lists ${classes.length} classes`,
      );
  }
  // Models in the classifier's space take its layout; the generative ones take pixel-space NCHW images.
  const channelsLast = [dataset.height, dataset.width, dataset.channels];
  for (const role of BUNDLE_ROLES) {
    const spec = bundle.models[role];
    const first = spec?.inputs[0];
    const expected = spec?.space === 'normalised' && bundle.preprocessing.layout === 'NHWC' ? channelsLast : image;
    if (spec && first && role !== 'cae-decoder' && first.shape.slice(1).join() !== expected.join()) {
      throw mismatch(
        `${role} input "${first.name}" is ${formatShape(first.shape)} but the dataset's images are ${formatShape(['N', ...expected])}`,
      );
    }
  }
  const encoder = bundle.models['cae-encoder'];
  const decoder = bundle.models['cae-decoder'];
  if (encoder && decoder) {
    for (const output of encoder.outputs) {
      const input = decoder.inputs.find((i) => i.name === output.name);
      if (!input || formatShape(input.shape) !== formatShape(output.shape)) {
        throw mismatch(
          `cae-encoder output "${output.name}" ${formatShape(output.shape)} does not fit the decoder's inputs (${decoder.inputs.map((i) => `${i.name} ${formatShape(i.shape)}`).join(', ')})`,
        );
      }
    }
  }
  const dxai = bundle.models.dxai;
  if (dxai?.branches) {
    const count = dxai.outputs[0]?.shape[1];
    const all = [...dxai.branches.distinct, ...dxai.branches.agnostic];
    if (typeof count !== 'number' || all.some((b) => b >= count) || new Set(all).size !== count) {
      throw mismatch(
        `dxai branches ${JSON.stringify(dxai.branches)} do not partition the ${count} branches of output "${dxai.outputs[0]?.name}"`,
      );
    }
  }
}

function readData<T>(root: string, bundle: Bundle, key: string, schema: z.ZodType<T>): T {
  const relative = bundle.data[key]!;
  if (!bundle.files.some((file) => file.path === relative))
    throw new ApiError('bundle_invalid', `${root}: data.${key} is ${relative}, which is not listed in "files"`);
  const path = within(root, relative);
  const value = readJson(root, path);
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiError('bundle_invalid', describeIssue(value, parsed.error, path));
  return parsed.data;
}

function checkPrototypes({ bundle, dir, caePrototypes, infodisentPrototypes }: LoadedBundle): void {
  const bad = (message: string) => new ApiError('bundle_invalid', `${dir}: ${message}`);
  if (caePrototypes) {
    const code = bundle.models['cae-encoder']?.outputs.find((o) => o.name === 'class_code')?.shape[1];
    if (caePrototypes.classes.length !== bundle.classes.length)
      throw bad(
        `cae prototypes cover ${caePrototypes.classes.length} classes, the bundle lists ${bundle.classes.length}`,
      );
    for (const entry of caePrototypes.classes) {
      const wrong = entry.prototypes.find(
        (p) => p.length !== caePrototypes.codeDim || (typeof code === 'number' && p.length !== code),
      );
      if (wrong)
        throw bad(
          `cae prototype of "${entry.name}" has ${wrong.length} values; the class code has ${code ?? caePrototypes.codeDim}`,
        );
    }
  }
  if (infodisentPrototypes) {
    const channels = bundle.models.infodisent?.outputs.find((o) => o.name === 'evidence')?.shape[1];
    if (typeof channels === 'number' && infodisentPrototypes.channels.length !== channels) {
      throw bad(
        `infodisent prototypes describe ${infodisentPrototypes.channels.length} channels but the head's evidence has ${channels}`,
      );
    }
    if (!bundle.files.some((file) => file.path === infodisentPrototypes.atlas))
      throw bad(`the prototype atlas ${infodisentPrototypes.atlas} is not listed in "files"`);
  }
}
