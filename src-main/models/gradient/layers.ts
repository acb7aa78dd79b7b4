/**
 * Target layers and model surgery for the CAM family: which intermediate tensors can be explained
 * (4-D float feature maps with more than one position), and the "tail" of a model from a layer to the
 * output, so that gradient-free methods re-run only what follows the layer.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { DataType, OnnxModel, onnx } from '../onnx/model.ts';
import type { ShapeTable } from '../onnx/probe.ts';
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
}

export function candidateLayers(
  model: OnnxModel,
  shapes: ShapeTable,
  types: Map<string, string>,
  output = model.outputNames()[0]!,
): LayerInfo[] {
  const layers: LayerInfo[] = [];
  for (const node of model.nodes) {
    for (const name of node.output ?? []) {
      const shape = shapes.get(name);
      if (!shape || shape.length !== 4 || types.get(name) !== 'float32' || shape[2]! * shape[3]! < 2) continue;
      const blocked = unsupportedOps(model, [name], output, types);
      const info: LayerInfo = { name, shape: shape.slice(1), op: node.opType ?? '', gradients: blocked.length === 0 };
      if (blocked.length)
        info.note = `no gradient: op ${blocked[0]!.opType} (node "${blocked[0]!.name || blocked[0]!.output?.[0]}") is not supported`;
      layers.push(info);
    }
  }
  return layers;
}

export interface TailModel {
  model: OnnxModel;
  /** Tensors the tail needs from the head besides the layer itself (skip connections, shapes). */
  frontier: string[];
}

const ELEMENT_TYPES: Record<string, number> = { float32: DataType.FLOAT, int64: DataType.INT64, bool: DataType.BOOL };

/** The part of the model that runs after `layer`, with the layer (and any other tensor it needs) as inputs. */
export function tailFrom(
  model: OnnxModel,
  layer: string,
  shapes: ShapeTable,
  types: Map<string, string>,
  output = model.outputNames()[0]!,
): TailModel {
  const downstream = new Set([layer]);
  const keep = model.nodes.filter((node) => {
    if (node.opType === 'Constant') return true;
    if (!node.input?.some((i) => downstream.has(i))) return false;
    for (const o of node.output ?? []) downstream.add(o);
    return true;
  });
  if (!downstream.has(output))
    throw new ApiError('layer_not_found', `Tensor "${layer}" does not lead to the output "${output}"`);
  const produced = new Set(keep.flatMap((n) => n.output ?? []));
  const initializers = new Set(model.graph.initializer.map((t) => t.name));
  const frontier = [...new Set(keep.flatMap((n) => n.input ?? []))].filter(
    (i) => i && i !== layer && !produced.has(i) && !initializers.has(i),
  );
  const unbatched = frontier.find((name) => types.get(name) !== 'float32');
  if (unbatched) {
    throw new ApiError(
      'model_unsupported_op',
      `The part of the model after "${layer}" needs the ${types.get(unbatched)} tensor "${unbatched}" computed before it, so the model cannot be cut at that layer`,
    );
  }
  const used = new Set(keep.flatMap((n) => n.input ?? []));
  const tail = model.clone();
  const graph = tail.graph;
  graph.node = keep;
  graph.initializer = graph.initializer.filter((t) => used.has(t.name ?? ''));
  graph.input = [layer, ...frontier].map((name) => {
    const shape = shapes.get(name);
    const type = ELEMENT_TYPES[types.get(name) ?? ''];
    if (!shape || type === undefined)
      throw new ApiError('model_invalid', `No shape or type is known for tensor "${name}"`);
    const dims = shape.map((d, axis) => (axis === 0 ? { dimParam: 'N' } : { dimValue: d }));
    return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: type, shape: { dim: dims } } } });
  });
  tail.setOutputs([output]);
  return { model: tail, frontier };
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
