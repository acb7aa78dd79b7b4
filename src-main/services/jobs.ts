/** The open project's jobs: the list, cancelling one, and starting an ended one again. */
import { methods, type Job, type ParsedRequest, type Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { startFaithfulness } from '../aggregate/service.ts';
import { startImport } from '../datasets/service.ts';
import { startIndex } from '../explain/dataset-index.ts';
import { startGenerative } from '../explain/generative-service.ts';
import { startExplain, startMetrics } from '../explain/service.ts';
import { startTraining } from '../explain/train-explainers.ts';
import { startMap } from '../explain/dataset-map.ts';
import { startStrategies } from '../explain/strategies.ts';
import { startTcav } from '../aggregate/tcav.ts';
import { startBenchmark } from '../explain/benchmark-service.ts';
import { startInference } from '../inference/service.ts';
import type { Context } from '../runtime/context.ts';

export const listJobs = (ctx: Context): Result<'jobs.list'> => ctx.jobs.list();
export const cancelJob = (ctx: Context, { jobId }: ParsedRequest<'jobs.cancel'>): Result<'jobs.cancel'> => ({
  cancelled: ctx.jobs.cancel(jobId),
});

/** Starts an ended job again with the request it was started with (the Jobs panel's "Run again"). */
export function retryJob(ctx: Context, { jobId }: ParsedRequest<'jobs.retry'>): Job {
  const job = ctx.project.jobs.get(jobId);
  if (!job) throw new ApiError('job_not_found', `No job with id ${jobId}`);
  if (job.status === 'running' || job.status === 'queued' || job.status === 'done')
    throw new ApiError(
      'invalid_request',
      `"${job.title}" is ${job.status}; only an interrupted, failed or cancelled job runs again`,
    );
  const params = ctx.project.jobs.params(jobId);
  const parse = <M extends keyof typeof methods>(method: M) => {
    const parsed = methods[method].request.safeParse(params);
    if (!parsed.success)
      throw new ApiError(
        'invalid_request',
        `"${job.title}" was started with a request this version cannot run again; start it anew`,
      );
    return parsed.data as ParsedRequest<M>;
  };
  switch (job.kind) {
    case 'import':
      return startImport(ctx, parse('datasets.import'));
    case 'inference':
      return startInference(ctx, parse('inference.run'));
    case 'explain':
      return startExplain(ctx, parse('explain.selection'));
    case 'metrics':
      return startMetrics(ctx, parse('explain.metricsSelection'));
    case 'generative':
      return startGenerative(ctx, parse('generative.selection'));
    case 'index':
      return startIndex(ctx, parse('generative.index'));
    case 'faithfulness':
      return startFaithfulness(ctx, parse('aggregate.faithfulness'));
    case 'training':
      return startTraining(ctx, parse('explainers.train'));
    case 'benchmark':
      return startBenchmark(ctx, parse('benchmark.run'));
    case 'map':
      return startMap(ctx, parse('map.build'));
    case 'strategies':
      return startStrategies(ctx, parse('strategies.run'));
    case 'tcav':
      return startTcav(ctx, parse('tcav.run'));
  }
}

export const runAgain = (ctx: Context, request: ParsedRequest<'jobs.retry'>): Result<'jobs.retry'> => ({
  jobId: retryJob(ctx, request).id,
});
