/** Small ONNX models written in code, for testing the graph tools op by op. */
import * as ort from 'onnxruntime-node';
import {
  DataType,
  OnnxModel,
  floatTensor,
  int64Tensor,
  onnx,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from '../../src-main/models/onnx/model.ts';

export { floatTensor, int64Tensor };

export interface ModelSpec {
  inputShape: number[]; // without batch
  nodes: NodeProto[];
  initializers?: TensorProto[];
  /** The tensor that becomes the [N, D] score (flattened). */
  result: string;
  opset?: number;
}

export function makeModel(spec: ModelSpec): OnnxModel {
  const dims = ['N', ...spec.inputShape].map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  const graph = onnx.GraphProto.create({
    name: 'test',
    node: [
      ...spec.nodes,
      { opType: 'Flatten', input: [spec.result], output: ['score'], attribute: [{ name: 'axis', type: 2, i: 1 }] },
    ],
    initializer: spec.initializers ?? [],
    input: [{ name: 'x', type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims } } } }],
    output: [{ name: 'score' }],
  });
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    graph,
    producerName: 'xaiws-test',
  });
  return OnnxModel.read(onnx.ModelProto.encode(proto).finish());
}

export function node(opType: string, input: string[], output: string, attribute: AttributeProto[] = []): NodeProto {
  return { opType, input, output: [output], attribute, name: output };
}

export const ints = (name: string, values: number[]): AttributeProto => ({ name, type: 7, ints: values });
export const int = (name: string, value: number): AttributeProto => ({ name, type: 2, i: value });
export const float = (name: string, value: number): AttributeProto => ({ name, type: 1, f: value });
export const str = (name: string, value: string): AttributeProto => ({
  name,
  type: 3,
  s: new TextEncoder().encode(value),
});

/** Seeded uniform values in [low, high). */
export function seeded(count: number, seed: number, low = -1, high = 1): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = low + ((state >>> 0) / 2 ** 32) * (high - low);
  }
  return out;
}

export async function session(model: OnnxModel): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model.encode(), { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
}

/** A Conv node with seeded weights and bias, and its initializers. */
export const conv = (
  name: string,
  input: string,
  outChannels: number,
  inPerGroup: number,
  k: number[],
  attrs: ReturnType<typeof int>[],
  seed: number,
) => ({
  node: node('Conv', [input, `${name}.w`, `${name}.b`], name, [ints('kernel_shape', k), ...attrs]),
  inits: [
    floatTensor(
      `${name}.w`,
      [outChannels, inPerGroup, ...k],
      seeded(outChannels * inPerGroup * k[0]! * k[1]!, seed, -0.5, 0.5),
    ),
    floatTensor(`${name}.b`, [outChannels], seeded(outChannels, seed + 1)),
  ],
});
