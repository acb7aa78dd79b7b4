/** A real project ready for labelling: demo model, Fashion-MNIST images, CAM maps, annotators, a session. */
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import type { Dispatch } from '../../src-main/api/router.ts';
import { join } from 'node:path';
import type { SessionRequest, TaskView, AnswerInput } from '../../src-shared/schemas/labels.ts';
import { createSession } from '../../src-main/labels/sessions.ts';
import { SessionRequest as SessionSchema } from '../../src-shared/schemas/labels.ts';
import type { Workstation } from '../../src-main/workstation.ts';
import { fashionMnistSubset } from './fixtures.ts';
import { ROOT } from './host.ts';
import { addModel } from '../../src-main/models/service.ts';
import { inlineImage, seatOf } from '../../src-main/labels/service.ts';
import { startExplain } from '../../src-main/explain/service.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { startInference } from '../../src-main/inference/service.ts';
import { modelScope } from '../../src-main/runtime/context.ts';

export const BUNDLE = join(ROOT, 'resources/models/fashion-mnist-cnn');
export const LAYER = '/features/features.10/Relu_output_0';

/** Creates a project at `path` with `images` explained by Grad-CAM and LayerCAM; returns its ids. */
export async function explainedProject(
  ws: Workstation,
  path: string,
  dataDir: string,
  images = 12,
): Promise<{ modelId: number; datasetId: number }> {
  await ws.createProject(path);
  const modelId = (
    await addModel(ws, {
      path: join(BUNDLE, 'classifier.onnx'),
      manifestPath: join(BUNDLE, 'classifier.manifest.json'),
    })
  ).id;
  const job = await ws.jobs.wait(startImport(ws, { source: fashionMnistSubset(dataDir, images) }).id);
  const datasetId = job.result!.datasetId as number;
  await ws.jobs.wait(startInference(ws, { modelId: modelId, datasetId: datasetId }).id);
  const query = { datasetId, correctness: 'all' as const, confidenceMin: 0, confidenceMax: 1, sort: 'id' as const };
  for (const method of ['gradcam', 'layercam'] as const)
    await ws.jobs.wait(startExplain(ws, { modelId, method, layer: LAYER, target: -1, query }).id);
  return { modelId, datasetId };
}

export async function labelSession(
  ws: Workstation,
  ids: { modelId: number; datasetId: number },
  request: Partial<SessionRequest>,
): Promise<number> {
  const sources = [
    { kind: 'cam' as const, method: 'gradcam', layer: LAYER, target: -1 },
    { kind: 'cam' as const, method: 'layercam', layer: LAYER, target: -1 },
  ];
  const parsed = SessionSchema.parse({ name: 'Session', sources, taskTypes: ['rating'], ...ids, ...request });
  const sessionId = await createSession(modelScope(ws, ids.modelId), parsed);
  return sessionId;
}

/** A deterministic plausible answer for any task: focused maps (low mean) rate higher and win pairs. */
export function answerFor(task: TaskView, shift = 0): AnswerInput {
  const seed = [...task.taskId].reduce((sum, c) => sum + c.charCodeAt(0), 0) + shift;
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  switch (task.type) {
    case 'rating': {
      const justifies = Math.min(
        5,
        Math.max(1, Math.round(1 + 4 * (1 - mean(task.maps[0]!.map))) + (seed % 3 === 0 ? 1 : 0)),
      );
      return { type: 'rating', scores: { justifies, predictable: Math.max(1, justifies - (seed % 2)) }, comment: '' };
    }
    case 'pairwise':
      return {
        type: 'pairwise',
        choice: seed % 5 === 0 ? 'neither' : mean(task.maps[0]!.map) <= mean(task.maps[1]!.map) ? 'a' : 'b',
      };
    case 'concept':
      return {
        type: 'concept',
        text: ['collar', 'sole', 'sleeve'][seed % 3]!,
        concepts: task.concepts.slice(seed % 2, (seed % 2) + 1),
      };
    case 'reveal':
      return { type: 'reveal', guess: seed % Math.max(1, task.classes.length), resigned: false, text: 'edges' };
  }
}

/** Concept texts that make known clusters: garment tops, footwear parts, patterns. */
export const CONCEPT_TEXTS = ['collar', 'long sleeves', 'neckline', 'sole', 'heel and toe', 'laces', 'stripes', 'dots'];

/**
 * Answers every task of the annotators' seats through the services (reveal tasks revealed one to three
 * steps first); concept and reveal answers take their text from CONCEPT_TEXTS. Returns the count.
 */
export async function answerAll(
  ws: Workstation,
  sessionId: number,
  annotatorIds: number[],
  texts: readonly string[] = CONCEPT_TEXTS,
): Promise<number> {
  const { next, answer } = await import('../../src-main/labels/tasks.ts');
  const { reveal } = await import('../../src-main/labels/reveal.ts');
  let count = 0;
  for (const [k, annotatorId] of annotatorIds.entries()) {
    const seat = () => seatOf(ws, sessionId, annotatorId);
    let upcoming = next(ws.project, seat(), inlineImage(ws));
    let i = 0;
    while (upcoming.state === 'task' && upcoming.task) {
      const task = upcoming.task;
      let given = answerFor(task, k);
      const text = texts[(i * 3 + k) % texts.length]!;
      if (task.type === 'reveal') {
        await reveal(ws.project, ws.images, seat(), task.taskId, i % 3);
        given = { ...given, text } as AnswerInput;
      }
      if (task.type === 'concept') given = { type: 'concept', text, concepts: [] };
      upcoming = answer(ws.project, seat(), task.taskId, given, 'local', inlineImage(ws)).next;
      i++;
      count++;
    }
  }
  return count;
}

/** One API call through a router; a failure throws with its code. */
export async function callVia<M extends MethodName>(via: Dispatch, method: M, request: Request<M>): Promise<Result<M>> {
  const envelope = await via(method, request);
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  return envelope.value as Result<M>;
}

/**
 * A careful annotator's answer: focused maps (low mean) are rated higher and preferred, which also
 * catches the inverted gold decoys; `bias` shifts ratings, so two annotators agree but not perfectly.
 */
export function carefulAnswer(task: TaskView, bias = 0): AnswerInput {
  const seed = [...task.taskId].reduce((sum, c) => sum + c.charCodeAt(0), 0);
  switch (task.type) {
    case 'rating': {
      const justifies = Math.min(5, Math.max(1, Math.round(1 + 4 * (1 - mean(task.maps[0]!.map))) + bias));
      return { type: 'rating', scores: { justifies, predictable: justifies }, comment: '' };
    }
    case 'pairwise':
      return { type: 'pairwise', choice: mean(task.maps[0]!.map) <= mean(task.maps[1]!.map) ? 'a' : 'b' };
    case 'concept':
      return { type: 'concept', text: 'collar', concepts: task.concepts.slice(seed % 2, (seed % 2) + 1) };
    case 'reveal':
      return { type: 'reveal', guess: seed % 10, resigned: false, text: 'edges' };
  }
}
export const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
