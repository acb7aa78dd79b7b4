/**
 * Which bundle explains a project's model: the folder the classifier file sits in, when it holds a
 * bundle.json whose classifier has the same sha256 as the registered model (the toolkit writes the
 * classifier there; `npm run models` and the demo do). The bundle is fully checked (loadBundle) and kept
 * while none of its files changes; every generative result is keyed by a hash of the files it came from.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Model } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { GenerativeKind } from '../../src-shared/schemas/generative.ts';
import { loadBundle, type LoadedBundle } from '../models/bundle.ts';
import type { InferencePool } from '../workers/inference-pool.ts';
import type { BundleRef, ExplainerRole } from './generative/types.ts';

export interface ResolvedBundle {
  loaded: LoadedBundle;
  ref: BundleRef;
  /** Explainer keys: results of a kind are valid while these files are unchanged. */
  keys: Record<GenerativeKind | 'codes' | 'prototypes', string>;
}

const cache = new Map<string, { stamp: string; resolved: ResolvedBundle }>();

function stampOf(dir: string, files: string[]): string {
  return files
    .map((file) => {
      try {
        const stat = statSync(join(dir, file));
        return `${file}:${stat.size}:${stat.mtimeMs}`;
      } catch {
        return `${file}:gone`;
      }
    })
    .join('|');
}

export async function bundleForModel(model: Model, pool: InferencePool): Promise<ResolvedBundle> {
  const dir = dirname(model.path);
  if (!existsSync(join(dir, 'bundle.json'))) {
    throw new ApiError(
      'bundle_not_found',
      `Model "${model.name}" has no explainer bundle: ${dir} holds no bundle.json. Train the explainers with \`npm run models\` (docs/MODELS.md) and add the bundle's classifier.onnx`,
    );
  }
  const known = cache.get(dir);
  const listed = known ? known.resolved.loaded.bundle.files.map((file) => file.path) : [];
  const stamp = stampOf(dir, ['bundle.json', ...listed]);
  if (known && known.stamp === stamp && known.resolved.loaded.models.classifier?.sha256 === model.fileHash)
    return known.resolved;
  const loaded = await loadBundle(dir, (file, sha256) => pool.call('inspect', { key: sha256, path: file }));
  const classifier = loaded.models.classifier;
  if (classifier?.sha256 !== model.fileHash) {
    throw new ApiError(
      'bundle_invalid',
      `The bundle in ${dir} explains another classifier: its ${classifier?.spec.file ?? 'classifier'} has sha256 ${classifier?.sha256.slice(0, 12)}…, model "${model.name}" ${model.fileHash.slice(0, 12)}…`,
    );
  }
  const resolved = resolveBundle(loaded);
  cache.set(dir, { stamp: stampOf(dir, ['bundle.json', ...loaded.bundle.files.map((file) => file.path)]), resolved });
  return resolved;
}

export function resolveBundle(loaded: LoadedBundle): ResolvedBundle {
  const { bundle } = loaded;
  const models: BundleRef['models'] = {};
  for (const [role, model] of Object.entries(loaded.models) as [
    ExplainerRole,
    NonNullable<LoadedBundle['models'][ExplainerRole]>,
  ][]) {
    models[role] = {
      path: model.path,
      sha256: model.sha256,
      space: model.spec.space,
      inputs: model.spec.inputs.map((t) => t.name),
      outputs: model.spec.outputs.map((t) => t.name),
    };
  }
  const fileHash = (path: string | undefined) => bundle.files.find((file) => file.path === path)?.sha256 ?? '-';
  const key = (...parts: string[]) => createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);
  const sha = (role: ExplainerRole) => loaded.models[role]?.sha256 ?? '-';
  const individual = bundle.models['cae-encoder']?.outputs.find((o) => o.name === 'individual_code')?.shape.slice(1);
  const prototypes = loaded.caePrototypes;
  const ref: BundleRef = {
    key: key(...Object.values(models).map((m) => m.sha256), fileHash(bundle.data.caePrototypes)),
    dir: loaded.dir,
    classes: bundle.classes,
    shape: [bundle.dataset.channels, bundle.dataset.height, bundle.dataset.width],
    preprocessing: bundle.preprocessing,
    models,
    branches: bundle.models.dxai?.branches,
    caePrototypes: prototypes && {
      codes: prototypes.classes.flatMap((c) => c.prototypes.flat()),
      perClass: prototypes.perClass,
      dim: prototypes.codeDim,
    },
    individualShape: individual?.every((d) => typeof d === 'number') ? (individual as number[]) : undefined,
  };
  return {
    loaded,
    ref,
    keys: {
      decomposition: key('decomposition', sha('classifier'), sha('dxai')),
      counterfactual: key(
        'counterfactual',
        sha('classifier'),
        sha('cae-encoder'),
        sha('cae-decoder'),
        fileHash(bundle.data.caePrototypes),
      ),
      components: key('components', sha('infodisent')),
      codes: key('codes', sha('cae-encoder')),
      prototypes: key('prototypes', sha('infodisent')),
    },
  };
}
