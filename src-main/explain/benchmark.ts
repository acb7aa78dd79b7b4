/**
 * Explanations checked against the truth (issue 18, point 6): on a dataset whose images come with
 * ground-truth evidence masks (the colour benchmark, training/benchmark.py, described by its
 * benchmark.json), every CAM and attribution method and DXAI's class-distinct part are scored per class
 * with the pointing game, relevance mass accuracy and relevance rank accuracy (explain/metrics/
 * localisation.ts, Quantus's definitions), and on the test images that carry the shortcut mark: how much
 * of each map's positive relevance lies on the mark, and how often its maximum does. The bundle's own
 * quality figures (DXAI's global beta against Grad-CAM's, CAE's path flips, InfoDisent's accuracy against
 * its base classifier) are reported beside them. `xaiws benchmark PROJECT --model ID --truth FILE`.
 */
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';
import { layerOfMethod, type CamMethodName } from '../../src-shared/contract.ts';
import type { BenchmarkReport, MethodScores } from '../../src-shared/schemas/benchmark.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { Manifest } from '../../src-shared/schemas/project.ts';
import { MiB, readBoundedSync } from '../io/files.ts';
import { verifiedModel } from '../models/identity.ts';
import type { Context } from '../runtime/context.ts';
import { resizeBilinearHalfPixel } from './cam/pixels.ts';
import { bundleForModel } from './bundles.ts';
import { localisation } from './metrics/localisation.ts';

const Truth = z.object({
  format: z.literal('xaiws.benchmark/1'),
  classes: z.array(z.object({ name: z.string() })).min(2),
  shortcut: z.object({
    class: z.number().int().nonnegative(),
    box: z.object({ top: z.number().int(), left: z.number().int(), bottom: z.number().int(), right: z.number().int() }),
  }),
  size: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  images: z.array(
    z.object({
      split: z.string(),
      label: z.number().int().nonnegative(),
      image: z.string().min(1),
      mask: z.string().min(1),
      shortcut: z.boolean(),
    }),
  ),
});
type TruthImage = z.infer<typeof Truth>['images'][number];

export const DEFAULT_METHODS: CamMethodName[] = [
  'gradcam',
  'gradcam++',
  'hirescam',
  'xgradcam',
  'layercam',
  'eigencam',
  'saliency',
  'inputxgradient',
  'integratedgradients',
];

interface Tally {
  images: number;
  pointing: number;
  mass: number;
  massCount: number;
  rank: number;
}
const tally = (): Tally => ({ images: 0, pointing: 0, mass: 0, massCount: 0, rank: 0 });
const summary = (t: Tally) => ({
  images: t.images,
  pointingGame: round(t.pointing / Math.max(t.images, 1)),
  relevanceMass: t.massCount ? round(t.mass / t.massCount) : null,
  relevanceRank: round(t.rank / Math.max(t.images, 1)),
});
const round = (value: number) => Math.round(value * 10_000) / 10_000;

export interface BenchmarkRequest {
  modelId: number;
  truth: string;
  methods?: CamMethodName[];
  /** Test images scored, spread over the classes (default 160). */
  images?: number;
}

type Progress = (stage: string, done: number, total: number) => void;

/** The last two parts of a path ("<class>/<file>"): how a truth entry finds the project's image. */
const key = (path: string) => path.replace(/\\/g, '/').split('/').slice(-2).join('/');

export function readTruth(path: string) {
  const file = resolve(path);
  let parsed;
  try {
    parsed = Truth.safeParse(JSON.parse(readBoundedSync(file, 64 * MiB).toString('utf8')));
  } catch (error) {
    throw new ApiError('invalid_request', `${path} is not a benchmark description: ${(error as Error).message}`);
  }
  if (!parsed.success)
    throw new ApiError('invalid_request', `${path} is not a benchmark description: ${parsed.error.issues[0]?.message}`);
  const root = dirname(file);
  const within = (name: string) => {
    const full = resolve(root, name);
    const rel = relative(root, full);
    if (rel.startsWith('..') || isAbsolute(rel))
      throw new ApiError('invalid_request', `${path}: the mask ${name} lies outside the benchmark's folder`);
    return full;
  };
  return { truth: parsed.data, within };
}

