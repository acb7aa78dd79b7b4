/**
 * TCAV as a job: the concept atlas's concepts (the project's labels, grouped as the Global panel groups
 * them) tested on the model. A concept's examples are the images people labelled with it, each with
 * the region they saw: the top 30 % of the Grad-CAM map of the labelled class at the model's recommended
 * layer. Random regions are drawn alike from random images of the dataset: the top 30 % of the map of
 * the class the model predicts, so a concept has to differ from salient regions in general.
 * One gradient run a batch gives every layer's activations and each class's score gradients
 * (explain/map/layer-pass.ts); CAVs, scores and t-tests are explain/map/tcav.ts. The job's result is
 * the report; `tcav.result` answers with the newest.
 */
import type { Job, ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { seededUniform } from '../../src-shared/random.ts';
import { TcavReport, type TcavScore, type TestedConcept } from '../../src-shared/schemas/tcav.ts';
import { conceptModel, sessionsOf } from './aggregation.ts';
import { collect } from './collect.ts';
import { aggregationOf } from './service.ts';
import type { Context } from '../runtime/context.ts';
import { verifiedModel } from '../models/identity.ts';
import type { ModelRef } from '../workers/protocols.ts';
import type { LayerPassResult } from '../explain/map/layer-pass.ts';
import { fitCav, poolRegion, randomCavs, regionMask, resampleMask, scoreConcept } from '../explain/map/tcav.ts';

export const TCAV_BATCH = 32;

interface Region {
  imageId: number;
  /** On the region grid, or null: the whole image. */
  mask: Uint8Array | null;
}

const round = (v: number) => Number(v.toFixed(4));

/** Up to three layers the model can take gradients at: a third and two thirds of the way, and the recommended one. */
function chooseLayers(layers: { name: string; gradients: boolean; zeroGradient?: boolean; recommended?: boolean }[]) {
  const usable = layers.filter((l) => l.gradients && !l.zeroGradient);
  const recommended = usable.find((l) => l.recommended) ?? usable.at(-1);
  if (!recommended)
    throw new ApiError('layer_not_found', 'This model has no layer that gradients reach: TCAV needs one');
  const upTo = usable.slice(0, usable.indexOf(recommended));
  const picks = [upTo[Math.floor(upTo.length / 3)], upTo[Math.floor((2 * upTo.length) / 3)], recommended];
  return [...new Set(picks.filter((l) => l !== undefined).map((l) => l!.name))];
}

export function startTcav(ctx: Context, request: ParsedRequest<'tcav.run'>): Job {
  const model = ctx.model(request.modelId);
  const { project, pool } = ctx;
  const dataset = project.datasets.get(request.datasetId);
  if (!dataset) throw new ApiError('dataset_not_found', `No dataset with id ${request.datasetId} in this project`);
  const sessions = sessionsOf(project, request.sessionIds);
  if (sessions.length === 0)
    throw new ApiError('no_labels', 'This project has no labelling sessions: TCAV tests the concepts people named');
  const title = `Concepts tested on ${model.name} (TCAV)`;
  return ctx.jobs.start('tcav', title, request, async ({ signal, report }) => {
    const started = performance.now();
    const ref = await verifiedModel(model);
    const classes = model.manifest.classes;
    const records = collect(project, sessions).records.filter(
      (r) => r.modelHash === model.fileHash && r.terms.length > 0,
    );
    if (records.length === 0)
      throw new ApiError(
        'no_labels',
        `No concept labels of ${model.name}'s explanations yet: label some in a session first`,
      );
    report('grouping concepts', 0, 1);
    const { concepts, index } = await conceptModel(aggregationOf(ctx), records);
    const layerInfo = await pool.call('camLayers', { model: ref });
    const layers = request.layers ?? chooseLayers(layerInfo);
    const regionLayer = (layerInfo.find((l) => l.recommended) ?? layerInfo.at(-1))?.name ?? layers.at(-1)!;

    // The labelled regions of each concept, and the classes it was labelled in.
    const wanted = concepts.slice(0, request.concepts);
    const examples = new Map<string, { imageId: number; classIndex: number }[]>();
    const labelledIn = new Map<string, Set<number>>();
    for (const r of records)
      for (const term of r.terms) {
        const concept = index.of.get(term);
        if (!concept || !wanted.some((c) => c.id === concept)) continue;
        const list = examples.get(concept) ?? [];
        if (
          !list.some((e) => e.imageId === r.imageId) &&
          list.length < request.examples &&
          project.images.has(r.imageId)
        )
          list.push({ imageId: r.imageId, classIndex: r.classIndex });
        examples.set(concept, list);
        labelledIn.set(concept, (labelledIn.get(concept) ?? new Set()).add(r.classIndex));
      }
    const skipped: { name: string; reason: string }[] = [];
    const tested = wanted.filter((c) => {
      const n = examples.get(c.id)?.length ?? 0;
      if (n < 3)
        skipped.push({ name: c.name, reason: `${n} labelled image${n === 1 ? '' : 's'}; TCAV needs at least 3` });
      return n >= 3;
    });

    // Regions people saw: the top of each labelled image's Grad-CAM map for its class.
    const regionOf = new Map<string, Region>();
    const toExplain = [
      ...new Map(tested.flatMap((c) => examples.get(c.id)!).map((e) => [`${e.imageId}:${e.classIndex}`, e])).values(),
    ];
    let grid: [number, number] = [1, 1];
    for (let at = 0; at < toExplain.length; at += TCAV_BATCH) {
      signal.throwIfAborted();
      report('regions people labelled', at, toExplain.length);
      const batch = toExplain.slice(at, at + TCAV_BATCH);
      const { results } = await pool.call('cam', {
        model: ref,
        source: { projectPath: project.path, imageIds: batch.map((e) => e.imageId) },
        request: { method: 'gradcam', layer: regionLayer, targets: batch.map((e) => e.classIndex) },
      });
      results.forEach((result, i) => {
        grid = result.layerShape;
        regionOf.set(`${batch[i]!.imageId}:${batch[i]!.classIndex}`, {
          imageId: batch[i]!.imageId,
          mask: regionMask(result.map),
        });
      });
    }

    // Random regions, drawn as the labelled ones were: random images, each with the top of its Grad-CAM
    // map for the class the model predicts. A concept then has to differ from salient regions in
    // general, not merely from background.
    const { ids, names } = project.images.classNames(request.datasetId);
    if (ids.length < 2) throw new ApiError('invalid_request', `${dataset.name} has too few images for random regions`);
    const random = seededUniform(19);
    const setSize = Math.max(10, Math.max(...tested.map((c) => examples.get(c.id)!.length), 0));
    const randomImages = Array.from({ length: request.runs * setSize }, () => ids[Math.floor(random() * ids.length)]!);
    const randomMasks = new Map<number, Uint8Array>();
    const distinct = [...new Set(randomImages)];
    for (let at = 0; at < distinct.length; at += TCAV_BATCH) {
      signal.throwIfAborted();
      report('random regions', at, distinct.length);
      const batch = distinct.slice(at, at + TCAV_BATCH);
      const { results } = await pool.call('cam', {
        model: ref,
        source: { projectPath: project.path, imageIds: batch },
        request: { method: 'gradcam', layer: regionLayer, targets: batch.map(() => -1) },
      });
      results.forEach((result, i) => {
        grid = result.layerShape;
        randomMasks.set(batch[i]!, regionMask(result.map));
      });
    }
    const randomSets: Region[][] = Array.from({ length: request.runs }, (_, r) =>
      randomImages
        .slice(r * setSize, (r + 1) * setSize)
        .map((imageId) => ({ imageId, mask: randomMasks.get(imageId)! })),
    );

    // Class images, for the gradients: up to classImages labelled with each class.
    const classImages = classes.map((name) => ids.filter((_, i) => names[i] === name).slice(0, request.classImages));

    const pass = async (imageIds: number[], targets: number[], stage: string): Promise<LayerPassResult[][]> => {
      const out: LayerPassResult[][] = [];
      for (let at = 0; at < imageIds.length; at += TCAV_BATCH) {
        signal.throwIfAborted();
        report(stage, at, imageIds.length);
        const batch = imageIds.slice(at, at + TCAV_BATCH);
        out.push(
          await pool.call('layerPass', {
            model: ref as ModelRef,
            source: { projectPath: project.path, imageIds: batch },
            layers,
            targets: targets.slice(at, at + TCAV_BATCH),
          }),
        );
      }
      return out;
    };
    /** Per layer, each image's activations pooled over its region (on the region grid, resampled to the layer's). */
    const pooled = async (regions: Region[], stage: string) => {
      const runs = await pass(
        regions.map((r) => r.imageId),
        regions.map(() => 0),
        stage,
      );
      return layers.map((_, l) =>
        regions.map((region, i) => {
          const run = runs[Math.floor(i / TCAV_BATCH)]![l]!;
          const [c, h, w] = run.shape;
          const values = run.activations.subarray((i % TCAV_BATCH) * c * h * w, ((i % TCAV_BATCH) + 1) * c * h * w);
          return poolRegion(values, c, h * w, region.mask ? resampleMask(region.mask, grid, [h, w]) : null);
        }),
      );
    };
    const conceptVectors = new Map<string, Float32Array[][]>();
    for (const c of tested)
      conceptVectors.set(
        c.id,
        await pooled(
          examples.get(c.id)!.map((e) => regionOf.get(`${e.imageId}:${e.classIndex}`)!),
          `activations of "${c.name}"`,
        ),
      );
    const randomVectors = await pooled(randomSets.flat(), 'activations of random regions');
    const randomByLayer = layers.map((_, l) =>
      randomSets.map((_, r) => randomVectors[l]!.slice(r * setSize, (r + 1) * setSize)),
    );

    // Gradients of each class's score on its images, and their whole-image activations for alignment.
    const flatClassImages = classImages.flat();
    const targets = classImages.flatMap((list, k) => list.map(() => k));
    const classRuns = await pass(flatClassImages, targets, 'class gradients');
    const gradientsOf = (l: number, k: number) => {
      const out: Float32Array[] = [];
      let i = 0;
      for (let kk = 0; kk < classImages.length; kk++)
        for (let j = 0; j < classImages[kk]!.length; j++, i++) {
          if (kk !== k) continue;
          const run = classRuns[Math.floor(i / TCAV_BATCH)]![l]!;
          const c = run.shape[0];
          out.push(run.gradients.subarray((i % TCAV_BATCH) * c, ((i % TCAV_BATCH) + 1) * c));
        }
      return out;
    };
    const wholeImage = (l: number, i: number) => {
      const run = classRuns[Math.floor(i / TCAV_BATCH)]![l]!;
      const [c, h, w] = run.shape;
      return poolRegion(
        run.activations.subarray((i % TCAV_BATCH) * c * h * w, ((i % TCAV_BATCH) + 1) * c * h * w),
        c,
        h * w,
        null,
      );
    };

    report('concept activation vectors', 0, tested.length);
    const nulls = layers.map((_, l) => randomCavs(randomByLayer[l]!));
    const results: TestedConcept[] = tested.map((concept, ci) => {
      signal.throwIfAborted();
      report('concept activation vectors', ci, tested.length);
      const scores: TcavScore[] = [];
      const accuracy: Record<string, number> = {};
      const meanCavs: Float32Array[] = [];
      layers.forEach((layer, l) => {
        const fits = randomByLayer[l]!.map((random) => fitCav(conceptVectors.get(concept.id)![l]!, random));
        accuracy[layer] = round(fits.reduce((s, f) => s + f.accuracy, 0) / fits.length);
        const mean = new Float32Array(fits[0]!.cav.length);
        for (const f of fits) for (let d = 0; d < mean.length; d++) mean[d]! += f.cav[d]! / fits.length;
        meanCavs.push(mean);
        classes.forEach((className, k) => {
          const gradients = gradientsOf(l, k);
          if (gradients.length === 0) return;
          const test = scoreConcept(fits, nulls[l]!, gradients);
          scores.push({
            classIndex: k,
            className,
            layer,
            mean: round(test.mean),
            std: round(test.std),
            randomMean: round(test.randomScores.reduce((s, x) => s + x, 0) / test.randomScores.length),
            p: Number(test.p.toPrecision(3)),
            significant: test.significant,
          });
        });
      });
      const testedIn = [...(labelledIn.get(concept.id) ?? [])]
        .map((k) => scores.filter((s) => s.classIndex === k).sort((a, b) => a.p - b.p || b.mean - a.mean)[0])
        .filter((s): s is TcavScore => s !== undefined);
      // Alignment at the layer where the concept is best told from random regions.
      const best = layers.reduce((a, layer, l) => (accuracy[layer]! > accuracy[layers[a]!]! ? l : a), 0);
      const cav = meanCavs[best]!;
      const aligned = flatClassImages
        .map((imageId, i) => {
          const v = wholeImage(best, i);
          let dot = 0;
          let norm = 0;
          for (let d = 0; d < v.length; d++) [dot, norm] = [dot + v[d]! * cav[d]!, norm + v[d]! ** 2];
          return { imageId, similarity: round(dot / (Math.sqrt(norm) * Math.hypot(...cav) || 1)) };
        })
        .sort((a, b) => b.similarity - a.similarity || a.imageId - b.imageId)
        .slice(0, 12);
      return {
        concept: concept.id,
        name: concept.name,
        examples: examples.get(concept.id)!.length,
        accuracy,
        scores,
        tested: testedIn,
        aligned,
      };
    });
    const result: TcavReport = {
      modelId: model.id,
      datasetId: request.datasetId,
      layers,
      runs: request.runs,
      regionLayer,
      concepts: results,
      skipped,
      seconds: round((performance.now() - started) / 1000),
    };
    return { result };
  });
}

export const runTcav = (ctx: Context, request: ParsedRequest<'tcav.run'>): Result<'tcav.run'> => ({
  jobId: startTcav(ctx, request).id,
});

export function tcavResult(ctx: Context, { modelId, datasetId }: ParsedRequest<'tcav.result'>): Result<'tcav.result'> {
  const finished = ctx.jobs
    .list()
    .filter((job) => job.kind === 'tcav' && job.status === 'done')
    .sort((a, b) => (b.finishedAt ?? '').localeCompare(a.finishedAt ?? ''));
  for (const job of finished) {
    const parsed = TcavReport.safeParse(job.result);
    if (parsed.success && parsed.data.modelId === modelId && parsed.data.datasetId === datasetId) return parsed.data;
  }
  return null;
}
