/**
 * The parent's side of the worker RPC: typed calls into one worker process, started when the first
 * call comes and again after it died. Policy, the same for every worker:
 * - Each call may listen to progress, be cancelled (the worker sees the cancel as an aborted signal
 *   and stops inside the work; a worker that has not answered `cancelGraceMs` after the cancel is
 *   killed and the call fails with `cancelled`), and carry a time limit (`timed_out`, the worker killed).
 * - A worker that dies (a crash in native code, a kill, the operating system's out-of-memory killer)
 *   fails every call it held with `worker_crashed`, naming what each call was doing; the next call gets
 *   a fresh worker.
 * - A busy worker's resident memory is watched (Linux: /proc); past `memoryLimitMb` it is killed and
 *   its calls fail with `out_of_memory`, before the machine starts to swap.
 * - An idle worker never keeps the parent's event loop alive.
 */
import { readFile } from 'node:fs/promises';
import { ApiError, isApiErrorShape, type ErrorCode } from '../../src-shared/errors.ts';
import type { FromWorker, Method, Progress, Protocol, ReplyOf, RequestOf, ToWorker } from './rpc.ts';
import { launchWorker, type WorkerName, type WorkerProcess } from './spawn.ts';

export interface CallOptions {
  signal?: AbortSignal;
  progress?: (progress: Progress) => void;
  /** Milliseconds the call may take before its worker is stopped (`timed_out`). */
  timeoutMs?: number;
  /** What the call does, for error messages: "running the model /models/a.onnx". */
  subject?: string;
}

export interface ClientOptions {
  name: WorkerName;
  /** The worker as a person would name it: "inference worker". */
  title: string;
  data?: unknown;
  memoryLimitMb?: number;
  /** How long a cancelled call may take to stop before its worker is killed. */
  cancelGraceMs?: number;
  /** Said after every failure the client itself reports: "nothing was merged". */
  consequence?: string;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  progress?: (progress: Progress) => void;
  subject: string;
  cleanup: () => void;
}

type Stop = { code: ErrorCode; describe: (subject: string) => string };

const WATCH_INTERVAL_MS = 100;

/** A process's resident memory in MiB (Linux), or null where /proc is not there. */
export async function residentMb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

export class WorkerClient<P extends Protocol> {
  private worker: WorkerProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private watch: ReturnType<typeof setInterval> | undefined;
  private stopping: Stop | undefined;
  private peakMb = 0;

  constructor(private readonly options: ClientOptions) {}

  /** Calls in flight. */
  get busy(): number {
    return this.pending.size;
  }

  get pid(): number | undefined {
    return this.worker?.pid;
  }

  call<M extends Method<P>>(method: M, request: RequestOf<P, M>, options: CallOptions = {}): Promise<ReplyOf<P, M>> {
    const subject = options.subject ?? `${method}`;
    if (options.signal?.aborted) return Promise.reject(new ApiError('cancelled', `${capital(subject)} was cancelled`));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<ReplyOf<P, M>>((resolve, reject) => {
      const timers: ReturnType<typeof setTimeout>[] = [];
      const onAbort = () => {
        worker.send({ kind: 'cancel', id } satisfies ToWorker);
        const grace = this.options.cancelGraceMs;
        if (grace !== undefined)
          timers.push(
            setTimeout(
              () =>
                this.stop({
                  code: 'cancelled',
                  describe: (s) =>
                    `${capital(s)} did not answer the cancel within ${seconds(grace)}, so its worker was stopped`,
                }),
              grace,
            ),
          );
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        const limit = options.timeoutMs;
        timers.push(
          setTimeout(
            () =>
              this.stop({
                code: 'timed_out',
                describe: (s) => `${capital(s)} took longer than ${seconds(limit)}, so it was stopped`,
              }),
            limit,
          ),
        );
      }
      const cleanup = () => {
        options.signal?.removeEventListener('abort', onAbort);
        for (const timer of timers) clearTimeout(timer);
      };
      this.pending.set(id, {
        resolve: resolve as (value: unknown) => void,
        reject,
        progress: options.progress,
        subject,
        cleanup,
      });
      if (this.pending.size === 1) this.hold(true);
      worker.send({ kind: 'call', id, method, request, progress: options.progress !== undefined } satisfies ToWorker);
    });
  }

