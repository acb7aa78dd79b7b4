/**
 * Explanations for a project: maps of one image (served from the project's cache when there), the
 * layers a model offers, and a whole filtered selection as one cancellable job. Every call first makes
 * sure the model file is still the one registered (same hash), so cached maps never describe another
 * model and a changed file is reported instead of silently explained.
 */
import { layerOfMethod, Smoothing, type CamMethodName } from '../../src-shared/contract.ts';
import type {
  Explanation,
  ImageMetrics,
  Job,
  LayerInfo,
  LayerwiseExplanation,
  Model,
  ParsedRequest,
  Result,
  SanityCheck,
} from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { JobTask } from '../runtime/jobs.ts';
import type { Context } from '../runtime/context.ts';
import { verifiedModel } from '../models/identity.ts';
import type { StoredExplanation } from '../store/explanations.ts';
import type { Project } from '../store/project.ts';

export const EXPLAIN_JOB_BATCH = 32;
/** A map's parameters in the cache key: '{}' for the defaults, else the smoothing. */
const NO_PARAMS = '{}';
const paramsOf = (smoothing: Smoothing | undefined) =>
  smoothing && smoothing !== 'none' ? JSON.stringify({ smoothing }) : NO_PARAMS;
const smoothingOf = (params: string): Smoothing => {
  const parsed = Smoothing.safeParse((JSON.parse(params) as { smoothing?: unknown }).smoothing ?? 'none');
  return parsed.success ? parsed.data : 'none';
};

/** What the worker and the cache see of a request: the method's own layer, the smoothing. */
function camRequest(request: { method: CamMethodName; layer: string; smoothing?: Smoothing }) {
  return { method: request.method, layer: layerOfMethod(request.method, request.layer), smoothing: request.smoothing };
}

export async function layers(ctx: Context, { modelId }: ParsedRequest<'explain.layers'>): Promise<LayerInfo[]> {
  return ctx.pool.call('camLayers', { model: await verifiedModel(ctx.model(modelId)), prepare: true });
}

type ImageRequest = ParsedRequest<'explain.image'>;

function checkTarget(model: Model, target: number): void {
  if (target >= model.manifest.classes.length) {
    throw new ApiError(
      'invalid_request',
      `Target class ${target} is not one of the model's ${model.manifest.classes.length} classes (0..${model.manifest.classes.length - 1})`,
    );
  }
}

const className = (model: Model, index: number) => model.manifest.classes[index] ?? String(index);

/** The checks every one-image request shares: a class the model has, an image the project has, an unchanged model file. */
async function oneImage(project: Project, model: Model, request: { imageId: number; target: number }) {
  checkTarget(model, request.target);
  if (!project.images.has(request.imageId))
    throw new ApiError('image_not_found', `No image with id ${request.imageId} in this project`);
  return { ref: await verifiedModel(model), source: { projectPath: project.path, imageIds: [request.imageId] } };
}

/**
 * Walks `ids` in batches of EXPLAIN_JOB_BATCH until done or cancelled, one batch ahead: the worker
 * computes the next batch while this process stores the last, so neither waits for the other. A run
 * cancelled inside the worker ends the walk like a cancel between batches, and what earlier batches
 * produced stays.
 */
async function inBatches<T>(
  ids: number[],
  signal: AbortSignal,
  run: (batch: number[]) => Promise<T[]>,
  use: (batch: number[], results: T[]) => void,
): Promise<void> {
  const batchAt = (start: number) => ids.slice(start, start + EXPLAIN_JOB_BATCH);
  const started = (batch: number[]) => {
    const results = run(batch);
    results.catch(() => {}); // awaited below; a batch ahead that fails while the last is stored is not unhandled
    return { batch, results };
  };
  let next = ids.length > 0 ? started(batchAt(0)) : null;
  for (let start = 0; next && !signal.aborted; start += EXPLAIN_JOB_BATCH) {
    const { batch, results: pending } = next;
    let results: T[];
    try {
      results = await pending;
    } catch (error) {
      if (signal.aborted && error instanceof ApiError && error.code === 'cancelled') return;
      throw error;
    }
    const following = start + EXPLAIN_JOB_BATCH;
    next = following < ids.length && !signal.aborted ? started(batchAt(following)) : null;
    use(batch, results);
  }
}

