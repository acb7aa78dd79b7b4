import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runImport, type ImportHooks } from '../../src-main/datasets/read/importer.ts';
import { Project } from '../../src-main/store/project.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { classFolderTree, idxPair, tempDir, writeImage } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { startImport } from '../../src-main/datasets/service.ts';

const quiet: ImportHooks = { progress: () => undefined, isCancelled: () => false };
const opened: Project[] = [];
afterEach(() => opened.splice(0).forEach((project) => project.close()));
const newProject = () => {
  const project = Project.create(join(tempDir(), 'p.xaiws'));
  opened.push(project);
  return project;
};

describe('import of a class-folder tree', () => {
  it('imports every format in grey and colour, and skips each bad file with its reason', async () => {
    const tree = await classFolderTree();
    const project = newProject();
    const result = await runImport(project, { source: tree.root, maxPixels: 100_000 }, quiet);
    expect(result).toMatchObject({ added: tree.good, skipped: Object.keys(tree.bad).length, cancelled: false });
    const issues = Object.fromEntries(
      project.datasets.issues(result.datasetId).map((issue) => [issue.source, issue.code]),
    );
    expect(issues).toEqual(tree.bad);
    for (const issue of project.datasets.issues(result.datasetId))
      expect(issue.message).toContain(issue.source.split('/')[1]);
    const [dataset] = project.datasets.list();
    expect(dataset).toMatchObject({ kind: 'folder', images: tree.good, classes: ['cat', 'dog'] });
    const channels = project.db.prepare('SELECT channels, count(*) AS n FROM images GROUP BY channels').all();
    // Grey PNG, JPEG and TIFF (2 classes x 3 formats) stay one channel; WebP and GIF store RGB.
    expect(channels).toEqual([
      { channels: 1, n: 6 },
      { channels: 3, n: tree.good - 6 },
    ]);
    const thumbs = project.db.prepare('SELECT count(*) AS n FROM thumbnails').get() as { n: number };
    expect(thumbs.n).toBe(tree.good);
  });

  it('adds no duplicates when the same source is imported again, and picks up new files', async () => {
    const tree = await classFolderTree();
    const project = newProject();
    const first = await runImport(project, { source: tree.root, maxPixels: 100_000 }, quiet);
    const again = await runImport(project, { source: tree.root, maxPixels: 100_000 }, quiet);
    expect(again).toMatchObject({ datasetId: first.datasetId, added: 0, alreadyPresent: tree.good });
    await writeImage(join(tree.root, 'dog', 'new.png'), 'png', 3, 99);
    const third = await runImport(project, { source: tree.root, maxPixels: 100_000 }, quiet);
    expect(third.added).toBe(1);
    expect(project.images.count()).toBe(tree.good + 1);
  });

  it('keeps what was imported before a cancel, and a second run completes it', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'a'));
    for (let i = 0; i < 150; i++) await writeImage(join(root, 'a', `${i}.png`), 'png', 1, i, 8);
    const project = newProject();
    let chunks = 0;
    const cancelled = await runImport(
      project,
      { source: root },
      { progress: () => chunks++, isCancelled: () => chunks >= 2 },
    );
    expect(cancelled.cancelled).toBe(true);
    expect(project.images.count()).toBe(64);
    const resumed = await runImport(project, { source: root }, quiet);
    expect(resumed).toMatchObject({ added: 86, alreadyPresent: 64 });
  });
});

describe('import of a CSV of path,label', () => {
  it('resolves paths relative to the CSV, reads the header, and records missing files', async () => {
    const root = tempDir();
    mkdirSync(join(root, 'img'));
    await writeImage(join(root, 'img', 'one.jpg'), 'jpeg', 3, 1);
    await writeImage(join(root, 'img', 'two.png'), 'png', 1, 2);
    writeFileSync(
      join(root, 'list.csv'),
      'path,label\nimg/one.jpg,ship\n"img/two.png","plane, small"\n\nimg/three.png,ship\n',
    );
    const project = newProject();
    const result = await runImport(project, { source: join(root, 'list.csv') }, quiet);
    expect(result).toMatchObject({ added: 2, skipped: 1 });
    expect(project.datasets.classes(result.datasetId)).toEqual(['plane, small', 'ship']);
    expect(project.datasets.issues(result.datasetId)).toEqual([
      expect.objectContaining({
        source: 'img/three.png',
        code: 'unreadable',
        message: expect.stringContaining('ENOENT'),
      }),
    ]);
  });
});

