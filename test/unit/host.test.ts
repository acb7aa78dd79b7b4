import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseThumbnailBatch } from '../../src-renderer/lib/thumbnail-batch.ts';
import { ROOT, startTestHost, type TestHost } from '../support/host.ts';
import { startImport } from '../../src-main/datasets/service.ts';

let testHost: TestHost;
beforeAll(async () => {
  testHost = await startTestHost();
});
afterAll(() => testHost.close());

function get(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port: testHost.host.port, path, method, headers }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text, headers: response.headers }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

function getBytes(path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port: testHost.host.port, path }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

describe('browser host', () => {
  it('listens on 127.0.0.1 only, on a random port, with a long random token', () => {
    expect(testHost.host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{32}\/$/);
    expect(testHost.host.port).toBeGreaterThan(0);
  });

  it('refuses every request without the right token', async () => {
    const { token } = testHost.host;
    for (const path of [
      '/',
      '/index.html',
      '/api/projects.current',
      `/${token.slice(0, -1)}x/`,
      `/${token}x/`,
      `/x${token}/api/app.info`,
    ]) {
      const response = await get(path, {}, path.includes('/api/') ? 'POST' : 'GET', '{}');
      expect(response.status, path).toBe(403);
      expect(JSON.parse(response.body)).toMatchObject({ ok: false, error: { code: 'unauthorised' } });
    }
  });

  it('serves the renderer with a strict CSP and answers API calls with the token', async () => {
    const { token } = testHost.host;
    const page = await get(`/${token}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<div id="app">');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['content-security-policy']).toContain("worker-src 'self'");
    const info = await get(`/${token}/api/app.info`, { 'content-type': 'application/json' }, 'POST', '{}');
    expect(JSON.parse(info.body)).toMatchObject({ ok: true, value: { transport: 'host' } });
    const bad = await get(`/${token}/api/images.list`, {}, 'POST', '{"datasetId": -1}');
    expect(JSON.parse(bad.body)).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    const notJson = await get(`/${token}/api/app.info`, {}, 'POST', '{nope');
    expect(notJson.status).toBe(400);
    const huge = await get(`/${token}/api/app.info`, {}, 'POST', `"${'x'.repeat(1 << 21)}"`);
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body)).toMatchObject({ ok: false, error: { code: 'too_large' } });
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const response = await get(`/${testHost.host.token}/`, { host: `evil.example:${testHost.host.port}` });
    expect(response.status).toBe(403);
  });

  it('serves no file outside the renderer and images only by numeric id', async () => {
    const { token } = testHost.host;
    expect((await get(`/${token}/..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await get(`/${token}/image/thumb/..%2f1`)).status).toBe(404);
    expect((await get(`/${token}/image/thumb/1`)).status).toBe(404); // no project open yet
  });

  it('answers thumbnails in batches and refuses malformed id lists', async () => {
    const { token } = testHost.host;
    await testHost.workstation.createProject(`${testHost.dir}/thumbs.xaiws`);
    const job = startImport(testHost.workstation, { source: `${ROOT}/resources/datasets/fashion-mnist` });
    await testHost.workstation.jobs.wait(job.id);
    const batch = await getBytes(`/${token}/thumbs?ids=3,1,99999`);
    expect(batch.status).toBe(200);
    const entries = parseThumbnailBatch(
      batch.body.buffer.slice(batch.body.byteOffset, batch.body.byteOffset + batch.body.byteLength) as ArrayBuffer,
    );
    expect(entries.map((entry) => entry.id)).toEqual([3, 1]);
    for (const entry of entries) expect(Array.from(entry.png.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
    for (const ids of ['', 'a,b', '1,-2', '1.5', Array.from({ length: 1001 }, (_, i) => i + 1).join(',')]) {
      expect((await get(`/${token}/thumbs?ids=${ids}`)).status, ids.slice(0, 20)).toBe(400);
    }
    expect((await get(`/thumbs?ids=1`)).status).toBe(403);
  });

  it('accepts event sockets only with the token, and pushes events', async () => {
    const base = `ws://127.0.0.1:${testHost.host.port}`;
    const refused = new WebSocket(`${base}/wrong/events`);
    await expect(
      new Promise((resolve, reject) => {
        refused.on('open', resolve);
        refused.on('error', reject);
      }),
    ).rejects.toThrow();
    const socket = new WebSocket(`${base}/${testHost.host.token}/events`);
    await new Promise((resolve) => socket.on('open', resolve));
    const message = new Promise<{ event: string }>((resolve) =>
      socket.on('message', (data) => resolve(JSON.parse(String(data)))),
    );
    await testHost.workstation.createProject(`${testHost.dir}/events.xaiws`);
    expect(await message).toMatchObject({ event: 'project.changed' });
    socket.close();
  });
});
