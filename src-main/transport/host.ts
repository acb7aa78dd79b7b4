/**
 * The browser host: the same API as Electron IPC, over HTTP and a WebSocket, for browsers and for
 * machines without an Electron binary. Policy: binds 127.0.0.1 unless told otherwise; a random port;
 * every request (page, assets, API, images, events) carries the session token as the first path
 * segment, compared in constant time; the Host header must name this host (no DNS rebinding), and
 * API calls and the event socket refuse an Origin other than this host's; it serves only the built
 * renderer, API calls, and images by opaque id. No request can end the process (transport/http.ts).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError, toApiError } from '../../src-shared/errors.ts';
import type { Dispatch } from '../api/router.ts';
import { imageBytes } from '../datasets/images.ts';
import { parseIdList, thumbnailBatch } from '../datasets/read/image-bytes.ts';
import type { Workstation } from '../workstation.ts';
import { originAllowed, readJson, refuseForeignOrigin, requestUrl, sendError, sendJson, total } from './http.ts';
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
const METHOD_NAME = /^[A-Za-z]+\.[A-Za-z]+$/;

export async function startHost(
  workstation: Workstation,
  dispatch: Dispatch,
  options: HostOptions,
): Promise<RunningHost> {
  const token = options.token ?? randomBytes(24).toString('base64url');
  const expected = Buffer.from(token);
  const hostname = options.host ?? '127.0.0.1';
  const sockets = new Set<WebSocket>();
  let port = 0;
  const origins = () => [`http://${hostname}:${port}`, `http://localhost:${port}`, `http://127.0.0.1:${port}`];

  const tokenMatches = (candidate: string | undefined) => {
    const given = Buffer.from(candidate ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const hostAllowed = (header: string | undefined) =>
    header === `${hostname}:${port}` || header === `localhost:${port}` || header === `127.0.0.1:${port}`;
  /** The request's path after the token and its query, or null when the URL, the token or the Host is wrong. */
  const authorise = (request: IncomingMessage): { path: string; query: URLSearchParams } | null => {
    if (!hostAllowed(request.headers.host)) return null;
    const url = requestUrl(request);
    if (!url) return null;
    const [, first, ...rest] = url.pathname.split('/');
    return tokenMatches(first) ? { path: `/${rest.join('/')}`, query: url.searchParams } : null;
  };

  const server: Server = createServer(
    total('browser host', async (request, response) => {
      const target = authorise(request);
      if (target === null) {
        request.resume(); // drain any body so the refusal reaches the client instead of a reset
        return sendError(response, new ApiError('unauthorised', 'Missing or wrong session token'), 403);
      }
      await handle(target.path, target.query, request, response);
    }),
  );

  async function handle(
    path: string,
    searchParams: URLSearchParams,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    if (path.startsWith('/api/')) {
      if (refuseForeignOrigin(request, response, origins())) return;
      if (request.method !== 'POST')
        return sendJson(response, 405, {
          ok: false,
          error: { code: 'invalid_request', message: 'API calls are POST' },
        });
      const method = path.slice('/api/'.length);
      const body = await readJson(request, MAX_BODY);
      if (!METHOD_NAME.test(method))
        throw new ApiError(
          'invalid_request',
          `${JSON.stringify(method.slice(0, 80))} is not a method name (area.action)`,
        );
      return sendJson(response, 200, await dispatch(method, body));
    }
    if (path === '/thumbs') {
      const ids = parseIdList(searchParams.get('ids'));
      if (!ids) throw new ApiError('invalid_request', 'ids must be 1 to 1000 whole numbers from 1 to 4294967295');
      const batch = thumbnailBatch(workstation.project, ids); // before the headers: an error still gets its envelope
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      return void response.end(batch);
    }
    const image = /^\/image\/(thumb|full)\/(\d+)$/.exec(path);
    if (image) {
      try {
        const { bytes, mime } = await imageBytes(workstation, Number(image[2]), image[1] as 'thumb' | 'full');
        response.writeHead(200, {
          'content-type': mime,
          'cache-control': 'private, max-age=3600',
          'x-content-type-options': 'nosniff',
        });
        return void response.end(bytes);
      } catch (error) {
        return sendError(response, error, toApiError(error).code === 'image_changed' ? 409 : 404);
      }
    }
    const file = await readRendererFile(options.rendererDir, path);
    if (!file)
      return sendJson(response, 404, {
        ok: false,
        error: { code: 'invalid_request', message: `Not found: ${path.slice(0, 200)}` },
      });
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
    socket.on('error', () => socket.destroy());
    if (authorise(request)?.path !== '/events' || !originAllowed(request, origins())) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('error', () => ws.terminate()); // a malformed frame ends that socket, nothing else
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