describe('import of IDX files', () => {
  it.each([true, false])('reads gzipped=%s image/label pairs with class names from classes.txt', async (gzip) => {
    const folder = tempDir();
    const { images } = idxPair(folder, 50, gzip);
    writeFileSync(join(folder, 'classes.txt'), 'zero\none\ntwo\n');
    const project = newProject();
    const result = await runImport(project, { source: images }, quiet);
    expect(result.added).toBe(50);
    expect(project.datasets.classes(result.datasetId)).toEqual(['zero', 'one', 'two']);
    const row = project.images.stored(
      project.images.query({
        datasetId: result.datasetId,
        correctness: 'all',
        confidenceMin: 0,
        confidenceMax: 1,
        sort: 'id',
        offset: 0,
        limit: 1,
      }).items[0]!.id,
    )!;
    expect(row).toMatchObject({ width: 8, height: 8, channels: 1, className: 'zero' });
    expect(Array.from(row.pixels!.subarray(0, 4))).toEqual([0, 7, 14, 21]);
  });

  it('imports the Fashion-MNIST test set with its ten class names in label order', async () => {
    const project = newProject();
    const result = await runImport(project, { source: join(ROOT, 'resources/datasets/fashion-mnist') }, quiet);
    expect(result.added).toBe(10_000);
    const [dataset] = project.datasets.list();
    expect(dataset!.classes).toEqual([
      'T-shirt/top',
      'Trouser',
      'Pullover',
      'Dress',
      'Coat',
      'Sandal',
      'Shirt',
      'Sneaker',
      'Bag',
      'Ankle boot',
    ]);
    expect(dataset!.splits).toEqual(['test']);
  });

  it('refuses an IDX file whose labels do not match its images, naming both counts', async () => {
    const folder = tempDir();
    const { labels } = idxPair(folder, 20, false);
    const other = tempDir();
    const { images } = idxPair(other, 30, false);
    await expect(runImport(newProject(), { source: images, labels }, quiet)).rejects.toThrow(/20 labels for 30 images/);
  });

  it('refuses a truncated IDX file', async () => {
    const folder = tempDir();
    const { images } = idxPair(folder, 20, false);
    const bytes = Buffer.alloc(16 + 100);
    bytes.writeUInt32BE(0x803, 0);
    bytes.writeUInt32BE(20, 4);
    bytes.writeUInt32BE(8, 8);
    bytes.writeUInt32BE(8, 12);
    writeFileSync(images, bytes);
    await expect(runImport(newProject(), { source: images }, quiet)).rejects.toThrow(/truncated/);
  });

  it('names an unsupported source', async () => {
    const folder = tempDir();
    writeFileSync(join(folder, 'data.bin'), 'x');
    await expect(runImport(newProject(), { source: join(folder, 'data.bin') }, quiet)).rejects.toMatchObject({
      code: 'source_unsupported',
    });
    await expect(runImport(newProject(), { source: join(folder, 'nope') }, quiet)).rejects.toMatchObject({
      code: 'source_not_found',
    });
  });
});

