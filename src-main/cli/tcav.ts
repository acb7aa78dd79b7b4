/**
 * `xaiws tcav`: the atlas's concepts tested on the model (TCAV) as JSON: per concept, the classes people
 * labelled it in with their score, p-value and verdict at the best layer, and the most aligned images;
 * --full adds every class at every layer.
 */
import type { Job, MethodName, Request, Result } from '../../src-shared/contract.ts';

interface Client {
  call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>>;
}

type Values = Record<string, string | boolean | undefined>;
type NumberArg = (value: string | boolean | undefined, what: string) => number;

export async function tcavCommand(
  client: Client,
  values: Values,
  number: NumberArg,
  waitFor: (jobId: string) => Promise<Job>,
): Promise<unknown> {
  const modelId = number(values.model, '--model');
  const datasetId = number(values.dataset, '--dataset');
  const { jobId } = await client.call('tcav.run', {
    modelId,
    datasetId,
    layers: typeof values.layer === 'string' ? values.layer.split(',').map((l) => l.trim()) : undefined,
    runs: values.samples ? number(values.samples, '--samples') : undefined,
    concepts: values.top ? number(values.top, '--top') : undefined,
  });
  const job = await waitFor(jobId);
  const report = await client.call('tcav.result', { modelId, datasetId });
  if (!report || values.full) return { status: job.status, ...report };
  return {
    status: job.status,
    ...report,
    concepts: report.concepts.map(({ scores: _scores, aligned, ...concept }) => ({
      ...concept,
      aligned: aligned.slice(0, 8),
    })),
  };
}
