/**
 * The pool of inference workers, each a process of its own. Requests go to the least busy worker; each
 * worker keeps its sessions loaded between requests, keyed by model file hash. On a CPU a single
 * worker with all cores as intra-op threads is fastest for one batch stream; the size is configurable
 * for GPUs and servers. Policy:
 * - A worker that dies (a crash in a model's kernels, a kill, the operating system's out-of-memory
 *   killer) fails the requests it held with `worker_crashed`, naming the model; the next request gets
 *   a fresh worker, and the app never notices more than those failed calls.
 * - A busy worker's resident memory is watched (Linux: /proc); past the memory bound (60 % of the
 *   machine's memory unless XAIWS_WORKER_MEMORY_MB or the pool's option says otherwise) it is killed
 *   and its requests fail with `out_of_memory`, naming the model, before the machine starts to swap.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import type { Manifest } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { startWorkerProcess } from '../workers.ts';
import type { CamRequest } from '../explain/cam/engine.ts';
import type { BatchSource, GenerativeOp, GenerativeOutput, MetricRequest, WorkerCall, WorkerReply } from './messages.ts';
import type { BundleRef } from '../explain/generative/engine.ts';
import { availableProviders } from './providers.ts';

type Pending = { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void; progress?: (done: number, total: number) => void; label: string };

export interface CallOptions {
  signal?: AbortSignal;
  progress?: (done: number, total: number) => void;
}
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

interface Slot {
  worker: ChildProcess;
  busy: number;
  pending: Map<number, Pending>;
  /** Why the pool killed the worker, when it did. */
  killedFor?: 'memory';
  peakMb: number;
  watch?: ReturnType<typeof setInterval>;
}

export interface PoolOptions {
  /** Resident memory a worker may use before it is stopped, in MiB. */
  memoryLimitMb?: number;
}

const WATCH_INTERVAL_MS = 100;

export function defaultMemoryLimitMb(): number {
  const configured = Number(process.env.XAIWS_WORKER_MEMORY_MB);
  return Number.isFinite(configured) && configured > 0 ? configured : Math.floor((totalmem() / 2 ** 20) * 0.6);
}

