/**
 * IDX files (the MNIST family): a big-endian header (two zero bytes, a type code, the number of
 * dimensions, then each dimension) followed by the data. Gzipped files are recognised by content.
 * Policy: the file must be a regular file of at most MAX_IDX_BYTES, and a gzipped one may unpack to
 * at most as much (no gzip bomb).
 */
import { gunzipSync } from 'node:zlib';
import { ApiError } from '../../../src-shared/errors.ts';
import { FileProblem, GiB, readBoundedSync } from '../../io/files.ts';

export const MAX_IDX_BYTES = 2 * GiB;

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

export function readIdx(path: string, limit = MAX_IDX_BYTES): IdxArray {
  let bytes: Buffer;
  try {
    bytes = readBoundedSync(path, limit);
  } catch (error) {
    if (error instanceof FileProblem && (error.kind === 'not_a_file' || error.kind === 'too_large'))
      throw new ApiError('source_unsupported', `Cannot import IDX file ${error.message}`);
    throw new ApiError('source_not_found', `Cannot read IDX file ${path}: ${(error as Error).message}`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: limit });
    } catch (error) {
      const tooBig = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw new ApiError(
        'source_unsupported',
        tooBig
          ? `${path} unpacks to more than ${limit} bytes`
          : `${path} is a damaged gzip file: ${(error as Error).message}`,
      );
    }
  }
  return parseIdx(bytes, path);
}

export function parseIdx(bytes: Uint8Array, label = 'IDX data'): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new ApiError('source_unsupported', `${label} is not an IDX file (it does not start with two zero bytes)`);
  }
  if (bytes[2] !== 0x08) {
    throw new ApiError(
      'source_unsupported',
      `${label} holds IDX type 0x${bytes[2]!.toString(16)}; only unsigned bytes (0x08) are images or labels`,
    );
  }
  const dimensions = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * dimensions)
    throw new ApiError('source_unsupported', `${label} ends inside its IDX header`);
  const shape = Array.from({ length: dimensions }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = shape.reduce((product, size) => product * size, 1);
  const offset = 4 + 4 * dimensions;
  if (bytes.length - offset < expected) {
    throw new ApiError(
      'source_unsupported',
      `${label} is truncated: its header promises ${expected} bytes of data (shape ${shape.join('x')}) but ${bytes.length - offset} follow`,
    );
  }
  return { shape, data: bytes.subarray(offset, offset + expected) };
}