function toExplanation(model: Model, stored: StoredExplanation, cached: boolean): Explanation {
  return {
    imageId: stored.imageId,
    method: stored.method as Explanation['method'],
    layer: stored.layer,
    target: stored.targetClass,
    targetClass: className(model, stored.targetClass),
    smoothing: smoothingOf(stored.params),
    layerShape: [stored.height, stored.width],
    map: Array.from(stored.map),
    logits: Array.from(stored.logits),
    cached,
  };
}

export async function explainImage(ctx: Context, request: ImageRequest): Promise<Explanation> {
  const { project, pool } = ctx;
  const model = ctx.model(request.modelId);
  const { ref, source } = await oneImage(project, model, request);
  const cam = camRequest(request);
  const key = {
    modelHash: model.fileHash,
    imageId: request.imageId,
    method: cam.method,
    layer: cam.layer,
    requestedClass: request.target,
    params: paramsOf(cam.smoothing),
  };
  const cached = project.explanations.get(key);
  if (cached) return toExplanation(model, cached, true);
  const [result] = (await pool.call('cam', { model: ref, source, request: { ...cam, targets: [request.target] } }))
    .results;
  const stored: StoredExplanation = {
    ...key,
    targetClass: result!.target,
    height: result!.layerShape[0],
    width: result!.layerShape[1],
    map: result!.map,
    logits: result!.logits,
  };
  project.explanations.putMany([stored]);
  return toExplanation(model, stored, false);
}

function explainSelectionTask(
  project: Project,
  pool: Context['pool'],
  model: Model,
  request: ParsedRequest<'explain.selection'>,
): JobTask {
  checkTarget(model, request.target);
  return async ({ signal, report }) => {
    const ref = await verifiedModel(model);
    const ids = Array.from(project.images.matchingIds(request.query));
    const cam = camRequest(request);
    const base = {
      modelHash: model.fileHash,
      method: cam.method,
      layer: cam.layer,
      requestedClass: request.target,
      params: paramsOf(cam.smoothing),
    };
    const todo = project.explanations.missing(base, ids);
    const started = performance.now();
    let done = ids.length - todo.length;
    const stage = cam.layer === request.layer ? `${request.method} at ${request.layer}` : request.method;
    report(stage, done, ids.length);
    await inBatches(
      todo,
      signal,
      (batch) =>
        pool
          .call(
            'cam',
            {
              model: ref,
              source: { projectPath: project.path, imageIds: batch },
              request: { ...cam, targets: batch.map(() => request.target) },
            },
            {
              signal,
              progress: ({ done: inner, total }) =>
                report(stage, done + Math.round((inner / total) * batch.length), ids.length),
            },
          )
          .then((reply) => reply.results),
      (batch, results) => {
        project.explanations.putMany(
          results.map((r, i) => ({
            ...base,
            imageId: batch[i]!,
            targetClass: r.target,
            height: r.layerShape[0],
            width: r.layerShape[1],
            map: r.map,
            logits: r.logits,
          })),
        );
        done += batch.length;
        report(stage, done, ids.length);
      },
    );
    const seconds = (performance.now() - started) / 1000;
    return {
      cancelled: signal.aborted,
      result: {
        images: ids.length,
        computed: done - (ids.length - todo.length),
        cached: ids.length - todo.length,
        seconds: Number(seconds.toFixed(3)),
        provider: pool.provider.active,
      },
    };
  };
}

/** Clustered feature maps of every conv layer for one image, stored once per model file, image and class. */
export async function explainLayerwise(
  ctx: Context,
  request: ParsedRequest<'explain.layerwise'>,
): Promise<LayerwiseExplanation> {
  const { project, pool } = ctx;
  const model = ctx.model(request.modelId);
  const { ref, source } = await oneImage(project, model, request);
  const key = {
    modelHash: model.fileHash,
    imageId: request.imageId,
    requestedClass: request.target,
    params: NO_PARAMS,
  };
  let stored = project.layerClusters.find(key);
  const cached = stored !== undefined;
  if (!stored) {
    const result = await pool.call('layerwise', { model: ref, source, target: request.target });
    project.layerClusters.save(key, result);
    stored = project.layerClusters.find(key)!;
  }
  return { ...stored, targetClass: className(model, stored.target), cached };
}

