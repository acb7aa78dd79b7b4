/**
 * Annotator packs through the API router: a session taken to another workstation as a pack, labelled
 * there, merged back once (a second merge changes nothing), and a changed answer listed as a conflict
 * that the master never resolves silently; files that are not packs are refused by name.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MethodName, Request } from '../../src-shared/contract.ts';
import type { AnswerInput } from '../../src-shared/schemas/labels.ts';
import { createRouter } from '../../src-main/api/router.ts';
import { Project } from '../../src-main/store/project.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { callVia, carefulAnswer as answerFor, explainedProject } from '../support/labelling.ts';

let ws: Workstation;
let dir: string;
let dispatch: ReturnType<typeof createRouter>;
let analysts: number[];
let sessionId: number;

const call = <M extends MethodName>(method: M, request: Request<M>, via = dispatch) => callVia(via, method, request);

/** A session of every task type dealt to two analysts and a participant, with an open seat; the analysts answer a few tasks. */
beforeAll(async () => {
  dir = tempDir();
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  dispatch = createRouter(ws);
  const { modelId, datasetId } = await explainedProject(ws, join(dir, 'packs.xaiws'), join(dir, 'data'), 12);
  analysts = [
    (await call('annotators.add', { name: 'Ana', role: 'analyst' })).id,
    (await call('annotators.add', { name: 'Ben', role: 'analyst' })).id,
  ];
  const participant = (await call('annotators.add', { name: 'Pia', role: 'participant' })).id;
  const sources = (await call('labels.sources', { modelId })).map((s) => s.source);
  const detail = await call('labels.create', {
    name: 'Study 1',
    modelId,
    datasetId,
    maxImages: 8,
    sources,
    taskTypes: ['rating', 'pairwise', 'concept', 'reveal'],
    overlap: 2,
    goldShare: 0.2,
    annotatorIds: [...analysts, participant],
    openSeats: 1,
    concepts: ['collar', 'sole', 'sleeve'],
  });
  sessionId = detail.id;
  for (const annotatorId of analysts) {
    let next = await call('labels.next', { sessionId, annotatorId });
    for (let answered = 0; next.state === 'task' && answered < 4; answered++) {
      const task = next.task!;
      if (task.type === 'reveal') await call('labels.reveal', { sessionId, annotatorId, taskId: task.taskId, step: 0 });
      next = (await call('labels.answer', { sessionId, annotatorId, taskId: task.taskId, answer: answerFor(task) }))
        .next;
    }
  }
}, 600_000);
afterAll(() => ws.shutdown());

describe('annotator packs', () => {
  it('travel to another desktop, merge back once, list conflicts and never resolve them silently', async () => {
    const packPath = join(dir, 'pack.xaiws');
    const exported = await call('labels.exportPack', { sessionId, path: packPath });
    expect(exported.tasks).toBeGreaterThan(0);

    // The other desktop: its own workstation opens the pack as a project and labels the free seat.
    const other = new Workstation({
      dataDir: join(dir, 'other'),
      resourcesDir: join(ROOT, 'resources'),
      transport: 'cli',
    });
    const otherDispatch = createRouter(other);
    try {
      await other.openProject(packPath);
      const packSession = (await call('labels.sessions', {}, otherDispatch))[0]!;
      expect(packSession.uuid).toBe(ws.project.labels.session(sessionId)!.uuid);
      const quinn = await call('annotators.add', { name: 'Quinn', role: 'analyst' }, otherDispatch);
      let next = await call('labels.next', { sessionId: packSession.id, annotatorId: quinn.id }, otherDispatch);
      expect(next.task!.image?.src ?? 'data:').toMatch(/^data:/);
      let answered = 0;
      while (next.state === 'task' && answered < 6) {
        const task = next.task!;
        if (task.type === 'reveal')
          await call(
            'labels.reveal',
            { sessionId: packSession.id, annotatorId: quinn.id, taskId: task.taskId, step: 0 },
            otherDispatch,
          );
        next = (
          await call(
            'labels.answer',
            { sessionId: packSession.id, annotatorId: quinn.id, taskId: task.taskId, answer: answerFor(task) },
            otherDispatch,
          )
        ).next;
        answered++;
      }
      await other.closeProject();
      const before = ws.project.labels.counts(sessionId).answered;
      const first = await call('labels.mergePack', { path: packPath });
      expect(first).toMatchObject({ added: answered, updated: 0, conflicts: [] });
      expect(first.unchanged).toBe(exported.answers);
      expect(ws.project.labels.counts(sessionId).answered).toBe(before + answered);
      const dump = () =>
        ws.project.db
          .prepare('SELECT task_id, answer, revision, answered_at FROM label_answers ORDER BY task_id')
          .all();
      const afterFirst = dump();
      const second = await call('labels.mergePack', { path: packPath });
      expect(second).toMatchObject({ added: 0, updated: 0, conflicts: [] });
      expect(dump()).toEqual(afterFirst);
      expect(ws.project.db.prepare('SELECT count(*) AS n FROM label_merges').get()).toEqual({ n: 1 });

      // Ana's answer changed on the other desktop while the master kept hers: a conflict, master wins.
      await other.openProject(packPath);
      const ana = ws.project.labels.annotator(analysts[0]!)!;
      const packAna = other.project.labels.annotatorByUuid(ana.uuid)!;
      const anaTask = (
        await call('labels.history', { sessionId: packSession.id, annotatorId: packAna.id }, otherDispatch)
      )[0]!;
      const reopened = await call(
        'labels.task',
        { sessionId: packSession.id, annotatorId: packAna.id, taskId: anaTask.taskId },
        otherDispatch,
      );
      const different: AnswerInput =
        reopened.type === 'rating'
          ? {
              type: 'rating',
              scores: {
                justifies: reopened.answer!.type === 'rating' && reopened.answer!.scores.justifies === 1 ? 2 : 1,
                predictable: 1,
              },
            }
          : reopened.type === 'pairwise'
            ? {
                type: 'pairwise',
                choice: reopened.answer!.type === 'pairwise' && reopened.answer!.choice === 'neither' ? 'a' : 'neither',
              }
            : reopened.type === 'concept'
              ? { type: 'concept', text: 'something else entirely', concepts: [] }
              : { type: 'reveal', guess: null, resigned: true, text: '' };
      await call(
        'labels.answer',
        { sessionId: packSession.id, annotatorId: packAna.id, taskId: anaTask.taskId, answer: different },
        otherDispatch,
      );
      await other.closeProject();
      const masterBefore = ws.project.answers.answer(ws.project.answers.taskByUuid(anaTask.taskId)!.id)!.answer;
      const third = await call('labels.mergePack', { path: packPath });
      expect(third.conflicts).toHaveLength(1);
      expect(third.conflicts[0]).toMatchObject({ taskId: anaTask.taskId, annotator: 'Ana' });
      expect(ws.project.answers.answer(ws.project.answers.taskByUuid(anaTask.taskId)!.id)!.answer).toBe(masterBefore);
    } finally {
      await other.shutdown();
    }
  });

  it('refuses a file that is not a pack, or the open project itself', async () => {
    const plain = Project.create(join(dir, 'plain.xaiws'));
    plain.close();
    await expect(call('labels.mergePack', { path: join(dir, 'plain.xaiws') })).rejects.toMatchObject({
      code: 'pack_invalid',
    });
    await expect(call('labels.mergePack', { path: ws.project.path })).rejects.toMatchObject({ code: 'pack_invalid' });
    await expect(call('labels.mergePack', { path: join(dir, 'nope.xaiws') })).rejects.toMatchObject({
      code: 'source_not_found',
    });
  });
});
