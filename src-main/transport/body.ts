/**
 * Reading a request body with a size limit, for both HTTP servers. Policy: a body over the limit is
 * refused with `too_large` (by its declared length when it has one), and the rest is drained rather
 * than the socket destroyed, so the refusal reaches the client.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../../src-shared/errors.ts';

export function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limit) {
      request.resume();
      return reject(new ApiError('too_large', `Request body of ${declared} bytes is over the ${limit}-byte limit`));
    }
    let size = 0;
    let failed = false;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        if (!failed) reject(new ApiError('too_large', `Request body is over the ${limit}-byte limit`));
        failed = true;
      } else chunks.push(chunk);
    });
    request.on('end', () => failed || resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
