/**
 * Measuring every tensor's shape by running the model once. ONNX files often lack intermediate shape
 * annotations, and the graph tools need static sizes, so every node output becomes a graph output and
 * the model runs on a deterministic batch of two (two, so that a batch axis never looks like a
 * broadcast axis of size one).
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
}

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
  const dims = [PROBE_BATCH, ...inputDims];
  const results = await session.run({ [inputs[0]!]: new ort.Tensor('float32', deterministicInput(dims), dims) });
  const shapes: ShapeTable = new Map([[inputs[0]!, dims]]);
  const types = new Map<string, string>([[inputs[0]!, 'float32']]);
  for (const [name, tensor] of Object.entries(results)) {
    shapes.set(name, [...tensor.dims]);
    types.set(name, tensor.type);
    tensor.dispose?.();
  }
  for (const init of model.graph.initializer) if (init.name) shapes.set(init.name, tensorDims(init));
  await session.release();
  return { shapes, types };
}
