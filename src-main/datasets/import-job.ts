/**
 * The import job: runs the importer in a worker process and relays its progress and cancel. Policy: a
 * cancel asks the worker to stop between chunks; a worker that has not stopped CANCEL_GRACE_MS later
 * (stuck reading a file, say) is killed, which loses nothing committed (every chunk is its own
 * transaction) and frees the project at once.
 */
import { basename } from 'node:path';
import { ApiError, isApiErrorShape } from '../../src-shared/errors.ts';
import type { JobTask } from '../jobs/registry.ts';
import { startWorkerProcess } from '../workers.ts';
import type { ImportProgress, ImportRequest, ImportResult } from './importer.ts';

export const CANCEL_GRACE_MS = 3000;

type ImportMessage =
  | ({ type: 'progress' } & ImportProgress)
  | { type: 'done'; result: ImportResult }
  | { type: 'error'; error: { code: string; message: string } };

export function importTitle(request: ImportRequest): string {
  return `Import ${request.name ?? basename(request.source)}`;
}

export function importTask(projectPath: string, request: ImportRequest): JobTask {
  return ({ signal, report }) =>
    new Promise((resolve, reject) => {
      const worker = startWorkerProcess('import-worker', { projectPath, request });
      let settled = false;
      let grace: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        if (worker.connected) worker.send({ type: 'cancel' });
        grace = setTimeout(() => {
          settle(() => resolve({ result: { stopped: 'The import did not answer the cancel (it was waiting on a file) and was stopped; images imported before are kept.' }, cancelled: true }), true);
        }, CANCEL_GRACE_MS);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (action: () => void, kill = false) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        clearTimeout(grace);
        if (kill && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
        action();
      };
      worker.on('message', (message: ImportMessage) => {
        if (message.type === 'progress') report(message.stage, message.done, message.total);
        else if (message.type === 'done') settle(() => resolve({ result: { ...message.result }, cancelled: message.result.cancelled }));
        else settle(() => reject(isApiErrorShape(message.error) ? new ApiError(message.error.code, message.error.message) : new ApiError('internal', message.error.message)), true);
      });
      worker.on('error', (error) => settle(() => reject(new ApiError('worker_crashed', `The import worker failed: ${error.message}; images imported before are kept`)), true));
      worker.on('exit', (code, killedBy) =>
        settle(() => reject(new ApiError('worker_crashed', `The import worker stopped unexpectedly (${killedBy ?? `exit code ${code}`}); images imported before it stopped are kept`))),
      );
    });
}
