/**
 * What a source is and what it holds. A source is (a) a folder of class-named subfolders of image
 * files, (b) an IDX image file with its label file, or a folder of such pairs (split from the file
 * name: train / t10k = test), or (c) a CSV of path,label rows (paths relative to the CSV). Listing a
 * source reads no pixels; the importer decodes each entry.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { ApiError } from '../../../src-shared/errors.ts';
import { FileProblem, kindOf, MiB, readBoundedSync } from '../../io/files.ts';

export const MAX_CSV_BYTES = 256 * MiB;

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif']);

export type SourceKind = 'folder' | 'idx' | 'csv';

export interface FileEntry {
  source: string;
  filePath: string;
  className: string | null;
  split: string | null;
}

export interface IdxPair {
  imagesPath: string;
  labelsPath: string | null;
  split: string | null;
}

export type SourcePlan =
  | { kind: 'folder' | 'csv'; root: string; entries: FileEntry[]; name: string }
  | { kind: 'idx'; root: string; pairs: IdxPair[]; name: string };

const IDX_IMAGES = /(^|[-_.])images?[-_.]idx3[-_.]ubyte(\.gz)?$/i;

export function planSource(sourcePath: string, labelsPath?: string): SourcePlan {
  const root = resolve(sourcePath);
  let stats;
  try {
    stats = statSync(root);
  } catch {
    throw new ApiError('source_not_found', `No file or folder at ${sourcePath}`);
  }
  if (!stats.isDirectory() && !stats.isFile()) {
    throw new ApiError(
      'source_unsupported',
      `${sourcePath} is ${kindOf(stats)}; give a folder of class folders, an IDX images file or a CSV of path,label`,
    );
  }
  if (stats.isDirectory()) {
    const idxFiles = readdirSync(root)
      .filter((name) => IDX_IMAGES.test(name))
      .sort();
    if (idxFiles.length > 0) {
      return { kind: 'idx', root, name: basename(root), pairs: idxFiles.map((name) => idxPair(join(root, name))) };
    }
    return { kind: 'folder', root, name: basename(root), entries: listClassFolders(root) };
  }
  if (IDX_IMAGES.test(basename(root))) {
    const pair = idxPair(root, labelsPath && resolve(labelsPath));
    return {
      kind: 'idx',
      root,
      name: basename(root).replace(/[-_.]?images?[-_.]idx3[-_.]ubyte(\.gz)?$/i, '') || basename(root),
      pairs: [pair],
    };
  }
  if (extname(root).toLowerCase() === '.csv') {
    return { kind: 'csv', root, name: basename(root, extname(root)), entries: listCsv(root) };
  }
  throw new ApiError(
    'source_unsupported',
    `${sourcePath} is not an importable source: give a folder of class folders, an IDX images file (*-images-idx3-ubyte[.gz]) or a CSV of path,label`,
  );
}

function idxPair(imagesPath: string, labelsPath?: string): IdxPair {
  const guess = imagesPath.replace(/images?([-_.])idx3/i, (_match, sep: string) => `labels${sep}idx1`);
  const candidates = labelsPath
    ? [labelsPath]
    : [guess, guess.replace(/\.gz$/, ''), `${guess.replace(/\.gz$/, '')}.gz`];
  const found = candidates.find((candidate) => candidate !== imagesPath && isFile(candidate));
  if (labelsPath && !found) throw new ApiError('source_not_found', `No IDX label file at ${labelsPath}`);
  const name = basename(imagesPath).toLowerCase();
  const split = name.startsWith('t10k') || name.includes('test') ? 'test' : name.startsWith('train') ? 'train' : null;
  return { imagesPath, labelsPath: found ?? null, split };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function listClassFolders(root: string): FileEntry[] {
  const entries: FileEntry[] = [];
  const classFolders = readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
  if (classFolders.length === 0) {
    throw new ApiError(
      'source_unsupported',
      `${root} has no class subfolders and no IDX files; put each class's images in a folder named after the class`,
    );
  }
  for (const className of classFolders) {
    for (const filePath of walk(join(root, className))) {
      entries.push({ source: relative(root, filePath), filePath, className, split: null });
    }
  }
  return entries;
}

function* walk(folder: string): Generator<string> {
  for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

/** path,label[,split] rows; an optional header row; quoted fields; blank lines ignored. */
function listCsv(csvPath: string): FileEntry[] {
  const folder = dirname(csvPath);
  let rows: string[][];
  try {
    rows = parseCsv(readBoundedSync(csvPath, MAX_CSV_BYTES).toString('utf8'), {
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
      bom: true,
    }) as string[][];
  } catch (error) {
    throw new ApiError(
      'source_unsupported',
      error instanceof FileProblem
        ? `Cannot import ${error.message}`
        : `${csvPath} is not a readable CSV: ${(error as Error).message}`,
    );
  }
  const first = rows[0];
  if (first && /^(path|file|filename|image)$/i.test(first[0]?.trim() ?? '')) rows.shift();
  return rows.map((row, index) => {
    const path = (row[0] ?? '').trim();
    const label = (row[1] ?? '').trim();
    const split = (row[2] ?? '').trim();
    const filePath = isAbsolute(path) ? path : join(folder, path);
    return { source: path || `row ${index + 1}`, filePath, className: label || null, split: split || null };
  });
}
