/**
 * One pass of a bundle's encoders over a whole dataset, as a job: every image's CAE class code, laid
 * out in 2-D (PCA, or seeded UMAP) for the class-code map, and every InfoDisent channel's strongest
 * images, the prototypes the components view shows from the project. New points (a path's codes) are
 * placed by the stored PCA model, or for UMAP, which has no stored transform here, at the
 * inverse-distance mean of their nearest dataset codes.
 */
import { PCA, type PCAModel } from 'ml-pca';
import { UMAP } from 'umap-js';
import type { Job, Model, ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { ClassCodeMap } from '../../src-shared/schemas/generative.ts';
import { seededUniform } from '../../src-shared/random.ts';
import type { JobTask } from '../runtime/jobs.ts';
import { modelScope, type Context, type ModelScope } from '../runtime/context.ts';
import type { Project } from '../store/project.ts';
import { verifiedModel } from '../models/identity.ts';
import { bundleForModel } from './bundles.ts';
import { TopPerChannel, type PrototypeIndex } from './prototypes.ts';

export const INDEX_PAGE = 256;
const NEIGHBOURS = 10;

type Scope = ModelScope;

export interface CodeIndex {
  imageIds: Int32Array;
  codes: Float32Array;
  codeDim: number;
  x: Float32Array;
  y: Float32Array;
  pca?: PCAModel;
}

function indexTask(context: Scope, request: ParsedRequest<'generative.index'>): JobTask {
  const { project, pool, model } = context;
  const dataset = project.datasets.get(request.datasetId);
  if (!dataset) throw new ApiError('dataset_not_found', `No dataset with id ${request.datasetId} in this project`);
  return async ({ signal, report }) => {
    await verifiedModel(model);
    const bundle = await bundleForModel(model, pool);
    const started = performance.now();
    const ids: number[] = [];
    const codes: Float32Array[] = [];
    let codeDim = 0;
    let top: TopPerChannel | undefined;
    let mapShape: [number, number] = [0, 0];
    for (const page of project.images.idsInPages(dataset.id, INDEX_PAGE)) {
      if (signal.aborted) return { cancelled: true, result: { images: ids.length } };
      report('encoding', ids.length, dataset.images);
      const result = await pool.call('index', {
        bundle: bundle.ref,
        manifest: model.manifest,
        projectPath: project.path,
        imageIds: page,
      });
      ids.push(...page);
      if (result.codeDim > 0) {
        codes.push(result.codes);
        codeDim = result.codeDim;
      }
      if (result.channels > 0) {
        top ??= new TopPerChannel(result.channels);
        top.add(page, result.strongest, result.positions);
        mapShape = result.mapShape;
      }
    }
    const summary: Record<string, unknown> = { images: ids.length, datasetId: dataset.id };
    if (top) {
      project.generative.putIndex(bundle.keys.prototypes, dataset.id, 'prototypes', '', {
        mapShape,
        channels: top.channels,
      } satisfies PrototypeIndex);
      summary.prototypeChannels = top.channels.length;
    }
    if (codeDim > 0 && ids.length > 0) {
      report(`${request.projection.toUpperCase()} of ${ids.length} class codes`, ids.length, dataset.images);
      const all = new Float32Array(ids.length * codeDim);
      codes.reduce((offset, chunk) => (all.set(chunk, offset), offset + chunk.length), 0);
      const layout = await project2d(all, codeDim, request.projection, signal);
      if (!layout) return { cancelled: true, result: summary };
      project.generative.putIndex(bundle.keys.codes, dataset.id, 'codes', request.projection, {
        imageIds: Int32Array.from(ids),
        codes: all,
        codeDim,
        ...layout,
      } satisfies CodeIndex);
      summary.projection = request.projection;
    }
    summary.seconds = Number(((performance.now() - started) / 1000).toFixed(3));
    return { cancelled: false, result: summary };
  };
}

function rows(codes: Float32Array, dim: number): number[][] {
  return Array.from({ length: codes.length / dim }, (_, i) => Array.from(codes.subarray(i * dim, (i + 1) * dim)));
}

/** 2-D positions of the codes; null when cancelled during UMAP's epochs. */
export async function project2d(
  codes: Float32Array,
  dim: number,
  projection: 'pca' | 'umap',
  signal?: AbortSignal,
): Promise<Pick<CodeIndex, 'x' | 'y' | 'pca'> | null> {
  const data = rows(codes, dim);
  if (projection === 'pca') {
    const pca = new PCA(data);
    const points = pca.predict(data, { nComponents: 2 });
    // Through JSON: the model holds Matrix instances, which a structured clone would turn into bare objects.
    return {
      x: Float32Array.from(points.getColumn(0)),
      y: Float32Array.from(points.getColumn(1)),
      pca: JSON.parse(JSON.stringify(pca.toJSON())) as PCAModel,
    };
  }
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(15, Math.max(2, data.length - 1)),
    random: seededUniform(7),
  });
  let cancelled = false;
  const points = await umap.fitAsync(data, () => {
    cancelled = signal?.aborted ?? false;
    return !cancelled;
  });
  if (cancelled) return null;
  return { x: Float32Array.from(points, (p) => p[0]!), y: Float32Array.from(points, (p) => p[1]!) };
}

