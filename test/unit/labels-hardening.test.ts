/**
 * Labelling under a participant who tries to cheat or to guess, and text that a spreadsheet would run:
 * the reveal game scores a revision no better than the first answer; reveal steps are refused while
 * answers are; wrong join codes are limited per session, whatever the address; an ended session opens
 * again only when the owner confirms; CSV exports neutralise formula cells and keep numbers numbers.
 */
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import { neutraliseCell } from '../../src-shared/csv.ts';
import { createRouter } from '../../src-main/api/router.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { startCrowd } from '../../src-main/transport/crowd.ts';
import { WRONG_CODES_PER_ADDRESS, WRONG_CODES_PER_SESSION } from '../../src-main/transport/crowd.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { explainedProject, labelSession } from '../support/labelling.ts';
import { seatOf } from '../../src-main/labels/service.ts';

let ws: Workstation;
let dispatch: ReturnType<typeof createRouter>;
let ids: { modelId: number; datasetId: number };
let analyst: number;

async function call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>> {
  const envelope = await dispatch(method, request);
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  return envelope.value as Result<M>;
}

beforeAll(async () => {
  const dir = tempDir();
  ws = new Workstation({
    dataDir: dir,
    resourcesDir: join(ROOT, 'resources'),
    transport: 'cli',
    crowdHost: startCrowd,
  });
  dispatch = createRouter(ws);
  ids = await explainedProject(ws, join(dir, 'hardening.xaiws'), join(dir, 'data'), 8);
  analyst = ws.project.labels.addAnnotator('@Ana', 'analyst').id;
}, 600_000);
afterAll(() => ws.shutdown());

/** The analyst's next real task of a type, answering the others on the way. */
async function nextOfType(sessionId: number, type: string) {
  for (;;) {
    const next = await call('labels.next', { sessionId, annotatorId: analyst });
    if (next.state !== 'task') throw new Error(`no ${type} task left (${next.state})`);
    if (next.task!.type === type) return next.task!;
    await call('labels.answer', {
      sessionId,
      annotatorId: analyst,
      taskId: next.task!.taskId,
      answer: { type: 'rating', scores: { justifies: 3, predictable: 3 }, comment: '' },
    });
  }
}

describe('the reveal game', () => {
  it('scores a revision made after seeing more no better than the first answer', async () => {
    const sessionId = await labelSession(ws, ids, {
      name: 'Reveal',
      taskTypes: ['reveal'],
      overlap: 1,
      goldShare: 0,
      annotatorIds: [analyst],
      gamification: 'off',
    });
    const task = await nextOfType(sessionId, 'reveal');
    const classes = task.classes;
    const seat = seatOf(ws, sessionId, analyst);
    const item = ws.project.labels.item(ws.project.answers.taskByUuid(task.taskId)!.itemId)!;
    const truth = classes.indexOf(ws.project.labels.image(sessionId, item.imageId)!.trueClass!);
    await call('labels.reveal', { sessionId, annotatorId: analyst, taskId: task.taskId, step: 0 });
    await call('labels.answer', {
      sessionId,
      annotatorId: analyst,
      taskId: task.taskId,
      answer: { type: 'reveal', guess: (truth + 1) % classes.length, resigned: false, text: '' },
    });
    const first = ws.project.answers.answer(ws.project.answers.taskByUuid(task.taskId)!.id)!;
    expect(first.score).toBeCloseTo(0.9 / 4);
    // Peek at the whole reveal, then answer right: the revision is stored, its score is not raised.
    await call('labels.reveal', { sessionId, annotatorId: analyst, taskId: task.taskId, step: 5 });
    const ack = await call('labels.answer', {
      sessionId,
      annotatorId: analyst,
      taskId: task.taskId,
      answer: { type: 'reveal', guess: truth, resigned: false, text: 'now I see' },
    });
    expect(ack.revision).toBe(2);
    const revised = ws.project.answers.answer(ws.project.answers.taskByUuid(task.taskId)!.id)!;
    expect(JSON.parse(revised.answer)).toMatchObject({ guess: truth });
    expect(revised.score).toBeLessThanOrEqual(first.score!);
    expect(revised.points).toBeLessThanOrEqual(first.points);
    expect(seat.id).toBeGreaterThan(0);
  });

  it('refuses reveal steps while the session is paused or ended, and changes nothing', async () => {
    const sessionId = await labelSession(ws, ids, {
      name: 'Paused reveal',
      taskTypes: ['reveal'],
      overlap: 1,
      goldShare: 0,
      annotatorIds: [analyst],
      gamification: 'off',
    });
    const task = await nextOfType(sessionId, 'reveal');
    const revealed = () => ws.project.answers.taskByUuid(task.taskId)!.revealed;
    for (const [state, code] of [
      ['paused', 'session_paused'],
      ['ended', 'session_ended'],
    ] as const) {
      await call('labels.setState', { sessionId, state });
      await expect(
        call('labels.reveal', { sessionId, annotatorId: analyst, taskId: task.taskId, step: 2 }),
      ).rejects.toMatchObject({ code });
      expect(revealed()).toBe(-1);
    }
  });
});

