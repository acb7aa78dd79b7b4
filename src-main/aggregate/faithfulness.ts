/**
 * Faithfulness of the labelled maps as a job: deletion, insertion, ROAD and the sanity check of every CAM map the chosen sessions showed that has none cached yet, kept in the project.
 */
import type { CamMethodName, Model } from '../../src-shared/contract.ts';
import { CAM_METHOD_NAMES } from '../../src-shared/contract.ts';
import type { JobTask } from '../runtime/jobs.ts';
import { verifiedModel } from '../models/identity.ts';
import { DEFAULT_STEPS } from '../explain/metrics/run.ts';
import { collect } from './collect.ts';
import { sessionsOf, type AggregateContext } from './aggregation.ts';

/** The faithfulness metrics of every CAM map the chosen sessions showed that has none cached yet. */
export function faithfulnessTask(
  context: AggregateContext,
  sessionIds: number[] | undefined,
  steps = DEFAULT_STEPS,
): JobTask {
  const { project, pool } = context;
  const collected = collect(project, sessionsOf(project, sessionIds));
  const wanted = new Map<
    string,
    { model: Model; method: CamMethodName; layer: string; target: number; imageIds: Set<number> }
  >();
  const models = new Map(project.models.list().map((m) => [m.fileHash, m]));
  for (const r of collected.records) {
    r.methods.forEach((method, i) => {
      const model = models.get(r.modelHash);
      if (
        !model ||
        r.kinds[i] !== 'cam' ||
        !(CAM_METHOD_NAMES as readonly string[]).includes(method) ||
        r.classIndex < 0
      )
        return;
      if (
        project.aggregate.faithfulness({
          modelHash: r.modelHash,
          imageId: r.imageId,
          method,
          layer: r.layers[i]!,
          targetClass: r.classIndex,
        })
      )
        return;
      const key = `${r.modelHash}|${method}|${r.layers[i]}|${r.classIndex}`;
      const entry = wanted.get(key) ?? {
        model,
        method: method as CamMethodName,
        layer: r.layers[i]!,
        target: r.classIndex,
        imageIds: new Set<number>(),
      };
      entry.imageIds.add(r.imageId);
      wanted.set(key, entry);
    });
  }
  const total = [...wanted.values()].reduce((a, w) => a + w.imageIds.size, 0);
  return async ({ signal, report }) => {
    let done = 0;
    report('faithfulness', 0, total);
    for (const w of wanted.values()) {
      const ref = await verifiedModel(w.model);
      for (const imageId of w.imageIds) {
        if (signal.aborted) return { cancelled: true, result: { images: done, total } };
        const source = { projectPath: project.path, imageIds: [imageId] };
        const request = { method: w.method, layer: w.layer, target: w.target };
        const [metrics] = await pool.call('metrics', { model: ref, source, request, steps }, { signal });
        const sanity = await pool.call('sanity', { model: ref, source, request, fullOnly: true }, { signal });
        project.aggregate.putFaithfulness([
          {
            modelHash: w.model.fileHash,
            imageId,
            method: w.method,
            layer: w.layer,
            targetClass: w.target,
            steps,
            deletion: metrics!.deletion.auc,
            insertion: metrics!.insertion.auc,
            road: metrics!.road.combined,
            sanity: sanity.steps.at(-1)?.spearman ?? null,
          },
        ]);
        report('faithfulness', ++done, total);
      }
    }
    return { result: { images: done, total } };
  };
}
