/**
 * The dataset map as the app runs it: one job embeds a dataset's images with a model (in the
 * inference workers, a page at a time), then a worker computes the map (explain/map/build.ts); the
 * project keeps it under the model's file hash, the dataset and the layer. Run again, the job embeds
 * only the images added since and places them on the stored map; a dataset that lost images, or
 * gained more than it had, is mapped again from the start.
 */
import type { Job, ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { DatasetMap } from '../../src-shared/schemas/map.ts';
import type { JobTask } from '../runtime/jobs.ts';
import { modelScope, type Context, type ModelScope } from '../runtime/context.ts';
import { verifiedModel } from '../models/identity.ts';
import type { Project } from '../store/project.ts';
import type { MapData, MapInputs } from './map/build.ts';

export const EMBED_PAGE = 256;
const KIND = 'map';

/** What the project keeps of a map: the engine's data and the images it covers, in its row order. */
export interface StoredMap extends MapData {
  imageIds: Int32Array;
  layer: string;
}

export const mapKey = (modelHash: string) => `map:${modelHash}`;

const STAGES: Record<string, string> = {
  components: 'principal components',
  neighbours: 'nearest neighbours',
  layout: 'UMAP layout',
};

async function embedImages(
  { project, pool, model }: ModelScope,
  imageIds: number[],
  layer: string | null,
  report: (done: number) => void,
  signal: AbortSignal,
): Promise<MapInputs & { layer: string }> {
  const ref = await verifiedModel(model);
  const classes = model.manifest.classes;
  const info = project.images.labelsAndSplits(project.images.detail(imageIds[0]!)!.datasetId);
  const chunks: Float32Array[] = [];
  const probabilities = new Float32Array(imageIds.length * classes.length);
  let dims = 0;
  let resolved = layer ?? '';
  for (let at = 0; at < imageIds.length; at += EMBED_PAGE) {
    signal.throwIfAborted();
    const page = imageIds.slice(at, at + EMBED_PAGE);
    const reply = await pool.call(
      'embed',
      { model: ref, projectPath: project.path, imageIds: page, layer },
      { signal },
    );
    if (reply.classes !== classes.length)
      throw new ApiError(
        'model_invalid',
        `${model.name} gave ${reply.classes} scores an image; its manifest names ${classes.length} classes`,
      );
    chunks.push(reply.embedding);
    probabilities.set(reply.probabilities, at * classes.length);
    dims = reply.dims;
    resolved = reply.layer;
    report(at + page.length);
  }
  const embedding = new Float32Array(imageIds.length * dims);
  chunks.reduce((offset, chunk) => (embedding.set(chunk, offset), offset + chunk.length), 0);
  return {
    embedding,
    dims,
    probabilities,
    classes: classes.length,
    labels: Int32Array.from(imageIds, (id) => classes.indexOf(info.get(id)?.className ?? '\0')),
    splits: imageIds.map((id) => info.get(id)?.split ?? null),
    layer: resolved,
  };
}

function mapTask(scope: ModelScope, request: ParsedRequest<'map.build'>): JobTask {
  const { project, pool, model } = scope;
  return async ({ signal, report }) => {
    const started = performance.now();
    const ids = project.images.classNames(request.datasetId).ids;
    if (ids.length < 2) throw new ApiError('invalid_request', 'A dataset map needs at least 2 images');
    const key = mapKey(model.fileHash);
    const variant = request.layer ?? '';
    const stored = request.rebuild
      ? undefined
      : project.generative.getIndex<StoredMap>(key, request.datasetId, KIND, variant)?.payload;
    const present = new Set(ids);
    const mapped = new Set(stored?.imageIds ?? []);
    const added = ids.filter((id) => !mapped.has(id));
    const removed = stored ? stored.imageIds.some((id) => !present.has(id)) : false;
    const extend = stored !== undefined && !removed && added.length <= stored.imageIds.length;
    if (extend && added.length === 0)
      return { cancelled: false, result: { images: ids.length, added: 0, upToDate: true } };
    const todo = extend ? added : ids;
    report('embedding images', 0, todo.length);
    const inputs = await embedImages(
      scope,
      todo,
      request.layer ?? null,
      (done) => report('embedding images', done, todo.length),
      signal,
    );
    const data = await pool.call(
      'datasetMap',
      { inputs, previous: extend ? stored : undefined },
      {
        signal,
        progress: ({ stage, done, total }) => report(STAGES[stage ?? ''] ?? 'dataset map', done, total),
      },
    );
    const imageIds = extend ? Int32Array.from([...stored!.imageIds, ...todo]) : Int32Array.from(todo);
    project.generative.putIndex(key, request.datasetId, KIND, variant, {
      ...data,
      imageIds,
      layer: inputs.layer,
    } satisfies StoredMap);
    forgetCached();
    return {
      cancelled: false,
      result: {
        images: imageIds.length,
        added: extend ? todo.length : imageIds.length,
        layer: inputs.layer,
        duplicatePairs: data.duplicatePairs,
        seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
      },
    };
  };
}

export function startMap(ctx: Context, request: ParsedRequest<'map.build'>): Job {
  const scope = modelScope(ctx, request.modelId);
  const dataset = ctx.project.datasets.get(request.datasetId);
  if (!dataset) throw new ApiError('dataset_not_found', `No dataset with id ${request.datasetId} in this project`);
  return ctx.jobs.start('map', `Map of ${dataset.name} by ${scope.model.name}`, request, mapTask(scope, request));
}

export const buildDatasetMap = (ctx: Context, request: ParsedRequest<'map.build'>): Result<'map.build'> => ({
  jobId: startMap(ctx, request).id,
});

/** The newest stored map, read once per version (a 70,000-image map is 20 MB to deserialise). */
let cached: { project: Project; key: string; datasetId: number; createdAt: string; map: StoredMap } | undefined;
function forgetCached() {
  cached = undefined;
}

export function newestMap(
  project: Project,
  modelHash: string,
  datasetId: number,
): { map: StoredMap; createdAt: string } | undefined {
  const key = mapKey(modelHash);
  const stamp = project.generative.latestIndexStamp(key, datasetId, KIND);
  if (!stamp) return undefined;
  if (
    cached?.project === project &&
    cached.key === key &&
    cached.datasetId === datasetId &&
    cached.createdAt === stamp.createdAt
  )
    return { map: cached.map, createdAt: stamp.createdAt };
  const map = project.generative.getIndex<StoredMap>(key, datasetId, KIND, stamp.variant)!.payload;
  cached = { project, key, datasetId, createdAt: stamp.createdAt, map };
  return { map, createdAt: stamp.createdAt };
}

const round = (values: ArrayLike<number>, digits: number) => Array.from(values, (v) => Number(v.toPrecision(digits)));

export function getDatasetMap(ctx: Context, { modelId, datasetId }: ParsedRequest<'map.get'>): Result<'map.get'> {
  const model = ctx.model(modelId);
  if (!ctx.project.datasets.get(datasetId))
    throw new ApiError('dataset_not_found', `No dataset with id ${datasetId} in this project`);
  const found = newestMap(ctx.project, model.fileHash, datasetId);
  if (!found) return null;
  const { map, createdAt } = found;
  const ids = map.imageIds;
  return {
    datasetId,
    modelId,
    layer: map.layer,
    createdAt,
    classes: model.manifest.classes,
    imageIds: Array.from(ids),
    x: round(
      Float32Array.from({ length: ids.length }, (_, i) => map.layout[2 * i]!),
      5,
    ),
    y: round(
      Float32Array.from({ length: ids.length }, (_, i) => map.layout[2 * i + 1]!),
      5,
    ),
    label: Array.from(map.labels),
    predicted: Array.from(map.predicted),
    confidence: round(map.confidence, 4),
    hardness: round(map.hardness, 4),
    mistakenness: Array.from(map.mistakenness, (m) => (Number.isNaN(m) ? null : Number(m.toPrecision(4)))),
    uniqueness: round(map.uniqueness, 4),
    duplicate: Array.from(map.duplicate, (d) => (d < 0 ? null : ids[d]!)),
    leak: Array.from(map.leak, (l) => l === 1),
    duplicatePairs: map.duplicatePairs,
    missing: Math.max(0, ctx.project.images.count(datasetId) - ids.length),
  } satisfies DatasetMap;
}

export function similarImages(
  ctx: Context,
  { modelId, imageId, count }: ParsedRequest<'map.similar'>,
): Result<'map.similar'> {
  const model = ctx.model(modelId);
  const detail = ctx.project.images.detail(imageId);
  if (!detail) throw new ApiError('image_not_found', `No image with id ${imageId} in this project`);
  const found = newestMap(ctx.project, model.fileHash, detail.datasetId);
  if (!found)
    throw new ApiError(
      'index_missing',
      `The dataset of image ${imageId} has no map by ${model.name} yet: build it with "Map dataset" (a job)`,
    );
  const { map } = found;
  const row = map.imageIds.indexOf(imageId);
  if (row < 0)
    throw new ApiError(
      'index_missing',
      `Image ${imageId} was added after the map was made: update the map (a job) to place it`,
    );
  const { indices, distances, k } = map.neighbours;
  const classes = model.manifest.classes;
  const neighbours = [];
  for (let c = 0; c < Math.min(k, count); c++) {
    const other = indices[row * k + c]!;
    neighbours.push({
      imageId: map.imageIds[other]!,
      distance: Number(distances[row * k + c]!.toPrecision(5)),
      className: map.labels[other]! >= 0 ? classes[map.labels[other]!]! : null,
      predictedClass: classes[map.predicted[other]!] ?? null,
      duplicate: distances[row * k + c]! <= map.duplicateThreshold,
    });
  }
  return { imageId, layer: map.layer, neighbours };
}
