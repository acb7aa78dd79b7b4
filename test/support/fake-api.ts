/**
 * A fake of the renderer's API client (XaiApi) for the state classes' tests: each method answers
 * from a handler the test sets (or fails with unknown_method), every call is recorded, and the test
 * pushes events as main would.
 */
import type { EventName, EventPayload, MethodName, XaiApi } from '../../src-shared/contract.ts';

type Handler = (request: any) => unknown;

export class FakeApi implements XaiApi {
  readonly calls: { method: MethodName; request: unknown }[] = [];
  private readonly handlers = new Map<string, Handler>();
  private readonly listeners = new Map<string, Set<(payload: any) => void>>();

  answer(method: MethodName, handler: Handler): this {
    this.handlers.set(method, handler);
    return this;
  }

  async call(method: any, request?: any): Promise<any> {
    this.calls.push({ method, request });
    const handler = this.handlers.get(method);
    if (!handler)
      throw Object.assign(new Error(`The fake API has no answer for ${method}`), { code: 'unknown_method' });
    return handler(request);
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener);
    this.listeners.set(event, set);
    return () => set.delete(listener);
  }

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const listener of this.listeners.get(event) ?? []) listener(payload);
  }

  callsOf(method: MethodName): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.request);
  }

  imageUrl(imageId: number, variant: 'thumb' | 'full'): string {
    return `fake://${variant}/${imageId}`;
  }

  thumbnailBatchUrl(imageIds: readonly number[]): string {
    return `fake://thumbs/${imageIds.join(',')}`;
  }
}

/** A promise the test settles when it wants, to order answers. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}
