/**
 * Target layers and model surgery for the CAM family: which intermediate tensors can be explained
 * (4-D float feature maps with more than one position), and the "tail" of a model from a layer to the
 * output, so that gradient-free methods re-run only what follows the layer.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { DataType, OnnxModel, onnx, tensorValues } from '../onnx/model.ts';
import type { ShapeTable } from '../onnx/probe.ts';
import type { LayerLayouts } from '../../../src-shared/schemas/project.ts';
import { unsupportedOps } from './builder.ts';

export interface LayerInfo {
  name: string;
  /** Without the batch axis: [channels, height, width]. */
  shape: number[];
  op: string;
  /** Whether the gradient builder covers every op from here to the output. */
  gradients: boolean;
  /** Why not, when it does not. */
  note?: string;
  /**
   * How the tensor holds its spatial map (pytorch-grad-cam's reshape_transform, detected from the
   * shape): NCHW (absent), channels last [N, H, W, C] (Swin, ConvNeXt blocks), or tokens [N, T, C]
   * with T a square, after `skip` leading tokens (ViT's class token). `shape` is the map's [C, H, W].
   */
  layout?: { kind: 'nhwc' } | { kind: 'tokens'; skip: number };
  /** Its spatial positions get no gradient from the class score (explain/cam/layer-advice.ts). */
  zeroGradient?: boolean;
  /** The layer the picker starts from. */
  recommended?: boolean;
}

/**
 * The spatial reading of a float tensor's measured shape (batch first), or null when it has none.
 * `given` (the manifest's `layers`) replaces the detection: a token grid after `skip` tokens, and
 * whether 4-D maps are channels last.
 */
export function spatialLayout(shape: number[], given: LayerLayouts = {}): Pick<LayerInfo, 'shape' | 'layout'> | null {
  if (shape.length === 4) {
    const [, a, b, c] = shape as [number, number, number, number];
    const channelsLast = given.channelsLast ?? (a === b && b !== c);
    if (channelsLast) return a * b >= 2 ? { shape: [c, a, b], layout: { kind: 'nhwc' } } : null;
    return b * c >= 2 ? { shape: [a, b, c] } : null;
  }
  if (shape.length === 3) {
    const [, tokens, channels] = shape as [number, number, number];
    if (given.tokens) {
      const { skip, grid } = given.tokens;
      return tokens === skip + grid[0] * grid[1]
        ? { shape: [channels, grid[0], grid[1]], layout: { kind: 'tokens', skip } }
        : null;
    }
    for (const skip of [0, 1]) {
      const side = Math.round(Math.sqrt(tokens - skip));
      if (side >= 2 && side * side === tokens - skip)
        return { shape: [channels, side, side], layout: { kind: 'tokens', skip } };
    }
  }
  return null;
}

/**
 * `count` maps of a layer's tensor as NCHW planes: channels-last and token layouts are transposed
 * (leading tokens dropped), NCHW is returned as it is.
 */
export function toPlanes(
  values: Float32Array,
  layer: Pick<LayerInfo, 'shape' | 'layout'>,
  count: number,
): Float32Array {
  if (!layer.layout) return values;
  const [channels, height, width] = layer.shape as [number, number, number];
  const plane = height * width;
  const skip = layer.layout.kind === 'tokens' ? layer.layout.skip : 0;
  const out = new Float32Array(count * channels * plane);
  for (let i = 0; i < count; i++) {
    const from = i * (plane + skip) * channels + skip * channels;
    const to = i * channels * plane;
    for (let p = 0; p < plane; p++)
      for (let c = 0; c < channels; c++) out[to + c * plane + p] = values[from + p * channels + c]!;
  }
  return out;
}

export function candidateLayers(
  model: OnnxModel,
  shapes: ShapeTable,
  types: Map<string, string>,
  output = model.outputNames()[0]!,
  batchAxes?: Map<string, number>,
  given?: LayerLayouts,
): LayerInfo[] {
  const layers: LayerInfo[] = [];
  for (const node of model.nodes) {
    for (const name of node.output ?? []) {
      const shape = shapes.get(name);
      const spatial =
        shape && types.get(name) === 'float32' && (batchAxes?.get(name) ?? 0) === 0
          ? spatialLayout(shape, given)
          : null;
      if (!spatial) continue;
      const blocked = unsupportedOps(model, [name], output, types);
      const info: LayerInfo = { name, ...spatial, op: node.opType ?? '', gradients: blocked.length === 0 };
      if (blocked.length)
        info.note = `no gradient: op ${blocked[0]!.opType} (node "${blocked[0]!.name || blocked[0]!.output?.[0]}") is not supported`;
      layers.push(info);
    }
  }
  return layers;
}

