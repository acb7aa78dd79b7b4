/**
 * Where the maps a labelling session shows come from. Any explanation the project caches is a source:
 * CAM maps (explanations), the generative explainers' image-sized maps (the grid's overlay sources)
 * and layer-wise feature clusters (one region per kept cluster). A new kind of explanation becomes
 * labellable by appearing in `overlayChoices` or by one more branch here; sessions, tasks, agreement
 * and export only see `ExplainedMap`s with their provenance.
 */
import type { Model } from '../../src-shared/contract.ts';
import type { LabelSource, LabelSourceChoice } from '../../src-shared/schemas/labels.ts';
import type { ModelScope } from '../runtime/context.ts';
import { bundleForModel } from '../explain/bundles.ts';
import { overlayChoicesOf } from '../explain/generative-service.ts';
import type { Project } from '../store/project.ts';

/** The open project, the pool and the model whose maps are the sources. */
export type Context = ModelScope;

export interface Provenance {
  kind: string;
  method: string;
  layer: string;
  params: string;
  targetClass: number | null;
  modelHash: string;
  /** What the map was copied from, e.g. "explanations:12" or "feature_clusters:40". */
  ref: string;
}

export interface ExplainedMap {
  imageId: number;
  width: number;
  height: number;
  /** Min-max scaled to [0, 1]. */
  map: Float32Array;
  provenance: Provenance;
  /** Ordering among several maps of one image and source (cluster weight); higher first. */
  weight: number;
}

const GENERATIVE_METHOD = {
  decomposition: 'dxai-distinct',
  counterfactual: 'cae-difference',
  components: 'infodisent-evidence',
} as const;
/** Sources whose maps are regions with a meaning of their own (concept labels). */
const REGION_KINDS = new Set(['clusters', 'decomposition', 'components']);

export function isRegionSource(source: LabelSource): boolean {
  return REGION_KINDS.has(source.kind);
}

export function sourceKey(source: LabelSource): string {
  return JSON.stringify(source);
}

/**
 * Every source with maps under the model, with how many maps it has on how many images: of the
 * given images (the filtered selection) when there are any, else of the whole project. Sources that
 * cover more images come first.
 */
export async function sourceChoices(context: Context, imageIds?: readonly number[]): Promise<LabelSourceChoice[]> {
  const overlays = await overlayChoicesOf(context);
  const clusters = context.project.layerClusters.keptCount(context.model.fileHash);
  const all: LabelSourceChoice[] = overlays.map((choice) => ({
    ...choice,
    images: choice.count,
    regions: isRegionSource(choice.source),
  }));
  if (clusters.n > 0)
    all.push({
      label: 'Layer-wise feature clusters (each kept cluster)',
      count: clusters.n,
      images: clusters.images,
      source: { kind: 'clusters' },
      regions: true,
    });
  const choices = imageIds
    ? await Promise.all(
        all.map(async (choice) => ({ ...choice, ...(await coverage(context, choice.source, imageIds)) })),
      )
    : all;
  return choices.sort((a, b) => b.images - a.images || a.label.localeCompare(b.label));
}

/** Per image of `imageIds` that has maps of the source: how many. Reads no map. */
export async function mapCounts(
  context: Context,
  source: LabelSource,
  imageIds: readonly number[],
): Promise<Map<number, number>> {
  const { project, model, pool } = context;
  const out = new Map<number, number>();
  const explainerKey =
    source.kind === 'cam' || source.kind === 'clusters' ? '' : (await bundleForModel(model, pool)).keys[source.kind];
  for (let start = 0; start < imageIds.length; start += 500) {
    const chunk = imageIds.slice(start, start + 500);
    const rows =
      source.kind === 'cam'
        ? project.explanations.countsByImage(
            model.fileHash,
            { method: source.method, layer: source.layer, requestedClass: source.target },
            chunk,
          )
        : source.kind === 'clusters'
          ? project.layerClusters.keptCountsByImage(model.fileHash, chunk)
          : project.generative.countsByImage(explainerKey, source.kind, source.params, chunk);
    for (const row of rows) out.set(row.imageId, row.n);
  }
  return out;
}

/** How many maps of a source the images have, and how many of the images have one. */
export async function coverage(
  context: Context,
  source: LabelSource,
  imageIds: readonly number[],
): Promise<{ count: number; images: number }> {
  const counts = await mapCounts(context, source, imageIds);
  return { count: [...counts.values()].reduce((a, b) => a + b, 0), images: counts.size };
}

/** A source in words, for messages about it. */
export function sourceLabel(source: LabelSource): string {
  switch (source.kind) {
    case 'cam':
      return `${source.method} maps at ${source.layer}`;
    case 'clusters':
      return 'layer-wise feature clusters';
    default:
      return {
        decomposition: 'DXAI decompositions',
        counterfactual: 'CAE counterfactual paths',
        components: 'InfoDisent components',
      }[source.kind];
  }
}

export function normalise(map: Float32Array): Float32Array {
  let min = Infinity;
  let max = -Infinity;
  for (const v of map) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  return map.map((v) => (range > 0 ? (v - min) / range : 0));
}

/** Every map of the source for these images (several per image for feature clusters). */
export async function mapsOf(
  context: Context,
  source: LabelSource,
  imageIds: readonly number[],
): Promise<ExplainedMap[]> {
  const { project, model, pool } = context;
  const out: ExplainedMap[] = [];
  for (let start = 0; start < imageIds.length; start += 500) {
    const chunk = imageIds.slice(start, start + 500);
    if (source.kind === 'cam') {
      const rows = project.explanations.mapsOf(
        model.fileHash,
        { method: source.method, layer: source.layer, requestedClass: source.target },
        chunk,
      );
      for (const row of rows) {
        out.push({
          imageId: row.imageId,
          width: row.width,
          height: row.height,
          map: normalise(row.map),
          weight: 1,
          provenance: {
            kind: 'cam',
            method: source.method,
            layer: source.layer,
            params: JSON.stringify({ requestedClass: source.target }),
            targetClass: row.targetClass,
            modelHash: model.fileHash,
            ref: `explanations:${row.id}`,
          },
        });
      }
    } else if (source.kind === 'clusters') {
      const rows = project.layerClusters.keptClusters(model.fileHash, chunk);
      for (const row of rows) {
        out.push({
          imageId: row.imageId,
          width: row.width,
          height: row.height,
          map: normalise(row.map),
          weight: row.weight,
          provenance: {
            kind: 'clusters',
            method: 'layer-clusters',
            layer: row.layer,
            params: JSON.stringify({ cluster: row.clusterIndex, run: JSON.parse(row.params) as unknown }),
            targetClass: row.targetClass,
            modelHash: model.fileHash,
            ref: `feature_clusters:${row.id}`,
          },
        });
      }
    } else {
      const bundle = await bundleForModel(model, pool);
      const explainerKey = bundle.keys[source.kind];
      const params = JSON.parse(source.params) as { target?: number };
      for (const m of project.generative.overlays({ explainerKey, kind: source.kind, params: source.params }, chunk)) {
        out.push({
          imageId: m.imageId,
          width: m.width,
          height: m.height,
          map: normalise(m.map),
          weight: 1,
          provenance: {
            kind: source.kind,
            method: GENERATIVE_METHOD[source.kind],
            layer: '',
            params: JSON.stringify({ ...params, explainerKey }),
            targetClass: typeof params.target === 'number' && params.target >= 0 ? params.target : null,
            modelHash: model.fileHash,
            ref: `generative_results:${source.kind}:${m.imageId}`,
          },
        });
      }
    }
  }
  return out;
}
