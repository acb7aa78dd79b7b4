/**
 * The browser host in its own process under requests that used to end it: a URL that does not parse
 * before the token check, ids beyond the thumbnail layout, thumbnails with no project open and while
 * the project switches, a method name that is not one; and pages of another origin. Each is refused
 * with its own response, and the process, with the import it is running, carries on.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Job } from '../../src-shared/contract.ts';
import { startChild, type Child } from '../support/child.ts';
import { fashionMnistSubset, tempDir } from '../support/fixtures.ts';

let child: Child<{ url: string; token: string; port: number }>;
let dir: string;
let base: string;

type Envelope = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

async function call(
  method: string,
  body: unknown = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Envelope }> {
  const response = await fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Envelope };
}

async function value<T>(method: string, body: unknown = {}): Promise<T> {
  const { body: envelope } = await call(method, body);
  if (!envelope.ok) throw new Error(`${method}: ${envelope.error.code} ${envelope.error.message}`);
  return envelope.value as T;
}

/** Sends raw bytes and resolves with whatever comes back before the server closes (or '' on a reset). */
function raw(text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(child.ready.port, '127.0.0.1', () => socket.write(text)); // the server closes (Connection: close)
    let reply = '';
    socket.on('data', (chunk) => (reply += chunk.toString()));
    socket.on('close', () => resolve(reply));
    socket.on('error', () => resolve(reply));
  });
}

async function stillServing(): Promise<void> {
  expect(child.alive(), child.stderr()).toBe(true);
  expect(await call('app.info')).toMatchObject({ status: 200, body: { ok: true } });
}

beforeAll(async () => {
  dir = tempDir();
  child = await startChild('test/support/host-child.ts', [join(dir, 'home')]);
  base = child.ready.url.replace(/\/$/, '');
});

afterAll(async () => {
  await child?.stop();
});

describe('no request ends the browser host', () => {
  it('refuses a URL that does not parse, before and after the token', async () => {
    const host = `Host: 127.0.0.1:${child.ready.port}`;
    expect(await raw(`GET //[ HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 403/);
    expect(await raw(`GET /${child.ready.token}//[ HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`)).toMatch(
      /^HTTP\/1\.1 404/,
    );
    expect(
      await raw(`GET /${child.ready.token}/image/full/%ZZ HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`),
    ).toMatch(/^HTTP\/1\.1 404/);
    await stillServing();
  });

  it('answers thumbnails with no project open, and ids beyond the batch layout, with an error', async () => {
    const none = await fetch(`${base}/thumbs?ids=1,2`);
    expect(none.status).toBe(409);
    expect(await none.json()).toMatchObject({ ok: false, error: { code: 'no_project' } });
    for (const ids of ['4294967296', '1,99999999999', '1e3', '0x10']) {
      const response = await fetch(`${base}/thumbs?ids=${ids}`);
      expect(response.status, ids).toBe(400);
      expect(await response.json()).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    }
    await stillServing();
  });

  it('names a malformed method name invalid_request, an unknown one unknown_method', async () => {
    for (const method of ['%E0%A4%A', 'a%00b', 'projects.open%2F..', 'projects.open.x']) {
      const { status, body } = await call(method);
      expect(status, method).toBe(400);
      expect(body, method).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    }
    expect((await call('projects.drop')).body).toMatchObject({ ok: false, error: { code: 'unknown_method' } });
    await stillServing();
  });

  it('refuses API calls and event sockets from another origin, and takes its own', async () => {
    const foreign = await call('app.info', {}, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ ok: false, error: { code: 'unauthorised' } });
    expect((await call('app.info', {}, { origin: 'null' })).status).toBe(403);
    expect((await call('app.info', {}, { origin: `http://127.0.0.1:${child.ready.port}` })).status).toBe(200);
    const events = `ws://127.0.0.1:${child.ready.port}/${child.ready.token}/events`;
    const refused = new WebSocket(events, { origin: 'http://evil.example' });
    await expect(
      new Promise((resolve, reject) => {
        refused.on('open', resolve);
        refused.on('error', reject);
      }),
    ).rejects.toThrow(/403/);
    const own = new WebSocket(events, { origin: `http://localhost:${child.ready.port}` });
    await new Promise((resolve, reject) => {
      own.on('open', resolve);
      own.on('error', reject);
    });
    own.close();
    await stillServing();
  });

  it('keeps serving, and importing, while thumbnails stream during project switches', async () => {
    const first = join(dir, 'first.xaiws');
    const second = join(dir, 'second.xaiws');
    await value('projects.create', { path: second });
    await value('projects.create', { path: first });
    const { jobId } = await value<{ jobId: string }>('datasets.import', {
      source: fashionMnistSubset(join(dir, 'data'), 3000),
    });
    const requests: Promise<number>[] = [];
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 8; i++) {
        const ids = Array.from({ length: 200 }, (_, k) => 1 + (((round * 8 + i) * 200 + k) % 3000)).join(',');
        requests.push(
          fetch(`${base}/thumbs?ids=${ids}`).then(
            async (response) => (await response.arrayBuffer(), response.status),
            () => 0,
          ),
        );
      }
      requests.push(fetch(`${base}/thumbs?ids=4294967296`).then((response) => response.status));
      await value('projects.open', { path: round % 2 ? first : second });
    }
    const statuses = await Promise.all(requests);
    // Each request got its own answer (a batch, an error, or a closed socket), and nothing more.
    for (const status of statuses) expect([0, 200, 400, 409]).toContain(status);
    await stillServing();
    // The import went on in the first project through the switches: open it and wait for the job.
    await value('projects.open', { path: first });
    await expect
      .poll(async () => (await value<Job[]>('jobs.list')).find((job) => job.id === jobId)?.status)
      .toMatch(/^(done|cancelled|interrupted)$/);
    expect(child.alive()).toBe(true);
  });
});
