/**
 * The crowd host under hostile and unlucky input: wrong join codes, other sessions' task ids, bodies
 * that are too large or not JSON, path tricks in image ids, a full session; each refused with a clear
 * error and nothing changed. And a host killed with SIGKILL mid-session: every acknowledged answer
 * is in the project file afterwards.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnswerAck, NextTask } from '../../src-shared/schemas/labels.ts';
import { Project } from '../../src-main/store/project.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { startCrowd } from '../../src-main/transport/crowd.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { answerFor, explainedProject, labelSession } from '../support/labelling.ts';

let ws: Workstation;
let dir: string;
let projectPath: string;
let sessionId: number;
let otherSession: number;
let base: string;
let code: string;

type Envelope<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string } };

async function post<T>(
  route: string,
  body: unknown,
  token?: string,
  raw?: string,
): Promise<{ status: number; body: Envelope<T> }> {
  const response = await fetch(`${base}/api/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: raw ?? JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Envelope<T> };
}

async function joinAs(name: string): Promise<string> {
  const { body } = await post<{ token: string }>('join', { code, name });
  if (!body.ok) throw new Error(body.error.message);
  return body.value.token;
}

const snapshot = () =>
  ws.project.db
    .prepare(
      'SELECT (SELECT count(*) FROM label_answers) AS answers, (SELECT count(*) FROM annotators) AS annotators, (SELECT count(*) FROM label_seats WHERE annotator_id IS NOT NULL) AS seated',
    )
    .get();

beforeAll(async () => {
  dir = tempDir();
  projectPath = join(dir, 'crowd.xaiws');
  ws = new Workstation({
    dataDir: dir,
    resourcesDir: join(ROOT, 'resources'),
    transport: 'host',
    crowdHost: startCrowd,
  });
  const ids = await explainedProject(ws, projectPath, join(dir, 'data'), 6);
  sessionId = await labelSession(ws, ids, {
    taskTypes: ['rating', 'reveal'],
    overlap: 1,
    openSeats: 2,
    gamification: 'off',
  });
  otherSession = await labelSession(ws, ids, { name: 'Other', taskTypes: ['rating'], overlap: 1, openSeats: 1 });
  const crowd = await ws.crowds.open(sessionId, '127.0.0.1');
  base = new URL(crowd.url).origin;
  code = crowd.code;
}, 600_000);
afterAll(() => ws.shutdown());

describe('the crowd host refuses bad input and changes nothing', () => {
  it('wrong, empty or malformed join codes', async () => {
    const before = snapshot();
    for (const wrong of ['AAAAAA', '', code.toLowerCase().replace(/./, '#'), 'x'.repeat(32)]) {
      const { status, body } = await post('join', { code: wrong, name: 'Eve' });
      expect(status).toBe(403);
      expect(body).toMatchObject({ ok: false, error: { code: 'join_refused' } });
    }
    expect((await post('join', { code, name: '' })).status).toBe(400);
    expect(snapshot()).toEqual(before);
  });

  it("unknown tokens, other sessions' task ids, and bodies too large or not JSON", async () => {
    const token = await joinAs('Pia');
    const before = snapshot();
    expect((await post('next', {}, 'not-a-token')).status).toBe(401);
    expect((await post('next', {})).body).toMatchObject({ ok: false, error: { code: 'unauthorised' } });
    const foreign = ws.project.answers.tasks(ws.project.labels.seats(otherSession)[0]!.id)[0]!;
    const stolen = await post(
      'answer',
      { taskId: foreign.uuid, answer: { type: 'rating', scores: { justifies: 1, predictable: 1 } } },
      token,
    );
    expect(stolen.status, JSON.stringify(stolen.body)).toBe(404);
    expect(stolen.body).toMatchObject({ ok: false, error: { code: 'task_not_found' } });
    const huge = await post(
      'answer',
      {},
      token,
      JSON.stringify({ taskId: 'x', answer: { type: 'concept', text: 'a'.repeat(40_000) } }),
    );
    expect(huge.status).toBe(413);
    expect(huge.body).toMatchObject({ ok: false, error: { code: 'too_large' } });
    const broken = await post('answer', {}, token, '{"taskId": ');
    expect(broken.status).toBe(400);
    expect(broken.body.ok || broken.body.error.message).toMatch(/not JSON/);
    const task = (await post<NextTask>('next', {}, token)).body as { ok: true; value: NextTask };
    const badScore = await post(
      'answer',
      { taskId: task.value.task!.taskId, answer: { type: 'rating', scores: { justifies: 9, predictable: 1 } } },
      token,
    );
    expect(badScore.body).toMatchObject({
      ok: false,
      error: { code: 'invalid_request', message: expect.stringContaining('justifies') },
    });
    expect((await post('drop-tables', {}, token)).status).toBe(400);
    expect(snapshot()).toEqual(before);
  });

  it('path tricks and foreign ids in image URLs', async () => {
    const token = await joinAs('Max');
    for (const path of [
      '/image/..%2F..%2Fetc%2Fpasswd',
      '/image/%2e%2e%2fcrowd.xaiws',
      `/image/${'0'.repeat(24)}`,
      '/image/..%5C..%5Cpackage.json',
      '/assets/..%2F..%2Fpackage.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/package.json',
      '/crowd.xaiws',
    ]) {
      const response = await fetch(`${base}${path}?seat=${token}`);
      const text = await response.text();
      expect(response.status, path).toBeGreaterThanOrEqual(400);
      expect(text).not.toMatch(/"name": "xaiws"|SQLite format/);
    }
    // An image of another seat's task is not served to this seat.
    const seats = ws.project.labels.seats(sessionId);
    const other = ws.project.labels.seatByToken((await import('../../src-main/transport/crowd.ts')).hashToken(token))!;
    const foreignImage = ws.project.db
      .prepare(
        `SELECT i.opaque FROM label_images i WHERE i.session_id = ? AND NOT EXISTS (SELECT 1 FROM label_tasks t JOIN label_items it ON it.id = t.item_id WHERE t.seat_id = ? AND it.image_id = i.image_id AND it.task_type != 'reveal') LIMIT 1`,
      )
      .get(sessionId, other.id) as { opaque: string } | undefined;
    if (foreignImage) expect((await fetch(`${base}/image/${foreignImage.opaque}?seat=${token}`)).status).toBe(404);
    expect(seats.length).toBe(2);
    // A wrong Host header (DNS rebinding) is refused.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve) => {
      const url = new URL(base);
      request({ host: url.hostname, port: url.port, path: '/', headers: { host: 'evil.example:80' } }, (res) =>
        resolve(res.statusCode!),
      ).end();
    });
    expect(status).toBe(403);
  });

  it('malformed URLs and another origin end that one request, never the host', async () => {
    const url = new URL(base);
    const { connect } = await import('node:net');
    const raw = (path: string) =>
      new Promise<string>((resolve) => {
        const socket = connect(Number(url.port), url.hostname, () =>
          socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`),
        );
        let reply = '';
        socket.on('data', (chunk) => (reply += chunk.toString()));
        socket.on('close', () => resolve(reply));
      });
    expect(await raw('//[')).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw('/image/%E0%A4%A')).toMatch(/^HTTP\/1\.1 400/);
    const foreign = await fetch(`${base}/api/join`, {
      method: 'POST',
      headers: { origin: 'http://evil.example' },
      body: JSON.stringify({ code, name: 'Eve' }),
    });
    expect(foreign.status).toBe(403);
    expect((await fetch(`${base}/`)).status).toBe(200);
  });

  it('a full session', async () => {
    const before = snapshot();
    const { status, body } = await post('join', { code, name: 'Late' });
    expect(status).toBe(409);
    expect(body).toMatchObject({ ok: false, error: { code: 'session_full' } });
    // The joining annotator was rolled back with the seat claim.
    expect(snapshot()).toEqual(before);
  });
});

describe('a crowd host killed with SIGKILL', () => {
  it('keeps every answer it acknowledged', async () => {
    await ws.closeProject(); // the child process owns the project now
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'test/support/crowd-child.ts'), projectPath, String(otherSession)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (exitCode) => reject(new Error(`crowd child exited with ${exitCode}`)));
    });
    const crowd = JSON.parse(line) as { url: string; code: string };
    base = new URL(crowd.url).origin;
    code = crowd.code;
    const token = await joinAs('Kim');
    const acknowledged: { taskId: string; answer: string }[] = [];
    let next = ((await post<NextTask>('next', {}, token)).body as { ok: true; value: NextTask }).value;
    // Answer, and after four real answers kill the process while the next answer is in flight.
    try {
      while (next.task) {
        const answer = answerFor(next.task);
        const pending = post<AnswerAck>('answer', { taskId: next.task.taskId, answer }, token);
        if (acknowledged.filter((a) => !a.taskId.startsWith('practice:')).length >= 4)
          setImmediate(() => child.kill('SIGKILL'));
        const reply = await pending;
        if (!reply.body.ok) break;
        acknowledged.push({ taskId: next.task.taskId, answer: JSON.stringify(answer) });
        next = reply.body.value.next;
      }
    } catch {
      // the connection died with the process
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await new Promise((resolve) =>
      child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve),
    );
    expect(child.signalCode).toBe('SIGKILL');
    const real = acknowledged.filter((a) => !a.taskId.startsWith('practice:'));
    expect(real.length).toBeGreaterThanOrEqual(4);
    const project = Project.open(projectPath);
    try {
      for (const { taskId, answer } of real) {
        const task = project.answers.taskByUuid(taskId)!;
        expect(project.answers.answer(task.id)?.answer, taskId).toBe(JSON.stringify(JSON.parse(answer)));
      }
      expect(project.db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      project.close();
    }
  });
});