export async function imageMetrics(ctx: Context, request: ParsedRequest<'explain.metrics'>): Promise<ImageMetrics> {
  const { project, pool } = ctx;
  const model = ctx.model(request.modelId);
  const { ref, source } = await oneImage(project, model, request);
  const [result] = await pool.call('metrics', {
    model: ref,
    source,
    request: { ...camRequest(request), target: request.target },
    steps: request.steps,
  });
  const { explanation, deletion, insertion, road } = result!;
  return {
    imageId: request.imageId,
    method: request.method,
    layer: layerOfMethod(request.method, request.layer),
    smoothing: request.smoothing ?? 'none',
    target: explanation.target,
    targetClass: className(model, explanation.target),
    layerShape: explanation.layerShape,
    map: Array.from(explanation.map),
    steps: request.steps,
    deletion,
    insertion,
    road,
  };
}

export async function sanityCheck(ctx: Context, request: ParsedRequest<'explain.sanity'>): Promise<SanityCheck> {
  const { project, pool } = ctx;
  const model = ctx.model(request.modelId);
  const { ref, source } = await oneImage(project, model, request);
  const { original, steps } = await pool.call('sanity', {
    model: ref,
    source,
    request: { ...camRequest(request), target: request.target },
    fullOnly: false,
  });
  return {
    imageId: request.imageId,
    method: request.method,
    layer: layerOfMethod(request.method, request.layer),
    smoothing: request.smoothing ?? 'none',
    target: original.target,
    targetClass: className(model, original.target),
    steps,
  };
}

/** Deletion, insertion and ROAD over a filtered selection, averaged; one job, cancellable between batches. */
function metricsSelectionTask(
  project: Project,
  pool: Context['pool'],
  model: Model,
  request: ParsedRequest<'explain.metricsSelection'>,
): JobTask {
  checkTarget(model, request.target);
  return async ({ signal, report }) => {
    const ref = await verifiedModel(model);
    const ids = Array.from(project.images.matchingIds(request.query));
    const stage = `${request.method} metrics`;
    const sums = { deletion: 0, insertion: 0, road: 0 };
    let done = 0;
    report(stage, 0, ids.length);
    await inBatches(
      ids,
      signal,
      (batch) =>
        pool.call(
          'metrics',
          {
            model: ref,
            source: { projectPath: project.path, imageIds: batch },
            request: { ...camRequest(request), target: request.target },
            steps: request.steps,
          },
          {
            signal,
            progress: ({ done: inner }) => report(stage, done + inner, ids.length),
          },
        ),
      (_, results) => {
        for (const r of results) {
          sums.deletion += r.deletion.auc;
          sums.insertion += r.insertion.auc;
          sums.road += r.road.combined;
        }
        done += results.length;
        report(stage, done, ids.length);
      },
    );
    const mean = (value: number) => (done > 0 ? Number((value / done).toFixed(4)) : null);
    return {
      cancelled: signal.aborted,
      result: {
        method: request.method,
        layer: request.layer,
        images: done,
        deletionAuc: mean(sums.deletion),
        insertionAuc: mean(sums.insertion),
        roadCombined: mean(sums.road),
      },
    };
  };
}

export function startExplain(ctx: Context, request: ParsedRequest<'explain.selection'>): Job {
  const model = ctx.model(request.modelId);
  return ctx.jobs.start(
    'explain',
    `${request.method} of a selection with ${model.name}`,
    request,
    explainSelectionTask(ctx.project, ctx.pool, model, request),
  );
}

export const explainSelection = (
  ctx: Context,
  request: ParsedRequest<'explain.selection'>,
): Result<'explain.selection'> => ({ jobId: startExplain(ctx, request).id });

export function startMetrics(ctx: Context, request: ParsedRequest<'explain.metricsSelection'>): Job {
  const model = ctx.model(request.modelId);
  return ctx.jobs.start(
    'metrics',
    `${request.method} metrics of a selection with ${model.name}`,
    request,
    metricsSelectionTask(ctx.project, ctx.pool, model, request),
  );
}

export const metricsSelection = (
  ctx: Context,
  request: ParsedRequest<'explain.metricsSelection'>,
): Result<'explain.metricsSelection'> => ({ jobId: startMetrics(ctx, request).id });

/** The maps of one image already in the project's cache, for this model. */
export function cachedExplanations(ctx: Context, { modelId, imageId }: ParsedRequest<'explain.cached'>): Explanation[] {
  const model = ctx.model(modelId);
  return ctx.project.explanations.forImage(model.fileHash, imageId).map((e) => toExplanation(model, e, true));
}
