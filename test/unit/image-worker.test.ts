/**
 * Images people look at are decoded in the image worker, a process of its own: the full image of a
 * TIFF comes back as PNG, a JPEG as the file itself with its size; a worker killed while it holds a
 * call fails that call with `worker_crashed` naming the file, the workstation stays up, and the next
 * call gets a fresh worker. The built main process cannot decode at all: sharp is not among the
 * modules its entry reaches (npm test builds before it tests).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workstation } from '../../src-main/workstation.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { fullImage, imageBytes } from '../../src-main/datasets/images.ts';
import { tempDir, writeImage } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';

let ws: Workstation;
let folder: string;
const ids: Record<string, number> = {};

beforeAll(async () => {
  const dir = tempDir();
  folder = join(dir, 'photos');
  mkdirSync(join(folder, 'cat'), { recursive: true });
  await writeImage(join(folder, 'cat', 'a.tiff'), 'tiff', 3, 1, 48);
  await writeImage(join(folder, 'cat', 'b.jpg'), 'jpeg', 3, 2, 40);
  ws = new Workstation({ dataDir: join(dir, 'data'), resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  await ws.createProject(join(dir, 'p.xaiws'));
  const job = await ws.jobs.wait(startImport(ws, { source: folder }).id);
  expect(job.status).toBe('done');
  const datasetId = job.result!.datasetId as number;
  for (const id of ws.project.images.matchingIds({
    datasetId,
    correctness: 'all',
    confidenceMin: 0,
    confidenceMax: 1,
    sort: 'id',
  }))
    ids[ws.project.images.stored(id)!.filePath!.split('/').pop()!] = id;
  expect(Object.keys(ids).sort()).toEqual(['a.tiff', 'b.jpg']);
});

afterAll(async () => {
  await ws?.shutdown();
});

describe('image worker', () => {
  it('decodes in a process of its own: TIFF as PNG, JPEG as the file itself, each with its size', async () => {
    const tiff = await fullImage(ws, ids['a.tiff']!);
    expect(tiff).toMatchObject({ mime: 'image/png', width: 48, height: 48 });
    expect((await sharp(tiff.bytes).metadata()).format).toBe('png');
    expect(ws.images.pid).toBeGreaterThan(0);
    expect(ws.images.pid).not.toBe(process.pid);
    const jpeg = await imageBytes(ws, ids['b.jpg']!, 'full');
    expect(jpeg.mime).toBe('image/jpeg');
    expect(jpeg.bytes.equals(readFileSync(join(folder, 'cat', 'b.jpg')))).toBe(true);
  });

  it('fails a call whose worker was killed with worker_crashed naming the file, and serves the next', async () => {
    await fullImage(ws, ids['a.tiff']!);
    const pid = ws.images.pid!;
    process.kill(pid, 'SIGSTOP'); // the call below waits in the stopped worker's pipe: killed while it holds it
    const call = fullImage(ws, ids['a.tiff']!);
    process.kill(pid, 'SIGKILL');
    await expect(call).rejects.toMatchObject({
      code: 'worker_crashed',
      message: expect.stringContaining(join(folder, 'cat', 'a.tiff')),
    });
    const again = await fullImage(ws, ids['a.tiff']!);
    expect(again.width).toBe(48);
    expect(ws.images.pid).not.toBe(pid);
  });
});

/** The packages a built bundle's entry reaches through static and dynamic imports of its own chunks. */
function reachedPackages(dir: string, entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(join(dir, file), 'utf8');
    const specifiers = [
      ...source.matchAll(/(?:^|\n)\s*import\s+(?:[^'"]*?from\s+)?["']([^"']+)["']/g),
      ...source.matchAll(/import\(["']([^"']+)["']\)/g),
    ].map((match) => match[1]!);
    for (const specifier of specifiers)
      if (specifier.startsWith('./')) visit(specifier.slice(2));
      else packages.add(specifier);
  };
  visit(entry);
  return packages;
}

describe('the built main process', () => {
  it('reaches no image decoder: sharp is only in the workers', () => {
    const dir = join(ROOT, 'out', 'main');
    expect(existsSync(join(dir, 'index.js')), 'out/main/index.js (npm run build)').toBe(true);
    const main = reachedPackages(dir, 'index.js');
    expect(main.has('better-sqlite3')).toBe(true); // the walk sees the main process's own packages
    expect([...main].filter((name) => /^(sharp|pngjs)$/.test(name))).toEqual([]);
    expect(reachedPackages(dir, 'image-worker.js').has('sharp')).toBe(true);
  });
});
