/**
 * The layer-wise view's data: clustered feature maps of every conv layer of one image, from one run of
 * a gradient graph with guided ReLUs and every conv block output as a target.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { convBlockOutputs, type LayerInfo } from '../../models/gradient/layers.ts';
import { throwIfCancelled } from '../cam/cancel.ts';
import type { CamEngine } from '../cam/engine.ts';
import type { RunHooks } from '../cam/types.ts';
import { clusterLayer, type LayerClusters } from './clusters.ts';

export interface LayerwiseResult {
  target: number;
  logits: Float32Array;
  layers: { layer: LayerInfo; clusters: LayerClusters }[];
}

/** Conv block outputs that gradients reach: the layers of the layer-wise view. */
export function convLayers(engine: CamEngine): LayerInfo[] {
  return convBlockOutputs(engine.model, engine.layers()).filter((l) => l.gradients);
}

export async function layerwise(
  engine: CamEngine,
  data: Float32Array,
  target: number,
  hooks: RunHooks = {},
): Promise<LayerwiseResult> {
  const layers = convLayers(engine);
  if (layers.length === 0)
    throw new ApiError('layer_not_found', 'The model has no convolution layer that gradients reach');
  const size = engine.input.dims.reduce((a, b) => a * b, 1);
  const names = layers.map((l) => l.name);
  const run = await engine.gradientsOf('guided:conv', names, data.subarray(0, size), 1, [target], true);
  const result: LayerwiseResult = { target: run.chosen[0]!, logits: new Float32Array(run.logits), layers: [] };
  for (const [index, layer] of layers.entries()) {
    throwIfCancelled(hooks.signal);
    const [channels, height, width] = layer.shape as [number, number, number];
    const clusters = clusterLayer({
      channels,
      height,
      width,
      activations: run.values(layer.name),
      gradients: run.gradients(layer.name),
    });
    result.layers.push({ layer, clusters });
    hooks.progress?.(index + 1, layers.length);
  }
  return result;
}
