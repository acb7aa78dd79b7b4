/**
 * The inference job: walks a dataset in batches, runs them in the inference pool (up to one batch in
 * flight per worker plus one queued, so workers never wait on the main thread), and stores logits
 * and probabilities per image. Cancel stops between batches; stored predictions stay.
 */
import type { Model } from '../../src-shared/contract.ts';
import type { JobTask } from '../runtime/jobs.ts';
import { verifiedModel } from '../models/identity.ts';
import type { Project } from '../store/project.ts';
import type { NewPrediction } from '../store/predictions.ts';
import type { InferencePool } from '../workers/inference-pool.ts';
import { softmax } from './runtime/tensor.ts';

export const DEFAULT_BATCH_SIZE = 256;

/** `resume`: classify only the images without a prediction yet (an interrupted job going on). */
export function inferenceTask(
  project: Project,
  pool: InferencePool,
  model: Model,
  datasetId: number,
  batchSize = DEFAULT_BATCH_SIZE,
  resume = false,
): JobTask {
  return async ({ signal, report }) => {
    const total = project.images.count(datasetId);
    const classes = model.manifest.classes;
    const ref = await verifiedModel(model); // a changed model file or weights file is refused, never used
    const started = performance.now();
    let done = resume ? project.predictions.count(model.id, datasetId) : 0;
    const inFlight = new Set<Promise<void>>();
    report('running model', done, total);
    for (const ids of project.images.idsInPages(datasetId, batchSize, resume ? model.id : undefined)) {
      if (signal.aborted) break;
      const batch = pool.call('inferImages', { model: ref, projectPath: project.path, imageIds: ids }).then((reply) => {
        project.predictions.upsertBatch(
          model.id,
          classes,
          toPredictions(ids, reply.output, classes.length, model.manifest.output.kind),
        );
        done += ids.length;
        report('running model', done, total);
      });
      inFlight.add(batch);
      batch.finally(() => inFlight.delete(batch)).catch(() => undefined);
      if (inFlight.size >= 2) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - started) / 1000;
    const confusion = project.predictions.confusion(model.id, datasetId, classes, project.datasets.classes(datasetId));
    return {
      cancelled: signal.aborted,
      result: {
        images: done,
        seconds: Number(seconds.toFixed(3)),
        imagesPerSecond: Math.round(done / Math.max(seconds, 1e-9)),
        accuracy: confusion.accuracy,
        provider: pool.provider.active,
      },
    };
  };
}

export function toPredictions(
  ids: number[],
  output: Float32Array,
  classCount: number,
  kind: 'logits' | 'probabilities',
): NewPrediction[] {
  return ids.map((imageId, row) => {
    const offset = row * classCount;
    const probabilities = new Float32Array(classCount);
    if (kind === 'logits') softmax(output, offset, classCount, probabilities);
    else probabilities.set(output.subarray(offset, offset + classCount));
    let best = 0;
    for (let c = 1; c < classCount; c++) if (probabilities[c]! > probabilities[best]!) best = c;
    return {
      imageId,
      predictedIndex: best,
      confidence: probabilities[best]!,
      logits: kind === 'logits' ? output.slice(offset, offset + classCount) : null,
      probabilities,
    };
  });
}