describe('import as a job in a worker thread', () => {
  it('reports progress, can be cancelled, and keeps the images imported before the cancel', async () => {
    const dir = tempDir();
    const workstation = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
    try {
      await workstation.createProject(join(dir, 'w.xaiws'));
      const progress: number[] = [];
      workstation.onEvent((event, payload) => {
        if (event === 'job.updated' && payload && 'done' in payload && payload.status === 'running') {
          progress.push(payload.done);
          if (payload.done >= 4096) workstation.jobs.cancel(payload.id);
        }
      });
      const job = startImport(workstation, { source: '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz' });
      const final = await workstation.jobs.wait(job.id);
      expect(final.status).toBe('cancelled');
      const count = workstation.project.images.count();
      expect(count).toBeGreaterThanOrEqual(4096);
      expect(count).toBeLessThan(60_000);
      expect(progress.length).toBeGreaterThan(1);
    } finally {
      await workstation.shutdown();
    }
  });

  it('stops a worker that does not answer the cancel, and the project opens again at once', async () => {
    const dir = tempDir();
    const workstation = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
    try {
      await workstation.createProject(join(dir, 'stuck.xaiws'));
      let stopped = 0;
      const job = startImport(workstation, { source: '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz' });
      workstation.onEvent((event, payload) => {
        if (
          event !== 'job.updated' ||
          !payload ||
          !('done' in payload) ||
          payload.id !== job.id ||
          payload.done === 0 ||
          stopped
        )
          return;
        // The worker freezes, as one blocked on a file would: it can take no cancel message.
        const pid = Number(
          execFileSync('pgrep', ['-n', '-P', String(process.pid), '-f', 'import-worker'], { encoding: 'utf8' }).trim(),
        );
        process.kill(pid, 'SIGSTOP');
        stopped = pid;
        workstation.jobs.cancel(job.id);
      });
      const final = await workstation.jobs.wait(job.id);
      expect(stopped).toBeGreaterThan(0);
      expect(final.status).toBe('cancelled');
      expect(String(final.result?.stopped)).toMatch(/did not answer the cancel/);
      await expect
        .poll(() => {
          try {
            process.kill(stopped, 0);
            return 'alive';
          } catch {
            return 'gone';
          }
        })
        .toBe('gone');
      await workstation.openProject(join(dir, 'stuck.xaiws'));
      expect(workstation.project.images.count()).toBeGreaterThan(0);
    } finally {
      await workstation.shutdown();
    }
  });

  it('refuses special files as sources: a CSV row naming a device, a pipe named like an IDX file', async () => {
    const root = tempDir();
    await writeImage(join(root, 'one.png'), 'png', 3, 1);
    symlinkSync('/dev/zero', join(root, 'zero.png'));
    writeFileSync(join(root, 'list.csv'), 'path,label\none.png,ship\nzero.png,plane\n');
    const project = newProject();
    const result = await runImport(project, { source: join(root, 'list.csv') }, quiet);
    expect(result).toMatchObject({ added: 1, skipped: 1 });
    expect(project.datasets.issues(result.datasetId)).toEqual([
      expect.objectContaining({
        source: 'zero.png',
        code: 'not_a_file',
        message: expect.stringContaining('character device'),
      }),
    ]);
    const pipe = join(root, 'pipe-images-idx3-ubyte');
    execFileSync('mkfifo', [pipe]);
    await expect(runImport(newProject(), { source: pipe }, quiet)).rejects.toMatchObject({
      code: 'source_unsupported',
      message: expect.stringContaining('named pipe'),
    });
    const csvPipe = join(root, 'pipe.csv');
    execFileSync('mkfifo', [csvPipe]);
    await expect(runImport(newProject(), { source: csvPipe }, quiet)).rejects.toMatchObject({
      code: 'source_unsupported',
      message: expect.stringContaining('named pipe'),
    });
  });

  it('keeps every committed chunk when the process is killed, and a re-import completes without duplicates', async () => {
    const dir = tempDir();
    const path = join(dir, 'killed.xaiws');
    Project.create(path).close();
    const script = `
      import { Project } from ${JSON.stringify(join(ROOT, 'src-main/store/project.ts'))};
      import { runImport } from ${JSON.stringify(join(ROOT, 'src-main/datasets/read/importer.ts'))};
      const project = Project.open(${JSON.stringify(path)});
      await runImport(project, { source: '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz' }, {
        progress: (p) => p.done > 0 && process.stdout.write('chunk\\n'), isCancelled: () => false });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => {
      let chunks = 0;
      child.stdout.on('data', (data: Buffer) => {
        chunks += data.toString().split('\n').filter(Boolean).length;
        if (chunks >= 3) resolve();
      });
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const project = Project.open(path);
    opened.push(project);
    expect(project.db.pragma('integrity_check', { simple: true })).toBe('ok');
    const survived = project.images.count();
    expect(survived).toBeGreaterThanOrEqual(3 * 2048);
    expect(survived % 2048).toBe(0); // whole chunks only
    const result = await runImport(
      project,
      { source: '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz' },
      quiet,
    );
    expect(result.alreadyPresent).toBe(survived);
    expect(project.images.count()).toBe(60_000);
  });
});
