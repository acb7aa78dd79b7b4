/**
 * Gold decoys of a session: a map the model cannot justify anything with (the fully randomised model's, by the model-randomisation sanity check), beside the genuine one.
 */
import { normalise, type Context, type ExplainedMap } from './sources.ts';
import { verifiedModel } from '../models/identity.ts';
import type { CamMethodName } from '../../src-shared/contract.ts';

const withDecoy = (
  map: ExplainedMap,
  decoy: string,
  values: Float32Array,
  width = map.width,
  height = map.height,
): ExplainedMap => ({
  ...map,
  width,
  height,
  map: values,
  provenance: {
    ...map.provenance,
    params: JSON.stringify({ ...(JSON.parse(map.provenance.params) as object), decoy }),
    ref: `${map.provenance.ref}:${decoy}`,
  },
});

/** The decoy of a genuine map and why a careful annotator rejects it. */
export async function decoyOf(context: Context, genuine: ExplainedMap): Promise<{ map: ExplainedMap; why: string }> {
  const { provenance } = genuine;
  if (provenance.kind === 'cam' && provenance.targetClass !== null) {
    const result = await context.pool.call('sanity', {
      model: await verifiedModel(context.model),
      source: { projectPath: context.project.path, imageIds: [genuine.imageId] },
      request: { method: provenance.method as CamMethodName, layer: provenance.layer, target: provenance.targetClass },
      fullOnly: true,
    });
    if (result.randomised) {
      const [height, width] = result.randomised.layerShape;
      return {
        map: withDecoy(genuine, 'randomised-model', normalise(result.randomised.map), width, height),
        why: 'this map comes from the model with all its weights randomised, so it cannot show what justifies the class',
      };
    }
  }
  return {
    map: withDecoy(
      genuine,
      'inverted',
      genuine.map.map((v) => 1 - v),
    ),
    why: 'this map highlights what the explainer found least important',
  };
}
