/**
 * The labelling CLI: a session's answers as CSV and JSON Lines on stdout, agreement of a session, and
 * agreement of a ratings table brought from elsewhere (with the published Krippendorff example).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { answer, next } from '../../src-main/labels/tasks.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { runCli } from '../support/cli.ts';
import { answerFor, explainedProject, labelSession } from '../support/labelling.ts';

let dir: string;
let project: string;
let sessionId: number;
let answered: number;

const cli = (args: string[]) => runCli(args, dir);

beforeAll(async () => {
  dir = tempDir();
  project = join(dir, 'labels.xaiws');
  const ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  try {
    const ids = await explainedProject(ws, project, join(dir, 'data'), 8);
    const a = ws.project.labels.addAnnotator('Ana', 'analyst');
    const b = ws.project.labels.addAnnotator('Ben', 'analyst');
    sessionId = await labelSession(ws, ids, {
      taskTypes: ['rating', 'pairwise'],
      overlap: 2,
      annotatorIds: [a.id, b.id],
    });
    for (const annotator of [a, b]) {
      const seat = ws.project.labels.seatOf(sessionId, annotator.id)!;
      let state = next(ws.project, seat, () => 'x');
      while (state.task)
        state = answer(ws.project, seat, state.task.taskId, answerFor(state.task), 'local', () => 'x').next;
    }
    answered = ws.project.labels.counts(sessionId).answered;
  } finally {
    await ws.shutdown();
  }
}, 600_000);

describe('xaiws labels export', () => {
  it('prints CSV with provenance and JSON Lines, one record per answer', async () => {
    const csv = await cli(['labels', 'export', project, '--session', String(sessionId), '--format', 'csv']);
    expect(csv.code).toBe(0);
    const rows = parse(csv.stdout, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(answered);
    expect(rows[0]).toHaveProperty('model_hash');
    expect(new Set(rows.map((r) => r.annotator_name))).toEqual(new Set(['Ana', 'Ben']));
    expect(rows.some((r) => r.method === 'gradcam')).toBe(true);
    const jsonl = await cli(['labels', 'export', project, '--session', String(sessionId), '--format', 'jsonl']);
    expect(
      jsonl.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toHaveLength(answered);
  });

  it('fails with JSON naming a missing session', async () => {
    const { code, stdout } = await cli(['labels', 'export', project, '--session', '99', '--format', 'csv']);
    expect(code).toBe(1);
    expect(JSON.parse(stdout).error).toMatchObject({
      code: 'session_not_found',
      message: expect.stringContaining('99'),
    });
  });
});

describe('xaiws agreement', () => {
  it('reports a session by measure and scope', async () => {
    const { code, stdout } = await cli(['agreement', project, '--session', String(sessionId), '--samples', '100']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    const row = report.rows.find(
      (r: { scope: string; measure: string; level: string }) =>
        r.scope === 'session' && r.measure === 'rating:justifies' && r.level === 'ordinal',
    );
    expect(row.items).toBeGreaterThan(0);
    expect(row.annotators).toBe(2);
  });

  it('computes any item,annotator,value table, here the published worked example', async () => {
    const data = [
      [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
      [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
      [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
      [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
    ];
    const lines = [
      'item,annotator,value',
      ...data.flatMap((row, coder) => row.map((v, unit) => `u${unit},coder${coder},${v ?? ''}`)),
    ];
    const file = join(dir, 'ratings.csv');
    writeFileSync(file, `${lines.join('\n')}\n`);
    for (const [level, alpha] of [
      ['nominal', 0.743],
      ['ordinal', 0.815],
      ['interval', 0.849],
    ] as const) {
      const { code, stdout } = await cli(['agreement', '--ratings', file, '--level', level, '--samples', '50']);
      expect(code).toBe(0);
      expect(JSON.parse(stdout).alpha).toBeCloseTo(alpha, 3);
    }
    writeFileSync(file, 'item,annotator,value\na,x,high\na,y,2\n');
    const bad = await cli(['agreement', '--ratings', file, '--level', 'interval']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).error.message).toMatch(/line 2: "high" is not a number/);
  });
});
