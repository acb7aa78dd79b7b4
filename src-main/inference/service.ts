/** Classifying a dataset with a model (a job), and the confusion matrix of the stored predictions. */
import type { Job, ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { Context } from '../runtime/context.ts';
import { inferenceTask } from './inference-job.ts';

export function startInference(
  ctx: Context,
  { modelId, datasetId, batchSize }: { modelId: number; datasetId: number; batchSize?: number },
  resume = false,
): Job {
  const model = ctx.model(modelId);
  const dataset = ctx.project.datasets.get(datasetId);
  if (!dataset) throw new ApiError('dataset_not_found', `No dataset with id ${datasetId} in this project`);
  const task = inferenceTask(ctx.project, ctx.pool, model, datasetId, batchSize, resume);
  return ctx.jobs.start(
    'inference',
    `Classify ${dataset.name} with ${model.name}`,
    { modelId, datasetId, batchSize },
    task,
  );
}

export const runInference = (ctx: Context, request: ParsedRequest<'inference.run'>): Result<'inference.run'> => ({
  jobId: startInference(ctx, request).id,
});

export function confusion(
  ctx: Context,
  { modelId, datasetId }: ParsedRequest<'stats.confusion'>,
): Result<'stats.confusion'> {
  const model = ctx.model(modelId);
  return ctx.project.predictions.confusion(
    modelId,
    datasetId,
    model.manifest.classes,
    ctx.project.datasets.classes(datasetId),
  );
}
