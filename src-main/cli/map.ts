/**
 * `xaiws map`: the dataset map of a model as JSON. By default a summary (the images the scores single
 * out, the near-duplicate pairs and the leaks between splits); --full adds every column; --similar ID
 * prints an image's nearest neighbours on the stored map instead of building it.
 */
import type { DatasetMap, Job, MethodName, Request, Result } from '../../src-shared/contract.ts';

interface Client {
  call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>>;
}

type Values = Record<string, string | boolean | undefined>;
type NumberArg = (value: string | boolean | undefined, what: string) => number;

export const TOP = 10;

/** The `TOP` images with the highest score, with what the map knows of them. */
function top(map: DatasetMap, scores: (number | null)[]) {
  return scores
    .map((score, row) => ({ row, score }))
    .filter((e): e is { row: number; score: number } => e.score !== null)
    .sort((a, b) => b.score - a.score || map.imageIds[a.row]! - map.imageIds[b.row]!)
    .slice(0, TOP)
    .map(({ row, score }) => ({
      imageId: map.imageIds[row]!,
      score,
      className: map.label[row]! >= 0 ? map.classes[map.label[row]!] : null,
      predictedClass: map.classes[map.predicted[row]!],
      confidence: map.confidence[row],
    }));
}

export function mapSummary(map: DatasetMap) {
  const pairs: { imageId: number; duplicateOf: number; leak: boolean }[] = [];
  map.duplicate.forEach((other, row) => {
    const imageId = map.imageIds[row]!;
    if (other !== null && imageId < other) pairs.push({ imageId, duplicateOf: other, leak: map.leak[row]! });
  });
  const labelled = map.label.filter((l) => l >= 0).length;
  const correct = map.label.filter((l, row) => l >= 0 && l === map.predicted[row]).length;
  return {
    datasetId: map.datasetId,
    modelId: map.modelId,
    layer: map.layer,
    createdAt: map.createdAt,
    images: map.imageIds.length,
    missing: map.missing,
    accuracy: labelled ? Number((correct / labelled).toFixed(4)) : null,
    duplicatePairs: map.duplicatePairs,
    leaks: map.leak.filter(Boolean).length,
    mostMistaken: top(map, map.mistakenness),
    hardest: top(map, map.hardness),
    mostUnique: top(map, map.uniqueness),
    duplicates: pairs.slice(0, 50),
  };
}

export async function mapCommand(
  client: Client,
  values: Values,
  number: NumberArg,
  waitFor: (jobId: string) => Promise<Job>,
): Promise<unknown> {
  const modelId = number(values.model, '--model');
  if (values.similar !== undefined)
    return client.call('map.similar', {
      modelId,
      imageId: number(values.similar, '--similar'),
      count: values.top ? number(values.top, '--top') : undefined,
    });
  const datasetId = number(values.dataset, '--dataset');
  const { jobId } = await client.call('map.build', {
    modelId,
    datasetId,
    layer: typeof values.layer === 'string' ? values.layer : undefined,
    rebuild: values.rebuild === true,
  });
  const job = await waitFor(jobId);
  const map = await client.call('map.get', { modelId, datasetId });
  return { status: job.status, job: job.result, ...(map ? (values.full ? map : mapSummary(map)) : {}) };
}
