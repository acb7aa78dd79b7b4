/**
 * Metrics of one image's map, run by the CAM engine inside an inference worker: the map, its
 * deletion and insertion curves (towards / from the manifest's black image), ROAD, and the
 * model-randomisation sanity check over every parameter layer from the top down.
 */
import { ApiError } from '../../../src-shared/errors.ts';
import { resizeBilinearAligned } from '../../../src-shared/saliency.ts';
import type { CamEngine, CamRequest, CamResult, RunHooks } from '../cam/engine.ts';
import { parameterLayers, randomiseTop } from '../../models/onnx/randomise.ts';
import { perturbationCurve, road, type Curve, type ImageLayout, type RoadResult } from './perturbation.ts';
import { spearman } from './sanity.ts';

export const DEFAULT_STEPS = 50;

export interface MetricsResult {
  explanation: CamResult;
  deletion: Curve;
  insertion: Curve;
  road: RoadResult;
}

export interface SanityStep {
  /** Parameter layers re-initialised, counted from the output. */
  layersRandomised: number;
  /** The lowest re-initialised layer (node name) and its op. */
  layer: string;
  op: string;
  spearman: number;
}

function layoutOf(engine: CamEngine): ImageLayout {
  const { dims, layout } = engine.input;
  return layout === 'NCHW'
    ? { channels: dims[0]!, height: dims[1]!, width: dims[2]!, layout }
    : { channels: dims[2]!, height: dims[0]!, width: dims[1]!, layout };
}

export async function imageMetrics(
  engine: CamEngine,
  image: Float32Array,
  baseline: Float32Array,
  request: Omit<CamRequest, 'targets'> & { target: number },
  steps = DEFAULT_STEPS,
  hooks: RunHooks = {},
): Promise<MetricsResult> {
  const [explanation] = await engine.explain(
    image,
    1,
    { method: request.method, layer: request.layer, smoothing: request.smoothing, targets: [request.target] },
    { signal: hooks.signal },
  );
  const layout = layoutOf(engine);
  const saliency = resizeBilinearAligned(
    explanation!.map,
    explanation!.layerShape[0],
    explanation!.layerShape[1],
    layout.height,
    layout.width,
  );
  const score = (batch: Float32Array, count: number) => engine.classProbabilities(batch, count, explanation!.target);
  const deletion = await perturbationCurve('deletion', image, baseline, saliency, layout, steps, score);
  hooks.progress?.(1, 3);
  const insertion = await perturbationCurve('insertion', image, baseline, saliency, layout, steps, score);
  hooks.progress?.(2, 3);
  const roadResult = await road(image, saliency, layout, score);
  hooks.progress?.(3, 3);
  return { explanation: explanation!, deletion, insertion, road: roadResult };
}

/**
 * The cascading check; `fullOnly` skips to the last step (every parameter layer randomised), whose map
 * labelling sessions use as a gold decoy: an explanation that cannot justify anything.
 */
export async function sanityCheck(
  engine: CamEngine,
  image: Float32Array,
  request: Omit<CamRequest, 'targets'> & { target: number },
  hooks: RunHooks = {},
  fullOnly = false,
): Promise<{ original: CamResult; steps: SanityStep[]; randomised: CamResult | null }> {
  const [original] = await engine.explain(
    image,
    1,
    { method: request.method, layer: request.layer, smoothing: request.smoothing, targets: [request.target] },
    { signal: hooks.signal },
  );
  const layers = parameterLayers(engine.model);
  const steps: SanityStep[] = [];
  let randomisedResult: CamResult | null = null;
  for (let count = fullOnly ? layers.length : 1; count <= layers.length; count++) {
    if (hooks.signal?.aborted) throw new ApiError('cancelled', 'The sanity check was cancelled');
    const randomised = engine.derive(randomiseTop(engine.model, count));
    try {
      const [result] = await randomised.explain(
        image,
        1,
        { method: request.method, layer: request.layer, smoothing: request.smoothing, targets: [original!.target] },
        { signal: hooks.signal },
      );
      const lowest = layers[layers.length - count]!;
      steps.push({
        layersRandomised: count,
        layer: lowest.node,
        op: lowest.op,
        spearman: spearman(original!.map, result!.map),
      });
      if (count === layers.length) randomisedResult = result!;
    } finally {
      await randomised.release();
    }
    hooks.progress?.(count, layers.length);
  }
  return { original: original!, steps, randomised: randomisedResult };
}
