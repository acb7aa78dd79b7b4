/**
 * The one protocol between the main process and every worker process. A worker serves a protocol: a
 * map from method name to its request and reply types. Every call carries an id; progress, the reply
 * and errors come back under that id; a cancel names it. Errors cross as ApiError shapes
 * `{code, message, value?}`, so a worker's named failure reaches the user unchanged.
 */
import type { ApiErrorShape } from '../../src-shared/errors.ts';

export type Protocol = Record<string, { request: unknown; reply: unknown }>;
export type Method<P extends Protocol> = keyof P & string;
export type RequestOf<P extends Protocol, M extends Method<P>> = P[M]['request'];
export type ReplyOf<P extends Protocol, M extends Method<P>> = P[M]['reply'];

export interface Progress {
  done: number;
  total: number;
  stage?: string;
}

/** What the parent sends: a call (`progress`: whether the caller listens, else none is sent) or a cancel. */
export type ToWorker =
  { kind: 'call'; id: number; method: string; request: unknown; progress: boolean } | { kind: 'cancel'; id: number };

/** What a worker sends back for a call: progress, then exactly one reply or error. */
export type FromWorker =
  | ({ kind: 'progress'; id: number } & Progress)
  | { kind: 'reply'; id: number; value: unknown }
  | { kind: 'error'; id: number; error: ApiErrorShape };
