/**
 * Reading, editing and writing ONNX models (onnx-proto's protobuf classes). The graph tools build new
 * models from a user's model: extra outputs, gradient graphs, cut-off tails, re-initialised weights.
 * They never change the user's file; every edit happens on a decoded copy.
 */
import onnxProto from 'onnx-proto';
import { ApiError } from '../../../src-shared/errors.ts';

export const { onnx } = onnxProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;

type LongLike = number | { toNumber(): number };
export const toNumber = (value: LongLike | null | undefined): number =>
  value == null ? 0 : typeof value === 'number' ? value : value.toNumber();

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const AttributeType = onnx.AttributeProto.AttributeType;

export class OnnxModel {
  private constructor(readonly proto: onnxProto.onnx.ModelProto) {}

  static read(bytes: Uint8Array, label = 'model'): OnnxModel {
    let proto: onnxProto.onnx.ModelProto;
    try {
      proto = onnx.ModelProto.decode(bytes);
    } catch (error) {
      throw new ApiError('model_invalid', `${label} is not an ONNX model: ${(error as Error).message}`);
    }
    if (!proto.graph?.node?.length) throw new ApiError('model_invalid', `${label} has no graph nodes`);
    return new OnnxModel(proto);
  }

  get graph(): onnxProto.onnx.GraphProto {
    return this.proto.graph as onnxProto.onnx.GraphProto;
  }

  get nodes(): NodeProto[] {
    return this.graph.node;
  }

  /** Version of the default (ai.onnx) operator set. */
  get opset(): number {
    const entry = this.proto.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
    return toNumber(entry?.version);
  }

  encode(): Uint8Array {
    return onnx.ModelProto.encode(this.proto).finish();
  }

  clone(): OnnxModel {
    return new OnnxModel(onnx.ModelProto.decode(this.encode()));
  }

  /**
   * A copy that shares this model's nodes and weights but has lists of its own (nodes, initializers,
   * inputs, outputs): for graphs that only add to the model, without the cost of copying the weights
   * (a ViT-B's 346 MB took a third of a second to clone). Never edit a shared node or tensor through it.
   */
  extended(): OnnxModel {
    const graph = this.graph;
    return new OnnxModel(
      onnx.ModelProto.create({
        ...this.proto,
        opsetImport: this.proto.opsetImport.map((o) => onnx.OperatorSetIdProto.create({ ...o })),
        graph: onnx.GraphProto.create({
          ...graph,
          node: [...graph.node],
          initializer: [...graph.initializer],
          input: [...graph.input],
          output: [...graph.output],
        }),
      }),
    );
  }

  inputNames(): string[] {
    const initializers = new Set(this.graph.initializer.map((t) => t.name));
    return this.graph.input.map((i) => i.name ?? '').filter((name) => name && !initializers.has(name));
  }

  outputNames(): string[] {
    return this.graph.output.map((o) => o.name ?? '');
  }

  initializer(name: string): TensorProto | undefined {
    return this.graph.initializer.find((t) => t.name === name);
  }

  /** A tensor whose value is fixed: an initializer, the output of a Constant node, or an Identity of either. */
  constant(name: string): TensorProto | undefined {
    const init = this.initializer(name);
    if (init) return init;
    const node = this.nodes.find((n) => (n.opType === 'Constant' || n.opType === 'Identity') && n.output?.[0] === name);
    if (node?.opType === 'Identity') return node.input?.[0] ? this.constant(node.input[0]) : undefined;
    return node?.attribute?.find((a) => a.name === 'value')?.t ?? undefined;
  }

  producer(name: string): NodeProto | undefined {
    return this.nodes.find((n) => n.output?.includes(name));
  }

  /** Every tensor a node produces, in graph (topological) order. */
  nodeOutputs(): string[] {
    return this.nodes.flatMap((n) => (n.output ?? []).filter((o) => o !== ''));
  }

  setOutputs(names: string[]): void {
    const known = new Map(this.graph.output.map((o) => [o.name, o]));
    this.graph.output = names.map((name) => known.get(name) ?? onnx.ValueInfoProto.create({ name }));
  }

  addOutputs(names: string[]): void {
    this.setOutputs([...new Set([...this.outputNames(), ...names])]);
  }

