/** Pack worker (a process of its own): reads one annotator pack (pack-read.ts) and answers once. */
import { isApiErrorShape, toApiError } from '../../src-shared/errors.ts';
import { workerPort } from '../workers.ts';
import { readPack, type PackRead } from './pack-read.ts';

const port = workerPort<never, PackRead>();
const { path } = port.data as { path: string };
try {
  port.post({ ok: true, pack: readPack(path) });
} catch (error) {
  const shape = toApiError(error);
  const known = isApiErrorShape(error) && ['pack_invalid', 'project_untrusted', 'project_corrupt', 'project_too_new'].includes(shape.code);
  port.post({ ok: false, error: known ? (shape as Extract<PackRead, { ok: false }>['error']) : { code: 'pack_invalid', message: `${path} cannot be read as an annotator pack: ${shape.message}` } });
}
await port.close();
