/**
 * One gradient run of a model for TCAV: at each named layer, the activations as channel planes and the
 * gradient of each image's target class score, averaged over the layer's positions (TCAV's directional
 * derivative of a channel-space CAV). A vector layer ([batch, features]) is a 1 x 1 map.
 */
import { toPlanes } from '../../models/gradient/layers.ts';
import type { CamEngine } from '../cam/engine.ts';

export interface LayerPassResult {
  name: string;
  /** [channels, height, width]. */
  shape: [number, number, number];
  /** [count, channels, height x width]. */
  activations: Float32Array;
  /** [count, channels]: the class score's gradient, averaged over positions. */
  gradients: Float32Array;
}

export async function layerPass(
  engine: CamEngine,
  data: Float32Array,
  count: number,
  layers: string[],
  targets: number[],
): Promise<LayerPassResult[]> {
  const run = await engine.gradientsOf(`tcav:${layers.join('\n')}`, layers, data, count, targets);
  return layers.map((name) => {
    const measured = engine.shapes.get(name);
    let shape: [number, number, number];
    let activations: Float32Array;
    let planes: Float32Array;
    if (measured?.length === 2) {
      shape = [measured[1]!, 1, 1];
      activations = Float32Array.from(run.values(name));
      planes = run.gradients(name);
    } else {
      const info = engine.layer(name);
      shape = info.shape as [number, number, number];
      activations = Float32Array.from(toPlanes(run.values(name), info, count));
      planes = toPlanes(run.gradients(name), info, count);
    }
    const [channels, height, width] = shape;
    const positions = height * width;
    const gradients = new Float32Array(count * channels);
    for (let i = 0; i < count * channels; i++) {
      let s = 0;
      for (let p = 0; p < positions; p++) s += planes[i * positions + p]!;
      gradients[i] = s / positions;
    }
    return { name, shape, activations, gradients };
  });
}
