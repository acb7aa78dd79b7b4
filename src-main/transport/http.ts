/**
 * What both HTTP servers (the browser host and the crowd host) share. Policy:
 * - Every request handler is total: whatever it throws, before or after the headers went out, ends
 *   that one response (an error envelope, or a destroyed socket once headers were sent), never the
 *   process. A refusal is logged to stderr with its code, never with a token.
 * - A request URL that does not parse is refused as `invalid_request`, not thrown.
 * - A request that carries an Origin header must come from the host's own origin (a page of another
 *   site cannot drive the API or open the event socket); programs without Origin (the CLI, scripts)
 *   still need the token.
 * - A body over the limit is refused with `too_large` (by its declared length when it has one), and the
 *   rest is drained rather than the socket destroyed, so the refusal reaches the client.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, toApiError, type ErrorCode } from '../../src-shared/errors.ts';

const STATUS: Partial<Record<ErrorCode, number>> = {
  invalid_request: 400,
  unknown_method: 400,
  unauthorised: 401,
  join_refused: 403,
  task_not_found: 404,
  image_not_found: 404,
  image_changed: 409,
  no_project: 409,
  session_full: 409,
  session_paused: 409,
  session_ended: 410,
  seat_removed: 410,
  too_large: 413,
};

export function statusOf(code: ErrorCode, fallback = 500): number {
  return STATUS[code] ?? fallback;
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent || response.destroyed) {
    response.destroy();
    return;
  }
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  });
  response.end(JSON.stringify(body));
}

export function sendError(response: ServerResponse, error: unknown, status?: number): void {
  const shape = toApiError(error);
  if (!response.headersSent) response.setHeader('connection', 'close');
  sendJson(response, status ?? statusOf(shape.code), { ok: false, error: shape });
}

/** A request listener that never throws: errors end the response they belong to. */
export function total(label: string, handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    const fail = (error: unknown) => {
      try {
        request.resume();
        const shape = toApiError(error);
        if (shape.code === 'internal')
          process.stderr.write(`xaiws ${label}: ${request.method} failed: ${shape.message}\n`);
        sendError(response, error);
      } catch {
        response.destroy();
      }
    };
    try {
      handle(request, response).catch(fail);
    } catch (error) {
      fail(error);
    }
  };
}

/** The request's URL, or null when it does not parse (`GET //[`). */
export function requestUrl(request: IncomingMessage): URL | null {
  try {
    return new URL(request.url ?? '/', 'http://placeholder');
  } catch {
    return null;
  }
}

export function originAllowed(request: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = request.headers.origin;
  return origin === undefined || allowed.includes(origin);
}

/** Answers 403 `unauthorised` and returns true when the request names an Origin other than the host's own. */
export function refuseForeignOrigin(
  request: IncomingMessage,
  response: ServerResponse,
  allowed: readonly string[],
): boolean {
  if (originAllowed(request, allowed)) return false;
  request.resume();
  const origin = String(request.headers.origin).slice(0, 100);
  sendError(
    response,
    new ApiError(
      'unauthorised',
      `Requests from ${JSON.stringify(origin)} are refused; only pages of this host may call it`,
    ),
    403,
  );
  return true;
}

export function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) {
      request.resume();
      return reject(new ApiError('too_large', `Request body of ${declared} bytes is over the ${limit}-byte limit`));
    }
    let size = 0;
    let failed = false;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        if (!failed) reject(new ApiError('too_large', `Request body is over the ${limit}-byte limit`));
        failed = true;
      } else chunks.push(chunk);
    });
    request.on('end', () => failed || resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** A JSON request body; `invalid_request` when it is not JSON. */
export async function readJson(request: IncomingMessage, limit: number): Promise<unknown> {
  const text = await readBody(request, limit);
  try {
    return text ? JSON.parse(text) : {};
  } catch (error) {
    throw new ApiError('invalid_request', `The request body is not JSON: ${(error as Error).message}`);
  }
}
