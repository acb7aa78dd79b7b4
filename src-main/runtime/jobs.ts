/**
 * Long work as jobs. start() returns the job at once and runs the task in the background; progress is
 * stored in the project's jobs table and pushed as `job.updated` events, throttled (a 70,000-image
 * import would otherwise send thousands). cancel() aborts the task's signal; tasks check it between
 * batches. Jobs a killed process left running are marked interrupted when the project opens (a
 * read-only project is left as it is); the workstation then resumes the ones that can continue where
 * they stopped (`resume`, same job) and offers the others again (`retry` in the workstation).
 */
import { randomUUID } from 'node:crypto';
import type { Job } from '../../src-shared/contract.ts';
import { ApiError, toApiError } from '../../src-shared/errors.ts';
import type { Project } from '../store/project.ts';

export interface JobContext {
  signal: AbortSignal;
  report(stage: string, done: number, total: number): void;
}

export type JobTask = (context: JobContext) => Promise<{ result: Record<string, unknown>; cancelled?: boolean }>;

const EMIT_INTERVAL_MS = 100;

export class JobRegistry {
  private readonly running = new Map<string, { controller: AbortController; finished: Promise<Job> }>();
  /** The jobs found interrupted when the project opened. */
  readonly interrupted: Job[];

  constructor(
    private readonly project: Project,
    private readonly emit: (job: Job) => void,
  ) {
    this.interrupted = project.readOnly ? [] : project.jobs.markInterrupted();
  }

  start(kind: Job['kind'], title: string, params: unknown, task: JobTask): Job {
    return this.launch(this.project.jobs.create({ id: randomUUID(), kind, title }, params), task);
  }

  /** Runs `task` as the continuation of an interrupted job: the same job, from where it stopped. */
  resume(id: string, task: JobTask): Job {
    return this.launch(this.project.jobs.restart(id), task);
  }

  private launch(job: Job, task: JobTask): Job {
    const controller = new AbortController();
    this.emit(job);
    const finished = this.run(job.id, controller, task);
    this.running.set(job.id, { controller, finished });
    return job;
  }

  cancel(id: string): boolean {
    const entry = this.running.get(id);
    if (!entry) {
      if (!this.project.jobs.get(id)) throw new ApiError('job_not_found', `No job with id ${id}`);
      return false;
    }
    entry.controller.abort();
    return true;
  }

  /** Resolves with the job's final state (for the CLI and tests). */
  async wait(id: string): Promise<Job> {
    const entry = this.running.get(id);
    if (entry) return entry.finished;
    const job = this.project.jobs.get(id);
    if (!job) throw new ApiError('job_not_found', `No job with id ${id}`);
    return job;
  }

  list(): Job[] {
    return this.project.jobs.list();
  }

  async cancelAll(): Promise<void> {
    const entries = [...this.running.values()];
    for (const entry of entries) entry.controller.abort();
    await Promise.allSettled(entries.map((entry) => entry.finished));
  }

  private async run(id: string, controller: AbortController, task: JobTask): Promise<Job> {
    let lastEmit = 0;
    const context: JobContext = {
      signal: controller.signal,
      report: (stage, done, total) => {
        const now = Date.now();
        if (now - lastEmit < EMIT_INTERVAL_MS && done < total) return;
        lastEmit = now;
        this.emit(this.project.jobs.update(id, { status: 'running', stage, done, total }));
      },
    };
    let final: Job;
    try {
      this.emit(this.project.jobs.update(id, { status: 'running' }));
      const outcome = await task(context);
      const status = outcome.cancelled || controller.signal.aborted ? 'cancelled' : 'done';
      final = this.project.jobs.update(id, {
        status,
        stage: status === 'done' ? 'finished' : 'cancelled',
        result: outcome.result,
      });
    } catch (error) {
      const apiError = toApiError(error);
      const cancelled = apiError.code === 'cancelled' || controller.signal.aborted;
      final = this.project.jobs.update(id, {
        status: cancelled ? 'cancelled' : 'failed',
        stage: cancelled ? 'cancelled' : 'failed',
        error: apiError,
      });
    } finally {
      this.running.delete(id);
    }
    this.emit(final);
    return final;
  }
}
