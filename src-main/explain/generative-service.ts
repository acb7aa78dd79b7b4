/**
 * Generative explanations of a project's images: DXAI decompositions, CAE counterfactual paths and
 * InfoDisent components from the model's bundle, run in the inference workers. Each result is cached in
 * the project under the hash of the files it came from and reused; a filtered selection runs as one
 * cancellable job. What the worker returns (typed arrays) is what is stored; the API shape is built on
 * the way out, with the parts that can change (prototype patches from a newer dataset index) added then.
 */
import { INPUT_LAYER, METHOD_LABELS, type CamMethodName } from '../../src-shared/contract.ts';
import { layerLabel } from '../../src-shared/layer-names.ts';
import type { Job, Model, ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import {
  BETAS,
  type Components,
  type Counterfactual,
  type Decomposition,
  type GenerativeKind,
  type OverlayChoice,
  type OverlayMap,
  type OverlaySource,
} from '../../src-shared/schemas/generative.ts';
import type { JobTask } from '../runtime/jobs.ts';
import { modelScope, type Context, type ModelScope } from '../runtime/context.ts';
import type { Project } from '../store/project.ts';
import { verifiedModel } from '../models/identity.ts';
import { bundleForModel, type ResolvedBundle } from './bundles.ts';
import type { ComponentsResult, DecompositionResult, CounterfactualResult } from './generative/types.ts';
import { attachPrototypes } from './prototypes.ts';
import { rankChannels } from './infodisent/components.ts';

export const GENERATIVE_JOB_BATCH = 32;

type Stored = {
  decomposition: DecompositionResult;
  counterfactual: CounterfactualResult;
  components: ComponentsResult;
};

type Scope = ModelScope;

/** The request parameters that identify a cached result (besides the image and the explainer files). */
export function paramsOf(
  kind: GenerativeKind,
  request: { target: number; steps?: number; referenceImageId?: number },
): string {
  if (kind === 'counterfactual')
    return JSON.stringify({
      target: request.target,
      steps: request.steps ?? 10,
      reference: request.referenceImageId ?? null,
    });
  return JSON.stringify({ target: request.target });
}

function checkClass(bundle: ResolvedBundle, target: number): void {
  const classes = bundle.ref.classes.length;
  if (target >= classes)
    throw new ApiError(
      'invalid_request',
      `Class ${target} is not one of the bundle's ${classes} classes (0..${classes - 1})`,
    );
}

function checkImage(project: Project, imageId: number): void {
  if (!project.images.stored(imageId))
    throw new ApiError('image_not_found', `No image with id ${imageId} in this project`);
}

async function prepare({ project, pool, model }: Scope, imageIds: number[], target: number) {
  await verifiedModel(model);
  const bundle = await bundleForModel(model, pool);
  checkClass(bundle, target);
  for (const imageId of imageIds) checkImage(project, imageId);
  return bundle;
}

/** Runs one kind over a batch of images through the worker. */
function compute<K extends GenerativeKind>(
  context: Scope,
  bundle: ResolvedBundle,
  kind: K,
  imageIds: number[],
  request: { target: number; steps?: number; referenceImageId?: number },
): Promise<Stored[K][]> {
  const { pool, model, project } = context;
  const batch = { bundle: bundle.ref, manifest: model.manifest, projectPath: project.path, imageIds };
  const targets = imageIds.map(() => request.target);
  const steps = request.steps ?? 10;
  const runs: { [Q in GenerativeKind]: () => Promise<Stored[Q][]> } = {
    decomposition: () => pool.call('decomposition', { ...batch, targets }),
    components: () => pool.call('components', { ...batch, targets }),
    counterfactual: () =>
      pool.call('counterfactual', {
        ...batch,
        requests: imageIds.map(() => ({ target: request.target, steps, referenceImageId: request.referenceImageId })),
      }),
  };
  return runs[kind]();
}

/** The image-sized (or feature-map-sized) map the grid can draw over a thumbnail. */
function overlayOf(
  kind: GenerativeKind,
  result: Stored[GenerativeKind],
  shape: [number, number, number],
): { width: number; height: number; map: Float32Array } {
  const [channels, height, width] = shape;
  const plane = height * width;
  const collapse = (values: Float32Array, absolute: boolean) => {
    const out = new Float32Array(plane);
    for (let c = 0; c < channels; c++)
      for (let p = 0; p < plane; p++) out[p]! += absolute ? Math.abs(values[c * plane + p]!) : values[c * plane + p]!;
    return out;
  };
  if (kind === 'decomposition') return { width, height, map: collapse((result as DecompositionResult).distinct, true) };
  if (kind === 'counterfactual')
    return { width, height, map: collapse((result as CounterfactualResult).difference, false) };
  // Components: the positive evidence of every channel that argues for the class, weighted by its contribution.
  const { maps, contributions, mapShape } = result as ComponentsResult;
  const size = mapShape[0] * mapShape[1];
  const out = new Float32Array(size);
  contributions.forEach((contribution, d) => {
    if (contribution <= 0) return;
    for (let p = 0; p < size; p++) out[p]! += contribution * Math.max(0, maps[d * size + p]!);
  });
  return { width: mapShape[1], height: mapShape[0], map: out };
}

async function cachedOrComputed<K extends GenerativeKind>(
  context: Scope,
  kind: K,
  request: { imageId: number; target: number; steps?: number; referenceImageId?: number },
) {
  const bundle = await prepare(
    context,
    request.referenceImageId ? [request.imageId, request.referenceImageId] : [request.imageId],
    request.target,
  );
  const key = { explainerKey: bundle.keys[kind], kind, params: paramsOf(kind, request) };
  const cached = context.project.generative.get<Stored[K]>(key, request.imageId);
  if (cached) return { bundle, result: cached, cached: true };
  const [result] = await compute(context, bundle, kind, [request.imageId], request);
  context.project.generative.putMany(key, [
    { imageId: request.imageId, result: result!, overlay: overlayOf(kind, result!, bundle.ref.shape) },
  ]);
  return { bundle, result: result!, cached: false };
}

const numbers = (values: ArrayLike<number>) => Array.from(values, (v) => Number(v.toPrecision(7)));
/** Back-to-back rows of `width` values as arrays. */
const rows = (values: Float32Array, width: number) =>
  Array.from({ length: values.length / width }, (_, k) => numbers(values.subarray(k * width, (k + 1) * width)));

function range(values: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) [min, max] = [Math.min(min, values[i]!), Math.max(max, values[i]!)];
  return { min, max };
}

