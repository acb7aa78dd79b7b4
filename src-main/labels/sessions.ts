/**
 * Building a labelling session from a dataset selection: the items of each task type from the chosen
 * explanation sources, the gold items, the seats and the deal. Everything a task shows is copied into
 * the session (images, maps scaled to [0, 1]) in one transaction, so a session is whole or absent.
 *
 * Gold items (their known answer never leaves main):
 * - rating: a decoy a careful rater rates "justifies the class" 2 or lower. For a CAM map it is the
 *   same method's map from the model with every parameter layer randomised (the sanity check's last
 *   step), which cannot justify anything; for other kinds, the map turned inside out (1 - map), which
 *   highlights what the explainer found least important;
 * - pairwise: a real explanation against its decoy; the real one is the answer;
 * - reveal: the images the model classifies right with the highest confidence, whose class is obvious;
 *   the answer is the true class.
 * Concept labels have no right answer and get no gold items.
 */
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { ApiError } from '../../src-shared/errors.ts';
import type { z } from 'zod';
import type { LabelSource, SessionRequest, TaskType } from '../../src-shared/labels.ts';
import { seededUniform } from '../../src-shared/random.ts';
import { imageBytes } from '../datasets/image-bytes.ts';
import type { GoldAnswer } from './scoring.ts';
import { deal, goldCount, shuffle } from './dealing.ts';
import { isRegionSource, mapsOf, normalise, sourceKey, type Context, type ExplainedMap, type Provenance } from './sources.ts';
import { verifiedModel } from '../explain/service.ts';
import type { CamMethodName } from '../../src-shared/contract.ts';

type Parsed = z.output<typeof SessionRequest>;

export interface SessionConfig {
  request: Parsed;
  modelName: string;
  modelHash: string;
  classes: string[];
}

interface Candidate {
  taskType: TaskType;
  imageId: number;
  maps: ExplainedMap[];
  gold: GoldAnswer | null;
}

const withDecoy = (map: ExplainedMap, decoy: string, values: Float32Array, width = map.width, height = map.height): ExplainedMap => ({
  ...map,
  width,
  height,
  map: values,
  provenance: { ...map.provenance, params: JSON.stringify({ ...(JSON.parse(map.provenance.params) as object), decoy }), ref: `${map.provenance.ref}:${decoy}` },
});

/** The decoy of a genuine map and why a careful annotator rejects it. */
async function decoyOf(context: Context, genuine: ExplainedMap): Promise<{ map: ExplainedMap; why: string }> {
  const { provenance } = genuine;
  if (provenance.kind === 'cam' && provenance.targetClass !== null) {
    const result = await context.pool.sanity(await verifiedModel(context.model), { projectPath: context.project.path, imageIds: [genuine.imageId] }, { method: provenance.method as CamMethodName, layer: provenance.layer, target: provenance.targetClass }, {}, true);
    if (result.randomised) {
      const [height, width] = result.randomised.layerShape;
      return { map: withDecoy(genuine, 'randomised-model', normalise(result.randomised.map), width, height), why: 'this map comes from the model with all its weights randomised, so it cannot show what justifies the class' };
    }
  }
  return { map: withDecoy(genuine, 'inverted', genuine.map.map((v) => 1 - v)), why: 'this map highlights what the explainer found least important' };
}

