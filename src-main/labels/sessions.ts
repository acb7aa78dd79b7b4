/**
 * Building a labelling session from a dataset selection: the items of each task type from the chosen
 * explanation sources, the gold items, the seats and the deal. Everything a task shows is copied into
 * the session (images, maps scaled to [0, 1]) in one transaction, so a session is whole or absent.
 * The selection is exactly the grid's filtered images (class, prediction, correctness, confidence,
 * split), the first `maxImages` by id of those with a map from a chosen source. A preview plans the same
 * session without building it and says, in words, everything the request asks for that the session will
 * not have: sources without maps for the selection, task types that get no items, images left out.
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
import { ApiError } from '../../src-shared/errors.ts';
import type { z } from 'zod';
import type { LabelSource, SessionPreview, SessionRequest, TaskType } from '../../src-shared/schemas/labels.ts';
import { TASK_TYPES } from '../../src-shared/schemas/labels.ts';
import { seededUniform } from '../../src-shared/random.ts';
import { fullImage } from '../datasets/images.ts';
import type { GoldAnswer } from './scoring.ts';
import { deal, goldCount, shuffle } from './dealing.ts';
import {
  isRegionSource,
  mapCounts,
  mapsOf,
  sourceKey,
  sourceLabel,
  type Context,
  type ExplainedMap,
  type Provenance,
} from './sources.ts';
import { decoyOf } from './decoys.ts';

/**
 * Building a labelling session from a dataset selection: the items of each task type from the chosen
 * explanation sources, the gold items, the seats and the deal. Everything a task shows is copied into
 * the session (images, maps scaled to [0, 1]) in one transaction, so a session is whole or absent.
 * The selection is exactly the grid's filtered images (class, prediction, correctness, confidence,
 * split), the first `maxImages` by id of those with a map from a chosen source. A preview plans the same
 * session without building it and says, in words, everything the request asks for that the session will
 * not have: sources without maps for the selection, task types that get no items, images left out.
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

type Parsed = z.output<typeof SessionRequest>;

export interface SessionConfig {
  request: Parsed;
  modelName: string;
  modelHash: string;
  classes: string[];
  /** What the request asked for that the session does not have (the preview's problems). */
  problems?: string[];
}

interface Candidate {
  taskType: TaskType;
  imageId: number;
  maps: ExplainedMap[];
  gold: GoldAnswer | null;
}

/** A gold item before its decoy is made (decoys can take a model run, so a preview never makes them). */
type GoldPick =
  | { taskType: 'rating' | 'pairwise'; imageId: number; genuine: ExplainedMap; left: boolean }
  | { taskType: 'reveal'; imageId: number; map: ExplainedMap; classIndex: number; trueClass: string };

interface Plan {
  seatAnnotators: (number | null)[];
  images: number;
  withMaps: number;
  used: number[];
  real: Candidate[];
  gold: GoldPick[];
  queues: number[][];
  problems: string[];
  predictions: Map<number, { predictedClass: string; confidence: number } | null>;
}

const TYPE_NAMES: Record<TaskType, string> = {
  rating: 'Rating',
  pairwise: 'Pairwise choice',
  concept: 'Concept label',
  reveal: 'Deep Reveal',
};
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