export interface TailModel {
  model: OnnxModel;
  /** The tail's inputs: the layers it starts from that it does not compute itself, then the frontier. */
  inputs: string[];
  /** Tensors the tail needs from the head besides the layers themselves (skip connections, shapes). */
  frontier: string[];
}

const ELEMENT_TYPES: Record<string, number> = { float32: DataType.FLOAT, int64: DataType.INT64, bool: DataType.BOOL };

/** What the tail cut needs to know of the model's tensors: the probe's shapes, types, batch axes and static values. */
export interface TensorFacts {
  shapes: ShapeTable;
  types: Map<string, string>;
  batchAxes?: Map<string, number>;
  /** Integer tensors with the same values at every batch size: copied into the tail instead of fed to it. */
  values?: Map<string, number[]>;
}

/**
 * The part of the model that runs after `layers` (one, or several: everything that reads any of them),
 * with the layers it does not compute itself and any other tensor it needs as inputs.
 */
export function tailFrom(
  model: OnnxModel,
  layers: string | readonly string[],
  facts: TensorFacts,
  output = model.outputNames()[0]!,
): TailModel {
  const { shapes, types, batchAxes, values } = facts;
  const starts = typeof layers === 'string' ? [layers] : layers;
  // Tensors computed from the input; the rest (Constant nodes, and what exporters derive from
  // initializers alone, e.g. torch's Identity of a shared bias) is copied into the tail, not fed to it.
  const variable = new Set(model.graph.input.map((i) => i.name ?? ''));
  const downstream = new Set(starts);
  const candidates = model.nodes.filter((node) => {
    const inputs = node.input ?? [];
    if (inputs.some((i) => variable.has(i))) for (const o of node.output ?? []) variable.add(o);
    else return true;
    if (!inputs.some((i) => downstream.has(i))) return false;
    for (const o of node.output ?? []) downstream.add(o);
    return true;
  });
  if (!downstream.has(output))
    throw new ApiError('layer_not_found', `Tensor "${starts[0]}" does not lead to the output "${output}"`);
  const needed = new Set([output]);
  let keep = candidates
    .reverse()
    .filter((node) => {
      if (!node.output?.some((o) => needed.has(o))) return false;
      for (const i of node.input ?? []) needed.add(i);
      return true;
    })
    .reverse();
  const initializers = new Set(model.graph.initializer.map((t) => t.name));
  const outsideOf = (nodes: typeof keep) => {
    const produced = new Set(nodes.flatMap((n) => n.output ?? []));
    const outside = [...new Set(nodes.flatMap((n) => n.input ?? []))].filter(
      (i) => i && !starts.includes(i) && !produced.has(i) && !initializers.has(i),
    );
    return { produced, outside };
  };
  // Shape arithmetic that comes out the same at every batch size is copied in as constants; the rest of
  // the integer tensors the tail reads (a reshape's target with the batch size in it) is computed in
  // it, from the float tensors they are measured on (Shape of the residual stream), which it is fed.
  const fixedValue = (name: string) => types.get(name) === 'int64' && values?.has(name);
  const producer = new Map(model.nodes.flatMap((node) => (node.output ?? []).map((o) => [o, node] as const)));
  const pulled = new Set(keep);
  const wanted = outsideOf(keep).outside.filter((name) => types.get(name) !== 'float32' && !fixedValue(name));
  for (let name = wanted.pop(); name !== undefined; name = wanted.pop()) {
    const node = producer.get(name);
    if (!node || pulled.has(node)) continue;
    pulled.add(node);
    for (const i of node.input ?? [])
      if (i && !initializers.has(i) && types.get(i) !== 'float32' && !fixedValue(i)) wanted.push(i);
  }
  if (pulled.size > keep.length) keep = model.nodes.filter((node) => pulled.has(node));
  const { produced, outside } = outsideOf(keep);
  const fed = starts.filter((layer) => !produced.has(layer));
  const fixed = outside.filter(fixedValue);
  const frontier = outside.filter((name) => !fixed.includes(name));
  const unbatched = frontier.find((name) => types.get(name) !== 'float32');
  if (unbatched) {
    throw new ApiError(
      'model_unsupported_op',
      `The part of the model after "${starts[0]}" needs the ${types.get(unbatched)} tensor "${unbatched}" computed before it, so the model cannot be cut at that layer`,
    );
  }
  const used = new Set(keep.flatMap((n) => n.input ?? []));
  const tail = model.extended(); // lists replaced below, nodes and weights shared
  const graph = tail.graph;
  graph.node = keep;
  graph.initializer = [
    ...graph.initializer.filter((t) => used.has(t.name ?? '')),
    ...fixed.map((name) => {
      const data = values!.get(name)!;
      return onnx.TensorProto.create({ name, dataType: DataType.INT64, dims: shapes.get(name), int64Data: data });
    }),
  ];
  const inputs = [...fed, ...frontier];
  graph.input = inputs.map((name) => {
    const shape = shapes.get(name);
    const type = ELEMENT_TYPES[types.get(name) ?? ''];
    if (!shape || type === undefined)
      throw new ApiError('model_invalid', `No shape or type is known for tensor "${name}"`);
    const batch = batchAxes ? batchAxes.get(name) : 0;
    const dims = shape.map((d, axis) => (axis === batch ? { dimParam: 'N' } : { dimValue: d }));
    return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: type, shape: { dim: dims } } } });
  });
  tail.setOutputs([output]);
  return { model: tail, inputs, frontier };
}