/** A process's resident memory in MiB (Linux), or null where /proc is not there. */
async function residentMb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
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

  private readonly memoryLimitMb: number;

  constructor(
    private readonly size = 1,
    private readonly threads = availableParallelism(),
    options: PoolOptions = {},
  ) {
    this.memoryLimitMb = options.memoryLimitMb ?? defaultMemoryLimitMb();
  }

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
    const reply = await this.send({ type: 'infer-tensor', ...model, tensor, count });
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
    const reply = await this.send({ type: 'cam', ...model, source, request }, options);
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
    const reply = await this.send({ type: 'metrics', ...model, source, request, steps }, options);
    if (reply.type !== 'metrics') throw new Error('unexpected reply');
    return reply.results;
  }

  /** The model-randomisation sanity check for one image (`fullOnly`: just the fully randomised model's map). */
  async sanity(model: ModelRef, source: BatchSource, request: MetricRequest, options: CallOptions = {}, fullOnly = false) {
    const reply = await this.send({ type: 'sanity', ...model, source, request, fullOnly }, options);
    if (reply.type !== 'sanity') throw new Error('unexpected reply');
    return reply;
  }

  /** A generative explainer of a bundle over project images. */
  async generative<K extends GenerativeOp['kind']>(bundle: BundleRef, manifest: Manifest, projectPath: string, imageIds: number[], op: Extract<GenerativeOp, { kind: K }>): Promise<GenerativeOutput[K]> {
    const reply = await this.send({ type: 'generative', bundle, manifest, projectPath, imageIds, op });
    if (reply.type !== 'generative') throw new Error('unexpected reply');
    return reply.output as GenerativeOutput[K];
  }

  /** The process ids of the running workers (diagnostics; the tests kill one). */
  get pids(): number[] {
    return this.slots.flatMap((slot) => (slot.worker.pid === undefined ? [] : [slot.worker.pid]));
  }

  async close(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    await Promise.all(
      slots.map(async (slot) => {
        if (slot.watch) clearInterval(slot.watch);
        if (slot.worker.exitCode !== null || slot.worker.signalCode !== null) return;
        const exited = new Promise((resolve) => slot.worker.once('exit', resolve));
        slot.worker.ref(); // wait for the exit even when nothing else keeps the app's loop alive
        slot.worker.kill('SIGKILL');
        await exited;
      }),
    );
  }

  private send(request: DistributiveOmit<WorkerCall, 'id'>, options: CallOptions = {}): Promise<WorkerReply> {
    const slot = this.pickSlot();
    const id = this.nextId++;
    const cancel = () => slot.worker.connected && slot.worker.send({ type: 'cancel', id });
    options.signal?.addEventListener('abort', cancel, { once: true });
    const label = 'bundle' in request ? `the explainer bundle of ${request.bundle.key.slice(0, 8)}` : `the model ${request.path}`;
    return new Promise<WorkerReply>((resolve, reject) => {
      slot.busy += 1;
      if (slot.busy === 1) this.hold(slot, true); // a pending request keeps the process alive
      slot.pending.set(id, { resolve, reject, progress: options.progress, label });
      slot.worker.send({ ...request, id, progress: options.progress !== undefined });
    }).then(
      (reply) => {
        options.signal?.removeEventListener('abort', cancel);
        if (reply.type === 'failed') throw new ApiError(reply.error.code, reply.error.message);
        return reply;
      },
      (error: unknown) => {
        options.signal?.removeEventListener('abort', cancel);
        throw error;
      },
    );
  }

  private pickSlot(): Slot {
    if (this.slots.length < this.size && this.slots.every((slot) => slot.busy > 0)) this.slots.push(this.spawn());
    return this.slots.reduce((best, slot) => (slot.busy < best.busy ? slot : best));
  }

  /** A busy worker keeps the app's event loop alive and has its memory watched; an idle one does neither. */
  private hold(slot: Slot, busy: boolean): void {
    if (busy) {
      slot.worker.ref();
      slot.worker.channel?.ref();
      slot.watch ??= setInterval(() => void this.checkMemory(slot), WATCH_INTERVAL_MS);
    } else {
      slot.worker.unref();
      slot.worker.channel?.unref();
      if (slot.watch) clearInterval(slot.watch);
      slot.watch = undefined;
    }
  }

  private async checkMemory(slot: Slot): Promise<void> {
    const pid = slot.worker.pid;
    if (pid === undefined || slot.killedFor) return;
    const mb = await residentMb(pid);
    if (mb === null) return;
    slot.peakMb = Math.max(slot.peakMb, mb);
    if (mb > this.memoryLimitMb && !slot.killedFor) {
      slot.killedFor = 'memory';
      slot.worker.kill('SIGKILL');
    }
  }

  private spawn(): Slot {
    const worker = startWorkerProcess('inference-worker', { threads: Math.max(1, Math.floor(this.threads / this.size)) });
    const slot: Slot = { worker, busy: 0, pending: new Map(), peakMb: 0 };
    worker.on('message', (reply: WorkerReply) => {
      const pending = slot.pending.get(reply.id);
      if (!pending) return;
      if (reply.type === 'progress') {
        pending.progress?.(reply.done, reply.total);
        return;
      }
      slot.pending.delete(reply.id);
      slot.busy -= 1;
      if (slot.busy === 0) this.hold(slot, false); // an idle pool never holds the process open
      pending.resolve(reply);
    });
    const fail = (describe: (label: string) => ApiError) => {
      if (slot.watch) clearInterval(slot.watch);
      slot.watch = undefined;
      for (const pending of slot.pending.values()) pending.reject(describe(pending.label));
      slot.pending.clear();
      slot.busy = 0;
      this.slots = this.slots.filter((other) => other !== slot);
    };
    worker.on('error', (error) => fail((label) => new ApiError('worker_crashed', `The inference worker failed while running ${label}: ${error.message}`)));
    worker.on('exit', (code, signal) => {
      if (slot.killedFor === 'memory') {
        fail((label) => new ApiError('out_of_memory', `Running ${label} needed more than the ${this.memoryLimitMb} MiB a worker may use (it reached ${Math.round(slot.peakMb)} MiB), so the worker was stopped. Try a smaller batch or input size; the app and its other jobs are unaffected.`));
      } else {
        const how = signal ? `was stopped by ${signal}${signal === 'SIGKILL' ? ' (most likely the system ran out of memory)' : ''}` : `exited with code ${code}`;
        fail((label) => new ApiError('worker_crashed', `The inference worker ${how} while running ${label}; the next call starts a fresh one`));
      }
    });
    this.hold(slot, false);
    return slot;
  }
}