  /** Stops the worker; calls in flight fail with `cancelled`. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const ended = new Promise<void>((resolve) => worker.onExit(() => resolve()));
    worker.hold(true); // wait for the exit even when nothing else keeps the loop alive
    this.stop({ code: 'cancelled', describe: (s) => `${capital(s)} was stopped: the app is closing` });
    await ended;
  }

  /** Starts the worker process now, so that its start overlaps the caller's own work before the first call. */
  warm(): void {
    this.start();
  }

  private start(): WorkerProcess {
    if (this.worker) return this.worker;
    const worker = launchWorker(this.options.name, this.options.data);
    this.worker = worker;
    this.stopping = undefined;
    this.peakMb = 0;
    worker.onMessage((message) => this.receive(message as FromWorker));
    worker.onExit((code, signal) => this.ended(worker, code, signal));
    worker.hold(false);
    return worker;
  }

  private receive(message: FromWorker): void {
    const pending = this.pending.get(message.id);
    if (!pending) return; // a call the client already gave up (cancelled, timed out)
    if (message.kind === 'progress') {
      pending.progress?.(message);
      return;
    }
    this.settle(message.id);
    if (message.kind === 'reply') pending.resolve(message.value);
    else
      pending.reject(
        isApiErrorShape(message.error)
          ? new ApiError(message.error.code, message.error.message, message.error.value)
          : new ApiError('internal', String((message.error as { message?: unknown }).message)),
      );
  }

  private settle(id: number): void {
    this.pending.get(id)?.cleanup();
    this.pending.delete(id);
    if (this.pending.size === 0) this.hold(false);
  }

  /** Kills the worker for a reason its calls will be failed with. */
  private stop(reason: Stop): void {
    if (!this.worker) return;
    this.stopping ??= reason;
    this.worker.kill();
  }

  private ended(worker: WorkerProcess, code: number | null, signal: string | null): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
    const how = signal
      ? `was stopped by ${signal}${signal === 'SIGKILL' ? ' (most likely the system ran out of memory)' : ''}`
      : `exited with code ${code}`;
    const reason: Stop = this.stopping ?? {
      code: 'worker_crashed',
      describe: (s) => `The ${this.options.title} ${how} while ${s}; the next call starts a fresh one`,
    };
    const after = this.options.consequence ? `; ${this.options.consequence}` : '';
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const pending of failed) {
      pending.cleanup();
      pending.reject(new ApiError(reason.code, `${reason.describe(pending.subject)}${after}`));
    }
  }

  /** A busy worker keeps the loop alive and has its memory watched; an idle one does neither. */
  private hold(busy: boolean): void {
    const worker = this.worker;
    if (!worker) return;
    worker.hold(busy);
    if (busy && this.options.memoryLimitMb !== undefined)
      this.watch ??= setInterval(() => void this.checkMemory(), WATCH_INTERVAL_MS);
    if (!busy && this.watch) {
      clearInterval(this.watch);
      this.watch = undefined;
    }
  }

  private async checkMemory(): Promise<void> {
    const pid = this.worker?.pid;
    const limit = this.options.memoryLimitMb;
    if (pid === undefined || limit === undefined || this.stopping) return;
    const mb = await residentMb(pid);
    if (mb === null || this.worker?.pid !== pid) return;
    this.peakMb = Math.max(this.peakMb, mb);
    if (mb > limit) {
      const peak = Math.round(this.peakMb);
      this.stop({
        code: 'out_of_memory',
        describe: (s) =>
          `${capital(s)} needed more than the ${limit} MiB a worker may use (it reached ${peak} MiB), so the worker was stopped. Try a smaller batch or input size; the app and its other jobs are unaffected`,
      });
    }
  }
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