/** Positions for new codes (a path) in an index's layout. */
export function placeCodes(index: CodeIndex, codes: number[][]): { x: number; y: number }[] {
  if (index.pca) {
    const points = PCA.load(index.pca).predict(codes, { nComponents: 2 });
    return codes.map((_, i) => ({ x: points.get(i, 0), y: points.get(i, 1) }));
  }
  const count = index.imageIds.length;
  return codes.map((code) => {
    const nearest: { d: number; i: number }[] = [];
    for (let i = 0; i < count; i++) {
      let d = 0;
      for (let j = 0; j < index.codeDim; j++) d += (index.codes[i * index.codeDim + j]! - code[j]!) ** 2;
      if (nearest.length < NEIGHBOURS || d < nearest[nearest.length - 1]!.d) {
        nearest.push({ d, i });
        nearest.sort((a, b) => a.d - b.d);
        if (nearest.length > NEIGHBOURS) nearest.pop();
      }
    }
    let [x, y, total] = [0, 0, 0];
    for (const { d, i } of nearest) {
      const w = 1 / (Math.sqrt(d) + 1e-6);
      x += w * index.x[i]!;
      y += w * index.y[i]!;
      total += w;
    }
    return { x: x / total, y: y / total };
  });
}

export async function classCodeMap(
  ctx: Context,
  request: ParsedRequest<'generative.codeMap'>,
): Promise<ClassCodeMap & { path: { x: number; y: number }[] }> {
  const context = modelScope(ctx, request.modelId);
  const { project, pool, model } = context;
  if (!project.datasets.get(request.datasetId))
    throw new ApiError('dataset_not_found', `No dataset with id ${request.datasetId} in this project`);
  const bundle = await bundleForModel(model, pool);
  const stored = request.projection
    ? project.generative.getIndex<CodeIndex>(bundle.keys.codes, request.datasetId, 'codes', request.projection)
    : project.generative.latestIndex<CodeIndex>(bundle.keys.codes, request.datasetId, 'codes');
  if (!stored) {
    throw new ApiError(
      'index_missing',
      `Dataset ${request.datasetId} has no class-code map${request.projection ? ` (${request.projection})` : ''} for this bundle yet: build it with "Index dataset" (a job)`,
    );
  }
  const index = stored.payload;
  const { ids, names } = project.images.classNames(request.datasetId);
  const nameOf = new Map(ids.map((id, i) => [id, names[i]]));
  const classes = bundle.ref.classes;
  const round = (values: Float32Array) => Array.from(values, (v) => Number(v.toPrecision(5)));
  return {
    datasetId: request.datasetId,
    projection: index.pca ? 'pca' : 'umap',
    classes,
    imageIds: Array.from(index.imageIds),
    x: round(index.x),
    y: round(index.y),
    labels: Array.from(index.imageIds, (id) => classes.indexOf(nameOf.get(id) ?? '')),
    createdAt: stored.createdAt,
    path: request.codes ? placeCodes(index, request.codes) : [],
  };
}

export function startIndex(ctx: Context, request: ParsedRequest<'generative.index'>): Job {
  const context = modelScope(ctx, request.modelId);
  const dataset = ctx.project.datasets.get(request.datasetId);
  return ctx.jobs.start(
    'index',
    `Index ${dataset?.name} for ${context.model.name}'s explainers (${request.projection.toUpperCase()})`,
    request,
    indexTask(context, request),
  );
}

export const indexDataset = (ctx: Context, request: ParsedRequest<'generative.index'>): Result<'generative.index'> => ({
  jobId: startIndex(ctx, request).id,
});
