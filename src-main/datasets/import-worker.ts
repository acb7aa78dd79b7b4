/** Worker thread entry: imports one source into the project named in workerData. */
import { parentPort, workerData } from 'node:worker_threads';
import { toApiError } from '../../src-shared/errors.ts';
import { Project } from '../store/project.ts';
import { runImport, type ImportRequest } from './importer.ts';

const { projectPath, request } = workerData as { projectPath: string; request: ImportRequest };
let cancelled = false;
parentPort!.on('message', (message: { type: string }) => {
  if (message.type === 'cancel') cancelled = true;
});

let project: Project | undefined;
try {
  project = Project.open(projectPath);
  const result = await runImport(project, request, {
    progress: (progress) => parentPort!.postMessage({ type: 'progress', ...progress }),
    isCancelled: () => cancelled,
  });
  parentPort!.postMessage({ type: 'done', result });
} catch (error) {
  parentPort!.postMessage({ type: 'error', error: toApiError(error) });
} finally {
  project?.close();
}