export async function decomposition(
  ctx: Context,
  request: ParsedRequest<'generative.decomposition'>,
): Promise<Decomposition> {
  const context = modelScope(ctx, request.modelId);
  const { bundle, result, cached } = await cachedOrComputed(context, 'decomposition', request);
  const { classes, shape, branches: roles } = bundle.ref;
  const size = shape[0] * shape[1] * shape[2];
  const probabilities = rows(result.partProbabilities, classes.length);
  const image = result.agnostic.map((value, i) => value + result.distinct[i]!);
  const part = (
    name: string,
    role: Decomposition['parts'][number]['role'],
    pixels: Float32Array,
    row: number,
    extra: object = {},
  ) => ({ name, role, pixels: numbers(pixels), ...range(pixels), probabilities: probabilities[row]!, ...extra });
  const branchCount = result.branches.length / size;
  return {
    imageId: request.imageId,
    target: result.target,
    targetClass: classes[result.target]!,
    predicted: result.predicted,
    shape,
    classes,
    parts: [
      part('image', 'image', image, 0),
      part('class-distinct', 'distinct', result.distinct, 1),
      part('class-agnostic', 'agnostic', result.agnostic, 2),
      part('reconstruction', 'reconstruction', result.reconstruction, 3),
      ...Array.from({ length: branchCount }, (_, b) =>
        part(`branch ${b}`, 'branch', result.branches.subarray(b * size, (b + 1) * size), 4 + b, {
          branch: b,
          side: roles?.distinct.includes(b) ? 'distinct' : 'agnostic',
        }),
      ),
    ],
    reconstructionError: { mae: Number(result.error.mae.toPrecision(6)), max: Number(result.error.max.toPrecision(6)) },
    beta: {
      betas: [...BETAS],
      probabilities: rows(result.betaProbabilities, classes.length),
      auc: Number(result.betaAuc.toFixed(5)),
    },
    cached,
  };
}