export async function createSession(context: Context, request: Parsed): Promise<number> {
  const { project, model } = context;
  const dataset = project.datasets.get(request.datasetId);
  if (!dataset) throw new ApiError('dataset_not_found', `No dataset with id ${request.datasetId} in this project`);
  const annotators = request.annotatorIds.map((annotatorId) => {
    const annotator = project.labels.annotator(annotatorId);
    if (!annotator) throw new ApiError('annotator_not_found', `No annotator with id ${annotatorId} in this project`);
    return annotator;
  });
  if (new Set(request.annotatorIds).size !== request.annotatorIds.length) throw new ApiError('invalid_request', 'An annotator can hold only one seat in a session');
  const seats = annotators.length + request.openSeats;
  if (request.overlap > seats) {
    throw new ApiError('invalid_request', `An overlap of ${request.overlap} annotators per item needs at least ${request.overlap} annotators or seats; this session has ${seats}`);
  }
  const imageIds = Array.from(
    project.images.matchingIds({ datasetId: request.datasetId, modelId: model.id, trueClass: request.trueClass, predictedClass: request.predictedClass, correctness: request.correctness, confidenceMin: 0, confidenceMax: 1, sort: 'id' }),
  );
  const random = seededUniform(request.seed);

  // Maps per image and source, in the order the sources were chosen.
  const bySource = new Map<string, Map<number, ExplainedMap[]>>();
  for (const source of request.sources) {
    const perImage = new Map<number, ExplainedMap[]>();
    for (const map of await mapsOf(context, source, imageIds)) {
      const list = perImage.get(map.imageId) ?? [];
      list.push(map);
      perImage.set(map.imageId, list);
    }
    bySource.set(sourceKey(source), perImage);
  }
  const withMaps = imageIds.filter((imageId) => request.sources.some((s) => bySource.get(sourceKey(s))!.has(imageId))).slice(0, request.maxImages);
  if (withMaps.length === 0) {
    throw new ApiError('no_explanations', `None of the ${imageIds.length} selected images of "${dataset.name}" has a cached explanation from the chosen sources; compute them first (Explain ▸ "… filtered")`);
  }
  const mapsFor = (source: LabelSource, imageId: number) => bySource.get(sourceKey(source))!.get(imageId) ?? [];
  const regionSources = request.sources.filter(isRegionSource);

  const real: Candidate[] = [];
  for (const imageId of withMaps) {
    for (const taskType of request.taskTypes) {
      if (taskType === 'rating' || taskType === 'reveal') {
        for (const source of request.sources) for (const map of mapsFor(source, imageId).slice(0, 3)) real.push({ taskType, imageId, maps: [map], gold: null });
      } else if (taskType === 'concept') {
        for (const source of regionSources.length ? regionSources : request.sources) for (const map of mapsFor(source, imageId).slice(0, 3)) real.push({ taskType, imageId, maps: [map], gold: null });
      } else {
        const firsts = request.sources.map((source) => mapsFor(source, imageId)[0]).filter((m): m is ExplainedMap => m !== undefined);
        for (let a = 0; a < firsts.length; a++) {
          for (let b = a + 1; b < firsts.length; b++) {
            const pair = random() < 0.5 ? [firsts[a]!, firsts[b]!] : [firsts[b]!, firsts[a]!];
            real.push({ taskType, imageId, maps: pair, gold: null });
          }
        }
      }
    }
  }
  if (real.length === 0) throw new ApiError('no_explanations', `The chosen task types need maps the selection lacks (a pairwise choice needs two sources with maps of the same image)`);

  // Gold items, per task type in proportion to its real items.
  const predictions = new Map(withMaps.map((imageId) => [imageId, project.predictions.forImage(model.id, imageId, model.manifest.classes)]));
  const classOf = (imageId: number) => project.images.detail(imageId)?.className ?? null;
  const gold: Candidate[] = [];
  const totalGold = goldCount(real.length, seats, request.overlap, request.goldShare, real.length);
  for (const taskType of request.taskTypes) {
    const ofType = real.filter((c) => c.taskType === taskType);
    const wanted = Math.round((totalGold * ofType.length) / real.length);
    if (wanted === 0) continue;
    if (taskType === 'rating' || taskType === 'pairwise') {
      const pool = shuffle([...real], random);
      for (const c of pool.slice(0, wanted)) {
        const genuine = c.maps[0]!;
        const decoy = await decoyOf(context, genuine);
        if (taskType === 'rating') gold.push({ taskType, imageId: c.imageId, maps: [decoy.map], gold: { type: 'rating', maxJustifies: 2, reason: `A careful rater gives this 1 or 2: ${decoy.why}.` } });
        else {
          const left = random() < 0.5;
          gold.push({ taskType, imageId: c.imageId, maps: left ? [genuine, decoy.map] : [decoy.map, genuine], gold: { type: 'pairwise', choice: left ? 'a' : 'b', reason: `The ${left ? 'left' : 'right'} map is the real explanation; the other is a decoy: ${decoy.why}.` } });
        }
      }
    } else if (taskType === 'reveal') {
      const obvious = withMaps
        .filter((imageId) => {
          const p = predictions.get(imageId);
          return p && classOf(imageId) === p.predictedClass && model.manifest.classes.includes(p.predictedClass);
        })
        .sort((a, b) => predictions.get(b)!.confidence - predictions.get(a)!.confidence);
      for (const imageId of obvious.slice(0, wanted)) {
        const map = request.sources.map((s) => mapsFor(s, imageId)[0]).find((m) => m !== undefined)!;
        const trueClass = classOf(imageId)!;
        gold.push({ taskType, imageId, maps: [map], gold: { type: 'reveal', classIndex: model.manifest.classes.indexOf(trueClass), reason: `This is an easy one: a ${trueClass}.` } });
      }
    }
  }

  const queues = deal({ realItems: real.length, goldItems: gold.length, seats, overlap: request.overlap, seed: request.seed });
  const images = await Promise.all(
    withMaps.map(async (imageId) => {
      const { bytes, mime } = await imageBytes(project, imageId, 'full');
      const meta = await sharp(bytes).metadata();
      const prediction = predictions.get(imageId);
      return { imageId, bytes, mime, width: meta.width ?? 0, height: meta.height ?? 0, opaque: randomBytes(12).toString('hex'), trueClass: classOf(imageId), predictedClass: prediction?.predictedClass ?? null, confidence: prediction?.confidence ?? null };
    }),
  );
  const config: SessionConfig = { request, modelName: model.name, modelHash: model.fileHash, classes: model.manifest.classes };
  const store = project.labels;
  return project.db.transaction(() => {
    const sessionId = store.insertSession(request.name, config);
    for (const image of images) store.insertImage(sessionId, image);
    const itemIds = [...real, ...gold].map((c) =>
      store.insertItem(sessionId, {
        taskType: c.taskType,
        imageId: c.imageId,
        explanations: c.maps.map((m): Provenance => m.provenance),
        maps: c.maps.map((m) => ({ width: m.width, height: m.height, map: m.map })),
        gold: c.gold,
      }),
    );
    const seatIds = [...annotators.map((a) => a.id), ...new Array<null>(request.openSeats).fill(null)].map((annotatorId, index) => store.insertSeat(sessionId, index, annotatorId));
    queues.forEach((queue, seat) => queue.forEach((item, position) => store.insertTask(seatIds[seat]!, itemIds[item]!, position + 1)));
    return sessionId;
  })();
}
