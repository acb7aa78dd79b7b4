/**
 * Measuring every tensor's shape by running the model once. ONNX files often lack intermediate shape
 * annotations, and the graph tools need static sizes, so every node output becomes a graph output and
 * the model runs on a deterministic batch of two (two, so that a batch axis never looks like a
 * broadcast axis of size one), then of one: the axis whose size follows the batch is each tensor's
 * batch axis (not always the first: attention permutes it), and small integer tensors that come out
 * the same at both sizes (shape arithmetic: split sizes, slice bounds) are recorded as static values.
 */
import * as ort from 'onnxruntime-node';
import { ApiError } from '../../../src-shared/errors.ts';
import { OnnxModel, tensorDims } from './model.ts';

/** The measured shape of every tensor, by name, at batch size PROBE_BATCH. */
export type ShapeTable = Map<string, number[]>;

export const PROBE_BATCH = 2;

export interface ProbeResult {
  shapes: ShapeTable;
  types: Map<string, string>;
  /** The batch axis of each tensor whose size follows the batch; absent where none does. */
  batchAxes: Map<string, number>;
  /** Integer tensors of at most MAX_STATIC_VALUES elements with the same values at both batch sizes. */
  values: Map<string, number[]>;
}

const MAX_STATIC_VALUES = 64;

export function deterministicInput(dims: number[]): Float32Array {
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  let state = 12345;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = (state / 2 ** 32) * 2 - 1;
  }
  return data;
}

/** `inputDims` are the input's dims without the batch axis. */
export async function probeShapes(model: OnnxModel, inputDims: number[], threads = 1): Promise<ProbeResult> {
  const probe = model.clone();
  probe.setOutputs([...new Set([...model.outputNames(), ...model.nodeOutputs()])]);
  const inputs = model.inputNames();
  if (inputs.length !== 1)
    throw new ApiError(
      'model_invalid',
      `The model has ${inputs.length} inputs (${inputs.join(', ')}); the explainers need a classifier with one image input`,
    );
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(probe.encode(), {
      intraOpNumThreads: threads,
      graphOptimizationLevel: 'disabled',
    });
  } catch (error) {
    throw new ApiError('model_invalid', `onnxruntime cannot load the model: ${(error as Error).message}`);
  }
  const run = async (batch: number) => {
    const dims = [batch, ...inputDims];
    const results = await session.run({ [inputs[0]!]: new ort.Tensor('float32', deterministicInput(dims), dims) });
    const measured = new Map<string, { dims: number[]; type: string; values?: number[] }>();
    for (const [name, tensor] of Object.entries(results)) {
      const integer = tensor.type === 'int64' || tensor.type === 'int32';
      const values =
        integer && tensor.size <= MAX_STATIC_VALUES
          ? Array.from(tensor.data as ArrayLike<number | bigint>, Number)
          : undefined;
      measured.set(name, { dims: [...tensor.dims], type: tensor.type, values });
      tensor.dispose?.();
    }
    return measured;
  };
  const [two, one] = [await run(PROBE_BATCH), await run(1)];
  await session.release();
  const shapes: ShapeTable = new Map([[inputs[0]!, [PROBE_BATCH, ...inputDims]]]);
  const types = new Map<string, string>([[inputs[0]!, 'float32']]);
  const batchAxes = new Map<string, number>([[inputs[0]!, 0]]);
  const values = new Map<string, number[]>();
  for (const [name, { dims, type, values: seen }] of two) {
    shapes.set(name, dims);
    types.set(name, type);
    const other = one.get(name);
    const axis = dims.findIndex((d, i) => other !== undefined && other.dims[i] !== d);
    if (axis >= 0) batchAxes.set(name, axis);
    if (seen && other?.values && other.values.length === seen.length && other.values.every((v, i) => v === seen[i]))
      values.set(name, seen);
  }
  for (const init of model.graph.initializer) if (init.name) shapes.set(init.name, tensorDims(init));
  return { shapes, types, batchAxes, values };
}

/** The version of a stored probe; a stored probe of another version is measured again. */
export const PROBE_FORMAT = 1;

/** A probe as JSON, for the cache that saves measuring a model again (workers/inference.ts). */
export function serializeProbe(probe: ProbeResult): string {
  return JSON.stringify({
    format: PROBE_FORMAT,
    shapes: [...probe.shapes],
    types: [...probe.types],
    batchAxes: [...probe.batchAxes],
    values: [...probe.values],
  });
}

const isNumbers = (value: unknown): value is number[] =>
  Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v));
const entries = <T>(value: unknown, check: (v: unknown) => v is T): Map<string, T> | null =>
  Array.isArray(value) &&
  value.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && check(e[1]))
    ? new Map(value as [string, T][])
    : null;

/** A stored probe, or null when the text is not one of this version (then the model is measured again). */
export function parseProbe(text: string): ProbeResult | null {
  let raw: { format?: unknown; shapes?: unknown; types?: unknown; batchAxes?: unknown; values?: unknown };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch {
    return null;
  }
  if (raw?.format !== PROBE_FORMAT) return null;
  const shapes = entries(raw.shapes, isNumbers);
  const types = entries(raw.types, (v): v is string => typeof v === 'string');
  const batchAxes = entries(raw.batchAxes, (v): v is number => Number.isInteger(v));
  const values = entries(raw.values, isNumbers);
  return shapes && types && batchAxes && values ? { shapes, types, batchAxes, values } : null;
}
