/**
 * `xaiws concepts --terms FILE`: the concepts the app would group a vocabulary into, as JSON
 * ({"concepts": [{"name", "terms"}]}), so that any vocabulary can be checked against a grouping by hand.
 */
import { resolve } from 'node:path';
import type { MethodName, Request, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { readBoundedSync } from '../io/files.ts';

interface Client {
  call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>>;
}

export const TERMS_FILE_LIMIT = 1 << 20;

/** The lines of a vocabulary file: at most 1 MiB, 5,000 terms of at most 200 characters; blank lines skipped. */
export function readTermsFile(path: string): string[] {
  const lines = readBoundedSync(resolve(path), TERMS_FILE_LIMIT)
    .toString('utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const long = lines.findIndex((line) => line.length > 200);
  if (long >= 0)
    throw new ApiError(
      'invalid_request',
      `${path}: line ${long + 1} is longer than 200 characters; one term or phrase a line`,
    );
  if (lines.length === 0) throw new ApiError('invalid_request', `${path} has no terms (one term or phrase a line)`);
  if (lines.length > 5000) throw new ApiError('invalid_request', `${path} has ${lines.length} terms; at most 5,000`);
  return lines;
}

export async function conceptsCommand(client: Client, path: string): Promise<unknown> {
  const { concepts, dropped } = await client.call('aggregate.groupTerms', { terms: readTermsFile(path) });
  return { concepts, ...(dropped.length ? { dropped } : {}) };
}
