/**
 * Import worker (a process of its own, one per import): decodes and stores one source into a project.
 * A cancel stops it between chunks; every chunk is its own transaction, so nothing committed is lost.
 */
import { Project } from '../store/project.ts';
import { runImport } from '../datasets/read/importer.ts';
import type { ImportProtocol } from './protocols.ts';
import { serve } from './serve.ts';

serve<ImportProtocol>({
  async import({ projectPath, request }, { signal, progress }) {
    const project = Project.open(projectPath);
    try {
      return await runImport(project, request, {
        progress: ({ stage, done, total }) => progress(done, total, stage),
        isCancelled: () => signal.aborted,
      });
    } finally {
      project.close();
    }
  },
});