/** The mask at the model's input (resized as the model's images are), as 0/1. */
async function maskAt(
  ctx: Context,
  manifest: Manifest,
  image: { filePath: string | null; pixels: Buffer | null; width: number; height: number },
) {
  const grey: Manifest = { ...manifest, input: { ...manifest.input, channels: 1 } };
  const pixels = await ctx.images.call('forModel', { image: { ...image, channels: 1 }, manifest: grey });
  return Uint8Array.from(pixels, (v) => (v > 127 ? 1 : 0));
}

export async function runBenchmark(
  ctx: Context,
  request: BenchmarkRequest,
  progress: Progress = () => undefined,
  signal?: AbortSignal,
): Promise<BenchmarkReport> {
  const model = ctx.model(request.modelId);
  const ref = await verifiedModel(model);
  const { truth, within } = readTruth(request.truth);
  const classes = truth.classes.map((c) => c.name);
  const { height, width } = model.manifest.input;
  // The project's test images that the truth describes, the same number from each class.
  const byKey = new Map(truth.images.filter((e) => e.split === 'test').map((e) => [key(e.image), e] as const));
  const chosen: { imageId: number; entry: TruthImage }[] = [];
  const perClass = Math.ceil((request.images ?? 160) / classes.length);
  const counts = new Map<number, number>();
  for (const dataset of ctx.project.datasets.list()) {
    for (const imageId of ctx.project.images.classNames(dataset.id).ids) {
      const detail = ctx.project.images.detail(imageId);
      const entry = detail && byKey.get(key(detail.source));
      if (!entry || (counts.get(entry.label) ?? 0) >= perClass) continue;
      counts.set(entry.label, (counts.get(entry.label) ?? 0) + 1);
      chosen.push({ imageId, entry });
    }
  }
  if (chosen.length === 0)
    throw new ApiError(
      'invalid_request',
      `No image of the project is a test image of ${request.truth}: import its benchmark.csv first`,
    );
  // Masks: the evidence, and the shortcut's box drawn at the benchmark's size, both at the model's input.
  progress('masks', 0, chosen.length);
  const [sh, sw] = truth.size;
  const box = new Uint8Array(sh * sw);
  for (let y = truth.shortcut.box.top; y < truth.shortcut.box.bottom; y++)
    for (let x = truth.shortcut.box.left; x < truth.shortcut.box.right; x++) box[y * sw + x] = 255;
  const shortcutMask = await maskAt(ctx, model.manifest, {
    filePath: null,
    pixels: Buffer.from(box.buffer),
    width: sw,
    height: sh,
  });
  const masks: Uint8Array[] = [];
  for (const { entry } of chosen) {
    masks.push(await maskAt(ctx, model.manifest, { filePath: within(entry.mask), pixels: null, width: 0, height: 0 }));
    progress('masks', masks.length, chosen.length);
  }
  const layers = await ctx.pool.call('camLayers', { model: ref });
  const layer = (layers.find((l) => l.recommended) ?? layers[layers.length - 1])?.name ?? '';
  const scored = (maps: Float32Array[], predicted: number[]) => {
    const overall = tally();
    const classTallies = classes.map(() => tally());
    const shortcut = { marked: 0, massOnMark: 0, pointsAtMark: 0, shortcutDecisions: 0, massOnMarkInThose: 0 };
    maps.forEach((map, i) => {
      const { entry } = chosen[i]!;
      const result = localisation(map, masks[i]!);
      for (const t of [overall, classTallies[entry.label]!]) {
        t.images++;
        t.pointing += result.pointingGame ? 1 : 0;
        t.rank += result.relevanceRank;
        if (result.relevanceMass !== null) {
          t.mass += result.relevanceMass;
          t.massCount++;
        }
      }
      if (!entry.shortcut) return;
      const onMark = localisation(map, shortcutMask);
      shortcut.marked++;
      shortcut.massOnMark += onMark.relevanceMass ?? 0;
      shortcut.pointsAtMark += onMark.pointingGame ? 1 : 0;
      if (predicted[i] === truth.shortcut.class && entry.label !== truth.shortcut.class) {
        shortcut.shortcutDecisions++;
        shortcut.massOnMarkInThose += onMark.relevanceMass ?? 0;
      }
    });
    return {
      ...summary(overall),
      perClass: Object.fromEntries(classes.map((name, c) => [name, summary(classTallies[c]!)])),
      shortcut: {
        markedImages: shortcut.marked,
        meanMassOnMark: round(shortcut.massOnMark / Math.max(shortcut.marked, 1)),
        pointsAtMark: round(shortcut.pointsAtMark / Math.max(shortcut.marked, 1)),
        shortcutDecisions: shortcut.shortcutDecisions,
        meanMassOnMarkInShortcutDecisions: shortcut.shortcutDecisions
          ? round(shortcut.massOnMarkInThose / shortcut.shortcutDecisions)
          : null,
      },
    };
  };
  const methods: Record<string, MethodScores> = {};
  const ids = chosen.map((c) => c.imageId);
  const source = (start: number) => ({ projectPath: ctx.project.path, imageIds: ids.slice(start, start + 16) });
  const methodMaps = async (method: CamMethodName) => {
    const maps: Float32Array[] = [];
    const predicted: number[] = [];
    for (let start = 0; start < ids.length; start += 16) {
      progress(method, start, ids.length);
      const count = Math.min(16, ids.length - start);
      const { results } = await ctx.pool.call(
        'cam',
        {
          model: ref,
          source: source(start),
          request: { method, layer: layerOfMethod(method, layer), targets: Array(count).fill(-1) },
        },
        { signal },
      );
      for (const result of results) {
        const [h, w] = result.layerShape;
        maps.push(h === height && w === width ? result.map : resizeBilinearHalfPixel(result.map, h, w, height, width));
        predicted.push(result.target);
      }
    }
    return { maps, predicted };
  };
  // A method this model cannot run (a CAM without a spatial layer, say) is reported as skipped, with why.
  const skipped: Record<string, string> = {};
  for (const method of request.methods ?? DEFAULT_METHODS) {
    try {
      const { maps, predicted } = await methodMaps(method);
      methods[method] = { layer: layerOfMethod(method, layer), ...scored(maps, predicted) };
    } catch (error) {
      if (signal?.aborted || !(error instanceof ApiError) || error.code === 'cancelled') throw error;
      skipped[method] = error.message;
    }
  }
  return {
    model: model.name,
    truth: resolve(request.truth),
    layer,
    images: chosen.length,
    methods,
    skipped,
    ...(await dxaiScores(ctx, request, ids, scored, progress, signal)),
  };
}

