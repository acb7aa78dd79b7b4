/**
 * Annotator packs as files from a desktop nobody controls. A good pack, labelled on another desktop,
 * is copied and tampered with as an attacker would: invalid JSON, points of 1e12, a gold answer that
 * claims to be right, scores off the scale, a 60 MB comment, a 5 MB name, a view standing in for the
 * answers table that never ends, a trigger that deletes images. Each bad pack is refused as a whole by
 * a named error that names its rows (or its schema objects), the master keeps every row as it was, and
 * export, agreement, aggregation and the report keep working. A pack carries no gold and no other
 * session; opening a crafted pack as a project runs none of its triggers.
 */
import { copyFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import { createRouter } from '../../src-main/api/router.ts';
import { mergePack } from '../../src-main/labels/packs.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { answerFor, explainedProject, labelSession } from '../support/labelling.ts';

let ws: Workstation;
let dispatch: ReturnType<typeof createRouter>;
let dir: string;
let sessionId: number;
let goodPack: string;

async function call<M extends MethodName>(method: M, request: Request<M>, via = dispatch): Promise<Result<M>> {
  const envelope = await via(method, request);
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), envelope.error);
  return envelope.value as Result<M>;
}

/** Every labelling row of the master, to compare before and after a refused merge. */
const snapshot = () =>
  Object.fromEntries(
    ['annotators', 'label_sessions', 'label_seats', 'label_tasks', 'label_answers', 'label_merges'].map((table) => [
      table,
      ws.project.db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all(),
    ]),
  );

/** A copy of the good pack, changed with plain SQL as an attacker would (no guard on this side). */
function tampered(name: string, sql: (db: Database.Database) => void): string {
  const path = join(dir, `${name}.xaiws`);
  copyFileSync(goodPack, path);
  const db = new Database(path);
  try {
    sql(db);
  } finally {
    db.close();
  }
  return path;
}

const firstAnswer = (db: Database.Database) =>
  db.prepare('SELECT task_id AS taskId, answer FROM label_answers ORDER BY task_id LIMIT 1').get() as {
    taskId: number;
    answer: string;
  };

beforeAll(async () => {
  dir = tempDir();
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  dispatch = createRouter(ws);
  const ids = await explainedProject(ws, join(dir, 'master.xaiws'), join(dir, 'data'), 8);
  const ana = ws.project.labels.addAnnotator('Ana', 'analyst');
  sessionId = await labelSession(ws, ids, {
    name: 'Packed',
    taskTypes: ['rating', 'reveal'],
    overlap: 1,
    goldShare: 0.3,
    annotatorIds: [ana.id],
    openSeats: 1,
    gamification: 'off',
  });
  await labelSession(ws, ids, {
    name: 'Another session',
    taskTypes: ['rating'],
    overlap: 1,
    goldShare: 0,
    annotatorIds: [ana.id],
  });
  goodPack = join(dir, 'good.xaiws');
  await call('labels.exportPack', { sessionId, path: goodPack });
  // The disconnected desktop labels every task of the free seat.
  const other = new Workstation({
    dataDir: join(dir, 'other'),
    resourcesDir: join(ROOT, 'resources'),
    transport: 'cli',
  });
  const otherDispatch = createRouter(other);
  try {
    await other.openProject(goodPack);
    const packSession = (await call('labels.sessions', {}, otherDispatch))[0]!;
    const quinn = await call('annotators.add', { name: 'Quinn', role: 'analyst' }, otherDispatch);
    for (
      let next = await call('labels.next', { sessionId: packSession.id, annotatorId: quinn.id }, otherDispatch);
      next.state === 'task';
    ) {
      const task = next.task!;
      if (task.type === 'reveal')
        await call(
          'labels.reveal',
          { sessionId: packSession.id, annotatorId: quinn.id, taskId: task.taskId, step: 1 },
          otherDispatch,
        );
      next = (
        await call(
          'labels.answer',
          { sessionId: packSession.id, annotatorId: quinn.id, taskId: task.taskId, answer: answerFor(task) },
          otherDispatch,
        )
      ).next;
    }
  } finally {
    await other.shutdown();
  }
}, 600_000);
afterAll(() => ws.shutdown());