async function planSession(context: Context, request: Parsed): Promise<Plan> {
  const { project, model } = context;
  const dataset = project.datasets.get(request.datasetId);
  if (!dataset) throw new ApiError('dataset_not_found', `No dataset with id ${request.datasetId} in this project`);
  const annotators = request.annotatorIds.map((annotatorId) => {
    const annotator = project.labels.annotator(annotatorId);
    if (!annotator) throw new ApiError('annotator_not_found', `No annotator with id ${annotatorId} in this project`);
    return annotator;
  });
  if (new Set(request.annotatorIds).size !== request.annotatorIds.length)
    throw new ApiError('invalid_request', 'An annotator can hold only one seat in a session');
  const seats = annotators.length + request.openSeats;
  if (request.overlap > seats) {
    throw new ApiError(
      'invalid_request',
      `An overlap of ${request.overlap} annotators per item needs at least ${request.overlap} annotators or seats; this session has ${seats}`,
    );
  }
  const { datasetId, trueClass, predictedClass, correctness, confidenceMin, confidenceMax, split } = request;
  const imageIds = Array.from(
    project.images.matchingIds({
      datasetId,
      modelId: model.id,
      trueClass,
      predictedClass,
      correctness,
      confidenceMin,
      confidenceMax,
      split,
      sort: 'id',
    }),
  );
  const random = seededUniform(request.seed);
  const problems: string[] = [];

  // Which filtered images have maps of each source (no map read yet), in the order the sources were chosen.
  const counts = new Map<string, Map<number, number>>();
  for (const source of request.sources) {
    const perImage = await mapCounts(context, source, imageIds);
    counts.set(sourceKey(source), perImage);
    if (perImage.size === 0)
      problems.push(
        `The ${sourceLabel(source)} have no map for any of the ${plural(imageIds.length, 'filtered image')}; they add nothing.`,
      );
  }
  const hasMap = (imageId: number) => request.sources.some((s) => counts.get(sourceKey(s))!.has(imageId));
  const withMapsAll = imageIds.filter(hasMap);
  if (withMapsAll.length === 0) {
    throw new ApiError(
      'no_explanations',
      `None of the ${imageIds.length} filtered images of "${dataset.name}" has a cached explanation from the chosen sources; compute them first (Explain ▸ "… filtered")`,
    );
  }
  const used = withMapsAll.slice(0, request.maxImages);
  const without = imageIds.length - withMapsAll.length;
  if (without > 0)
    problems.push(
      `${plural(without, 'filtered image')} without a map from the chosen sources ${without === 1 ? 'is' : 'are'} left out.`,
    );
  if (used.length < withMapsAll.length)
    problems.push(
      `Only the first ${used.length} of the ${withMapsAll.length} images with maps are used ("Images at most").`,
    );

  // Maps of the images the session shows.
  const bySource = new Map<string, Map<number, ExplainedMap[]>>();
  for (const source of request.sources) {
    const perImage = new Map<number, ExplainedMap[]>();
    for (const map of await mapsOf(context, source, used)) {
      const list = perImage.get(map.imageId) ?? [];
      list.push(map);
      perImage.set(map.imageId, list);
    }
    bySource.set(sourceKey(source), perImage);
  }
  const mapsFor = (source: LabelSource, imageId: number) => bySource.get(sourceKey(source))!.get(imageId) ?? [];
  const regionSources = request.sources.filter(isRegionSource);

  const real: Candidate[] = [];
  for (const imageId of used) {
    for (const taskType of request.taskTypes) {
      if (taskType === 'rating' || taskType === 'reveal') {
        for (const source of request.sources)
          for (const map of mapsFor(source, imageId).slice(0, 3))
            real.push({ taskType, imageId, maps: [map], gold: null });
      } else if (taskType === 'concept') {
        // Regions with a meaning of their own where the image has them, else any map.
        const withRegions = regionSources.filter((source) => mapsFor(source, imageId).length > 0);
        for (const source of withRegions.length ? withRegions : request.sources)
          for (const map of mapsFor(source, imageId).slice(0, 3))
            real.push({ taskType, imageId, maps: [map], gold: null });
      } else {
        const firsts = request.sources
          .map((source) => mapsFor(source, imageId)[0])
          .filter((m): m is ExplainedMap => m !== undefined);
        for (let a = 0; a < firsts.length; a++) {
          for (let b = a + 1; b < firsts.length; b++) {
            const pair = random() < 0.5 ? [firsts[a]!, firsts[b]!] : [firsts[b]!, firsts[a]!];
            real.push({ taskType, imageId, maps: pair, gold: null });
          }
        }
      }
    }
  }
  for (const taskType of request.taskTypes) {
    if (real.some((c) => c.taskType === taskType)) continue;
    problems.push(
      taskType === 'pairwise'
        ? `${TYPE_NAMES.pairwise}: no tasks, because no image has maps from two of the chosen sources (a pair compares two methods on one image).`
        : `${TYPE_NAMES[taskType]}: no tasks, because the chosen sources have no map for the selected images.`,
    );
  }
  if (real.length === 0)
    throw new ApiError(
      'no_explanations',
      `The chosen task types need maps the selection lacks (a pairwise choice needs two sources with maps of the same image)`,
    );

  // Gold items, per task type in proportion to its real items.
  const predictions = new Map(
    used.map((imageId) => [imageId, project.predictions.forImage(model.id, imageId, model.manifest.classes)]),
  );
  const classOf = (imageId: number) => project.images.detail(imageId)?.className ?? null;
  const gold: GoldPick[] = [];
  const totalGold = goldCount(real.length, seats, request.overlap, request.goldShare, real.length);
  for (const taskType of request.taskTypes) {
    const ofType = real.filter((c) => c.taskType === taskType);
    const wanted = Math.round((totalGold * ofType.length) / real.length);
    if (wanted === 0) continue;
    if (taskType === 'rating' || taskType === 'pairwise') {
      const pool = shuffle([...real], random);
      for (const c of pool.slice(0, wanted))
        gold.push({
          taskType,
          imageId: c.imageId,
          genuine: c.maps[0]!,
          left: taskType === 'pairwise' && random() < 0.5,
        });
    } else if (taskType === 'reveal') {
      const obvious = used
        .filter((imageId) => {
          const p = predictions.get(imageId);
          return p && classOf(imageId) === p.predictedClass && model.manifest.classes.includes(p.predictedClass);
        })
        .sort((a, b) => predictions.get(b)!.confidence - predictions.get(a)!.confidence);
      for (const imageId of obvious.slice(0, wanted)) {
        const map = request.sources.map((s) => mapsFor(s, imageId)[0]).find((m) => m !== undefined)!;
        const trueClass = classOf(imageId)!;
        gold.push({ taskType, imageId, map, classIndex: model.manifest.classes.indexOf(trueClass), trueClass });
      }
    }
  }

  const items = [
    ...real.map((c) => ({ image: c.imageId, reveal: c.taskType === 'reveal', gold: false })),
    ...gold.map((g) => ({ image: g.imageId, reveal: g.taskType === 'reveal', gold: true })),
  ];
  const queues = deal({ items, seats, overlap: request.overlap, seed: request.seed });
  return {
    seatAnnotators: [...annotators.map((a) => a.id), ...new Array<null>(request.openSeats).fill(null)],
    images: imageIds.length,
    withMaps: withMapsAll.length,
    used,
    real,
    gold,
    queues,
    problems,
    predictions,
  };
}

