/**
 * Recovering from a crash and opening what cannot be written: a first start killed while it builds the
 * demo (during the import, then during inference) is completed at the next start, its jobs resumed
 * where they stopped; the CLI leaves no write-ahead log behind; a project this user may not write opens
 * read-only and says so, and a write is refused by name; an image file changed since its import is not
 * served as if it were the same image.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { createRouter } from '../../src-main/api/router.ts';
import { startHost } from '../../src-main/transport/host.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { classFolderTree, fashionMnistSubset, tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';
import { addModel } from '../../src-main/models/service.ts';
import { retryJob } from '../../src-main/services/jobs.ts';
import { startExplain } from '../../src-main/explain/service.ts';
import { startImport } from '../../src-main/datasets/service.ts';

/** Starts the demo's first start in a child and kills it with SIGKILL once `when` holds for a job update. */
async function killDuringFirstStart(
  dataDir: string,
  when: (update: { kind: string; status: string; done: number }) => boolean,
): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/support/demo-child.ts'), dataDir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (when(JSON.parse(line))) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.once('exit', () => reject(new Error('the first start ended before the point to kill it')));
  });
  await exited;
}

async function reopenDemo(dataDir: string) {
  const ws = new Workstation({ dataDir, resourcesDir: join(ROOT, 'resources'), transport: 'host' });
  await ws.openDemo();
  return ws;
}

async function expectCompleteDemo(ws: Workstation) {
  await expect
    .poll(() => ws.jobs.list().filter((job) => job.status === 'running' || job.status === 'queued').length)
    .toBe(0);
  const [dataset] = ws.project.datasets.list();
  expect(dataset?.images).toBe(10_000);
  const [model] = ws.project.models.list();
  expect(ws.project.predictions.count(model!.id, dataset!.id)).toBe(10_000);
  expect(
    ws.jobs.list().filter((job) => job.status === 'interrupted' && (job.kind === 'import' || job.kind === 'inference')),
  ).toEqual([]);
  expect((await ws.jobs.wait(ws.jobs.list().find((job) => job.kind === 'inference')!.id)).result!.accuracy).toBeCloseTo(
    0.9295,
    3,
  );
}

