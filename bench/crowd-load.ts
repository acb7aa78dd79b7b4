/**
 * Load test of the crowd host: 30 simulated participants join one session on a loopback host (its own
 * process) and answer for 5 minutes with 0.5–1.5 s of thinking per task; every 40th answer a
 * participant drops its connection and resumes with its token. Afterwards the project file is opened
 * and every acknowledged answer must be there exactly once, with nothing else.
 * Run: node --import tsx bench/crowd-load.ts [--seconds 300] [--participants 30]
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'node:http';
import type { AnswerAck, NextTask } from '../src-shared/schemas/labels.ts';
import { Project } from '../src-main/store/project.ts';
import { Workstation } from '../src-main/workstation.ts';
import { startCrowd } from '../src-main/transport/crowd.ts';
import { tempDir } from '../test/support/fixtures.ts';
import { ROOT } from '../test/support/host.ts';
import { answerFor, explainedProject, labelSession } from '../test/support/labelling.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '300' }, participants: { type: 'string', default: '30' } },
});
const seconds = Number(values.seconds);
const participants = Number(values.participants);

const dir = tempDir('xaiws-load-');
const projectPath = join(dir, 'load.xaiws');
const ws = new Workstation({
  dataDir: dir,
  resourcesDir: join(ROOT, 'resources'),
  transport: 'cli',
  crowdHost: startCrowd,
});
const ids = await explainedProject(ws, projectPath, join(dir, 'data'), 300);
const sessionId = await labelSession(ws, ids, {
  maxImages: 300,
  taskTypes: ['rating', 'pairwise'],
  overlap: Math.min(12, participants),
  goldShare: 0.1,
  openSeats: participants,
  gamification: 'everyone',
});
const tasks = ws.project.labels.counts(sessionId).tasks;
await ws.shutdown();
console.log(`session: ${tasks} tasks over ${participants} seats`);

const child = spawn(
  process.execPath,
  ['--import', 'tsx', join(ROOT, 'test/support/crowd-child.ts'), projectPath, String(sessionId)],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const { url, code } = JSON.parse(
  await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve)),
) as { url: string; code: string };
const base = new URL(url).origin;

type Envelope<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string } };
const target = new URL(base);
async function post<T>(agent: Agent, route: string, body: unknown, token?: string): Promise<T> {
  const text = await new Promise<string>((resolve, reject) => {
    const call = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: `/api/${route}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        response.on('error', reject);
      },
    );
    call.on('error', reject);
    call.end(JSON.stringify(body));
  });
  const envelope = JSON.parse(text) as Envelope<T>;
  if (!envelope.ok) throw new Error(`${envelope.error.code}: ${envelope.error.message}`);
  return envelope.value;
}
const percentile = (sorted: number[], q: number) =>
  Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(2));

const latencies: number[] = [];
const acknowledged = new Map<string, string>();
let errors = 0;
let reconnects = 0;
const deadline = Date.now() + seconds * 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function participant(index: number): Promise<void> {
  let agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const { token } = await post<{ token: string }>(agent, 'join', { code, name: `P${index}` });
  let next = await post<NextTask>(agent, 'next', {}, token);
  let answers = 0;
  while (Date.now() < deadline && next.task) {
    await sleep(500 + Math.random() * 1000);
    const answer = answerFor(next.task, index);
    const started = performance.now();
    try {
      const ack = await post<AnswerAck>(agent, 'answer', { taskId: next.task.taskId, answer }, token);
      latencies.push(performance.now() - started);
      if (!next.task.practice) acknowledged.set(next.task.taskId, JSON.stringify(answer));
      next = ack.next;
    } catch (error) {
      errors++;
      console.error(`P${index}: ${(error as Error).message}`);
      next = await post<NextTask>(agent, 'next', {}, token);
    }
    if (++answers % 40 === 0) {
      // The connection drops: a new one, resumed with the token.
      agent.destroy();
      agent = new Agent({ keepAlive: true, maxSockets: 1 });
      next = await post<NextTask>(agent, 'next', {}, token);
      reconnects++;
    }
  }
  agent.destroy();
}

const started = Date.now();
await Promise.all(Array.from({ length: participants }, (_, i) => participant(i)));
const elapsed = (Date.now() - started) / 1000;
child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));

const project = Project.open(projectPath);
const rows = project.db
  .prepare('SELECT t.uuid, a.answer FROM label_answers a JOIN label_tasks t ON t.id = a.task_id')
  .all() as { uuid: string; answer: string }[];
project.close();
const stored = new Map(rows.map((r) => [r.uuid, r.answer]));
let lost = 0;
let differing = 0;
for (const [taskId, answer] of acknowledged) {
  if (!stored.has(taskId)) lost++;
  else if (stored.get(taskId) !== JSON.stringify(JSON.parse(answer))) differing++;
}
const unacknowledged = rows.length - acknowledged.size;
const sorted = [...latencies].sort((a, b) => a - b);
console.log(
  JSON.stringify(
    {
      participants,
      seconds: Math.round(elapsed),
      answers: latencies.length,
      answersPerSecond: Number((latencies.length / elapsed).toFixed(1)),
      reconnects,
      errors,
      acknowledgedRealAnswers: acknowledged.size,
      storedAnswers: rows.length,
      lost,
      differing,
      storedButNotAcknowledged: unacknowledged,
      latencyMs: {
        p50: percentile(sorted, 0.5),
        p95: percentile(sorted, 0.95),
        p99: percentile(sorted, 0.99),
        max: sorted[sorted.length - 1],
      },
    },
    null,
    2,
  ),
);
process.exit(lost || differing || unacknowledged ? 1 : 0);
