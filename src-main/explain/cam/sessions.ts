/**
 * The onnxruntime sessions of one engine, one per graph it built (forward, gradient graph per layer,
 * head, tail), created on first use and kept; a one-off graph (the layer advice's) can be let go.
 */
import type * as ort from 'onnxruntime-node';
import type { OnnxModel } from '../../models/onnx/model.ts';
import type { SessionFactory } from './types.ts';

export class SessionCache {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(private readonly create: SessionFactory) {}

  /** The session kept under `key`, made from `build()`'s model the first time. */
  get(key: string, build: () => OnnxModel, options?: { prepack?: boolean }): Promise<ort.InferenceSession> {
    let session = this.sessions.get(key);
    if (!session) {
      session = Promise.resolve().then(() => this.create(build().encode(), options));
      session.catch(() => this.sessions.delete(key));
      this.sessions.set(key, session);
    }
    return session;
  }

  /** Releases the session kept under `key`, if any. */
  async forget(key: string): Promise<void> {
    const session = this.sessions.get(key);
    this.sessions.delete(key);
    await (await session?.catch(() => undefined))?.release();
  }

  async release(): Promise<void> {
    await Promise.all([...this.sessions.keys()].map((key) => this.forget(key)));
  }
}
