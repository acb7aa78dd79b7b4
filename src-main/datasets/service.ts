/** Datasets and their images: listing, the grid's queries, one image's detail, and imports as jobs. */
import type { Job, ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { Context } from '../runtime/context.ts';
import { importTask, importTitle } from './import-job.ts';
import type { ImportRequest } from './read/importer.ts';

export const listDatasets = (ctx: Context): Result<'datasets.list'> => ctx.project.datasets.list();

export const datasetIssues = (
  ctx: Context,
  { datasetId }: ParsedRequest<'datasets.issues'>,
): Result<'datasets.issues'> => ctx.project.datasets.issues(datasetId);

export function startImport(ctx: Context, request: ImportRequest): Job {
  return ctx.jobs.start('import', importTitle(request), request, importTask(ctx.project.path, request));
}

export const importDataset = (ctx: Context, request: ParsedRequest<'datasets.import'>): Result<'datasets.import'> => ({
  jobId: startImport(ctx, request).id,
});

export const listImages = (ctx: Context, query: ParsedRequest<'images.list'>): Result<'images.list'> =>
  ctx.project.images.query(query);

/** One image's detail, with the given model's prediction when there is one. */
export function getImage(ctx: Context, { imageId, modelId }: ParsedRequest<'images.get'>): Result<'images.get'> {
  const detail = ctx.project.images.detail(imageId);
  if (!detail) throw new ApiError('image_not_found', `No image with id ${imageId} in this project`);
  const prediction =
    modelId === undefined
      ? null
      : ctx.project.predictions.forImage(modelId, imageId, ctx.model(modelId).manifest.classes);
  return { ...detail, prediction };
}