describe('an annotator pack', () => {
  it('carries its one session and no gold answer', () => {
    const db = new Database(goodPack, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM label_sessions').get()).toEqual({ n: 1 });
      expect(db.prepare('SELECT count(*) AS n FROM label_items WHERE gold IS NOT NULL').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT count(*) AS n FROM label_answers WHERE correct IS NOT NULL').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT count(*) AS n FROM images').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT count(*) AS n FROM models').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    expect(
      ws.project.db
        .prepare('SELECT count(*) AS n FROM label_items WHERE session_id = ? AND gold IS NOT NULL')
        .get(sessionId),
    ).not.toEqual({ n: 0 });
  });

  it('is refused as a whole, by row, when any answer is bad; the master keeps every row', async () => {
    const cases: [string, (db: Database.Database) => void, RegExp][] = [
      [
        'invalid-json',
        (db) =>
          db
            .prepare('UPDATE label_answers SET answer = ? WHERE task_id = ?')
            .run('{"type": "rating", "scores": ', firstAnswer(db).taskId),
        /answer 1 .*not valid JSON/,
      ],
      [
        'points',
        (db) => db.prepare('UPDATE label_answers SET points = 1e12 WHERE task_id = ?').run(firstAnswer(db).taskId),
        /points/,
      ],
      [
        'correct',
        (db) => db.prepare('UPDATE label_answers SET correct = 7 WHERE task_id = ?').run(firstAnswer(db).taskId),
        /correct/,
      ],
      [
        'off-scale',
        (db) =>
          db
            .prepare(
              "UPDATE label_answers SET answer = json_set(answer, '$.scores.justifies', 9) WHERE answer LIKE '%\"rating\"%'",
            )
            .run(),
        /justifies/,
      ],
      [
        'comment',
        (db) =>
          db
            .prepare(
              "UPDATE label_answers SET answer = json_set(answer, '$.comment', ?) WHERE answer LIKE '%\"rating\"%'",
            )
            .run('x'.repeat(60_000_000)),
        /over the 16384/,
      ],
      [
        'name',
        (db) => db.prepare("UPDATE annotators SET name = ? WHERE name = 'Quinn'").run('N'.repeat(5_000_000)),
        /name is 5000000 characters/,
      ],
      [
        'type',
        (db) =>
          db
            .prepare('UPDATE label_answers SET answer = \'{"type":"pairwise","choice":"a"}\' WHERE task_id = ?')
            .run(firstAnswer(db).taskId),
        /pairwise answer to a/,
      ],
    ];
    for (const [name, edit, reason] of cases) {
      const path = tampered(name, edit);
      const before = snapshot();
      const error = await call('labels.mergePack', { path }).then(
        () => null,
        (e: { code: string; message: string; value?: { problems: string[] } }) => e,
      );
      expect(error, name).toMatchObject({ code: 'pack_invalid', message: expect.stringMatching(reason) });
      expect(error!.message).toMatch(/refused as a whole/);
      expect(error!.value!.problems.length, name).toBeGreaterThan(0);
      expect(snapshot(), name).toEqual(before);
    }
    // The 60 MB comment was measured in SQL, never sent to the app: the error is short.
    expect(statSync(join(dir, 'comment.xaiws')).size).toBeGreaterThan(50_000_000);
  });

  it('is refused before any of its SQL runs when it holds a view or a trigger it should not', async () => {
    const endless = tampered('endless-view', (db) => {
      db.exec('DROP TABLE label_answers');
      db.exec(
        `CREATE VIEW label_answers AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n AS task_id, 1 AS annotator_id, '{}' AS answer, NULL AS correct, NULL AS score, 0 AS points, 1 AS revision, '' AS origin, NULL AS shown_at, '' AS answered_at, NULL AS revised_at FROM r`,
      );
    });
    const trap = tampered('trigger', (db) =>
      db.exec('CREATE TRIGGER wipe AFTER INSERT ON label_answers BEGIN DELETE FROM label_images; END'),
    );
    for (const path of [endless, trap]) {
      const before = snapshot();
      await expect(call('labels.mergePack', { path })).rejects.toMatchObject({
        code: 'project_untrusted',
        message: expect.stringMatching(/(view "label_answers"|trigger "wipe").*none of its SQL ran/),
      });
      expect(snapshot()).toEqual(before);
    }
    // Opened on the disconnected desktop, the crafted pack is refused too: its trigger never runs.
    const other = new Workstation({
      dataDir: join(dir, 'other2'),
      resourcesDir: join(ROOT, 'resources'),
      transport: 'cli',
    });
    try {
      await expect(other.openProject(trap)).rejects.toMatchObject({
        code: 'project_untrusted',
        message: expect.stringContaining('trigger "wipe"'),
      });
    } finally {
      await other.shutdown();
    }
    const db = new Database(trap, { readonly: true });
    expect((db.prepare('SELECT count(*) AS n FROM label_images').get() as { n: number }).n).toBeGreaterThan(0);
    db.close();
  });

  it('is read under a time limit: a reader that takes too long is stopped and nothing is merged', async () => {
    const before = snapshot();
    await expect(mergePack(ws.project, goodPack, { limitMs: 1 })).rejects.toMatchObject({ code: 'timed_out' });
    expect(snapshot()).toEqual(before);
  });

  it('merges when good, judged by the master: a gold answer the pack claims right is scored by the master', async () => {
    const lying = tampered('lying', (db) => db.exec('UPDATE label_answers SET correct = 1, points = 9999'));
    const report = await call('labels.mergePack', { path: lying });
    expect(report.added).toBeGreaterThan(0);
    const merged = ws.project.db
      .prepare(
        `SELECT a.correct, a.points, it.gold FROM label_answers a JOIN label_tasks t ON t.id = a.task_id JOIN label_items it ON it.id = t.item_id WHERE a.origin LIKE 'pack:%'`,
      )
      .all() as { correct: number | null; points: number; gold: string | null }[];
    expect(merged.length).toBe(report.added);
    for (const row of merged) {
      expect(row.points).toBeLessThan(100);
      expect(row.correct === null).toBe(row.gold === null);
    }
    // Everything that reads the answers still works.
    expect((await call('labels.export', { sessionId, format: 'csv' })).answers).toBeGreaterThan(0);
    expect((await call('labels.agreement', { sessionId, samples: 50 })).sessionId).toBe(sessionId);
    expect((await call('aggregate.run', {})).overview.answers).toBeGreaterThan(0);
    expect((await call('aggregate.report', {})).html).toContain('<html');
  });
});
