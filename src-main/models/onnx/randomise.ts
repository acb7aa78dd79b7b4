/**
 * Cascading weight re-initialisation for the model-randomisation sanity check (Adebayo et al. 2018):
 * the layers with learned parameters, from the output down, have their weights replaced by seeded
 * Gaussian values with each tensor's own standard deviation (biases and batch-norm shifts by zeros,
 * batch-norm scales by ones). The graph and its tensor names stay the same, so any layer can still be
 * explained in the randomised copy.
 */
import { seededGaussian } from '../../../src-shared/random.ts';
import { DataType, OnnxModel, floatTensor, tensorDims, tensorValues, type NodeProto } from './model.ts';

const PARAMETER_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'BatchNormalization']);

export interface ParameterLayer {
  node: string;
  op: string;
  initializers: string[];
}

/** Nodes with float initializer inputs, in graph order (input to output). */
export function parameterLayers(model: OnnxModel): ParameterLayer[] {
  const initializers = new Map(model.graph.initializer.map((t) => [t.name ?? '', t]));
  return model.nodes
    .filter((n) => PARAMETER_OPS.has(n.opType ?? ''))
    .map((n: NodeProto) => ({
      node: n.name || n.output![0]!,
      op: n.opType!,
      initializers: (n.input ?? []).filter((i) => initializers.get(i)?.dataType === DataType.FLOAT),
    }))
    .filter((layer) => layer.initializers.length > 0);
}

/** A copy with the top `count` parameter layers re-initialised. */
export function randomiseTop(model: OnnxModel, count: number, seed = 42): OnnxModel {
  const copy = model.clone();
  const layers = parameterLayers(copy);
  const random = seededGaussian(seed);
  for (const layer of layers.slice(Math.max(0, layers.length - count))) {
    layer.initializers.forEach((name, position) => {
      const index = copy.graph.initializer.findIndex((t) => t.name === name);
      const tensor = copy.graph.initializer[index]!;
      const dims = tensorDims(tensor);
      const values = tensorValues(tensor);
      let replacement: Float32Array;
      if (layer.op === 'BatchNormalization') {
        // inputs: scale, bias, mean, variance; running statistics stay, the learned affine resets.
        if (position > 1) return;
        replacement = new Float32Array(values.length).fill(position === 0 ? 1 : 0);
      } else if (dims.length <= 1) {
        replacement = new Float32Array(values.length); // biases
      } else {
        let mean = 0;
        for (const v of values) mean += v;
        mean /= values.length;
        let variance = 0;
        for (const v of values) variance += (v - mean) ** 2;
        const std = Math.sqrt(variance / values.length) || 0.01;
        replacement = Float32Array.from({ length: values.length }, () => random() * std);
      }
      copy.graph.initializer[index] = Object.assign(
        copy.graph.initializer[index]!,
        floatTensor(name, dims, replacement),
        { floatData: [] },
      );
    });
  }
  return copy;
}
