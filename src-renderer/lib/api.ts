/**
 * The renderer's API client. Under Electron the preload's window.xai carries the calls over IPC; in a
 * browser the same calls go to the local host over HTTP, with events over a WebSocket. Both return
 * the same envelope, and a failure becomes an ApiClientError with the server's code and message.
 */
import type { EventName, EventPayload, MethodName, Request, Result, XaiApi } from '../../src-shared/contract.ts';
import type { Envelope, ErrorCode } from '../../src-shared/errors.ts';

export class ApiClientError extends Error {
  constructor(
    readonly code: ErrorCode | 'network',
    message: string,
  ) {
    super(message);
  }
}

interface PreloadApi {
  methods: Record<string, (request?: unknown) => Promise<Envelope<unknown>>>;
  on(event: string, listener: (payload: unknown) => void): () => void;
  imageUrl(imageId: number, variant: 'thumb' | 'full'): string;
  thumbnailBatchUrl(imageIds: readonly number[]): string;
}

declare global {
  interface Window {
    xai?: PreloadApi;
  }
}

function unwrap<T>(envelope: Envelope<unknown>): T {
  if (envelope.ok) return envelope.value as T;
  throw new ApiClientError(envelope.error.code, envelope.error.message);
}

function ipcClient(preload: PreloadApi): XaiApi {
  return {
    async call(method, request) {
      const fn = preload.methods[method];
      if (!fn) throw new ApiClientError('unknown_method', `Unknown API method ${method}`);
      return unwrap(await fn(request ?? {}));
    },
    on: (event, listener) => preload.on(event, listener as (payload: unknown) => void),
    imageUrl: (imageId, variant) => preload.imageUrl(imageId, variant),
    thumbnailBatchUrl: (imageIds) => preload.thumbnailBatchUrl(imageIds),
  };
}

function hostClient(): XaiApi {
  const token = location.pathname.split('/')[1] ?? '';
  const base = `/${token}`;
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  let socket: WebSocket | null = null;
  let retry = 500;
  const connect = () => {
    socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${base}/events`);
    socket.onmessage = (message) => {
      const { event, payload } = JSON.parse(String(message.data)) as { event: string; payload: unknown };
      for (const listener of listeners.get(event) ?? []) listener(payload);
    };
    socket.onopen = () => (retry = 500);
    socket.onclose = () => {
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10_000);
    };
  };
  connect();
  return {
    async call<M extends MethodName>(method: M, request?: Request<M>): Promise<Result<M>> {
      let response: Response;
      try {
        response = await fetch(`${base}/api/${method}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(request ?? {}),
        });
      } catch (error) {
        throw new ApiClientError(
          'network',
          `The workstation host does not answer (${(error as Error).message}); is it still running?`,
        );
      }
      return unwrap<Result<M>>((await response.json()) as Envelope<unknown>);
    },
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) {
      const set = listeners.get(event) ?? new Set();
      set.add(listener as (payload: unknown) => void);
      listeners.set(event, set);
      return () => set.delete(listener as (payload: unknown) => void);
    },
    imageUrl: (imageId, variant) => `${base}/image/${variant}/${Math.trunc(imageId)}`,
    thumbnailBatchUrl: (imageIds) => `${base}/thumbs?ids=${imageIds.map((id) => Math.trunc(id)).join(',')}`,
  };
}

export const api: XaiApi = typeof window !== 'undefined' && window.xai ? ipcClient(window.xai) : hostClient();
