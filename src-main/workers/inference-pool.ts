/**
 * The pool of inference workers (workers/inference.ts), each a process of its own behind the worker
 * RPC. Calls go to the least busy worker; each worker keeps its sessions loaded between calls, keyed
 * by model file hash. On a CPU a single worker with all cores as intra-op threads is fastest for one
 * batch stream; the size is configurable for GPUs and servers. What a dead or oversized worker does to
 * its calls is the RPC's policy (client.ts): `worker_crashed` or `out_of_memory`, naming the model.
 * The memory bound is 60 % of the machine's memory unless XAIWS_WORKER_MEMORY_MB or the pool's option
 * says otherwise.
 */
import { availableParallelism, totalmem } from 'node:os';
import { availableProviders } from '../inference/runtime/providers.ts';
import { WorkerClient, type CallOptions } from './client.ts';
import type { InferenceProtocol } from './protocols.ts';
import type { Method, ReplyOf, RequestOf } from './rpc.ts';

export interface PoolOptions {
  /** Resident memory a worker may use before it is stopped, in MiB. */
  memoryLimitMb?: number;
  /** Where workers keep what outlives them (measured model shapes); none: nothing is kept. */
  cacheDir?: string;
}

export function defaultMemoryLimitMb(): number {
  const configured = Number(process.env.XAIWS_WORKER_MEMORY_MB);
  return Number.isFinite(configured) && configured > 0 ? configured : Math.floor((totalmem() / 2 ** 20) * 0.6);
}

type InferenceMethod = Method<InferenceProtocol>;

/** What a call runs, for its error messages. */
function subjectOf(request: RequestOf<InferenceProtocol, InferenceMethod>): string {
  if ('bundle' in request) return `running the explainer bundle of ${request.bundle.key.slice(0, 8)}`;
  if ('model' in request) return `running the model ${request.model.path}`;
  if ('inputs' in request) return 'computing the dataset map';
  if ('rows' in request) return 'clustering explanation maps';
  return `running the model ${request.path}`;
}

export class InferencePool {
  private clients: WorkerClient<InferenceProtocol>[] = [];
  private activeProvider = 'not loaded';
  private readonly memoryLimitMb: number;
  private readonly cacheDir: string | undefined;

  constructor(
    private readonly size = 1,
    private readonly threads = availableParallelism(),
    options: PoolOptions = {},
  ) {
    this.memoryLimitMb = options.memoryLimitMb ?? defaultMemoryLimitMb();
    this.cacheDir = options.cacheDir;
  }

  get provider(): { available: string[]; active: string } {
    return { available: availableProviders(), active: this.activeProvider };
  }

  /** One call on the least busy worker (a new one while the pool is not full and all are busy). */
  async call<M extends InferenceMethod>(
    method: M,
    request: RequestOf<InferenceProtocol, M>,
    options: CallOptions = {},
  ): Promise<ReplyOf<InferenceProtocol, M>> {
    const reply = await this.pick().call(method, request, { subject: subjectOf(request), ...options });
    const provider = (reply as { provider?: unknown }).provider;
    if (typeof provider === 'string') this.activeProvider = provider;
    return reply;
  }

  /** Starts a worker ahead of the first call (the CLI, while it hashes the model). */
  warm(): void {
    this.pick().warm();
  }

  /** The process ids of the running workers (diagnostics; the tests kill one). */
  get pids(): number[] {
    return this.clients.flatMap((client) => (client.pid === undefined ? [] : [client.pid]));
  }

  async close(): Promise<void> {
    const clients = this.clients;
    this.clients = [];
    await Promise.all(clients.map((client) => client.close()));
  }

  private pick(): WorkerClient<InferenceProtocol> {
    if (this.clients.length < this.size && this.clients.every((client) => client.busy > 0)) {
      this.clients.push(
        new WorkerClient<InferenceProtocol>({
          name: 'inference-worker',
          title: 'inference worker',
          data: { threads: Math.max(1, Math.floor(this.threads / this.size)), cacheDir: this.cacheDir },
          memoryLimitMb: this.memoryLimitMb,
        }),
      );
    }
    return this.clients.reduce((best, client) => (client.busy < best.busy ? client : best));
  }
}
