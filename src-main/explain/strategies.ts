/**
 * Strategy discovery (SpRAy) as a job: one method's maps of a class's images (computed in the inference
 * workers, a batch at a time, for the class as the target), downsampled to at most 32 x 32 and
 * normalised to sum 1, clustered spectrally in a worker (explain/map/spectral.ts); each cluster's mean
 * map, members (most typical first), share predicted as the class, and rank by unusualness. The job's
 * result is the report; the newest finished one is the answer of `strategies.result`.
 */
import type { Job, ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { layerOfMethod } from '../../src-shared/schemas/explain.ts';
import { StrategyReport, type StrategyCluster } from '../../src-shared/schemas/strategies.ts';
import type { Context } from '../runtime/context.ts';
import { verifiedModel } from '../models/identity.ts';

export const STRATEGY_BATCH = 32;
export const MAP_SIDE = 32;

/** A map area-averaged down to at most `side` x `side`, clamped at 0 and scaled to sum 1. */
export function normalisedMap(map: Float32Array, height: number, width: number, side = MAP_SIDE) {
  const [h, w] = [Math.min(height, side), Math.min(width, side)];
  const out = new Float32Array(h * w);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const v = map[y * width + x]!;
      if (v > 0) out[Math.floor((y * h) / height) * w + Math.floor((x * w) / width)]! += v;
    }
  let sum = 0;
  for (const v of out) sum += v;
  if (sum > 0) for (let i = 0; i < out.length; i++) out[i]! /= sum;
  else out.fill(1 / out.length);
  return { map: out, shape: [h, w] as [number, number] };
}

/** Clusters as the report shows them, from the maps and an assignment. */
export function describeClusters(
  maps: Float32Array,
  size: number,
  assignment: Int32Array,
  k: number,
  imageIds: number[],
  predictedAsClass: boolean[],
): { clusters: StrategyCluster[]; classMean: number[] } {
  const n = imageIds.length;
  const mean = (rows: number[]) => {
    const out = new Float64Array(size);
    for (const r of rows) for (let p = 0; p < size; p++) out[p]! += maps[r * size + p]!;
    return out.map((v) => v / Math.max(1, rows.length));
  };
  const all = mean(Array.from({ length: n }, (_, i) => i));
  const l1 = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let s = 0;
    for (let p = 0; p < size; p++) s += Math.abs(a[p]! - b[p]!);
    return s;
  };
  const round = (v: number) => Number(v.toPrecision(4));
  const clusters = Array.from({ length: k }, (_, c) => {
    const rows = Array.from({ length: n }, (_, i) => i).filter((i) => assignment[i] === c);
    const centre = mean(rows);
    const share = rows.length / n;
    const typical = rows
      .map((r) => ({ r, d: l1(maps.subarray(r * size, (r + 1) * size), centre) }))
      .sort((a, b) => a.d - b.d || a.r - b.r);
    return {
      rank: 0,
      size: rows.length,
      share: round(share),
      unusualness: round(l1(centre, all) * (1 - share)),
      predictedAsClass: round(rows.filter((r) => predictedAsClass[r]).length / Math.max(1, rows.length)),
      meanMap: Array.from(centre, round),
      members: typical.map(({ r }) => imageIds[r]!),
    };
  })
    .filter((c) => c.size > 0)
    .sort((a, b) => b.unusualness - a.unusualness || b.size - a.size)
    .map((c, rank) => ({ ...c, rank }));
  return { clusters, classMean: Array.from(all, round) };
}