  addInput(name: string, elemType: number, dims: (number | string)[]): void {
    const shape = onnx.TensorShapeProto.create({
      dim: dims.map((d) =>
        typeof d === 'number'
          ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
          : onnx.TensorShapeProto.Dimension.create({ dimParam: d }),
      ),
    });
    this.graph.input.push(
      onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType: { elemType, shape } }) }),
    );
  }

  addInitializer(tensor: TensorProto): void {
    this.graph.initializer.push(onnx.TensorProto.create(tensor));
  }

  /** Makes sure the default operator set is at least `version` (only where that changes no op the model uses). */
  requireOpset(version: number): void {
    const entry = this.proto.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx');
    if (entry && toNumber(entry.version) < version) entry.version = version;
  }
}

export function attribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}
export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a ? toNumber(a.i) : fallback;
}
export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a ? (a.f ?? fallback) : fallback;
}
export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attribute(node, name);
  return a ? (a.ints ?? []).map(toNumber) : undefined;
}
export function attrString(node: NodeProto, name: string, fallback: string): string {
  const a = attribute(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : fallback;
}

export function intsAttr(name: string, values: number[]): AttributeProto {
  return { name, type: AttributeType.INTS, ints: values };
}
export function intAttr(name: string, value: number): AttributeProto {
  return { name, type: AttributeType.INT, i: value };
}
export function floatAttr(name: string, value: number): AttributeProto {
  return { name, type: AttributeType.FLOAT, f: value };
}
export function stringAttr(name: string, value: string): AttributeProto {
  return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
}
export function tensorAttr(name: string, value: TensorProto): AttributeProto {
  return { name, type: AttributeType.TENSOR, t: value };
}

export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  const data = Float32Array.from(values);
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer) };
}
export function int64Tensor(name: string, dims: number[], values: number[]): TensorProto {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims, dataType: INT64, rawData: new Uint8Array(data.buffer) };
}

export function tensorDims(tensor: TensorProto): number[] {
  return (tensor.dims ?? []).map(toNumber);
}

/** The values of a float or integer tensor as numbers (float32 for FLOAT, float64 otherwise). */
export function tensorValues(tensor: TensorProto): Float32Array | Float64Array {
  const count = tensorDims(tensor).reduce((a, b) => a * b, 1);
  // rawData may be a Buffer view into protobuf's pool (Buffer.slice does not copy): copy it out first.
  const raw = tensor.rawData && tensor.rawData.length > 0 ? Uint8Array.from(tensor.rawData) : undefined;
  switch (tensor.dataType) {
    case FLOAT: {
      if (raw) return new Float32Array(raw.buffer, 0, count);
      return Float32Array.from(tensor.floatData ?? []);
    }
    case INT64: {
      if (raw) return Float64Array.from(new BigInt64Array(raw.buffer, 0, count), (v) => Number(v));
      return Float64Array.from((tensor.int64Data ?? []).map(toNumber));
    }
    case onnx.TensorProto.DataType.INT32:
      if (raw) return Float64Array.from(new Int32Array(raw.buffer, 0, count));
      return Float64Array.from(tensor.int32Data ?? []);
    case onnx.TensorProto.DataType.DOUBLE:
      if (raw) return new Float64Array(raw.buffer, 0, count);
      return Float64Array.from(tensor.doubleData ?? []);
    default:
      throw new ApiError(
        'model_invalid',
        `tensor "${tensor.name}" has data type ${tensor.dataType}, which the graph tools do not read`,
      );
  }
}

export const DataType = { FLOAT, INT64, BOOL: onnx.TensorProto.DataType.BOOL } as const;

type GraphLike = {
  initializer?: TensorProto[] | null;
  node?:
    | {
        attribute?:
          | {
              t?: TensorProto | null;
              tensors?: TensorProto[] | null;
              g?: GraphLike | null;
              graphs?: GraphLike[] | null;
            }[]
          | null;
      }[]
    | null;
};

/** The `location` of every tensor stored outside the model file (ONNX external data), in this graph and its subgraphs. */
export function externalLocations(graph: GraphLike | null | undefined, into = new Set<string>()): Set<string> {
  if (!graph) return into;
  const visit = (tensor: TensorProto | null | undefined) => {
    if (!tensor || tensor.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) return;
    const location = tensor.externalData?.find((entry) => entry.key === 'location')?.value;
    if (location) into.add(location);
  };
  for (const tensor of graph.initializer ?? []) visit(tensor);
  for (const node of graph.node ?? []) {
    for (const attribute of node.attribute ?? []) {
      visit(attribute.t);
      for (const tensor of attribute.tensors ?? []) visit(tensor);
      externalLocations(attribute.g, into);
      for (const sub of attribute.graphs ?? []) externalLocations(sub, into);
    }
  }
  return into;
}
