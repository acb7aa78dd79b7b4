/** Registered models and explainer bundles of the open project. */
import type { BundleSummary, Model, ParsedRequest, Result } from '../../src-shared/contract.ts';
import type { Context } from '../runtime/context.ts';
import { loadBundle } from './bundle.ts';
import { verifiedModel } from './identity.ts';
import { registerModel } from './register.ts';

export const listModels = (ctx: Context): Result<'models.list'> => ctx.project.models.list();

export async function addModel(
  ctx: Context,
  { path, manifestPath }: { path: string; manifestPath?: string },
): Promise<Model> {
  const model = await registerModel(ctx.project, ctx.pool, path, manifestPath);
  // In the app an image is opened with the new model next: its shapes, layer list and advice are worked
  // out now, in the background (3-4 s for a never-seen ViT-B here), and kept by the worker for that
  // request. A command ends here, and would only wait for it.
  if (ctx.options.transport !== 'cli')
    void verifiedModel(model)
      .then((ref) => ctx.pool.call('camLayers', { model: ref, prepare: true }))
      .catch(() => undefined); // the image panel's own request reports what went wrong
  return model;
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
