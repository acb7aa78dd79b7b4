import type { Job } from '../../src-shared/contract.ts';
import type { Db } from './open.ts';

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
      .prepare('INSERT INTO jobs (id, kind, status, title, params, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(job.id, job.kind, 'queued', job.title, JSON.stringify(params), new Date().toISOString());
    return this.get(job.id)!;
  }

  update(id: string, patch: Partial<Pick<Job, 'status' | 'stage' | 'done' | 'total' | 'result' | 'error'>>): Job {
    const current = this.get(id);
    if (!current) throw new Error(`job ${id} vanished from the project`);
    const next = { ...current, ...patch };
    const finished = ['done', 'failed', 'cancelled', 'interrupted'].includes(next.status);
    this.db
      .prepare('UPDATE jobs SET status = ?, stage = ?, done = ?, total = ?, result = ?, error = ?, finished_at = ? WHERE id = ?')
      .run(
        next.status, next.stage, next.done, next.total,
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
    return (this.db.prepare(`${SELECT} ORDER BY created_at DESC, rowid DESC LIMIT ?`).all(limit) as JobRow[]).map(toJob);
  }

  /** Jobs a killed process left running: marked interrupted when the project opens again. */
  markInterrupted(): number {
    return this.db
      .prepare("UPDATE jobs SET status = 'interrupted', finished_at = ? WHERE status IN ('queued', 'running')")
      .run(new Date().toISOString()).changes;
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
