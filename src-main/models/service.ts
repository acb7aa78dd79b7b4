/** Registered models and explainer bundles of the open project. */
import type { BundleSummary, Model, ParsedRequest, Result } from '../../src-shared/contract.ts';
import type { Context } from '../runtime/context.ts';
import { loadBundle } from './bundle.ts';
import { registerModel } from './register.ts';

export const listModels = (ctx: Context): Result<'models.list'> => ctx.project.models.list();

export function addModel(
  ctx: Context,
  { path, manifestPath }: { path: string; manifestPath?: string },
): Promise<Model> {
  return registerModel(ctx.project, ctx.pool, path, manifestPath);
}

/** Validates a model bundle folder (hashes, tensor shapes, data files) without changing the project. */
export async function checkBundle(ctx: Context, { path }: ParsedRequest<'bundles.check'>): Promise<BundleSummary> {
  const loaded = await loadBundle(path, (file, sha256) => ctx.pool.call('inspect', { key: sha256, path: file }));
  return {
    path: loaded.dir,
    name: loaded.bundle.name,
    classes: loaded.bundle.classes,
    models: Object.entries(loaded.models).map(([role, model]) => ({
      role,
      file: model.spec.file,
      sha256: model.sha256,
      quality: model.spec.quality,
    })),
  };
}
