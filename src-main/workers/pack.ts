/**
 * Pack worker (a process of its own, one per pack): reads one annotator pack (store/pack-read.ts), a
 * file from another desktop, under the time limit its caller sets. Whatever goes wrong reading it is
 * `pack_invalid` unless it has a more precise name (an untrusted schema, a corrupt or too new file).
 */
import { toApiError } from '../../src-shared/errors.ts';
import { readPack } from '../store/pack-read.ts';
import type { PackProtocol } from './protocols.ts';
import { serve } from './serve.ts';

serve<PackProtocol>(
  { read: ({ path }) => readPack(path) },
  {
    describeError: (error, _method, request) => ({
      code: 'pack_invalid',
      message: `${(request as { path: string }).path} cannot be read as an annotator pack: ${toApiError(error).message}`,
    }),
  },
);
