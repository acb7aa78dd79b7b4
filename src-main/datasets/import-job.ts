/** The import job: runs the importer in a worker thread and relays its progress and cancel. */
import { basename } from 'node:path';
import { ApiError } from '../../src-shared/errors.ts';
import type { JobTask } from '../jobs/registry.ts';
import { startWorker } from '../workers.ts';
import type { ImportProgress, ImportRequest, ImportResult } from './importer.ts';

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
      const worker = startWorker('import-worker', { projectPath, request });
      let settled = false;
      const onAbort = () => worker.postMessage({ type: 'cancel' });
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (action: () => void) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        void worker.terminate();
        action();
      };
      worker.on('message', (message: ImportMessage) => {
        if (message.type === 'progress') report(message.stage, message.done, message.total);
        else if (message.type === 'done') {
          settle(() => resolve({ result: { ...message.result }, cancelled: message.result.cancelled }));
        } else settle(() => reject(new ApiError(message.error.code as never, message.error.message)));
      });
      worker.on('error', (error) => settle(() => reject(error)));
      worker.on('exit', (code) => settle(() => reject(new ApiError('internal', `The import worker stopped unexpectedly (exit code ${code}); images imported before it stopped are kept`))));
    });
}
