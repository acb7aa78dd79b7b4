/**
 * The pool of inference workers. Requests go to the least busy worker; each worker keeps its sessions
 * loaded between requests, keyed by model file hash. On a CPU a single worker with all cores as
 * intra-op threads is fastest for one batch stream; the size is configurable for GPUs and servers.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { Manifest } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { startWorker } from '../workers.ts';
import type { CamRequest } from '../explain/cam/engine.ts';
import type { BatchSource, GenerativeOp, GenerativeOutput, MetricRequest, WorkerReply, WorkerRequest } from './messages.ts';
import type { BundleRef } from '../explain/generative/engine.ts';
import { availableProviders } from './providers.ts';

type Pending = { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void; progress?: (done: number, total: number) => void };

export interface CallOptions {
  signal?: AbortSignal;
  progress?: (done: number, total: number) => void;
}
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

interface Slot {
  worker: Worker;
  busy: number;
  pending: Map<number, Pending>;
}

export interface ModelRef {
  key: string;
  path: string;
  manifest: Manifest;
}

export class InferencePool {
  private slots: Slot[] = [];
  private nextId = 1;
  private activeProvider = 'not loaded';

  constructor(
    private readonly size = 1,
    private readonly threads = availableParallelism(),
  ) {}

  get provider(): { available: string[]; active: string } {
    return { available: availableProviders(), active: this.activeProvider };
  }

  async inspect(key: string, path: string) {
    const reply = await this.send({ type: 'inspect', key, path });
    if (reply.type !== 'inspected') throw new Error('unexpected reply');
    this.activeProvider = reply.provider;
    return reply;
  }

  async inferImages(model: ModelRef, projectPath: string, imageIds: number[]) {
    const reply = await this.send({ type: 'infer-images', ...model, projectPath, imageIds });
    if (reply.type !== 'inferred') throw new Error('unexpected reply');
    this.activeProvider = reply.provider;
    return reply;
  }

  async inferTensor(model: ModelRef, tensor: Float32Array, count: number) {
    const reply = await this.send({ type: 'infer-tensor', ...model, tensor, count }, [tensor.buffer as ArrayBuffer]);
    if (reply.type !== 'inferred') throw new Error('unexpected reply');
    this.activeProvider = reply.provider;
    return reply;
  }

  async camLayers(model: ModelRef) {
    const reply = await this.send({ type: 'cam-layers', ...model });
    if (reply.type !== 'cam-layers') throw new Error('unexpected reply');
    return reply.layers;
  }

  /** CAM maps for a batch; `signal` cancels between the model runs inside the worker. */
  async cam(model: ModelRef, source: BatchSource, request: CamRequest, options: CallOptions = {}) {
    const transfer = 'tensor' in source ? [source.tensor.buffer as ArrayBuffer] : [];
    const reply = await this.send({ type: 'cam', ...model, source, request }, transfer, options);
    if (reply.type !== 'cam') throw new Error('unexpected reply');
    this.activeProvider = reply.provider;
    return reply.results;
  }

  /** Clustered feature maps of every conv layer for one image. */
  async layerwise(model: ModelRef, source: BatchSource, target: number) {
    const reply = await this.send({ type: 'layerwise', ...model, source, target });
    if (reply.type !== 'layerwise') throw new Error('unexpected reply');
    return reply.result;
  }

  /** Deletion, insertion and ROAD for each image of the batch. */
  async metrics(model: ModelRef, source: BatchSource, request: MetricRequest, steps: number, options: CallOptions = {}) {
    const reply = await this.send({ type: 'metrics', ...model, source, request, steps }, [], options);
    if (reply.type !== 'metrics') throw new Error('unexpected reply');
    return reply.results;
  }

  /** The model-randomisation sanity check for one image (`fullOnly`: just the fully randomised model's map). */
  async sanity(model: ModelRef, source: BatchSource, request: MetricRequest, options: CallOptions = {}, fullOnly = false) {
    const reply = await this.send({ type: 'sanity', ...model, source, request, fullOnly }, [], options);
    if (reply.type !== 'sanity') throw new Error('unexpected reply');
    return reply;
  }

  /** A generative explainer of a bundle over project images. */
  async generative<K extends GenerativeOp['kind']>(bundle: BundleRef, manifest: Manifest, projectPath: string, imageIds: number[], op: Extract<GenerativeOp, { kind: K }>): Promise<GenerativeOutput[K]> {
    const reply = await this.send({ type: 'generative', bundle, manifest, projectPath, imageIds, op });
    if (reply.type !== 'generative') throw new Error('unexpected reply');
    return reply.output as GenerativeOutput[K];
  }

  async close(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private send(request: DistributiveOmit<WorkerRequest, 'id'>, transfer: ArrayBuffer[] = [], options: CallOptions = {}): Promise<WorkerReply> {
    const slot = this.pickSlot();
    const id = this.nextId++;
    const cancel = () => slot.worker.postMessage({ type: 'cancel', id });
    options.signal?.addEventListener('abort', cancel, { once: true });
    return new Promise<WorkerReply>((resolve, reject) => {
      slot.busy += 1;
      if (slot.busy === 1) slot.worker.ref(); // a pending request keeps the process alive
      slot.pending.set(id, { resolve, reject, progress: options.progress });
      slot.worker.postMessage({ ...request, id }, transfer);
    }).then((reply) => {
      options.signal?.removeEventListener('abort', cancel);
      if (reply.type === 'failed') throw new ApiError(reply.error.code, reply.error.message);
      return reply;
    });
  }

  private pickSlot(): Slot {
    if (this.slots.length < this.size && this.slots.every((slot) => slot.busy > 0)) this.slots.push(this.spawn());
    return this.slots.reduce((best, slot) => (slot.busy < best.busy ? slot : best));
  }

  private spawn(): Slot {
    const worker = startWorker('inference-worker', { threads: Math.max(1, Math.floor(this.threads / this.size)) });
    const slot: Slot = { worker, busy: 0, pending: new Map() };
    worker.on('message', (reply: WorkerReply) => {
      const pending = slot.pending.get(reply.id);
      if (!pending) return;
      if (reply.type === 'progress') {
        pending.progress?.(reply.done, reply.total);
        return;
      }
      slot.pending.delete(reply.id);
      slot.busy -= 1;
      if (slot.busy === 0) worker.unref(); // an idle pool never holds the process open
      pending.resolve(reply);
    });
    const fail = (error: Error) => {
      for (const pending of slot.pending.values()) pending.reject(error);
      slot.pending.clear();
      this.slots = this.slots.filter((other) => other !== slot);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new ApiError('internal', `The inference worker stopped (exit code ${code})`)));
    worker.unref();
    return slot;
  }
}
