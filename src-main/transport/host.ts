/**
 * The browser host: the same API as Electron IPC, over HTTP and a WebSocket, for browsers and for
 * machines without an Electron binary. Policy: binds 127.0.0.1 unless told otherwise; a random port;
 * every request (page, assets, API, images, events) carries the session token as the first path
 * segment, compared in constant time; the Host header must name this host (no DNS rebinding);
 * it serves only the built renderer, API calls, and images by opaque id.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { toApiError } from '../../src-shared/errors.ts';
import type { Dispatch } from '../api/router.ts';
import { imageBytes, parseIdList, thumbnailBatch } from '../datasets/image-bytes.ts';
import type { Workstation } from '../workstation.ts';
import { readBody } from './body.ts';
import { contentSecurityPolicy, readRendererFile } from './renderer-files.ts';

export interface HostOptions {
  rendererDir: string;
  host?: string;
  port?: number;
  token?: string;
}

export interface RunningHost {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

export async function startHost(workstation: Workstation, dispatch: Dispatch, options: HostOptions): Promise<RunningHost> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const expected = Buffer.from(token);
  const hostname = options.host ?? '127.0.0.1';
  const sockets = new Set<WebSocket>();
  let port = 0;

  const tokenMatches = (candidate: string | undefined) => {
    const given = Buffer.from(candidate ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const hostAllowed = (header: string | undefined) =>
    header === `${hostname}:${port}` || header === `localhost:${port}` || header === `127.0.0.1:${port}`;
  /** The request's path after the token, or null when the token or Host is wrong. */
  const authorise = (request: IncomingMessage): string | null => {
    if (!hostAllowed(request.headers.host)) return null;
    const url = new URL(request.url ?? '/', 'http://placeholder');
    const [, first, ...rest] = url.pathname.split('/');
    return tokenMatches(first) ? `/${rest.join('/')}${url.search}` : null;
  };

  const server: Server = createServer((request, response) => {
    const path = authorise(request);
    if (path === null) {
      request.resume(); // drain any body so the refusal reaches the client instead of a reset
      response.setHeader('connection', 'close');
      return sendJson(response, 403, { ok: false, error: { code: 'unauthorised', message: 'Missing or wrong session token' } });
    }
    handle(path, request, response).catch((error: unknown) => sendJson(response, 500, { ok: false, error: toApiError(error) }));
  });

  async function handle(pathAndQuery: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { pathname: path, searchParams } = new URL(pathAndQuery, 'http://placeholder');
    if (path.startsWith('/api/')) {
      if (request.method !== 'POST') return sendJson(response, 405, { ok: false, error: { code: 'invalid_request', message: 'API calls are POST' } });
      let text: string;
      try {
        text = await readBody(request, MAX_BODY);
      } catch (error) {
        return sendJson(response, 413, { ok: false, error: toApiError(error) });
      }
      let body: unknown;
      try {
        body = JSON.parse(text || '{}');
      } catch (error) {
        return sendJson(response, 400, { ok: false, error: { code: 'invalid_request', message: `Request body is not JSON: ${(error as Error).message}` } });
      }
      return sendJson(response, 200, await dispatch(decodeURIComponent(path.slice('/api/'.length)), body));
    }
    if (path === '/thumbs') {
      const ids = parseIdList(searchParams.get('ids'));
      if (!ids) return sendJson(response, 400, { ok: false, error: { code: 'invalid_request', message: 'ids must be 1 to 1000 positive whole numbers' } });
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      return void response.end(thumbnailBatch(workstation.project, ids));
    }
    const image = /^\/image\/(thumb|full)\/(\d+)$/.exec(path);
    if (image) {
      try {
        const { bytes, mime } = await imageBytes(workstation.project, Number(image[2]), image[1] as 'thumb' | 'full');
        response.writeHead(200, { 'content-type': mime, 'cache-control': 'private, max-age=3600', 'x-content-type-options': 'nosniff' });
        return void response.end(bytes);
      } catch (error) {
        return sendJson(response, 404, { ok: false, error: toApiError(error) });
      }
    }
    const file = await readRendererFile(options.rendererDir, path);
    if (!file) return sendJson(response, 404, { ok: false, error: { code: 'invalid_request', message: `Not found: ${path}` } });
    response.writeHead(200, {
      'content-type': file.mime,
      'content-security-policy': contentSecurityPolicy({ connect: `ws://${hostname}:${port} ws://localhost:${port}` }),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    });
    response.end(file.bytes);
  }

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (request, socket, head) => {
    if (authorise(request) !== '/events') {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
    });
  });
  const unsubscribe = workstation.onEvent((event, payload) => {
    const message = JSON.stringify({ event, payload });
    for (const ws of sockets) ws.send(message);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, hostname, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${hostname}:${port}/${token}/`,
    port,
    token,
    close: async () => {
      unsubscribe();
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}
