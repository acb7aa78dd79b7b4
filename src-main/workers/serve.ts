/**
 * The worker's side of the RPC: `serve(handlers)` answers the parent's calls. Each handler gets its
 * request and a context with the call's abort signal (aborted when the parent cancels) and a progress
 * function (a no-op when the caller does not listen). A thrown ApiError crosses as its shape; any other
 * error goes through the protocol's `describeError`, so that failures a user can act on carry a code.
 * The worker is a process of its own (Electron's utilityProcess or Node's fork): it ends with its parent,
 * and goes first when the machine runs out of memory.
 */
import { writeFile } from 'node:fs';
import { toApiError, type ApiErrorShape } from '../../src-shared/errors.ts';
import type { FromWorker, Method, Progress, Protocol, ReplyOf, RequestOf, ToWorker } from './rpc.ts';
import { DATA_VARIABLE } from './spawn.ts';

export interface CallContext {
  signal: AbortSignal;
  progress(done: number, total: number, stage?: string): void;
}

export type Handlers<P extends Protocol> = {
  [M in Method<P>]: (request: RequestOf<P, M>, context: CallContext) => Promise<ReplyOf<P, M>> | ReplyOf<P, M>;
};

export interface ServeOptions {
  /** Turns an error that is not an ApiError into the shape sent to the parent (default: `internal`). */
  describeError?: (error: unknown, method: string, request: unknown) => ApiErrorShape;
}

interface Channel {
  post(message: FromWorker): void;
  onMessage(handler: (message: ToWorker) => void): void;
}

interface ElectronParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', handler: (event: { data: unknown }) => void): void;
}

/** The channel to the parent: Electron's `process.parentPort` in a utility process, the IPC channel of a fork. */
function parentChannel(): Channel {
  const electronPort = (process as unknown as { parentPort?: ElectronParentPort }).parentPort;
  if (electronPort) {
    return {
      post: (message) => electronPort.postMessage(message),
      onMessage: (handler) => electronPort.on('message', (event) => handler(event.data as ToWorker)),
    };
  }
  const send = process.send?.bind(process);
  if (!send) throw new Error('This module runs as a worker process, started by src-main/workers/spawn.ts');
  process.on('disconnect', () => process.exit(0)); // the parent is gone: so is the work
  // A send after the parent went away fails with EPIPE: the work has no one to report to, so it ends.
  const post = (message: FromWorker) =>
    void send(message, undefined, undefined, (error: Error | null) => error && process.exit(0));
  return { post, onMessage: (handler) => process.on('message', handler as (message: unknown) => void) };
}

/** The start data the parent gave this worker. */
export function startData<T>(): T {
  return JSON.parse(process.env[DATA_VARIABLE] ?? 'null') as T;
}

export function serve<P extends Protocol>(handlers: Handlers<P>, options: ServeOptions = {}): void {
  const channel = parentChannel();
  writeFile('/proc/self/oom_score_adj', '1000', () => undefined); // spare the app when memory runs out
  const running = new Map<number, AbortController>();
  channel.onMessage((message) => {
    if (message.kind === 'cancel') {
      running.get(message.id)?.abort();
      return;
    }
    const { id, method, request } = message;
    const controller = new AbortController();
    running.set(id, controller);
    const context: CallContext = {
      signal: controller.signal,
      progress: message.progress
        ? (done, total, stage) =>
            channel.post({
              kind: 'progress',
              id,
              done,
              total,
              ...(stage === undefined ? {} : { stage }),
            } satisfies Progress & { kind: 'progress'; id: number })
        : () => undefined,
    };
    const handler = Object.hasOwn(handlers, method)
      ? (handlers[method as Method<P>] as (request: unknown, context: CallContext) => unknown)
      : undefined;
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`This worker has no method "${method}"`);
        return handler(request, context);
      })
      .then(
        (value) => channel.post({ kind: 'reply', id, value }),
        (error: unknown) =>
          channel.post({
            kind: 'error',
            id,
            error:
              options.describeError && !isNamed(error)
                ? options.describeError(error, method, request)
                : toApiError(error),
          }),
      )
      .finally(() => running.delete(id));
  });
}

function isNamed(error: unknown): boolean {
  return toApiError(error).code !== 'internal';
}