const BLOCK_OPS = new Set(['BatchNormalization', 'Relu', 'Clip', 'LeakyRelu', 'HardSwish', 'Sigmoid', 'Tanh']);

/**
 * The feature map that ends each convolution block: a Conv's output followed, while it has a single
 * consumer, through batch norm and activation ops. These are the "conv layers" of layer-wise views.
 */
export function convBlockOutputs(model: OnnxModel, layers: LayerInfo[]): LayerInfo[] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const consumers = (tensor: string) => model.nodes.filter((n) => n.input?.includes(tensor));
  const outputs: LayerInfo[] = [];
  for (const node of model.nodes) {
    if (node.opType !== 'Conv') continue;
    let tensor = node.output![0]!;
    for (;;) {
      const next = consumers(tensor);
      if (next.length !== 1 || !BLOCK_OPS.has(next[0]!.opType ?? '')) break;
      tensor = next[0]!.output![0]!;
    }
    const layer = byName.get(tensor);
    if (layer && !outputs.includes(layer)) outputs.push(layer);
  }
  return outputs;
}

/** A layer output with a per-channel bias: FullGrad's bias-gradient terms. */
export interface BiasLayer {
  /** The output tensor: [N, C, h, w]. */
  name: string;
  bias: Float32Array;
}

/**
 * Every Conv with a bias and every BatchNormalization whose output reaches `output` through ops the
 * gradient builder covers, with its bias (a batch norm's is beta - mean gamma / sqrt(var + eps), as
 * FullGrad's authors define it). Batch norms that the exporter folded into the Conv before them come
 * out as that Conv's bias, which is the same number.
 */
export function biasLayers(model: OnnxModel, layers: LayerInfo[]): BiasLayer[] {
  const usable = new Set(layers.filter((l) => l.gradients && !l.layout).map((l) => l.name));
  const values = (name: string | undefined) => {
    const tensor = name ? model.constant(name) : undefined;
    return tensor ? Float32Array.from(tensorValues(tensor), Number) : undefined;
  };
  const result: BiasLayer[] = [];
  for (const node of model.nodes) {
    const name = node.output?.[0];
    if (!name || !usable.has(name)) continue;
    if (node.opType === 'Conv') {
      const bias = values(node.input?.[2]);
      if (bias) result.push({ name, bias });
    } else if (node.opType === 'BatchNormalization') {
      const [scale, beta, mean, variance] = [1, 2, 3, 4].map((i) => values(node.input?.[i]));
      if (!scale || !beta || !mean || !variance) continue;
      const epsilon = node.attribute?.find((a) => a.name === 'epsilon')?.f ?? 1e-5;
      result.push({
        name,
        bias: beta.map((b, k) => b - (mean[k]! * scale[k]!) / Math.sqrt(variance[k]! + epsilon)),
      });
    }
  }
  return result;
}