/** What the request would build, and what it cannot, without building anything. */
export async function previewSession(context: Context, request: Parsed): Promise<SessionPreview> {
  const plan = await planSession(context, request);
  const items = Object.fromEntries(
    TASK_TYPES.map((type) => [type, plan.real.filter((c) => c.taskType === type).length]),
  ) as SessionPreview['items'];
  return {
    images: plan.images,
    withMaps: plan.withMaps,
    used: plan.used.length,
    items,
    goldItems: plan.gold.length,
    seats: plan.seatAnnotators.length,
    tasks: plan.queues.reduce((sum, queue) => sum + queue.length, 0),
    problems: plan.problems,
  };
}

export async function createSession(context: Context, request: Parsed): Promise<number> {
  const { project, model } = context;
  const plan = await planSession(context, request);
  const gold: Candidate[] = [];
  for (const pick of plan.gold) {
    if (pick.taskType === 'reveal') {
      gold.push({
        taskType: 'reveal',
        imageId: pick.imageId,
        maps: [pick.map],
        gold: { type: 'reveal', classIndex: pick.classIndex, reason: `This is an easy one: a ${pick.trueClass}.` },
      });
      continue;
    }
    const decoy = await decoyOf(context, pick.genuine);
    if (pick.taskType === 'rating')
      gold.push({
        taskType: 'rating',
        imageId: pick.imageId,
        maps: [decoy.map],
        gold: { type: 'rating', maxJustifies: 2, reason: `A careful rater gives this 1 or 2: ${decoy.why}.` },
      });
    else {
      const maps = pick.left ? [pick.genuine, decoy.map] : [decoy.map, pick.genuine];
      gold.push({
        taskType: 'pairwise',
        imageId: pick.imageId,
        maps,
        gold: {
          type: 'pairwise',
          choice: pick.left ? 'a' : 'b',
          reason: `The ${pick.left ? 'left' : 'right'} map is the real explanation; the other is a decoy: ${decoy.why}.`,
        },
      });
    }
  }
  const all = [...plan.real, ...gold];
  const classOf = (imageId: number) => project.images.detail(imageId)?.className ?? null;
  const images = await Promise.all(
    plan.used.map(async (imageId) => {
      const { bytes, mime, width, height } = await fullImage(context, imageId);
      const prediction = plan.predictions.get(imageId);
      return {
        imageId,
        bytes,
        mime,
        width,
        height,
        opaque: randomBytes(12).toString('hex'),
        trueClass: classOf(imageId),
        predictedClass: prediction?.predictedClass ?? null,
        confidence: prediction?.confidence ?? null,
      };
    }),
  );
  const config: SessionConfig = {
    request,
    modelName: model.name,
    modelHash: model.fileHash,
    classes: model.manifest.classes,
    problems: plan.problems,
  };
  const store = project.labels;
  return project.transaction(() => {
    const sessionId = store.insertSession(request.name, config);
    for (const image of images) store.insertImage(sessionId, image);
    const itemIds = all.map((c) =>
      store.insertItem(sessionId, {
        taskType: c.taskType,
        imageId: c.imageId,
        explanations: c.maps.map((m): Provenance => m.provenance),
        maps: c.maps.map((m) => ({ width: m.width, height: m.height, map: m.map })),
        gold: c.gold,
      }),
    );
    const seatIds = plan.seatAnnotators.map((annotatorId, index) => store.insertSeat(sessionId, index, annotatorId));
    plan.queues.forEach((queue, seat) =>
      queue.forEach((item, position) => project.answers.insertTask(seatIds[seat]!, itemIds[item]!, position + 1)),
    );
    return sessionId;
  })();
}