export function startStrategies(ctx: Context, request: ParsedRequest<'strategies.run'>): Job {
  const model = ctx.model(request.modelId);
  const { project, pool } = ctx;
  const dataset = project.datasets.get(request.datasetId);
  if (!dataset) throw new ApiError('dataset_not_found', `No dataset with id ${request.datasetId} in this project`);
  const classes = model.manifest.classes;
  const className = classes[request.classIndex];
  if (className === undefined)
    throw new ApiError(
      'invalid_request',
      `Class ${request.classIndex} is not one of ${model.name}'s ${classes.length} classes (0..${classes.length - 1})`,
    );
  const title = `Strategies of ${className} (${request.method}) in ${dataset.name}`;
  return ctx.jobs.start('strategies', title, request, async ({ signal, report }) => {
    const started = performance.now();
    const ref = await verifiedModel(model);
    const { ids, names } = project.images.classNames(request.datasetId);
    let imageIds = ids.filter((_, i) => names[i] === className);
    const labelled = imageIds.length > 0;
    if (!labelled)
      imageIds = project.images
        .query({
          datasetId: request.datasetId,
          modelId: model.id,
          predictedClass: className,
          correctness: 'all',
          confidenceMin: 0,
          confidenceMax: 1,
          sort: 'id',
          offset: 0,
          limit: 5000,
        })
        .items.map((row) => row.id);
    imageIds = imageIds.slice(0, request.images);
    if (imageIds.length < 3)
      throw new ApiError(
        'invalid_request',
        `${dataset.name} has ${imageIds.length} image(s) of ${className}${labelled ? '' : ' (labelled or predicted)'}: strategies need at least 3`,
      );
    let layer = request.layer ?? '';
    if (!request.layer) {
      const layers = await pool.call('camLayers', { model: ref });
      layer = (layers.find((l) => l.recommended) ?? layers.at(-1))?.name ?? '';
    }
    const cam = { method: request.method, layer: layerOfMethod(request.method, layer), targets: [] as number[] };
    let maps: Float32Array | null = null;
    let size = 0;
    let mapShape: [number, number] = [0, 0];
    const predicted: boolean[] = [];
    for (let at = 0; at < imageIds.length; at += STRATEGY_BATCH) {
      signal.throwIfAborted();
      report('explaining images', at, imageIds.length);
      const batch = imageIds.slice(at, at + STRATEGY_BATCH);
      const { results } = await pool.call(
        'cam',
        {
          model: ref,
          source: { projectPath: project.path, imageIds: batch },
          request: { ...cam, targets: batch.map(() => request.classIndex) },
        },
        { signal },
      );
      for (const [i, result] of results.entries()) {
        const [h, w] = result.layerShape;
        const normalised = normalisedMap(result.map, h, w);
        if (!maps) {
          mapShape = normalised.shape;
          size = mapShape[0] * mapShape[1];
          maps = new Float32Array(imageIds.length * size);
        }
        maps.set(normalised.map, (at + i) * size);
        let best = 0;
        for (let c = 1; c < result.logits.length; c++) if (result.logits[c]! > result.logits[best]!) best = c;
        predicted.push(best === request.classIndex);
      }
    }
    report('clustering maps', 0, 1);
    const spectral = await pool.call(
      'spectral',
      { rows: maps!, dims: size, options: { clusters: request.clusters } },
      { signal, progress: ({ done, total }) => report('clustering maps', done, total) },
    );
    const { clusters, classMean } = describeClusters(maps!, size, spectral.assignment, spectral.k, imageIds, predicted);
    const result: StrategyReport = {
      modelId: model.id,
      datasetId: request.datasetId,
      classIndex: request.classIndex,
      className,
      method: request.method,
      layer: cam.layer,
      images: imageIds.length,
      labelled,
      mapShape,
      eigenvalues: spectral.eigenvalues,
      eigengap: spectral.eigengap,
      classMean,
      clusters,
      seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
    };
    return { result };
  });
}

export const runStrategies = (ctx: Context, request: ParsedRequest<'strategies.run'>): Result<'strategies.run'> => ({
  jobId: startStrategies(ctx, request).id,
});

/** The newest finished strategies of this model, dataset, class and method (null when none ran). */
export function strategiesResult(
  ctx: Context,
  { modelId, datasetId, classIndex, method }: ParsedRequest<'strategies.result'>,
): Result<'strategies.result'> {
  const finished = ctx.jobs
    .list()
    .filter((job) => job.kind === 'strategies' && job.status === 'done')
    .sort((a, b) => (b.finishedAt ?? '').localeCompare(a.finishedAt ?? ''));
  for (const job of finished) {
    const parsed = StrategyReport.safeParse(job.result);
    if (!parsed.success) continue;
    const r = parsed.data;
    if (
      r.modelId === modelId &&
      r.datasetId === datasetId &&
      r.classIndex === classIndex &&
      (!method || r.method === method)
    )
      return r;
  }
  return null;
}
