/**
 * Import worker (a process of its own, one per import): decodes and stores one source into a project.
 * A cancel stops it between chunks; every chunk is its own transaction, so nothing committed is lost.
 */
import sharp from 'sharp';
import { Project } from '../store/project.ts';
import { runImport } from '../datasets/read/importer.ts';
import type { ImportProtocol } from './protocols.ts';
import { serve } from './serve.ts';

// Every file is decoded once: libvips's operation cache would only hold inputs that never come back
// (turning it off is 10 % quicker on folders of small JPEGs).
sharp.cache(false);

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
