/**
 * Labelling through the API router on a real project: CAM maps and feature clusters of real
 * Fashion-MNIST images from the demo model, a session dealt to analysts and a participant, answers of
 * every task type committed before the reply, gold checks, the tutorial round, history and revisions,
 * agreement, CSV/JSONL export (annotator packs: labels-packs.test.ts).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import type { AnswerInput, TaskView } from '../../src-shared/schemas/labels.ts';
import { createRouter } from '../../src-main/api/router.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { Project } from '../../src-main/store/project.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { callVia, carefulAnswer as answerFor, explainedProject, LAYER, mean } from '../support/labelling.ts';
import { explainLayerwise } from '../../src-main/explain/service.ts';
import { seatOf } from '../../src-main/labels/service.ts';
let ws: Workstation;
let dir: string;
let modelId: number;
let datasetId: number;
let dispatch: ReturnType<typeof createRouter>;

const call = <M extends MethodName>(method: M, request: Request<M>, via = dispatch) => callVia(via, method, request);

let analysts: number[];
let participant: number;
let sessionId: number;

beforeAll(async () => {
  dir = tempDir();
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  dispatch = createRouter(ws);
  ({ modelId, datasetId } = await explainedProject(ws, join(dir, 'labels.xaiws'), join(dir, 'data'), 12));
  const query = { datasetId, correctness: 'all' as const, confidenceMin: 0, confidenceMax: 1, sort: 'id' as const };
  const ids = Array.from(ws.project.images.matchingIds(query));
  for (const imageId of ids.slice(0, 2)) await explainLayerwise(ws, { modelId, imageId, target: -1 });
  analysts = [
    (await call('annotators.add', { name: 'Ana', role: 'analyst' })).id,
    (await call('annotators.add', { name: 'Ben', role: 'analyst' })).id,
  ];
  participant = (await call('annotators.add', { name: 'Pia', role: 'participant' })).id;
}, 600_000);
afterAll(() => ws.shutdown());

describe('a labelling session', () => {
  it('lists every cached explanation kind as a source', async () => {
    const sources = await call('labels.sources', { modelId });
    expect(sources.map((s) => s.source.kind).sort()).toEqual(['cam', 'cam', 'clusters']);
    expect(sources.find((s) => s.source.kind === 'clusters')!.regions).toBe(true);
    expect(sources.find((s) => s.source.kind === 'cam')!.count).toBe(12);
  });

  it('is built from a selection and dealt with the overlap, no item twice to anyone, gold to all', async () => {
    const sources = (await call('labels.sources', { modelId })).map((s) => s.source);
    const request = {
      name: 'Study 1',
      modelId,
      datasetId,
      maxImages: 8,
      sources,
      taskTypes: ['rating', 'pairwise', 'concept', 'reveal'] as const,
      overlap: 2,
      goldShare: 0.2,
      annotatorIds: [...analysts, participant],
      openSeats: 1,
      concepts: ['collar', 'sole', 'sleeve'],
    };
    const preview = await call('labels.preview', { ...request, taskTypes: [...request.taskTypes] });
    const detail = await call('labels.create', { ...request, taskTypes: [...request.taskTypes] });
    sessionId = detail.id;
    expect(detail.seats).toHaveLength(4);
    expect(detail.goldItems).toBeGreaterThan(0);
    expect(preview.goldItems).toBe(detail.goldItems);
    expect(preview.tasks).toBe(detail.tasks);
    expect(preview.problems).toEqual(['Only the first 8 of the 12 images with maps are used ("Images at most").']);
    const db = ws.project.db;
    const holders = db
      .prepare(
        `SELECT it.gold IS NOT NULL AS gold, count(t.id) AS n, count(DISTINCT t.seat_id) AS seats FROM label_items it JOIN label_tasks t ON t.item_id = it.id WHERE it.session_id = ? GROUP BY it.id`,
      )
      .all(sessionId) as { gold: number; n: number; seats: number }[];
    for (const h of holders) {
      expect(h.n).toBe(h.seats);
      expect(h.n).toBe(h.gold ? 4 : 2);
    }
    expect(holders.length).toBe(detail.items);
    // No seat plays the reveal game on an image it has already seen in full in the session.
    const late = db
      .prepare(
        `SELECT count(*) AS n FROM label_tasks t JOIN label_items it ON it.id = t.item_id JOIN label_tasks u ON u.seat_id = t.seat_id AND u.position < t.position JOIN label_items iu ON iu.id = u.item_id
       WHERE it.session_id = ? AND it.task_type = 'reveal' AND iu.task_type != 'reveal' AND iu.image_id = it.image_id`,
      )
      .get(sessionId) as { n: number };
    expect(late.n).toBe(0);
    // Gold decoys: CAM maps from the fully randomised model, other kinds inverted; never the real map.
    const golds = db
      .prepare(
        `SELECT task_type AS type, explanations FROM label_items WHERE session_id = ? AND gold IS NOT NULL AND task_type IN ('rating', 'pairwise')`,
      )
      .all(sessionId) as { type: string; explanations: string }[];
    expect(golds.length).toBeGreaterThan(0);
    for (const g of golds) {
      const decoys = (JSON.parse(g.explanations) as { kind: string; params: string }[]).map((p) => ({
        kind: p.kind,
        decoy: (JSON.parse(p.params) as { decoy?: string }).decoy,
      }));
      const decoy = decoys.find((d) => d.decoy)!;
      expect(decoy.decoy).toBe(decoy.kind === 'cam' ? 'randomised-model' : 'inverted');
      expect(decoys.filter((d) => d.decoy)).toHaveLength(1);
    }
    expect(golds.some((g) => g.explanations.includes('randomised-model'))).toBe(true);
    const types = db
      .prepare('SELECT DISTINCT task_type AS t FROM label_items WHERE session_id = ?')
      .all(sessionId)
      .map((r) => (r as { t: string }).t)
      .sort();
    expect(types).toEqual(['concept', 'pairwise', 'rating', 'reveal']);
  });

  it('commits an answer before it replies with the next task, and keeps the answer type honest', async () => {
    const first = await call('labels.next', { sessionId, annotatorId: analysts[0]! });
    expect(first.state).toBe('task');
    expect(first.task!.practice).toBe(false); // analysts get no tutorial unless the session says so
    expect(first.progress.gamified).toBe(false);
    const task = first.task!;
    const wrongType: AnswerInput =
      task.type === 'rating'
        ? { type: 'pairwise', choice: 'a' }
        : { type: 'rating', scores: { justifies: 1, predictable: 1 } };
    await expect(
      call('labels.answer', { sessionId, annotatorId: analysts[0]!, taskId: task.taskId, answer: wrongType }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
    if (task.type === 'reveal')
      await call('labels.reveal', { sessionId, annotatorId: analysts[0]!, taskId: task.taskId, step: 0 });
    const ack = await call('labels.answer', {
      sessionId,
      annotatorId: analysts[0]!,
      taskId: task.taskId,
      answer: answerFor(task),
    });
    expect(ack.revision).toBe(1);
    const row = ws.project.db
      .prepare('SELECT a.answer FROM label_answers a JOIN label_tasks t ON t.id = a.task_id WHERE t.uuid = ?')
      .get(task.taskId) as { answer: string } | undefined;
    expect(JSON.parse(row!.answer).type).toBe(task.type);
    expect(ack.next.task!.taskId).not.toBe(task.taskId);
    expect(ack.next.progress.answered).toBe(1);
  });

  it("refuses another annotator's task as unknown and changes nothing", async () => {
    const theirs = (await call('labels.next', { sessionId, annotatorId: analysts[1]! })).task!;
    const before = ws.project.labels.counts(sessionId).answered;
    await expect(
      call('labels.answer', { sessionId, annotatorId: analysts[0]!, taskId: theirs.taskId, answer: answerFor(theirs) }),
    ).rejects.toMatchObject({ code: 'task_not_found' });
    await expect(
      call('labels.task', { sessionId, annotatorId: analysts[0]!, taskId: '../../etc/passwd' }),
    ).rejects.toMatchObject({ code: 'task_not_found' });
    expect(ws.project.labels.counts(sessionId).answered).toBe(before);
  });

  it('plays the reveal game: masked steps, the highest step counts, the score follows the paper', async () => {
    const seat = ws.project.labels.seatOf(sessionId, analysts[1]!)!;
    const revealTask = ws.project.db
      .prepare(
        `SELECT t.uuid FROM label_tasks t JOIN label_items it ON it.id = t.item_id WHERE t.seat_id = ? AND it.task_type = 'reveal' AND it.gold IS NULL LIMIT 1`,
      )
      .get(seat.id) as { uuid: string };
    const opened = await call('labels.task', { sessionId, annotatorId: analysts[1]!, taskId: revealTask.uuid });
    expect(opened.image).toBeNull();
    expect(opened.targetClass).toBeNull();
    await expect(
      call('labels.answer', {
        sessionId,
        annotatorId: analysts[1]!,
        taskId: revealTask.uuid,
        answer: { type: 'reveal', guess: 1, resigned: false, text: '' },
      }),
    ).rejects.toThrow(/Reveal at least one step/);
    const step0 = await call('labels.reveal', {
      sessionId,
      annotatorId: analysts[1]!,
      taskId: revealTask.uuid,
      step: 0,
    });
    const step2 = await call('labels.reveal', {
      sessionId,
      annotatorId: analysts[1]!,
      taskId: revealTask.uuid,
      step: 2,
    });
    expect(step0.percent).toBe(2);
    expect(step2.percent).toBe(8);
    expect(step0.src).toMatch(/^data:image\/png;base64,/);
    expect(step0.src).not.toBe(step2.src);
    await expect(
      call('labels.reveal', { sessionId, annotatorId: analysts[1]!, taskId: revealTask.uuid, step: 6 }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
    const item = ws.project.db
      .prepare(
        'SELECT img.true_class AS c FROM label_tasks t JOIN label_items it ON it.id = t.item_id JOIN label_images img ON img.session_id = it.session_id AND img.image_id = it.image_id WHERE t.uuid = ?',
      )
      .get(revealTask.uuid) as { c: string };
    const classes = (await call('labels.session', { sessionId })).classes;
    await call('labels.answer', {
      sessionId,
      annotatorId: analysts[1]!,
      taskId: revealTask.uuid,
      answer: { type: 'reveal', guess: classes.indexOf(item.c), resigned: false, text: 'a long shape' },
    });
    const stored = ws.project.db
      .prepare('SELECT a.score FROM label_answers a JOIN label_tasks t ON t.id = a.task_id WHERE t.uuid = ?')
      .get(revealTask.uuid) as { score: number };
    expect(stored.score).toBeCloseTo(0.7); // step 3 of 6, right guess
  });

  it('starts participants with a tutorial round that stores nothing', async () => {
    // At most one practice task per task type, none of them showing an image the participant will play in full.
    const types = (await call('labels.session', { sessionId })).taskTypes;
    const seat = seatOf(ws, sessionId, participant);
    const played = new Set(
      ws.project.answers
        .tasks(seat.id)
        .map((t) => ws.project.labels.item(t.itemId)!)
        .filter((item) => item.taskType === 'reveal')
        .map((item) => item.imageId),
    );
    let next = await call('labels.next', { sessionId, annotatorId: participant });
    expect(next.progress.gamified).toBe(true);
    const practised: string[] = [];
    while (next.task!.practice) {
      expect(next.task!.hint).toBeTruthy();
      const task = next.task!;
      practised.push(task.type);
      if (task.type !== 'reveal')
        expect(played.has(ws.project.labels.itemByUuid(task.taskId.slice('practice:'.length))!.imageId)).toBe(false);
      if (task.type === 'reveal')
        await call('labels.reveal', { sessionId, annotatorId: participant, taskId: task.taskId, step: 1 });
      const ack = await call('labels.answer', {
        sessionId,
        annotatorId: participant,
        taskId: task.taskId,
        answer: answerFor(task),
      });
      expect(ack.practiceCorrect).not.toBeNull();
      next = ack.next;
    }
    expect(practised.length).toBeGreaterThan(0);
    expect(practised.length).toBeLessThanOrEqual(types.length);
    expect(new Set(practised).size).toBe(practised.length);
    expect(next.task!.practice).toBe(false);
    expect(next.progress.answered).toBe(0);
  });

  it('lets an annotator reopen and change an answer from the history', async () => {
    const history = await call('labels.history', { sessionId, annotatorId: analysts[0]! });
    expect(history).toHaveLength(1);
    const task = await call('labels.task', { sessionId, annotatorId: analysts[0]!, taskId: history[0]!.taskId });
    expect(task.answer).not.toBeNull();
    const changed =
      task.type === 'rating'
        ? { type: 'rating' as const, scores: { justifies: 5, predictable: 4 }, comment: 'changed my mind' }
        : answerFor(task, 1);
    const ack = await call('labels.answer', {
      sessionId,
      annotatorId: analysts[0]!,
      taskId: task.taskId,
      answer: changed,
    });
    expect(ack.revision).toBe(2);
    expect((await call('labels.history', { sessionId, annotatorId: analysts[0]! }))[0]!.revision).toBe(2);
  });

  it('measures gold accuracy and reliability per annotator, and agreement with intervals', async () => {
    // Ana answers everything carefully; Ben rates the decoys high (a careless rater).
    for (const [annotatorId, careless] of [
      [analysts[0]!, false],
      [analysts[1]!, true],
    ] as const) {
      let next = await call('labels.next', { sessionId, annotatorId });
      while (next.state === 'task') {
        const task = next.task!;
        if (task.type === 'reveal')
          await call('labels.reveal', { sessionId, annotatorId, taskId: task.taskId, step: 3 });
        let answer = answerFor(task);
        if (!careless && task.type === 'reveal') {
          // A careful player recognises the garment: the true class of the image behind the task.
          const item = ws.project.labels.item(ws.project.answers.taskByUuid(task.taskId)!.itemId)!;
          const image = ws.project.labels.image(sessionId, item.imageId)!;
          answer = { type: 'reveal', guess: task.classes.indexOf(image.trueClass!), resigned: false, text: 'shape' };
        }
        if (careless && task.type === 'rating') answer = { type: 'rating', scores: { justifies: 5, predictable: 5 } };
        if (careless && task.type === 'pairwise') answer = { type: 'pairwise', choice: 'neither' };
        next = (await call('labels.answer', { sessionId, annotatorId, taskId: task.taskId, answer })).next;
      }
      expect(next.state).toBe('done');
    }
    const detail = await call('labels.session', { sessionId });
    const [ana, ben] = analysts.map((id) => detail.seats.find((s) => s.annotator?.id === id)!);
    expect(ana!.answered).toBe(ana!.tasks);
    expect(ana!.goldAnswered).toBeGreaterThan(0);
    expect(ben!.goldAccuracy!).toBeLessThan(1);
    expect(ana!.reliability).toBeGreaterThan(ben!.reliability);
    const report = await call('labels.agreement', { sessionId, samples: 200 });
    const justifies = report.rows.find(
      (r) => r.scope === 'session' && r.measure === 'rating:justifies' && r.level === 'ordinal',
    )!;
    expect(justifies.items).toBeGreaterThan(0);
    expect(justifies.alpha).not.toBeNull();
    expect(report.rows.some((r) => r.scope === 'method')).toBe(true);
    expect(report.rows.some((r) => r.scope === 'class')).toBe(true);
    expect(report.annotators.some((a) => a.annotator === 'Ana')).toBe(true);
  });

  it('exports every answer as CSV and JSON Lines with provenance', async () => {
    const answered = ws.project.labels.counts(sessionId).answered;
    const csv = await call('labels.export', { sessionId, format: 'csv' });
    const lines = csv.text.trim().split('\n');
    expect(lines).toHaveLength(answered + 1);
    for (const column of [
      'annotator',
      'session',
      'task',
      'item',
      'model_hash',
      'method',
      'layer',
      'parameters',
      'answered_at',
      'shown_at',
    ])
      expect(lines[0]!.split(',')).toContain(column);
    const jsonl = (await call('labels.export', { sessionId, format: 'jsonl' })).text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(jsonl).toHaveLength(answered);
    const model = ws.project.models.get(modelId)!;
    expect(jsonl.every((r) => r.model_hash === model.fileHash)).toBe(true);
    expect(jsonl.some((r) => r.method === 'gradcam' && r.layer === LAYER)).toBe(true);
    expect(jsonl.some((r) => String(r.method).includes('layer-clusters'))).toBe(true);
  });

  it('pauses, and removes a seat, refusing their answers by name', async () => {
    await call('labels.setState', { sessionId, state: 'paused' });
    const next = await call('labels.next', { sessionId, annotatorId: participant });
    expect(next.state).toBe('paused');
    const seat = ws.project.labels.seatOf(sessionId, participant)!;
    const open = ws.project.answers.nextOpenTask(seat.id)!;
    await expect(
      call('labels.answer', {
        sessionId,
        annotatorId: participant,
        taskId: open.uuid,
        answer: { type: 'rating', scores: { justifies: 1, predictable: 1 } },
      }),
    ).rejects.toMatchObject({ code: 'session_paused' });
    await call('labels.setState', { sessionId, state: 'open' });
    await call('labels.removeSeat', { sessionId, seatId: seat.id });
    expect((await call('labels.next', { sessionId, annotatorId: participant })).state).toBe('removed');
    await expect(
      call('labels.answer', {
        sessionId,
        annotatorId: participant,
        taskId: open.uuid,
        answer: { type: 'rating', scores: { justifies: 1, predictable: 1 } },
      }),
    ).rejects.toMatchObject({ code: 'seat_removed' });
  });
});