export async function counterfactual(
  ctx: Context,
  request: ParsedRequest<'generative.counterfactual'>,
): Promise<Counterfactual> {
  const context = modelScope(ctx, request.modelId);
  const { bundle, result, cached } = await cachedOrComputed(context, 'counterfactual', request);
  const { classes, shape } = bundle.ref;
  const size = shape[0] * shape[1] * shape[2];
  const steps = result.predictions.length;
  return {
    imageId: request.imageId,
    predicted: result.predicted,
    target: result.target,
    targetClass: classes[result.target]!,
    via: result.via,
    referenceImageId: request.referenceImageId ?? null,
    classes,
    shape,
    original: numbers(result.original),
    alphas: Array.from({ length: steps }, (_, k) => k / (steps - 1)),
    images: rows(result.images, size),
    codes: rows(result.codes, result.codes.length / steps),
    probabilities: rows(result.probabilities, classes.length),
    predictions: result.predictions,
    flipStep: result.flipStep,
    flipClass: result.flipStep === null ? null : classes[result.predictions[result.flipStep]!]!,
    difference: numbers(result.difference),
    cached,
  };
}

export async function components(ctx: Context, request: ParsedRequest<'generative.components'>): Promise<Components> {
  const context = modelScope(ctx, request.modelId);
  const { bundle, result, cached } = await cachedOrComputed(context, 'components', request);
  const { classes } = bundle.ref;
  const size = result.mapShape[0] * result.mapShape[1];
  const order = rankChannels(result.contributions);
  const channels = order.map((d) => ({
    channel: d,
    evidence: result.evidence[d]!,
    weight: result.weights[d]!,
    contribution: result.contributions[d]!,
    map: numbers(result.maps.subarray(d * size, (d + 1) * size)),
    prototypes: [],
  }));
  const prototypeSource = await attachPrototypes(
    context.project,
    context.images,
    bundle,
    context.model,
    channels.slice(0, request.top),
  );
  return {
    imageId: request.imageId,
    target: result.target,
    targetClass: classes[result.target]!,
    predicted: result.predicted,
    classes,
    logits: numbers(result.logits),
    logit: result.logit,
    bias: result.bias,
    mapShape: result.mapShape,
    channels,
    prototypeSource,
    cached,
  };
}

/** Decompositions, paths and components of every image the filters match, as one job; cached results are skipped. */
function selectionTask(context: Scope, request: ParsedRequest<'generative.selection'>): JobTask {
  return async ({ signal, report }) => {
    const bundle = await prepare(context, [], request.target);
    const ids = Array.from(context.project.images.matchingIds(request.query));
    const plan = request.kinds.map((kind) => {
      const key = { explainerKey: bundle.keys[kind], kind, params: paramsOf(kind, request) };
      return { kind, key, todo: context.project.generative.missing(key, ids) };
    });
    const total = ids.length * plan.length;
    let done = plan.reduce((sum, step) => sum + (ids.length - step.todo.length), 0);
    const cached = done;
    const started = performance.now();
    for (const { kind, key, todo } of plan) {
      for (let start = 0; start < todo.length && !signal.aborted; start += GENERATIVE_JOB_BATCH) {
        report(kind, done, total);
        const batch = todo.slice(start, start + GENERATIVE_JOB_BATCH);
        const results = await compute(context, bundle, kind, batch, request);
        context.project.generative.putMany(
          key,
          results.map((result, i) => ({
            imageId: batch[i]!,
            result,
            overlay: overlayOf(kind, result, bundle.ref.shape),
          })),
        );
        done += batch.length;
      }
    }
    report('done', done, total);
    return {
      cancelled: signal.aborted,
      result: {
        images: ids.length,
        kinds: request.kinds,
        computed: done - cached,
        cached,
        seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
      },
    };
  };
}

