/** Import worker (a process of its own): imports one source into the project named in its start data. */
import { toApiError } from '../../src-shared/errors.ts';
import { Project } from '../store/project.ts';
import { workerPort } from '../workers.ts';
import { runImport, type ImportRequest } from './importer.ts';

const port = workerPort<{ type: 'cancel' }, unknown>();
const { projectPath, request } = port.data as { projectPath: string; request: ImportRequest };
let cancelled = false;
port.onMessage((message) => {
  if (message.type === 'cancel') cancelled = true;
});

let project: Project | undefined;
try {
  project = Project.open(projectPath);
  const result = await runImport(project, request, {
    progress: (progress) => port.post({ type: 'progress', ...progress }),
    isCancelled: () => cancelled,
  });
  port.post({ type: 'done', result });
} catch (error) {
  port.post({ type: 'error', error: toApiError(error) });
} finally {
  project?.close();
  await port.close(); // the process ends once its answer is out
}
