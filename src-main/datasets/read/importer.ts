/**
 * Import of one source into a project. Runs in a worker thread (import-worker.ts) with its own
 * database connection. Policy: entries are written in chunks, one transaction each, so a cancel or a
 * crash keeps every chunk already written; a source already in the dataset is skipped, so running the
 * same import again resumes it and never duplicates; a bad file is recorded with its reason and the
 * rest goes on.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { dirname } from 'node:path';
import { ApiError } from '../../../src-shared/errors.ts';
import type { NewImage, NewIssue } from '../../store/images.ts';
import type { Project } from '../../store/project.ts';
import { classNamesFor } from './classes.ts';
import { DEFAULT_MAX_PIXELS, ImportProblem, decodeFile, hashBytes, rawThumbnail, THUMBNAIL_SIZE } from './decode.ts';
import { readIdx } from './idx.ts';
import { planSource, type FileEntry, type IdxPair } from './sources.ts';

export interface ImportRequest {
  source: string;
  name?: string;
  labels?: string;
  classes?: string[];
  maxPixels?: number;
}

export interface ImportProgress {
  stage: string;
  done: number;
  total: number;
}

export interface ImportHooks {
  progress(progress: ImportProgress): void;
  isCancelled(): boolean;
}

export interface ImportResult {
  datasetId: number;
  added: number;
  alreadyPresent: number;
  skipped: number;
  cancelled: boolean;
}

const FILE_CHUNK = 64;
const IDX_CHUNK = 2048;

export async function runImport(project: Project, request: ImportRequest, hooks: ImportHooks): Promise<ImportResult> {
  const plan = planSource(request.source, request.labels);
  const datasetId = project.datasets.ensure(plan.root, plan.kind, request.name ?? plan.name);
  const known = project.images.knownSources(datasetId);
  const result: ImportResult = { datasetId, added: 0, alreadyPresent: 0, skipped: 0, cancelled: false };
  const write = (images: NewImage[], issues: NewIssue[]) => {
    result.added += project.images.insertChunk(datasetId, images, issues).added;
    result.skipped += issues.length;
  };
  if (plan.kind === 'idx') {
    const order = await importIdx(plan.pairs, request, known, result, write, hooks);
    if (order.length > 0) project.datasets.setClassOrder(datasetId, order);
  } else {
    await importFiles(plan.entries, request.maxPixels ?? DEFAULT_MAX_PIXELS, known, result, write, hooks);
  }
  return result;
}

type Writer = (images: NewImage[], issues: NewIssue[]) => void;

async function importFiles(
  entries: FileEntry[],
  maxPixels: number,
  known: Set<string>,
  result: ImportResult,
  write: Writer,
  hooks: ImportHooks,
): Promise<void> {
  const pending = entries.filter((entry) => !known.has(entry.source));
  result.alreadyPresent = entries.length - pending.length;
  const total = entries.length;
  hooks.progress({ stage: 'decoding images', done: result.alreadyPresent, total });
  // One chunk is decoded (on libuv's threads) while the last one is written, so neither waits.
  const decodeChunk = (start: number) =>
    Promise.all(pending.slice(start, start + FILE_CHUNK).map((entry) => decodeEntry(entry, maxPixels)));
  let next = pending.length > 0 ? decodeChunk(0) : null;
  for (let start = 0; next; start += FILE_CHUNK) {
    if (hooks.isCancelled()) {
      result.cancelled = true;
      await next; // let the chunk in flight finish before the project closes under it
      return;
    }
    const chunk = pending.slice(start, start + FILE_CHUNK);
    const outcomes = await next;
    next = start + FILE_CHUNK < pending.length ? decodeChunk(start + FILE_CHUNK) : null;
    write(
      outcomes.filter((outcome): outcome is NewImage => 'contentHash' in outcome),
      outcomes.filter((outcome): outcome is NewIssue => 'code' in outcome),
    );
    hooks.progress({ stage: 'decoding images', done: result.alreadyPresent + start + chunk.length, total });
  }
}

async function decodeEntry(entry: FileEntry, maxPixels: number): Promise<NewImage | NewIssue> {
  try {
    const decoded = await decodeFile(entry.filePath, maxPixels);
    return {
      ...decoded,
      source: entry.source,
      className: entry.className,
      split: entry.split,
      filePath: entry.filePath,
      pixels: null,
    };
  } catch (error) {
    if (error instanceof ImportProblem) return { source: entry.source, code: error.code, message: error.message };
    return { source: entry.source, code: 'unreadable', message: `${entry.filePath}: ${(error as Error).message}` };
  }
}

async function importIdx(
  pairs: IdxPair[],
  request: ImportRequest,
  known: Set<string>,
  result: ImportResult,
  write: Writer,
  hooks: ImportHooks,
): Promise<string[]> {
  const loaded = pairs.map((pair) => {
    hooks.progress({ stage: `reading ${pair.imagesPath}`, done: 0, total: 0 });
    const images = readIdx(pair.imagesPath);
    if (images.shape.length !== 3 && !(images.shape.length === 4 && images.shape[3] === 3)) {
      throw new ApiError(
        'source_unsupported',
        `${pair.imagesPath} has shape ${images.shape.join('x')}; image IDX files are N x height x width (or N x height x width x 3)`,
      );
    }
    const labels = pair.labelsPath ? readIdx(pair.labelsPath) : null;
    if (labels && (labels.shape.length !== 1 || labels.shape[0] !== images.shape[0])) {
      throw new ApiError(
        'source_unsupported',
        `${pair.labelsPath} holds ${labels.shape.join('x')} labels for ${images.shape[0]} images in ${pair.imagesPath}`,
      );
    }
    return { pair, images, labels };
  });
  const total = loaded.reduce((sum, { images }) => sum + images.shape[0]!, 0);
  const order: string[] = [];
  let done = 0;
  for (const { pair, images, labels } of loaded) {
    const [count, height, width] = images.shape as [number, number, number];
    const channels = images.shape.length === 4 ? 3 : 1;
    const size = height * width * channels;
    const className = labels ? classNamesFor(dirname(pair.imagesPath), labels.data, request.classes) : null;
    if (className && labels) {
      const maxLabel = labels.data.reduce((max, label) => Math.max(max, label), 0);
      for (let label = 0; label <= maxLabel; label++)
        if (!order.includes(className(label))) order.push(className(label));
    }
    const prefix = pair.imagesPath.split(/[\\/]/).pop()!;
    for (let start = 0; start < count; start += IDX_CHUNK) {
      if (hooks.isCancelled()) {
        result.cancelled = true;
        return order;
      }
      const end = Math.min(count, start + IDX_CHUNK);
      const chunk: NewImage[] = [];
      for (let index = start; index < end; index++) {
        const source = `${prefix}#${index}`;
        if (known.has(source)) {
          result.alreadyPresent += 1;
          continue;
        }
        const pixels = Buffer.from(images.data.subarray(index * size, (index + 1) * size));
        chunk.push({
          source,
          className: className && labels ? className(labels.data[index]!) : null,
          split: pair.split,
          width,
          height,
          channels,
          contentHash: hashBytes(pixels),
          byteSize: size,
          filePath: null,
          pixels,
          thumbnail: { size: THUMBNAIL_SIZE, png: await rawThumbnail(pixels, width, height, channels) },
        });
      }
      write(chunk, []);
      done += end - start;
      hooks.progress({ stage: `importing ${prefix}`, done, total });
      await yieldToEventLoop(); // lets a cancel message in between chunks
    }
  }
  return order;
}
