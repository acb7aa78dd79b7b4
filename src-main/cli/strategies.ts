/**
 * `xaiws strategies`: SpRAy for one class as JSON: the clusters ranked by unusualness with their sizes,
 * shares predicted as the class and most typical images; --full adds the mean maps and every member.
 */
import {
  CAM_METHOD_NAMES,
  type CamMethodName,
  type Job,
  type MethodName,
  type Request,
  type Result,
} from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';

interface Client {
  call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>>;
}

type Values = Record<string, string | boolean | undefined>;
type NumberArg = (value: string | boolean | undefined, what: string) => number;

export async function strategiesCommand(
  client: Client,
  values: Values,
  number: NumberArg,
  waitFor: (jobId: string) => Promise<Job>,
): Promise<unknown> {
  const modelId = number(values.model, '--model');
  const datasetId = number(values.dataset, '--dataset');
  const classIndex = Number(values.class);
  if (!Number.isInteger(classIndex) || classIndex < 0)
    throw new ApiError('invalid_request', `--class must be a class index (got "${values.class}")`);
  const method = (values.method ?? 'gradcam') as string;
  if (!(CAM_METHOD_NAMES as readonly string[]).includes(method))
    throw new ApiError('invalid_request', `Unknown method "${method}"; one of ${CAM_METHOD_NAMES.join(', ')}`);
  const { jobId } = await client.call('strategies.run', {
    modelId,
    datasetId,
    classIndex,
    method: method as CamMethodName,
    layer: typeof values.layer === 'string' ? values.layer : undefined,
    images: values.images ? number(values.images, '--images') : undefined,
    clusters: values.clusters ? number(values.clusters, '--clusters') : undefined,
  });
  const job = await waitFor(jobId);
  const report = await client.call('strategies.result', {
    modelId,
    datasetId,
    classIndex,
    method: method as CamMethodName,
  });
  if (!report || values.full) return { status: job.status, ...report };
  const { classMean: _mean, clusters, ...rest } = report;
  return {
    status: job.status,
    ...rest,
    clusters: clusters.map(({ meanMap: _map, members, ...cluster }) => ({ ...cluster, typical: members.slice(0, 10) })),
  };
}
