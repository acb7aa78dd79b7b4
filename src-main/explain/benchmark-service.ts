/**
 * The checks against the truth as the app runs them: truth files found beside the project's datasets,
 * the checks as a cancellable job whose result the project keeps, and the latest result of a model.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Job, ParsedRequest, Result } from '../../src-shared/contract.ts';
import { BenchmarkReport } from '../../src-shared/schemas/benchmark.ts';
import type { Context } from '../runtime/context.ts';
import { readTruth, runBenchmark } from './benchmark.ts';

const TRUTH_FILE = 'benchmark.json';

/** The folder a dataset was imported from: the CSV's or IDX file's folder, or the folder itself. */
function sourceFolder(source: string): string | null {
  try {
    return statSync(source).isDirectory() ? source : dirname(source);
  } catch {
    return null;
  }
}

/** Datasets with a valid benchmark description beside their source (the colour benchmark's benchmark.json). */
export function benchmarkTruths(ctx: Context): Result<'benchmark.truths'> {
  return ctx.project.datasets.list().flatMap((dataset) => {
    const folder = dataset.source ? sourceFolder(dataset.source) : null;
    const path = folder ? join(folder, TRUTH_FILE) : null;
    if (!path || !existsSync(path)) return [];
    try {
      readTruth(path);
    } catch {
      return []; // not a benchmark description: running it by hand names what is wrong
    }
    return [{ datasetId: dataset.id, dataset: dataset.name, path }];
  });
}

export function startBenchmark(ctx: Context, request: ParsedRequest<'benchmark.run'>): Job {
  const model = ctx.model(request.modelId);
  readTruth(request.truth); // a bad file is refused before a job starts
  const title = `Checks against the truth: ${model.name}`;
  return ctx.jobs.start('benchmark', title, { ...request, truth: resolve(request.truth) }, async (job) => {
    const progress = (stage: string, done: number, total: number) => {
      job.signal.throwIfAborted();
      job.report(stage, done, total);
    };
    const report = await runBenchmark(ctx, request, progress, job.signal);
    return { result: report };
  });
}

export const runChecks = (ctx: Context, request: ParsedRequest<'benchmark.run'>): Result<'benchmark.run'> => ({
  jobId: startBenchmark(ctx, request).id,
});

/** The newest finished checks of this model against this truth file (null when none ran). */
export function benchmarkResult(
  ctx: Context,
  { modelId, truth }: ParsedRequest<'benchmark.result'>,
): Result<'benchmark.result'> {
  const wanted = resolve(truth);
  const finished = ctx.jobs
    .list()
    .filter((job) => job.kind === 'benchmark' && job.status === 'done')
    .filter((job) => {
      const params = ctx.project.jobs.params(job.id) as { modelId?: number; truth?: string } | undefined;
      return params?.modelId === modelId && params.truth === wanted;
    })
    .sort((a, b) => (b.finishedAt ?? '').localeCompare(a.finishedAt ?? ''));
  for (const job of finished) {
    const parsed = BenchmarkReport.safeParse(job.result);
    if (parsed.success) return parsed.data;
  }
  return null;
}
