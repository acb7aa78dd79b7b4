/**
 * The crowd host: one labelling session opened to the lab network while the owner keeps it open.
 * Policy:
 * - Binds the interface the owner chose (a LAN address), a random port unless told otherwise.
 * - Serves the participant page and its assets, the participant API and the images of a participant's
 *   own tasks by opaque id, nothing else: no project API, no file paths, no other session.
 * - Joining needs the session's short join code (compared in constant time); a client address that
 *   gets it wrong 10 times in a minute is refused for that minute, and once the session has seen 30
 *   wrong codes in a minute from any addresses, every join waits for the minute to pass (a guesser
 *   with many addresses gets no more tries than one with a single address). A join creates a participant
 *   profile and claims a free seat; the reply carries a random resume token (only its sha256 is
 *   stored), which the page keeps, so a participant who loses the connection resumes where they were.
 * - Every API call after joining carries that token (Authorization: Bearer) and acts on its seat only.
 * - Bodies are JSON, at most 16 KiB; the Host header must name this host (no DNS rebinding).
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { z } from 'zod';
import { ApiError } from '../../src-shared/errors.ts';
import type { Project } from '../store/project.ts';
import type { SeatRow } from '../store/labels.ts';
import { answer, history, leaderboard, next, reopen, type ImageSrc } from '../labels/tasks.ts';
import { reveal } from '../labels/reveal.ts';
import { joinSession, showOnLeaderboard } from '../labels/participants.ts';
import {
  isParticipantMethod,
  participantMethods,
  type ParsedParticipantRequest,
  type ParticipantMethod,
  type ParticipantResult,
} from '../../src-shared/participant.ts';
import type { CrowdHost, CrowdOptions, RunningCrowd } from '../labels/crowds.ts';
import { readJson, refuseForeignOrigin, requestUrl, sendError, sendJson, total } from './http.ts';
import { contentSecurityPolicy, readRendererFile } from './renderer-files.ts';

export const MAX_CROWD_BODY = 16 * 1024;
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const WINDOW_MS = 60_000;
export const WRONG_CODES_PER_ADDRESS = 10;
export const WRONG_CODES_PER_SESSION = 30;
const OPAQUE = /^[0-9a-f]{24}$/;

export function lanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) if (entry.family === 'IPv4' && !entry.internal) return entry.address;
  }
  return '127.0.0.1';
}

export function joinCode(): string {
  return Array.from({ length: 6 }, () => CODE_ALPHABET[randomInt(CODE_ALPHABET.length)]).join('');
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export const startCrowd: CrowdHost = async (options: CrowdOptions): Promise<RunningCrowd> => {
  const code = joinCode();
  const host = options.host ?? lanAddress();
  const failures = new Map<string, { count: number; since: number }>();
  let port = 0;

  const imageSrc =
    (token: string): ImageSrc =>
    (image) =>
      `/image/${image.opaque}?seat=${encodeURIComponent(token)}`;

  function seatOf(token: string | undefined): SeatRow {
    const seat = token ? options.project().labels.seatByToken(hashToken(token)) : undefined;
    if (!seat || seat.sessionId !== options.sessionId)
      throw new ApiError('unauthorised', 'Unknown participant token; join the session with its code');
    return seat;
  }

  function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ApiError('invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    return parsed.data;
  }

  /** Counts a wrong code in a one-minute window that starts with the first wrong code. */
  const countWrong = (key: string, now: number) => {
    const record = failures.get(key);
    failures.set(
      key,
      record && now - record.since < WINDOW_MS
        ? { count: record.count + 1, since: record.since }
        : { count: 1, since: now },
    );
  };
  const overLimit = (key: string, limit: number, now: number) => {
    const record = failures.get(key);
    return record !== undefined && now - record.since < WINDOW_MS && record.count >= limit;
  };

  function join(request: ParsedParticipantRequest<'join'>, address: string): ParticipantResult<'join'> {
    const now = Date.now();
    if (overLimit(`address:${address}`, WRONG_CODES_PER_ADDRESS, now))
      throw new ApiError('join_refused', 'Too many wrong join codes from this device; wait a minute');
    if (overLimit('session', WRONG_CODES_PER_SESSION, now))
      throw new ApiError(
        'join_refused',
        'Too many wrong join codes for this session in the last minute; wait a minute and try again',
      );
    const given = Buffer.from(request.code.trim().toUpperCase());
    if (given.length !== code.length || !timingSafeEqual(given, Buffer.from(code))) {
      countWrong(`address:${address}`, now);
      countWrong('session', now);
      throw new ApiError('join_refused', `"${request.code.slice(0, 32)}" is not this session's join code`);
    }
    const token = randomBytes(24).toString('base64url');
    const name = joinSession(options.project(), options.sessionId, request, hashToken(token));
    options.onChange();
    return { token, name };
  }

  /** One handler per participant method (src-shared/participant.ts), each after its request is validated. */
  type Seated = { seat: SeatRow; src: ImageSrc };
  const handlers: {
    [M in Exclude<ParticipantMethod, 'join'>]: (
      request: ParsedParticipantRequest<M>,
      seated: Seated,
    ) => ParticipantResult<M> | Promise<ParticipantResult<M>>;
  } = {
    next: (_request, { seat, src }) => next(options.project(), seat, src),
    answer: (request, { seat, src }) => {
      const ack = answer(options.project(), seat, request.taskId, request.answer, 'crowd', src, request.shownAt);
      options.onChange();
      return ack;
    },
    task: (request, { seat, src }) => reopen(options.project(), seat, request.taskId, src),
    history: (_request, { seat }) => history(options.project(), seat),
    reveal: (request, { seat }) => reveal(options.project(), options.images, seat, request.taskId, request.step),
    leaderboard: (_request, { seat }) => leaderboard(options.project(), seat),
    settings: (request, { seat }) => {
      showOnLeaderboard(options.project(), seat, request.leaderboard);
      return { ok: true as const };
    },
  };

  async function api(route: string, body: unknown, token: string | undefined, address: string): Promise<unknown> {
    if (!isParticipantMethod(route))
      throw new ApiError('invalid_request', `Unknown participant call "${route.slice(0, 40)}"`);
    const request = parse(participantMethods[route].request, body);
    if (route === 'join') return join(request as ParsedParticipantRequest<'join'>, address);
    const seat = seatOf(token);
    const handler = handlers[route] as (request: unknown, seated: Seated) => unknown;
    return handler(request, { seat, src: imageSrc(token!) });
  }

  const server: Server = createServer(total('crowd host', handle));

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.headers.host !== `${host}:${port}`) {
      request.resume();
      return sendError(response, new ApiError('unauthorised', 'Wrong Host header'), 403);
    }
    const url = requestUrl(request);
    if (!url) throw new ApiError('invalid_request', 'The request URL does not parse');
    const path = url.pathname;
    if (path.startsWith('/api/')) {
      if (refuseForeignOrigin(request, response, [`http://${host}:${port}`])) return;
      if (request.method !== 'POST') throw new ApiError('invalid_request', 'Participant calls are POST');
      const body = await readJson(request, MAX_CROWD_BODY);
      const auth = request.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      return sendJson(response, 200, {
        ok: true,
        value: await api(path.slice(5), body, token, request.socket.remoteAddress ?? '?'),
      });
    }
    const image = /^\/image\/([^/]*)$/.exec(path);
    if (image) {
      const opaque = image[1]!;
      if (!OPAQUE.test(opaque))
        throw new ApiError(
          'invalid_request',
          `Image id ${JSON.stringify(opaque.slice(0, 80))} is not an image id of this session`,
        );
      const seat = seatOf(url.searchParams.get('seat') ?? undefined);
      const found = options.project().labels.imageForSeat(opaque, seat.id);
      if (!found) throw new ApiError('image_not_found', `No image ${opaque} among your tasks`);
      response.writeHead(200, {
        'content-type': found.mime,
        'cache-control': 'private, max-age=3600',
        'x-content-type-options': 'nosniff',
      });
      return void response.end(found.bytes);
    }
    if (request.method !== 'GET') throw new ApiError('invalid_request', 'Only GET for pages');
    const file =
      path === '/' || path === '/index.html'
        ? await readRendererFile(options.rendererDir, '/participant.html')
        : path.startsWith('/assets/')
          ? await readRendererFile(options.rendererDir, path)
          : null;
    if (!file)
      return sendJson(response, 404, {
        ok: false,
        error: { code: 'invalid_request', message: `Not found: ${path.slice(0, 100)}` },
      });
    response.writeHead(200, {
      'content-type': file.mime,
      'content-security-policy': contentSecurityPolicy(),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    });
    response.end(file.bytes);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/?code=${code}`,
    code,
    host,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