/** What the grid can draw over its thumbnails: every cached CAM variant of the model and every cached generative kind. */
export const overlayChoices = (
  ctx: Context,
  { modelId }: ParsedRequest<'overlays.choices'>,
): Promise<OverlayChoice[]> => overlayChoicesOf(modelScope(ctx, modelId));

/** The overlay choices of one model (labelling sessions offer the same as sources). */
export async function overlayChoicesOf({ project, model, pool }: Scope): Promise<OverlayChoice[]> {
  const classLabel = (target: number) =>
    target < 0 ? 'predicted class' : (model.manifest.classes[target] ?? `class ${target}`);
  const cams: OverlayChoice[] = project.explanations.variants(model.fileHash).map((v) => ({
    label: `${METHOD_LABELS[v.method as CamMethodName] ?? v.method} · ${v.layer === INPUT_LAYER ? 'input' : layerLabel(v.layer)} · ${classLabel(v.requestedClass)}`,
    count: v.count,
    source: { kind: 'cam', method: v.method, layer: v.layer, target: v.requestedClass },
  }));
  let bundle: ResolvedBundle;
  try {
    bundle = await bundleForModel(model, pool);
  } catch {
    return cams; // a model without a (valid) bundle still has its CAM maps
  }
  const names: Record<GenerativeKind, string> = {
    decomposition: 'DXAI |distinct|',
    counterfactual: 'CAE |x_flip − x|',
    components: 'InfoDisent evidence',
  };
  const generative: OverlayChoice[] = (['decomposition', 'counterfactual', 'components'] as const).flatMap((kind) =>
    project.generative.variants([bundle.keys[kind]]).map((v) => {
      const params = JSON.parse(v.params) as { target: number; steps?: number; reference?: number | null };
      const detail =
        kind === 'counterfactual'
          ? `${params.target < 0 ? 'nearest class' : classLabel(params.target)}, ${params.steps} steps`
          : classLabel(params.target);
      return { label: `${names[kind]} · ${detail}`, count: v.count, source: { kind, params: v.params } };
    }),
  );
  return [...cams, ...generative];
}

export async function overlays(
  ctx: Context,
  { modelId, source, imageIds }: ParsedRequest<'overlays.maps'>,
): Promise<OverlayMap[]> {
  const { project, model, pool } = modelScope(ctx, modelId);
  const maps =
    source.kind === 'cam'
      ? project.explanations.maps(
          model.fileHash,
          { method: source.method, layer: source.layer, requestedClass: source.target },
          imageIds,
        )
      : project.generative.overlays(
          {
            explainerKey: (await bundleForModel(model, pool)).keys[source.kind],
            kind: source.kind,
            params: source.params,
          },
          imageIds,
        );
  return maps.map((m) => ({ imageId: m.imageId, width: m.width, height: m.height, map: numbers(m.map) }));
}

export function startGenerative(ctx: Context, request: ParsedRequest<'generative.selection'>): Job {
  const context = modelScope(ctx, request.modelId);
  return ctx.jobs.start(
    'generative',
    `${request.kinds.join(', ')} of a selection with ${context.model.name}`,
    request,
    selectionTask(context, request),
  );
}

export const generativeSelection = (
  ctx: Context,
  request: ParsedRequest<'generative.selection'>,
): Result<'generative.selection'> => ({ jobId: startGenerative(ctx, request).id });
