import { hostname } from 'node:os';
import type { Job } from '../../src-shared/contract.ts';
import type { Db } from './open.ts';

/** This process, as the owner of the jobs it runs. */
export const THIS_PROCESS = `${hostname()}:${process.pid}`;

/** Whether the process that owns a job still runs (on this machine; another machine's jobs are left alone). */
function ownerGone(owner: string | null): boolean {
  if (owner === null) return true;
  const at = owner.lastIndexOf(':');
  if (owner.slice(0, at) !== hostname()) return false;
  const pid = Number(owner.slice(at + 1));
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

interface JobRow {
  id: string;
  kind: Job['kind'];
  status: Job['status'];
  title: string;
  stage: string;
  done: number;
  total: number;
  result: string | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  params: string;
}

const SELECT = `SELECT id, kind, status, title, stage, done, total, result, error, params,
                       created_at AS createdAt, finished_at AS finishedAt FROM jobs`;

export class JobRepository {
  constructor(private readonly db: Db) {}

  create(job: Pick<Job, 'id' | 'kind' | 'title'>, params: unknown): Job {
    this.db
      .prepare('INSERT INTO jobs (id, kind, status, title, params, created_at, owner) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(job.id, job.kind, 'queued', job.title, JSON.stringify(params), new Date().toISOString(), THIS_PROCESS);
    return this.get(job.id)!;
  }

  /** A job taken up again by this process (resumed after an interruption). */
  restart(id: string): Job {
    this.db
      .prepare(
        "UPDATE jobs SET status = 'queued', stage = 'resumed', error = NULL, finished_at = NULL, owner = ? WHERE id = ?",
      )
      .run(THIS_PROCESS, id);
    return this.get(id)!;
  }

  /** The request a job was started with, as stored (to be checked again before any use). */
  params(id: string): unknown {
    const row = this.db.prepare('SELECT params FROM jobs WHERE id = ?').get(id) as { params: string } | undefined;
    if (!row) return undefined;
    try {
      return JSON.parse(row.params) as unknown;
    } catch {
      return undefined;
    }
  }

  update(id: string, patch: Partial<Pick<Job, 'status' | 'stage' | 'done' | 'total' | 'result' | 'error'>>): Job {
    const current = this.get(id);
    if (!current) throw new Error(`job ${id} vanished from the project`);
    const next = { ...current, ...patch };
    const finished = ['done', 'failed', 'cancelled', 'interrupted'].includes(next.status);
    this.db
      .prepare(
        'UPDATE jobs SET status = ?, stage = ?, done = ?, total = ?, result = ?, error = ?, finished_at = ? WHERE id = ?',
      )
      .run(
        next.status,
        next.stage,
        next.done,
        next.total,
        next.result ? JSON.stringify(next.result) : null,
        next.error ? JSON.stringify(next.error) : null,
        finished ? (current.finishedAt ?? new Date().toISOString()) : null,
        id,
      );
    return this.get(id)!;
  }

  get(id: string): Job | undefined {
    const row = this.db.prepare(`${SELECT} WHERE id = ?`).get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  list(limit = 50): Job[] {
    return (this.db.prepare(`${SELECT} ORDER BY created_at DESC, rowid DESC LIMIT ?`).all(limit) as JobRow[]).map(
      toJob,
    );
  }

  /** Jobs a killed process left running, marked interrupted when the project opens again; returns them. */
  markInterrupted(): Job[] {
    const orphans = (
      this.db.prepare("SELECT id, owner FROM jobs WHERE status IN ('queued', 'running')").all() as {
        id: string;
        owner: string | null;
      }[]
    ).filter((row) => ownerGone(row.owner));
    const mark = this.db.prepare("UPDATE jobs SET status = 'interrupted', finished_at = ? WHERE id = ?");
    const now = new Date().toISOString();
    this.db.transaction(() => orphans.forEach((row) => mark.run(now, row.id)))();
    return orphans.map((row) => this.get(row.id)!);
  }
}

function toJob(row: JobRow): Job {
  const { params: _params, ...rest } = row;
  return {
    ...rest,
    result: row.result ? (JSON.parse(row.result) as Record<string, unknown>) : null,
    error: row.error ? (JSON.parse(row.error) as Job['error']) : null,
  };
}
