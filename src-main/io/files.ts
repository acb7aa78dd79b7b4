/**
 * Reading files that come from outside (images, IDX and CSV sources, models, bundles). Policy:
 * - Only regular files are read, after following symlinks: a FIFO, a device, a socket or a directory
 *   named like a file is refused with what it is. Files are opened non-blocking, so opening a FIFO
 *   never waits for a writer, and the type is checked on the opened descriptor (no swap in between).
 * - Every read is bounded: by the caller's byte limit, and by the size the file had when it was
 *   opened (a file that grows while it is read is not followed).
 * - `inside` refuses a path whose real location (links resolved) is outside a folder, so that a link
 *   in a bundle cannot make the workstation read, or hash, any file the user can read.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, type Stats } from 'node:fs';
import { open, realpath, type FileHandle } from 'node:fs/promises';
import { sep } from 'node:path';

export type FileProblemKind = 'missing' | 'not_a_file' | 'too_large' | 'unreadable' | 'outside';

export class FileProblem extends Error {
  constructor(
    readonly kind: FileProblemKind,
    message: string,
  ) {
    super(message);
    this.name = 'FileProblem';
  }
}

const FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
const CHUNK = 1 << 20;

/** What a non-regular file is, in words. */
export function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

function problemOf(error: unknown, path: string): FileProblem {
  if (error instanceof FileProblem) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new FileProblem('missing', `${path}: no such file (${code})`);
  if (code === 'EISDIR') return new FileProblem('not_a_file', `${path} is a folder, not a file`);
  return new FileProblem('unreadable', `${path}: cannot be read (${code ?? 'error'}: ${(error as Error).message})`);
}

function checkOpened(stats: Stats, path: string, limit: number): void {
  if (!stats.isFile()) throw new FileProblem('not_a_file', `${path} is ${kindOf(stats)}, not a regular file`);
  if (stats.size > limit)
    throw new FileProblem('too_large', `${path} is ${stats.size} bytes, over the limit of ${limit} bytes`);
}

/** Opens a regular file of at most `limit` bytes (non-blocking, checked on the descriptor) and hands it to `use`. */
async function withRegularFile<T>(
  path: string,
  limit: number,
  use: (handle: FileHandle, size: number) => Promise<T>,
): Promise<T> {
  let handle: FileHandle;
  try {
    handle = await open(path, FLAGS);
  } catch (error) {
    throw problemOf(error, path);
  }
  try {
    const stats = await handle.stat();
    checkOpened(stats, path, limit);
    return await use(handle, stats.size);
  } catch (error) {
    throw problemOf(error, path);
  } finally {
    await handle.close();
  }
}

/** The whole of a regular file of at most `limit` bytes. */
export function readBounded(path: string, limit: number): Promise<Buffer> {
  return withRegularFile(path, limit, async (handle, size) => {
    const buffer = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(buffer, filled, Math.min(CHUNK, size - filled), filled);
      if (bytesRead === 0) break; // the file shrank while it was read
      filled += bytesRead;
    }
    return filled === size ? buffer : buffer.subarray(0, filled);
  });
}

/** The same, synchronously (small files read where an await does not fit). */
export function readBoundedSync(path: string, limit: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (error) {
    throw problemOf(error, path);
  }
  try {
    const stats = fstatSync(fd);
    checkOpened(stats, path, limit);
    const buffer = Buffer.allocUnsafe(stats.size);
    let filled = 0;
    while (filled < stats.size) {
      const read = readSync(fd, buffer, filled, Math.min(CHUNK, stats.size - filled), filled);
      if (read === 0) break;
      filled += read;
    }
    return filled === stats.size ? buffer : buffer.subarray(0, filled);
  } catch (error) {
    throw problemOf(error, path);
  } finally {
    closeSync(fd);
  }
}

/** sha256 and size of a regular file of at most `limit` bytes, read in chunks. */
export function hashBounded(path: string, limit: number): Promise<{ sha256: string; size: number }> {
  return withRegularFile(path, limit, async (handle, size) => {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK * 4, Math.max(1, size)));
    let position = 0;
    while (position < size) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    return { sha256: hash.digest('hex'), size: position };
  });
}

/** `path` with every link resolved, refused unless it lies inside `folder` (itself resolved). */
export async function inside(folder: string, path: string): Promise<string> {
  let root: string;
  let real: string;
  try {
    root = await realpath(folder);
    real = await realpath(path);
  } catch (error) {
    throw problemOf(error, path);
  }
  if (!real.startsWith(root + sep))
    throw new FileProblem(
      'outside',
      `${path} leads outside ${folder} (a link to ${real === root ? 'the folder itself' : 'another place'})`,
    );
  return real;
}

export function insideSync(folder: string, path: string): string {
  let root: string;
  let real: string;
  try {
    root = realpathSync(folder);
    real = realpathSync(path);
  } catch (error) {
    throw problemOf(error, path);
  }
  if (!real.startsWith(root + sep))
    throw new FileProblem('outside', `${path} leads outside ${folder} (a link to another place)`);
  return real;
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