describe('a first start killed while it builds the demo', () => {
  it('during the import: the next start resumes the same import and then classifies', async () => {
    const dataDir = tempDir();
    await killDuringFirstStart(dataDir, (u) => u.kind === 'import' && u.done >= 2048 && u.done < 10_000);
    const ws = await reopenDemo(dataDir);
    try {
      await expectCompleteDemo(ws);
      const imports = ws.jobs.list().filter((job) => job.kind === 'import');
      expect(imports).toHaveLength(1); // resumed, not started anew
      expect(imports[0]!.status).toBe('done');
      expect(imports[0]!.result!.alreadyPresent).toBeGreaterThanOrEqual(2048);
    } finally {
      await ws.shutdown();
    }
  });

  it('during inference: the next start goes on classifying the images without a prediction', async () => {
    const dataDir = tempDir();
    await killDuringFirstStart(dataDir, (u) => u.kind === 'inference' && u.done > 0 && u.done < 10_000);
    const ws = await reopenDemo(dataDir);
    try {
      await expectCompleteDemo(ws);
      expect(ws.jobs.list().filter((job) => job.kind === 'inference')).toHaveLength(1);
    } finally {
      await ws.shutdown();
    }
  });

  it('offers the other interrupted jobs again, and runs one again on request', async () => {
    const dir = tempDir();
    const ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'host' });
    try {
      await ws.createProject(join(dir, 'p.xaiws'));
      const modelId = (await addModel(ws, { path: join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx') }))
        .id;
      const datasetId = (await ws.jobs.wait(startImport(ws, { source: fashionMnistSubset(join(dir, 'data'), 20) }).id))
        .result!.datasetId as number;
      const query = { datasetId, correctness: 'all' as const, confidenceMin: 0, confidenceMax: 1, sort: 'id' as const };
      const explain = await ws.jobs.wait(
        startExplain(ws, {
          modelId,
          method: 'gradcam',
          layer: '/features/features.10/Relu_output_0',
          target: -1,
          query,
        }).id,
      );
      // As a process killed mid-job leaves it: running, owned by a process that is gone.
      ws.project.db
        .prepare("UPDATE jobs SET status = 'running', owner = ? WHERE id = ?")
        .run(`${hostname()}:999999`, explain.id);
      await ws.openProject(join(dir, 'p.xaiws'));
      expect(ws.project.jobs.get(explain.id)!.status).toBe('interrupted'); // not resumed: offered again
      const again = await ws.jobs.wait(retryJob(ws, { jobId: explain.id }).id);
      expect(again.id).not.toBe(explain.id);
      expect(again).toMatchObject({ kind: 'explain', status: 'done' });
      // A job row whose request was tampered with is refused, not run.
      ws.project.db.prepare('UPDATE jobs SET params = \'{"modelId": "drop"}\' WHERE id = ?').run(explain.id);
      expect(() => retryJob(ws, { jobId: explain.id })).toThrow(/cannot run again/);
    } finally {
      await ws.shutdown();
    }
  });
});

describe('the CLI', () => {
  it('checkpoints the write-ahead log when it exits', () => {
    const dir = tempDir();
    const project = join(dir, 'cli.xaiws');
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'bin/xaiws.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });
    expect(cli('project', 'create', project).status).toBe(0);
    expect(cli('import', project, join(ROOT, 'resources/datasets/fashion-mnist')).status).toBe(0);
    expect(!existsSync(`${project}-wal`) || statSync(`${project}-wal`).size === 0).toBe(true);
    expect(statSync(project).size).toBeGreaterThan(5_000_000);
  });
});

describe('a project this user may not write', () => {
  const asNobody = (...args: string[]) =>
    spawnSync(
      'setpriv',
      ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, join(ROOT, 'bin/xaiws.mjs'), ...args],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, XAIWS_HOME: '/nonexistent' } },
    );

  it('opens read-only and says so, in a folder of its own or a shared one; a write is refused by name', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
    const project = join(dir, 'theirs.xaiws');
    await ws.createProject(project);
    await ws.jobs.wait(startImport(ws, { source: join(ROOT, 'resources/datasets/fashion-mnist') }).id);
    await ws.shutdown();
    chmodSync(project, 0o644);
    // Its folder is not ours: read from a private copy.
    const info = asNobody('project', 'info', project);
    expect(info.status, info.stdout + info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({ path: project, readOnly: true, images: 10_000 });
    // A shared folder (anyone may create files) but not our file: read in place.
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    execFileSync('cp', [project, join(shared, 'theirs.xaiws')]);
    chmodSync(join(shared, 'theirs.xaiws'), 0o644);
    expect(JSON.parse(asNobody('project', 'info', join(shared, 'theirs.xaiws')).stdout)).toMatchObject({
      readOnly: true,
      images: 10_000,
    });
    const write = asNobody('model', 'add', project, join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx'));
    expect(write.status).toBe(1);
    expect(JSON.parse(write.stdout)).toMatchObject({
      ok: false,
      error: { code: 'project_read_only', message: expect.stringContaining('theirs.xaiws is open read-only') },
    });
  });
});

describe('an image file changed since its import', () => {
  it('is not served as the image it was', async () => {
    const dir = tempDir();
    const tree = await classFolderTree();
    const ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'host' });
    const host = await startHost(ws, createRouter(ws), { rendererDir: join(ROOT, 'out', 'renderer') });
    try {
      await ws.createProject(join(dir, 'p.xaiws'));
      await ws.jobs.wait(startImport(ws, { source: tree.root, maxPixels: 100_000 }).id);
      const image = ws.project.db
        .prepare("SELECT id, file_path AS path FROM images WHERE file_path LIKE '%.png' LIMIT 1")
        .get() as { id: number; path: string };
      expect((await fetch(`${host.url}image/full/${image.id}`)).status).toBe(200);
      writeFileSync(image.path, Buffer.concat([Buffer.from(execFileSync('cat', [image.path])), Buffer.from([0])]));
      const changed = await fetch(`${host.url}image/full/${image.id}`);
      expect(changed.status).toBe(409);
      expect(await changed.json()).toMatchObject({
        ok: false,
        error: { code: 'image_changed', message: expect.stringContaining(image.path) },
      });
    } finally {
      await host.close();
      await ws.shutdown();
    }
  });
});