describe('session states', () => {
  it('opens an ended session again only with a confirmation that says so', async () => {
    const sessionId = await labelSession(ws, ids, {
      name: 'Ended',
      taskTypes: ['rating'],
      overlap: 1,
      goldShare: 0,
      annotatorIds: [analyst],
    });
    await call('labels.setState', { sessionId, state: 'ended' });
    await expect(call('labels.setState', { sessionId, state: 'open' })).rejects.toMatchObject({
      code: 'confirmation_needed',
      message: expect.stringMatching(/has ended.*confirm/),
    });
    await expect(call('labels.setState', { sessionId, state: 'paused' })).rejects.toMatchObject({
      code: 'confirmation_needed',
    });
    expect((await call('labels.session', { sessionId })).state).toBe('ended');
    expect((await call('labels.setState', { sessionId, state: 'open', confirm: true })).state).toBe('open');
    // Pausing and resuming an open session needs no confirmation.
    await call('labels.setState', { sessionId, state: 'paused' });
    expect((await call('labels.setState', { sessionId, state: 'open' })).state).toBe('open');
  });
});

describe('joining a crowd session', () => {
  function join(
    base: URL,
    code: string,
    localAddress: string,
  ): Promise<{ status: number; body: { ok: boolean; error?: { code: string; message: string } } }> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify({ code, name: 'Guesser' });
      const request = httpRequest(
        {
          host: base.hostname,
          port: base.port,
          path: '/api/join',
          method: 'POST',
          localAddress,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(text) }));
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  it('counts wrong codes per session too, so many addresses get no more guesses than one', async () => {
    const sessionId = await labelSession(ws, ids, {
      name: 'Crowd',
      taskTypes: ['rating'],
      overlap: 1,
      goldShare: 0,
      openSeats: 2,
    });
    const crowd = await ws.crowds.open(sessionId, '127.0.0.1');
    try {
      const base = new URL(crowd.url);
      const wrong = crowd.code === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA';
      // From several loopback addresses, each under its own limit, until the session's limit is reached.
      let sent = 0;
      for (let address = 2; sent < WRONG_CODES_PER_SESSION; address++) {
        for (let i = 0; i < WRONG_CODES_PER_ADDRESS - 1 && sent < WRONG_CODES_PER_SESSION; i++, sent++) {
          const reply = await join(base, wrong, `127.0.0.${address}`);
          expect(reply.body.error?.message).toMatch(/is not this session's join code/);
        }
      }
      // Now even the right code from a fresh address waits for the minute to pass.
      const blocked = await join(base, crowd.code, '127.0.0.99');
      expect(blocked.status).toBe(403);
      expect(blocked.body.error).toMatchObject({
        code: 'join_refused',
        message: expect.stringMatching(/this session/),
      });
      expect(ws.project.labels.seats(sessionId).every((seat) => seat.annotatorId === null)).toBe(true);
    } finally {
      await ws.crowds.close(sessionId);
    }
  });
});

describe('CSV exports', () => {
  it('neutralise cells a spreadsheet would run, and keep numbers numbers', async () => {
    expect(['=1+1', '+cmd', '-2+3', '@SUM(A1)', '\tx', '\rx'].map(neutraliseCell)).toEqual([
      "'=1+1",
      "'+cmd",
      "'-2+3",
      "'@SUM(A1)",
      "'\tx",
      "'\rx",
    ]);
    expect(['collar', '', 'a=b', '1.5'].map(neutraliseCell)).toEqual(['collar', '', 'a=b', '1.5']);
    const sessionId = await labelSession(ws, ids, {
      name: '=HYPERLINK("http://evil.example")',
      taskTypes: ['rating'],
      overlap: 1,
      goldShare: 0,
      annotatorIds: [analyst],
    });
    const next = await call('labels.next', { sessionId, annotatorId: analyst });
    await call('labels.answer', {
      sessionId,
      annotatorId: analyst,
      taskId: next.task!.taskId,
      answer: { type: 'rating', scores: { justifies: 4, predictable: 2 }, comment: '=cmd|"/c calc"!A1' },
    });
    const { text } = await call('labels.export', { sessionId, format: 'csv' });
    const [row] = parse(text, { columns: true }) as Record<string, string>[];
    expect(row!.comment).toBe(`'=cmd|"/c calc"!A1`);
    expect(row!.annotator_name).toBe("'@Ana");
    expect(row!.session_name).toBe(`'=HYPERLINK("http://evil.example")`);
    expect(row!.justifies).toBe('4');
    expect(row!.points).toMatch(/^\d+(\.\d+)?$/);
    // No cell of the file starts a formula.
    for (const record of parse(text, { columns: true }) as Record<string, string>[])
      for (const cell of Object.values(record)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    // The JSON Lines export keeps the text as typed.
    const jsonl = (await call('labels.export', { sessionId, format: 'jsonl' })).text;
    expect(JSON.parse(jsonl.trim().split('\n')[0]!)).toMatchObject({
      comment: '=cmd|"/c calc"!A1',
      annotator_name: '@Ana',
    });
  });

  it('neutralise concept names in the aggregate tables', async () => {
    const sessionId = await labelSession(ws, ids, {
      name: 'Concepts',
      taskTypes: ['concept'],
      overlap: 1,
      goldShare: 0,
      annotatorIds: [analyst],
    });
    for (let next = await call('labels.next', { sessionId, annotatorId: analyst }); next.state === 'task';) {
      next = (
        await call('labels.answer', {
          sessionId,
          annotatorId: analyst,
          taskId: next.task!.taskId,
          answer: { type: 'concept', text: '-collar', concepts: [] },
        })
      ).next;
    }
    await call('aggregate.edit', { op: 'rename', term: 'collar', name: '=1+2' });
    const { text } = await call('aggregate.export', { sessionIds: [sessionId], table: 'concepts', format: 'csv' });
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows.find((r) => r.name === "'=1+2")).toBeTruthy();
    for (const record of rows) for (const cell of Object.values(record)) expect(cell).not.toMatch(/^[=+@\t\r]|^-[^\d]/);
    await call('aggregate.undoEdit', {});
  });
});