/** DXAI's class-distinct part as a map (|distinct| summed over channels), and the bundle's quality figures. */
async function dxaiScores(
  ctx: Context,
  request: BenchmarkRequest,
  ids: number[],
  scored: (maps: Float32Array[], predicted: number[]) => MethodScores,
  progress: Progress,
  signal?: AbortSignal,
): Promise<Pick<BenchmarkReport, 'dxai' | 'bundleQuality'>> {
  const model = ctx.model(request.modelId);
  let bundle;
  try {
    bundle = await bundleForModel(model, ctx.pool);
  } catch {
    return { dxai: null, bundleQuality: null };
  }
  const quality = Object.fromEntries(
    Object.entries(bundle.loaded.bundle.models).map(([role, spec]) => [role, spec?.quality ?? {}]),
  );
  if (!bundle.ref.models.dxai) return { dxai: null, bundleQuality: quality };
  const maps: Float32Array[] = [];
  const predicted: number[] = [];
  const [channels, h, w] = bundle.ref.shape;
  for (let start = 0; start < ids.length; start += 16) {
    progress('dxai', start, ids.length);
    const imageIds = ids.slice(start, start + 16);
    const results = await ctx.pool.call(
      'decomposition',
      {
        bundle: bundle.ref,
        manifest: model.manifest,
        projectPath: ctx.project.path,
        imageIds,
        targets: imageIds.map(() => -1),
      },
      { signal },
    );
    for (const result of results) {
      const map = new Float32Array(h * w);
      for (let c = 0; c < channels; c++)
        for (let p = 0; p < h * w; p++) map[p]! += Math.abs(result.distinct[c * h * w + p]!);
      maps.push(map);
      predicted.push(result.predicted);
    }
  }
  return { dxai: scored(maps, predicted), bundleQuality: quality };
}
