/**
 * The import job: runs the importer in a worker process of its own (workers/import.ts) and relays its
 * progress and cancel. Policy: a cancel asks the worker to stop between chunks; a worker that has not
 * stopped CANCEL_GRACE_MS later (stuck reading a file, say) is killed, which loses nothing committed
 * (every chunk is its own transaction) and frees the project at once.
 */
import { basename } from 'node:path';
import { ApiError } from '../../src-shared/errors.ts';
import type { JobTask } from '../runtime/jobs.ts';
import { WorkerClient } from '../workers/client.ts';
import type { ImportProtocol } from '../workers/protocols.ts';
import type { ImportRequest } from './read/importer.ts';

export const CANCEL_GRACE_MS = 3000;

export function importTitle(request: ImportRequest): string {
  return `Import ${request.name ?? basename(request.source)}`;
}

export function importTask(projectPath: string, request: ImportRequest): JobTask {
  return async ({ signal, report }) => {
    const worker = new WorkerClient<ImportProtocol>({
      name: 'import-worker',
      title: 'import worker',
      cancelGraceMs: CANCEL_GRACE_MS,
      consequence: 'images imported before are kept',
    });
    try {
      const result = await worker.call(
        'import',
        { projectPath, request },
        {
          signal,
          subject: `importing ${request.source}`,
          progress: ({ stage, done, total }) => report(stage ?? 'importing', done, total),
        },
      );
      return { result: { ...result }, cancelled: result.cancelled };
    } catch (error) {
      if (error instanceof ApiError && error.code === 'cancelled' && signal.aborted) {
        return { result: { stopped: error.message }, cancelled: true };
      }
      throw error;
    } finally {
      await worker.close();
    }
  };
}
