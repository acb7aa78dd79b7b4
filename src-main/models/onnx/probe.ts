/**
 * Measuring every tensor's shape by running the model once. ONNX files often lack intermediate shape
 * annotations, and the graph tools need static sizes, so every node output's shape and first elements
 * become graph outputs and the model runs on a deterministic batch of two (two, so that a batch axis never looks like a
 * broadcast axis of size one), then of one: the axis whose size follows the batch is each tensor's
 * batch axis (not always the first: attention permutes it), and small integer tensors that come out
 * the same at both sizes (shape arithmetic: split sizes, slice bounds) are recorded as static values.
 */
import * as ort from 'onnxruntime-node';
import { ApiError } from '../../../src-shared/errors.ts';
import { OnnxModel, onnx, tensorDims, type NodeProto, type TensorProto } from './model.ts';

const { FLOAT, INT64 } = onnx.TensorProto.DataType;
const TENSOR = onnx.AttributeProto.AttributeType.TENSOR;

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

type Measured = Map<string, { dims: number[]; type: string; values?: number[] }>;

export interface ProbeOptions {
  /** onnxruntime's intra-op threads. */
  threads?: number;
  /** Hears when each step ends (benchmarks). */
  phase?: (name: string) => void;
  /** False: every tensor itself as an output, as for graphs the summaries do not fit (tests compare the two). */
  summaries?: boolean;
}

/** `inputDims` are the input's dims without the batch axis. */
export async function probeShapes(
  model: OnnxModel,
  inputDims: number[],
  { threads = 1, phase = () => {}, summaries = true }: ProbeOptions = {},
): Promise<ProbeResult> {
  const inputs = model.inputNames();
  if (inputs.length !== 1)
    throw new ApiError(
      'model_invalid',
      `The model has ${inputs.length} inputs (${inputs.join(', ')}); the explainers need a classifier with one image input`,
    );
  const tensors = [...new Set([...model.outputNames(), ...model.nodeOutputs()])];
  const runAt = async (measure: (batch: number) => Promise<Measured>) => {
    const two = await measure(PROBE_BATCH);
    phase(`run at batch ${PROBE_BATCH}`);
    const one = await measure(1);
    phase('run at batch 1');
    return [two, one] as const;
  };
  let measured: readonly [Measured, Measured];
  const summary = summaries ? summaryProbe(model, tensors) : null;
  const session = summary && (await openSession(summary.model, threads).catch(() => null));
  if (summary && session) {
    phase('a model with every tensor summarised as an output');
    try {
      measured = await runAt((batch) => measureSummaries(session, inputs[0]!, [batch, ...inputDims], summary.outputs));
    } finally {
      await session.release();
    }
  } else {
    // A graph the summaries do not fit (an old opset, a non-tensor value): every tensor as an output.
    const probe = model.extended();
    probe.setOutputs(tensors);
    const full = await openSession(probe, threads);
    phase('a model with every tensor as an output');
    try {
      measured = await runAt((batch) => measureOutputs(full, inputs[0]!, [batch, ...inputDims]));
    } finally {
      await full.release();
    }
  }
  const [two, one] = measured;
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

async function openSession(model: OnnxModel, threads: number): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(model.encode(), {
      intraOpNumThreads: threads,
      graphOptimizationLevel: 'disabled',
      // Every tensor is held until its summary is taken; without the arena its memory goes back to the
      // system as it is freed (a ViT-B's run at batch 2 took 1.2-1.5 s with the arena, 0.6-0.7 s without).
      enableCpuMemArena: false,
      // Two runs do not repay repacking every weight for the matrix kernels (a ViT-B's 346 MB).
      extra: { session: { disable_prepacking: '1' } },
    });
  } catch (error) {
    throw new ApiError('model_invalid', `onnxruntime cannot load the model: ${(error as Error).message}`);
  }
}

const isInteger = (type: string) => type === 'int64' || type === 'int32';

/**
 * The model with, for every tensor, two small outputs instead of the tensor itself: its shape, and its
 * first MAX_STATIC_VALUES elements (which carry its type, and its values when it is that small).
 * Copying every tensor out (a ViT-B's 1,442 at batch 2, gigabytes) took seconds; these take kilobytes,
 * and onnxruntime frees each tensor when the next layers are done with it. Null below opset 10 (Slice
 * with inputs).
 */
function summaryProbe(model: OnnxModel, tensors: string[]) {
  if (model.opset < 10) return null;
  const probe = model.extended();
  withoutWeights(probe);
  const constant = (name: string, values: number[]) =>
    probe.addInitializer({
      name,
      dataType: INT64,
      dims: [values.length],
      int64Data: values,
    });
  constant('xaiws_probe_flat', [-1]);
  constant('xaiws_probe_zero', [0]);
  constant('xaiws_probe_count', [MAX_STATIC_VALUES]);
  const outputs = tensors.map((name, i) => {
    const summary = { name, shape: `xaiws_probe_shape_${i}`, head: `xaiws_probe_head_${i}` };
    probe.nodes.push(
      onnx.NodeProto.create({ opType: 'Shape', input: [name], output: [summary.shape] }),
      onnx.NodeProto.create({
        opType: 'Reshape',
        input: [name, 'xaiws_probe_flat'],
        output: [`xaiws_probe_flat_${i}`],
      }),
      onnx.NodeProto.create({
        opType: 'Slice',
        input: [`xaiws_probe_flat_${i}`, 'xaiws_probe_zero', 'xaiws_probe_count'],
        output: [summary.head],
      }),
    );
    return summary;
  });
  probe.setOutputs(outputs.flatMap((o) => [o.shape, o.head]));
  return { model: probe, outputs };
}

/** Float weights of at least this many elements are left out of a summary probe. */
const WEIGHT_ELEMENTS = 1024;

/**
 * Large float weights become ConstantOfShape nodes of their dims: the probe needs their shapes, not
 * their values, and the model then encodes in kilobytes (reading a ViT-B's 346 MB of weights into the
 * probe's session took 0.8 s). Small ones (Resize scales, epsilons, shape constants) stay as they are.
 */
function withoutWeights(probe: OnnxModel): void {
  const graph = probe.graph;
  const filled = new Set<string>();
  const fills: NodeProto[] = [];
  const kept: TensorProto[] = [];
  for (const weight of graph.initializer) {
    const dims = tensorDims(weight);
    if (weight.dataType !== FLOAT || !weight.name || dims.reduce((a, b) => a * b, 1) < WEIGHT_ELEMENTS) {
      kept.push(weight);
      continue;
    }
    const shape = `xaiws_probe_dims_${fills.length}`;
    kept.push({ name: shape, dataType: INT64, dims: [dims.length], int64Data: dims });
    const value = { dataType: FLOAT, dims: [1], floatData: [0.01] };
    fills.push({
      opType: 'ConstantOfShape',
      input: [shape],
      output: [weight.name],
      attribute: [{ name: 'value', type: TENSOR, t: value }],
    });
    filled.add(weight.name);
  }
  graph.initializer = kept;
  graph.input = graph.input.filter((input) => !filled.has(input.name ?? '')); // old exports list weights as inputs
  graph.node = [...fills, ...graph.node];
}

async function measureSummaries(
  session: ort.InferenceSession,
  input: string,
  dims: number[],
  outputs: { name: string; shape: string; head: string }[],
): Promise<Measured> {
  const results = await session.run({ [input]: new ort.Tensor('float32', deterministicInput(dims), dims) });
  const measured: Measured = new Map();
  for (const { name, shape, head } of outputs) {
    const size = results[shape]!;
    const first = results[head]!;
    const tensorDims = Array.from(size.data as BigInt64Array, Number);
    const elements = tensorDims.reduce((a, b) => a * b, 1);
    const values =
      isInteger(first.type) && elements <= MAX_STATIC_VALUES
        ? Array.from(first.data as ArrayLike<number | bigint>, Number)
        : undefined;
    measured.set(name, { dims: tensorDims, type: first.type, values });
  }
  for (const tensor of Object.values(results)) tensor.dispose?.();
  return measured;
}

async function measureOutputs(session: ort.InferenceSession, input: string, dims: number[]): Promise<Measured> {
  const results = await session.run({ [input]: new ort.Tensor('float32', deterministicInput(dims), dims) });
  const measured: Measured = new Map();
  for (const [name, tensor] of Object.entries(results)) {
    const values =
      isInteger(tensor.type) && tensor.size <= MAX_STATIC_VALUES
        ? Array.from(tensor.data as ArrayLike<number | bigint>, Number)
        : undefined;
    measured.set(name, { dims: [...tensor.dims], type: tensor.type, values });
    tensor.dispose?.();
  }
  return measured;
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
